//! Variables that look meant for the tool but that it does not read: every `REPLICATOR_*` it does
//! not know, and a `VAULT_*` / `BAO_*` a letter or two away from one it reads (the `vault` CLI's
//! other variables and Kubernetes service links such as `VAULT_SERVICE_HOST` stay quiet). Each is
//! named with the closest known one; values are never read.

use serde::Deserialize;
use serde::de::{self, Visitor};

use super::ReplicatorEnv;
use super::vault::VaultEnv;

/// A variable the tool ignores, and the known one it was probably meant to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVar {
    pub name: String,
    pub closest: Option<String>,
}

/// Variables of the `vault` CLI that this tool has no use for: setting them is not a typo.
const VAULT_CLI_ONLY: &[&str] = &[
    "agent_addr",
    "cli_no_color",
    "cluster_addr",
    "disable_redirects",
    "format",
    "headers",
    "license",
    "license_path",
    "log_format",
    "log_level",
    "mfa",
    "redirect_addr",
    "srv_lookup",
    "wrap_ttl",
    "api_addr",
    "client_key_password",
];

/// The fields a settings struct reads, as serde declares them (what envy matches).
fn fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Fields(&'static [&'static str]);
    struct Probe<'a>(&'a mut Fields);
    impl<'de> de::Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0.0 = fields;
            Err(de::Error::custom("probed"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut found = Fields(&[]);
    let _ = T::deserialize(Probe(&mut found));
    found.0
}

/// The known name closest to `name` among `known` (all with `prefix`), when close enough to be
/// the one meant: at most `max_edits` edits, or a Jaro-Winkler similarity of 0.9.
fn closest(prefix: &str, name: &str, known: &[&str], max_edits: usize) -> Option<String> {
    let suffix = name[prefix.len()..].to_ascii_lowercase();
    known
        .iter()
        .map(|k| {
            (
                strsim::damerau_levenshtein(&suffix, k),
                strsim::jaro_winkler(&suffix, k),
                k,
            )
        })
        .filter(|(edits, sim, _)| *edits <= max_edits || *sim >= 0.9)
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)))
        .map(|(_, _, k)| format!("{prefix}{}", k.to_ascii_uppercase()))
}

/// The variables among `names` that look meant for the tool but that it does not read.
pub fn unknown_vars(names: impl IntoIterator<Item = String>) -> Vec<UnknownVar> {
    let replicator = fields::<ReplicatorEnv>();
    let vault = fields::<VaultEnv>();
    let mut out = Vec::new();
    for name in names {
        if let Some(rest) = name.strip_prefix("REPLICATOR_") {
            if !replicator.contains(&rest.to_ascii_lowercase().as_str()) {
                let closest = closest("REPLICATOR_", &name, replicator, 3);
                out.push(UnknownVar { name, closest });
            }
            continue;
        }
        let Some(prefix) = ["VAULT_", "BAO_"].into_iter().find(|p| name.starts_with(p)) else {
            continue;
        };
        let rest = name[prefix.len()..].to_ascii_lowercase();
        if vault.contains(&rest.as_str()) || VAULT_CLI_ONLY.contains(&rest.as_str()) {
            continue;
        }
        // Only a near miss: other VAULT_* variables may well be meant for something else.
        if let Some(c) = closest(prefix, &name, vault, 2) {
            out.push(UnknownVar {
                name,
                closest: Some(c),
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(names: &[&str]) -> Vec<(String, Option<String>)> {
        unknown_vars(names.iter().map(|n| n.to_string()))
            .into_iter()
            .map(|u| (u.name, u.closest))
            .collect()
    }

    #[test]
    fn the_settings_structs_declare_their_fields() {
        assert!(fields::<ReplicatorEnv>().contains(&"max_age"));
        assert!(fields::<VaultEnv>().contains(&"tls_server_name"));
    }

    #[test]
    fn a_misspelt_variable_is_named_with_the_closest_known_one() {
        let got = check(&[
            "REPLICATOR_MAX_AGE",
            "REPLICATOR_MAXAGE",
            "REPLICATOR_KEEP_LASTT",
            "REPLICATOR_WHATEVER_THIS_IS",
            "VAULT_ADDR",
            "VAULT_CACRT",
            "BAO_SKIP_VERIFI",
            "VAULT_SERVICE_HOST",
            "VAULT_PORT_8200_TCP",
            "VAULT_FORMAT",
            "BAO_TOKEN",
            "PATH",
        ]);
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            got,
            vec![
                ("BAO_SKIP_VERIFI".into(), s("BAO_SKIP_VERIFY")),
                ("REPLICATOR_KEEP_LASTT".into(), s("REPLICATOR_KEEP_LAST")),
                ("REPLICATOR_MAXAGE".into(), s("REPLICATOR_MAX_AGE")),
                ("REPLICATOR_WHATEVER_THIS_IS".into(), None),
                ("VAULT_CACRT".into(), s("VAULT_CACERT")),
            ]
        );
    }
}

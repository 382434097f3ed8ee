//! What a transit key backup says about its key: the key material of each version (to tell
//! whether two keys are the same key) and the settings `keys/<name>/config` takes; and the backup
//! less the time it was taken, for `diff`. Key material stays in memory only, is compared and
//! never shown: nothing here derives `Debug`.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Value, json};

/// The fields of a version that make it that key: its material and its creation time.
const MATERIAL: &[&str] = &[
    "key",
    "hmac_key",
    "ec_x",
    "ec_y",
    "ec_d",
    "rsa_key",
    "public_key",
    "creation_time",
];

/// A key's settings as `keys/<name>/config` takes them; `auto_rotate_period` in seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyConfig {
    pub min_decryption_version: u64,
    pub min_encryption_version: u64,
    pub deletion_allowed: bool,
    pub exportable: bool,
    pub allow_plaintext_backup: bool,
    pub auto_rotate_period: u64,
}

impl KeyConfig {
    /// From `keys/<name>` (`auto_rotate_period` in seconds), or from a backup's policy
    /// (`auto_rotate_period` in nanoseconds, `nanos` true).
    pub fn from_fields(d: &Value, nanos: bool) -> Self {
        let n = |k: &str| d.get(k).and_then(Value::as_u64).unwrap_or(0);
        let b = |k: &str| d.get(k).and_then(Value::as_bool).unwrap_or(false);
        let period = n("auto_rotate_period");
        KeyConfig {
            min_decryption_version: n("min_decryption_version"),
            min_encryption_version: n("min_encryption_version"),
            deletion_allowed: b("deletion_allowed"),
            exportable: b("exportable"),
            allow_plaintext_backup: b("allow_plaintext_backup"),
            auto_rotate_period: if nanos {
                period / 1_000_000_000
            } else {
                period
            },
        }
    }

    /// The settings as a DR target keeps them: auto-rotation held off, since a target that
    /// rotates a replicated key on its own forks it, and the source's later versions could
    /// never be restored over it. The period is reported at export, to set after promotion.
    pub fn held(&self) -> KeyConfig {
        KeyConfig {
            auto_rotate_period: 0,
            ..self.clone()
        }
    }

    /// The names of the settings that differ from `other`. `exportable` and
    /// `allow_plaintext_backup` can only ever be turned on, so only that direction counts.
    pub fn differences(&self, other: &KeyConfig) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut check = |differs: bool, name| {
            if differs {
                out.push(name);
            }
        };
        check(
            self.min_decryption_version != other.min_decryption_version,
            "min_decryption_version",
        );
        check(
            self.min_encryption_version != other.min_encryption_version,
            "min_encryption_version",
        );
        check(
            self.deletion_allowed != other.deletion_allowed,
            "deletion_allowed",
        );
        check(self.exportable && !other.exportable, "exportable");
        check(
            self.allow_plaintext_backup && !other.allow_plaintext_backup,
            "allow_plaintext_backup",
        );
        check(
            self.auto_rotate_period != other.auto_rotate_period,
            "auto_rotate_period",
        );
        out
    }

    /// The body of a `keys/<name>/config` write that sets these settings.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "min_decryption_version": self.min_decryption_version,
            "min_encryption_version": self.min_encryption_version,
            "deletion_allowed": self.deletion_allowed,
            "auto_rotate_period": format!("{}s", self.auto_rotate_period),
        });
        for (k, on) in [
            ("exportable", self.exportable),
            ("allow_plaintext_backup", self.allow_plaintext_backup),
        ] {
            if on {
                body[k] = json!(true);
            }
        }
        body
    }
}

/// A backup as JSON, less when it was taken: Vault stamps `backup_info` (time and version of the
/// backup) into the key's policy on every backup, so two backups of an unchanged key differ there
/// and nowhere else. `diff` compares what is left; `None` when it is not a backup.
pub fn without_backup_time(backup: &str) -> Option<Value> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(backup.trim())
        .ok()?;
    let mut doc: Value = serde_json::from_slice(&bytes).ok()?;
    let top = doc.as_object_mut()?;
    top.remove("backup_info");
    if let Some(policy) = top.get_mut("policy").and_then(Value::as_object_mut) {
        policy.remove("backup_info");
    }
    Some(doc)
}

/// A decoded backup: latest version, settings, and each version's material.
pub struct Decoded {
    pub latest_version: u64,
    pub config: KeyConfig,
    versions: BTreeMap<u64, Vec<Value>>,
}

/// Where two keys part: the first version both have whose material differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compared {
    /// Every version both hold is the same key material.
    Same,
    /// They share no version to compare.
    Disjoint,
    /// Version `.0` differs; `.1` says whether it is the oldest version both hold (another key
    /// altogether) rather than a later one (the same key, rotated on both sides).
    Differs(u64, bool),
}

impl Decoded {
    /// Decodes a backup as `<mount>backup/<name>` returns it; `None` when it is not one.
    pub fn from_backup(backup: &str) -> Option<Decoded> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(backup.trim())
            .ok()?;
        let doc: Value = serde_json::from_slice(&bytes).ok()?;
        let policy = doc.get("policy")?;
        let mut versions = BTreeMap::new();
        if let Some(keys) = policy.get("keys").and_then(Value::as_object) {
            for (v, entry) in keys {
                if let Ok(v) = v.parse::<u64>() {
                    versions.insert(v, material(entry));
                }
            }
        }
        let first = policy
            .get("archive_min_version")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let archived = doc.pointer("/archived_keys/keys").and_then(Value::as_array);
        for (i, entry) in archived.into_iter().flatten().enumerate() {
            let m = material(entry);
            if m.iter().any(|f| !is_blank(f)) {
                versions.entry(first + i as u64).or_insert(m);
            }
        }
        Some(Decoded {
            latest_version: policy.get("latest_version")?.as_u64()?,
            config: KeyConfig::from_fields(policy, true),
            versions,
        })
    }

    /// Compares the material of every version both keys hold.
    pub fn compare(&self, other: &Decoded) -> Compared {
        let mut common = self
            .versions
            .iter()
            .filter_map(|(v, m)| other.versions.get(v).map(|o| (*v, m == o)))
            .peekable();
        let Some(&(oldest, _)) = common.peek() else {
            return Compared::Disjoint;
        };
        match common.find(|(_, same)| !same) {
            Some((v, _)) => Compared::Differs(v, v == oldest),
            None => Compared::Same,
        }
    }
}

fn material(entry: &Value) -> Vec<Value> {
    MATERIAL
        .iter()
        .map(|f| entry.get(*f).cloned().unwrap_or(Value::Null))
        .collect()
}

fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_u64() == Some(0),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backup(latest: u64, keys: &[(u64, &str)], archived: &[&str]) -> String {
        let entry = |k: &str| json!({"key": k, "hmac_key": format!("h{k}"), "creation_time": 7});
        let keys: serde_json::Map<String, Value> = keys
            .iter()
            .map(|(v, k)| (v.to_string(), entry(k)))
            .collect();
        let mut arch = vec![json!({"key": null, "creation_time": 0})];
        arch.extend(archived.iter().map(|k| entry(k)));
        let doc = json!({
            "policy": {"keys": keys, "latest_version": latest, "archive_min_version": 0,
                       "min_decryption_version": 1, "exportable": true,
                       "allow_plaintext_backup": true, "auto_rotate_period": 7_200_000_000_000u64},
            "archived_keys": {"keys": arch},
        });
        base64::engine::general_purpose::STANDARD.encode(doc.to_string())
    }

    fn decoded(latest: u64, keys: &[(u64, &str)]) -> Decoded {
        Decoded::from_backup(&backup(latest, keys, &[])).unwrap()
    }

    #[test]
    fn two_backups_of_the_same_key_compare_equal_without_their_time() {
        let at = |time: &str| {
            let doc = json!({"policy": {"latest_version": 1, "keys": {"1": {"key": "k"}},
                                        "backup_info": {"time": time, "version": 1}},
                             "backup_info": {"time": time}});
            base64::engine::general_purpose::STANDARD.encode(doc.to_string())
        };
        let (a, b) = (at("2026-01-01T00:00:00Z"), at("2026-01-02T00:00:00Z"));
        assert_ne!(a, b);
        assert_eq!(without_backup_time(&a), without_backup_time(&b));
        assert!(without_backup_time(&a).is_some());
        assert!(without_backup_time("not base64").is_none());
    }

    #[test]
    fn a_prefix_is_the_same_key_and_a_different_first_version_is_another_key() {
        let dr = decoded(1, &[(1, "a")]);
        let dc = decoded(2, &[(1, "a"), (2, "b")]);
        assert_eq!(dr.compare(&dc), Compared::Same);
        assert_eq!(dc.latest_version, 2);
        assert_eq!(dc.config.auto_rotate_period, 7200);
        let other = decoded(1, &[(1, "z")]);
        assert_eq!(other.compare(&dc), Compared::Differs(1, true));
        let forked = decoded(2, &[(1, "a"), (2, "c")]);
        assert_eq!(forked.compare(&dc), Compared::Differs(2, false));
        assert_eq!(decoded(3, &[(3, "c")]).compare(&dr), Compared::Disjoint);
    }

    #[test]
    fn trimmed_versions_are_read_from_the_archive() {
        let trimmed = Decoded::from_backup(&backup(2, &[(2, "b")], &["a", "b"])).unwrap();
        assert_eq!(
            trimmed.compare(&decoded(1, &[(1, "z")])),
            Compared::Differs(1, true)
        );
        assert!(Decoded::from_backup("not base64!").is_none());
    }

    #[test]
    fn only_turning_export_on_counts_as_a_difference() {
        let on = KeyConfig {
            exportable: true,
            ..KeyConfig::default()
        };
        assert_eq!(on.differences(&KeyConfig::default()), ["exportable"]);
        assert!(KeyConfig::default().differences(&on).is_empty());
        assert_eq!(on.body()["auto_rotate_period"], json!("0s"));
    }
}

//! How each field of a mount's read-back `config` is carried, declared as data (rows of the field
//! rules of `objects::fields`): set by a tune, taken only when the mount is enabled (a tune ignores
//! it), or never copied, with the reason. A field the table does not know (a newer server's, or
//! Vault Enterprise's) is reported as not copied whenever it holds a value: nothing is dropped
//! silently.

use serde_json::Value;

use super::{Mount, MountConfig};
use crate::objects::fields::{Rule, Rules, rule};
use crate::vault::MountEntry;

/// Every `config` field of a mount table row the tool knows. `token_type` and
/// `user_lockout_config` are an auth method's. `AsRead`: carried in `MountConfig`, and enabling
/// the mount and a tune both set it; `CreateOnly`: carried, but taken only when the mount is
/// enabled (a tune ignores it), so on a mount that already exists on the target a difference is
/// left as the target has it and reported, never an update (where it is: `ENABLE_ONLY`).
const CONFIG: &Rules = &[
    ("default_lease_ttl", Rule::AsRead),
    ("max_lease_ttl", Rule::AsRead),
    ("listing_visibility", Rule::AsRead),
    ("audit_non_hmac_request_keys", Rule::AsRead),
    ("audit_non_hmac_response_keys", Rule::AsRead),
    ("passthrough_request_headers", Rule::AsRead),
    ("allowed_response_headers", Rule::AsRead),
    ("token_type", Rule::AsRead),
    ("user_lockout_config", Rule::AsRead),
    ("force_no_cache", Rule::CreateOnly),
    (
        "allowed_managed_keys",
        Rule::NotCopied(
            "managed keys live in the source's key store (Vault Enterprise); not copied",
        ),
    ),
];

/// Where an enable-only setting is in a mount's config.
type Field = fn(&mut MountConfig) -> &mut bool;

/// The `CreateOnly` settings of `CONFIG`, where each is in `MountConfig`.
const ENABLE_ONLY: &[(&str, Field)] = &[("force_no_cache", |c| &mut c.force_no_cache)];

const UNKNOWN: &str = "a mount setting this tool does not carry; not copied";

/// Settings of a source mount that are not copied, each with the reason.
pub fn not_copied(e: &MountEntry) -> Vec<(String, &'static str)> {
    e.config
        .iter()
        .filter(|(_, v)| has_a_value(v))
        .filter_map(|(name, _)| match rule(CONFIG, name) {
            Some(Rule::NotCopied(why)) => Some((name.clone(), why)),
            Some(_) => None,
            None => Some((name.clone(), UNKNOWN)),
        })
        .collect()
}

/// Whether a read-back value is more than the server's empty default.
fn has_a_value(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A row's settings outside `config` that only enabling the mount takes: (name, the target's,
/// the snapshot's). Never compared as a difference to tune; reported like `EnableOnly`.
type RowField = (&'static str, fn(&MountEntry) -> bool, fn(&Mount) -> bool);

const ROW_ENABLE_ONLY: &[RowField] = &[
    ("seal_wrap", |e| e.seal_wrap, |m| m.seal_wrap),
    (
        "external_entropy_access",
        |e| e.external_entropy_access,
        |m| m.external_entropy_access,
    ),
];

/// Takes the enable-only config settings of `desired` into `config` (the target's, read from
/// `current`), and says which enable-only settings differ, in the config or in the row.
pub fn enable_only(
    current: &MountEntry,
    config: &mut MountConfig,
    desired: &Mount,
) -> Option<String> {
    let mut want_config = desired.config.clone();
    let mut differ = Vec::new();
    for (name, field) in ENABLE_ONLY {
        let (want, have) = (*field(&mut want_config), field(config));
        if *have != want {
            differ.push(format!("{name} (target {have}, snapshot {want})"));
            *have = want;
        }
    }
    for (name, have, want) in ROW_ENABLE_ONLY {
        let (have, want) = (have(current), want(desired));
        if have != want {
            differ.push(format!("{name} (target {have}, snapshot {want})"));
        }
    }
    (!differ.is_empty()).then(|| {
        format!(
            "taken only when a mount is enabled, a tune ignores it: {}; left as the target has \
             it (only enabling the mount anew on the target sets it)",
            differ.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::*;
    use crate::model::Action;
    use crate::objects::mounts::{UserLockout, diff};
    use crate::vault::Table;

    #[test]
    fn the_table_names_exactly_the_carried_fields() {
        let every = MountConfig {
            token_type: Some("batch".into()),
            force_no_cache: true,
            user_lockout_config: Some(UserLockout::default()),
            ..Default::default()
        };
        let carried = serde_json::to_value(every).unwrap_or_default();
        let carried: BTreeSet<&str> = carried
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let named: BTreeSet<&str> = CONFIG
            .iter()
            .filter(|(_, r)| !matches!(r, Rule::NotCopied(_)))
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(carried, named);
        let enable_only: Vec<&str> = ENABLE_ONLY.iter().map(|(n, _)| *n).collect();
        let create_only: Vec<&str> = crate::objects::fields::create_only(CONFIG).collect();
        assert_eq!(enable_only, create_only);
    }

    #[test]
    fn unknown_and_not_copied_settings_are_reported_when_set() {
        let mut e = MountEntry::default();
        let config = json!({"default_lease_ttl": 0, "force_no_cache": true,
            "allowed_managed_keys": ["hsm-key"], "delegated_auth_accessors": ["auth_x"],
            "identity_token_key": "", "trim_request_trailing_slashes": false});
        e.config = config.as_object().cloned().unwrap_or_default();
        let got: Vec<String> = not_copied(&e).into_iter().map(|(f, _)| f).collect();
        assert_eq!(got, ["allowed_managed_keys", "delegated_auth_accessors"]);
        assert!(not_copied(&e)[1].1.contains("does not carry"));
    }

    fn entry() -> MountEntry {
        MountEntry {
            path: "secret/".into(),
            kind: "kv".into(),
            options: [("version".to_string(), "2".to_string())].into(),
            ..Default::default()
        }
    }

    fn kv2() -> Mount {
        Mount::from_entry("", Table::Secret, &entry())
    }

    #[test]
    fn an_enable_only_setting_that_differs_is_skipped_and_said_never_updated() {
        let mut target = entry();
        target.config.insert("force_no_cache".into(), json!(true));
        let (action, reason) = diff(&kv2(), Some(&target), None);
        assert_eq!(action, Action::Skipped);
        let reason = reason.unwrap_or_default();
        assert!(
            reason.starts_with(
                "taken only when a mount is enabled, a tune ignores it: force_no_cache (target \
                 true, snapshot false); left as the target has it"
            ),
            "{reason}"
        );
        let mut described = kv2();
        described.description = "new".into();
        let (action, reason) = diff(&described, Some(&target), None);
        assert_eq!(action, Action::Update);
        assert!(
            reason
                .unwrap_or_default()
                .starts_with("description differ; taken only when a mount is enabled")
        );
        target.config.insert("force_no_cache".into(), json!(false));
        assert_eq!(diff(&kv2(), Some(&target), None).0, Action::Unchanged);
        target.seal_wrap = true;
        let reason = diff(&kv2(), Some(&target), None).1.unwrap_or_default();
        assert!(
            reason.contains(": seal_wrap (target true, snapshot false);"),
            "{reason}"
        );
    }

    #[test]
    fn managed_keys_are_reported_not_copied() {
        let mut e = entry();
        assert!(not_copied(&e).is_empty());
        e.config
            .insert("allowed_managed_keys".into(), json!(["hsm-key"]));
        assert_eq!(not_copied(&e)[0].0, "allowed_managed_keys");
    }
}

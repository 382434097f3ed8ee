//! The fields of the database engine's read-backs that cannot be written back as they are, as
//! field rules (`objects::fields`): a config's `connection_details` (the plugin's own fields,
//! written at the top level), `root_credentials_rotate_statements` (written as
//! `root_rotation_statements`), an unset `plugin_version`, its write-only credentials, automated
//! root rotation (never carried), and what a static role's read only reports; and what the rules
//! cannot say: a password embedded in `connection_url` (which the read masks).

use serde_json::{Map, Value};

use crate::objects::escrow::Escrowed;
use crate::objects::fields::{ROTATION, Rule, Rules, Sentinel, rotation_on, write_only_fields};

/// A config's fields (`ROTATION` follows: automated root rotation is Vault Enterprise's, and a
/// rotation on DR would change the password DC uses).
pub const CONFIG: &Rules = &[
    // The plugin's own fields, read nested, written at the top level.
    ("connection_details", Rule::Nested),
    (
        "root_credentials_rotate_statements",
        Rule::WrittenAs("root_rotation_statements"),
    ),
    // An unpinned plugin reads `""`: not carried, as the source left it unset.
    ("plugin_version", Rule::Unset(Sentinel::Text(""))),
    ("verify_connection", Rule::ReadOnly),
    // Never returned by a read (it deletes them from the plugin's fields): kept in the escrow.
    ("password", Rule::WriteOnly(None)),
    ("private_key", Rule::WriteOnly(None)),
    ("service_account_json", Rule::WriteOnly(None)),
    ROTATION[0],
    ROTATION[1],
    ROTATION[2],
    ROTATION[3],
];

/// What a static role's read reports about its last and next rotation, never taken on write.
pub const STATIC: &Rules = &[
    ("last_vault_rotation", Rule::ReadOnly),
    ("next_vault_rotation", Rule::ReadOnly),
    ("ttl", Rule::ReadOnly),
];

/// How the server masks a password embedded in `connection_url` when read.
const MASK: &str = ":xxxxx@";

/// The plugin's own fields of a config's read (its `connection_details`), by name.
pub fn plugin_fields(read: &Map<String, Value>) -> Vec<String> {
    match read.get("connection_details") {
        Some(Value::Object(d)) => d.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Whether the read masked a password embedded in `connection_url`.
pub fn masked_url(body: &Map<String, Value>) -> bool {
    body.get("connection_url")
        .and_then(Value::as_str)
        .is_some_and(|u| u.contains(MASK))
}

/// Whether an escrow entry holds only what it may for a config whose readable body is `body`:
/// the write-only fields, and `connection_url` only when the read masks the password it embeds
/// (every other field crosses as read, and one from the escrow would differ from it forever).
pub fn escrow_allowed(body: &Map<String, Value>, entry: &Escrowed) -> Result<(), String> {
    let mut allowed = write_only_fields(CONFIG);
    if masked_url(body) {
        allowed.push("connection_url");
    }
    entry.only(&allowed).map_err(
        |why| match entry.has("connection_url") && !masked_url(body) {
            true => format!("{why}; `connection_url` is escrowed only when it embeds a password"),
            false => why,
        },
    )
}

/// What of a config's escrow entry crosses, why not all it needs (a not-copied reason), and
/// whether the config crosses at all. An entry with another field is not taken: the config then
/// crosses as it would without one.
pub fn take_escrow(body: &Map<String, Value>, entry: Escrowed) -> (Escrowed, Option<String>, bool) {
    let (entry, refused) = match escrow_allowed(body, &entry) {
        Ok(()) => (entry, None),
        Err(why) => (
            Escrowed::default(),
            Some(format!("escrow entry not taken: {why}")),
        ),
    };
    let with = |why: &str| {
        Some(
            refused
                .clone()
                .map_or(why.to_string(), |r| format!("{r}; {why}")),
        )
    };
    if masked_url(body) && !entry.has("connection_url") {
        let why = with(
            "`connection_url` embeds a password, which the server masks when read: not copied \
             (use a templated URL and escrow `password`, or escrow `connection_url`)",
        );
        return (entry, why, false);
    }
    if !write_only_fields(CONFIG)
        .iter()
        .chain(["connection_url"].iter())
        .any(|f| entry.has(f))
    {
        let why = with(
            "database password not escrowed: DR cannot connect until it is set (copied without \
             it; a password set on DR is kept)",
        );
        return (entry, why, true);
    }
    (entry, refused, true)
}

/// Why a config's automated root rotation is not copied, when the source has it on.
pub fn rotation_not_copied(read: &Map<String, Value>) -> Option<String> {
    rotation_on(read).then(|| {
        "automated root rotation is not copied: a rotation on DR would change the password the \
         source uses; set it on DR after promotion"
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::fields::carried;
    use serde_json::json;

    fn config_written(read: Map<String, Value>) -> Map<String, Value> {
        carried(CONFIG, read)
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    // As OpenBao 2.7 reads a PostgreSQL config back.
    #[test]
    fn a_config_read_becomes_the_body_that_writes_it() {
        let read = map(json!({
            "allowed_roles": ["*"], "password_policy": "", "plugin_name": "postgresql-database-plugin",
            "plugin_version": "", "root_credentials_rotate_statements": ["ALTER"],
            "connection_details": {"connection_url": "postgresql://{{username}}@h/db",
                                   "username": "admin", "max_open_connections": 5},
            "rotation_period": 0, "verify_connection": true, "gone": null}));
        assert_eq!(plugin_fields(&read).len(), 3);
        assert_eq!(
            Value::Object(config_written(read)),
            json!({"allowed_roles": ["*"], "password_policy": "",
                   "plugin_name": "postgresql-database-plugin",
                   "root_rotation_statements": ["ALTER"],
                   "connection_url": "postgresql://{{username}}@h/db", "username": "admin",
                   "max_open_connections": 5})
        );
        let pinned = map(json!({"plugin_version": "v1.0.0"}));
        assert_eq!(config_written(pinned.clone()), pinned);
    }

    #[test]
    fn a_masked_password_in_the_url_is_seen() {
        let masked = map(json!({"connection_url": "postgresql://admin:xxxxx@h:5432/db"}));
        assert!(masked_url(&masked));
        let templated = map(json!({"connection_url": "postgresql://{{username}}:{{password}}@h"}));
        assert!(!masked_url(&templated));
    }

    #[test]
    fn automated_root_rotation_is_reported_when_on() {
        assert!(rotation_not_copied(&map(json!({"rotation_period": 3600}))).is_some());
        assert!(rotation_not_copied(&map(json!({"rotation_schedule": "0 * * * *"}))).is_some());
        let off = map(json!({"rotation_period": 0, "rotation_schedule": ""}));
        assert!(rotation_not_copied(&off).is_none());
        let disabled = map(json!({"rotation_period": 60, "disable_automated_rotation": true}));
        assert!(rotation_not_copied(&disabled).is_none());
    }

    // Issue 25: an escrow entry set any field (`connection_url`, `allowed_roles`), which the plan
    // then showed as differing forever, without naming the escrow.
    #[test]
    fn an_escrow_entry_sets_only_write_only_fields_and_a_masked_url() {
        let entry = |v: Value| Escrowed(map(v));
        let templated = map(json!({"connection_url": "postgresql://{{username}}@h/db"}));
        let masked = map(json!({"connection_url": "postgresql://admin:xxxxx@h/db"}));
        assert!(escrow_allowed(&templated, &entry(json!({"password": "p"}))).is_ok());
        let roles = entry(json!({"password": "p", "allowed_roles": ["*"]}));
        let why = escrow_allowed(&templated, &roles).unwrap_err();
        assert!(
            why.contains("`allowed_roles`") && !why.contains('*'),
            "{why}"
        );
        let url = entry(json!({"connection_url": "postgresql://admin:s3cret@evil/db"}));
        assert!(escrow_allowed(&masked, &url).is_ok());
        let why = escrow_allowed(&templated, &url).unwrap_err();
        assert!(why.contains("only when it embeds a password"), "{why}");
        assert!(!why.contains("s3cret") && !why.contains("evil"), "{why}");

        let (kept, why, copied) = take_escrow(&templated, roles);
        assert!(kept.is_empty() && copied);
        let why = why.unwrap_or_default();
        assert!(why.starts_with("escrow entry not taken: "), "{why}");
        assert!(why.contains("database password not escrowed"), "{why}");
        let (kept, why, copied) = take_escrow(&masked, entry(json!({"password": "p", "x": 1})));
        assert!(kept.is_empty() && !copied);
        assert!(why.unwrap_or_default().contains("`x`"));
        let (kept, why, copied) = take_escrow(&masked, url);
        assert!(kept.has("connection_url") && why.is_none() && copied);
        let (kept, why, copied) = take_escrow(&templated, entry(json!({"private_key": "k"})));
        assert!(kept.has("private_key") && why.is_none() && copied);
    }

    #[test]
    fn a_static_roles_rotation_times_are_not_carried() {
        let read = map(json!({"username": "app", "rotation_period": 86400,
                              "last_vault_rotation": "2026-01-01T00:00:00Z", "ttl": 5}));
        assert_eq!(
            Value::Object(carried(STATIC, read)),
            json!({"username": "app", "rotation_period": 86400})
        );
    }
}

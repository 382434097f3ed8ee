//! The fields of the database engine's read-backs that cannot be written back as they are, each
//! handled on purpose: a config's `connection_details` (the plugin's own fields, written at the top
//! level), `root_credentials_rotate_statements` (written as `root_rotation_statements`), an unset
//! `plugin_version`, a password embedded in `connection_url` (which the read masks), automated root
//! rotation (never carried), and what a static role's read only reports.

use serde_json::{Map, Value};

/// Write-only fields of a config: never returned by a read, kept in the escrow.
pub const WRITE_ONLY: &[&str] = &["password", "private_key"];

/// Reported on reads, never taken on write.
const CONFIG_READ_ONLY: &[&str] = &["verify_connection"];

/// Automated root rotation (Vault Enterprise): a rotation on DR would change the password DC uses.
const ROTATION: &[&str] = &[
    "rotation_period",
    "rotation_schedule",
    "rotation_window",
    "disable_automated_rotation",
];

/// What a static role's read reports about its last and next rotation.
const STATIC_READ_ONLY: &[&str] = &["last_vault_rotation", "next_vault_rotation", "ttl"];

/// How the server masks a password embedded in `connection_url` when read.
const MASK: &str = ":xxxxx@";

/// A config's read-back as a write body: `connection_details` flattened, renamed and unset
/// fields taken care of. Applied on export and to the target's read before comparing.
pub fn config_written(read: Map<String, Value>) -> Map<String, Value> {
    let mut body = Map::new();
    for (k, v) in read {
        match (k.as_str(), v) {
            (_, Value::Null) => {}
            ("connection_details", Value::Object(details)) => {
                body.extend(details.into_iter().filter(|(_, v)| !v.is_null()));
            }
            ("root_credentials_rotate_statements", v) => {
                body.insert("root_rotation_statements".into(), v);
            }
            ("plugin_version", Value::String(s)) if s.is_empty() => {}
            (k, _) if ROTATION.contains(&k) || CONFIG_READ_ONLY.contains(&k) => {}
            (_, v) => {
                body.insert(k, v);
            }
        }
    }
    body
}

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

/// Why a config's automated root rotation is not copied, when the source has it on.
pub fn rotation_not_copied(read: &Map<String, Value>) -> Option<String> {
    let on = ["rotation_period", "rotation_schedule"].iter().any(|f| {
        read.get(*f).is_some_and(|v| match v {
            Value::String(s) => !s.is_empty() && s != "0",
            Value::Number(n) => n.as_f64() != Some(0.0),
            _ => false,
        })
    });
    let disabled = read.get("disable_automated_rotation") == Some(&Value::Bool(true));
    (on && !disabled).then(|| {
        "automated root rotation is not copied: a rotation on DR would change the password the \
         source uses; set it on DR after promotion"
            .to_string()
    })
}

/// A static role's read-back as a write body.
pub fn static_written(mut read: Map<String, Value>) -> Map<String, Value> {
    read.retain(|k, v| !v.is_null() && !STATIC_READ_ONLY.contains(&k.as_str()));
    read
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[test]
    fn a_static_roles_rotation_times_are_not_carried() {
        let read = map(json!({"username": "app", "rotation_period": 86400,
                              "last_vault_rotation": "2026-01-01T00:00:00Z", "ttl": 5}));
        assert_eq!(
            Value::Object(static_written(read)),
            json!({"username": "app", "rotation_period": 86400})
        );
    }
}

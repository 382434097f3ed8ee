//! Secret-engine mounts (`sys/mounts`) and auth methods (`sys/auth`), with their tunable config
//! and, for KV-v2, the engine's own config. A missing mount is created, one of the same type is
//! tuned to match, one of another type is refused. Nothing is ever disabled or remounted, and a
//! `local` mount is neither exported nor touched on the target. How each `config` field is carried
//! is declared in `fields`.

mod fields;
mod kind;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use fields::enable_only;
pub use fields::not_copied;

use crate::error::Result;
use crate::model::Action;
use crate::vault::{MountEntry, Table, VaultClient};

pub use kind::listed;

/// The tunable part of a mount's `config`. TTLs are seconds; 0 means the system default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MountConfig {
    pub default_lease_ttl: u64,
    pub max_lease_ttl: u64,
    pub listing_visibility: String,
    pub audit_non_hmac_request_keys: Vec<String>,
    pub audit_non_hmac_response_keys: Vec<String>,
    pub passthrough_request_headers: Vec<String>,
    pub allowed_response_headers: Vec<String>,
    /// Auth methods only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Set when the mount is enabled; Vault ignores it in a tune (see `fields`).
    #[serde(skip_serializing_if = "is_false")]
    pub force_no_cache: bool,
    /// Auth methods only, once tuned: as the mount table reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_lockout_config: Option<UserLockout>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// An auth method's `user_lockout_config` as read back (durations in seconds).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserLockout {
    pub user_lockout_threshold: u64,
    pub user_lockout_duration: u64,
    pub user_lockout_counter_reset_duration: u64,
    pub user_lockout_disable: bool,
}

impl UserLockout {
    /// The body a tune takes, whose names differ from the ones read back.
    fn to_tune(&self) -> Value {
        json!({
            "lockout_threshold": self.user_lockout_threshold.to_string(),
            "lockout_duration": format!("{}s", self.user_lockout_duration),
            "lockout_counter_reset_duration":
                format!("{}s", self.user_lockout_counter_reset_duration),
            "lockout_disable": self.user_lockout_disable,
        })
    }
}

/// The KV-v2 engine's own settings (`<mount>/config`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KvConfig {
    pub max_versions: u64,
    pub cas_required: bool,
    pub delete_version_after: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mount {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub table: Table,
    /// Mount path with its trailing slash, e.g. `secret/`.
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub seal_wrap: bool,
    #[serde(default)]
    pub external_entropy_access: bool,
    #[serde(default)]
    pub config: MountConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_config: Option<KvConfig>,
    /// The plugin version the source pinned the mount to; empty when not pinned.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub plugin_version: String,
}

/// The KV version of a `kv` mount (`generic` is KV-v1), or `None` for other engines.
pub fn kv_version(kind: &str, options: &BTreeMap<String, String>) -> Option<u8> {
    match (kind, options.get("version").map(String::as_str)) {
        ("kv", Some("2")) => Some(2),
        ("kv", _) | ("generic", _) => Some(1),
        _ => None,
    }
}

impl Mount {
    /// Whether it is a secrets engine of type `engine` (`pki`, `ssh`, `transit`, …).
    pub fn is_engine(&self, engine: &str) -> bool {
        self.table == Table::Secret && self.kind == engine
    }

    pub fn kv_version(&self) -> Option<u8> {
        kv_version(&self.kind, &self.options)
    }

    /// The mount as the snapshot carries it, from a row of the source's table.
    pub fn from_entry(namespace: &str, table: Table, e: &MountEntry) -> Self {
        let config = serde_json::from_value(Value::Object(e.config.clone())).unwrap_or_default();
        Mount {
            namespace: namespace.to_string(),
            table,
            path: e.path.clone(),
            kind: e.kind.clone(),
            description: e.description.clone(),
            options: e.options.clone(),
            seal_wrap: e.seal_wrap,
            external_entropy_access: e.external_entropy_access,
            config,
            kv_config: None,
            plugin_version: e.plugin_version.clone(),
        }
    }
}

/// Mounts Vault manages itself: never exported, never written.
pub fn is_builtin(table: Table, path: &str) -> bool {
    match table {
        Table::Secret => matches!(path, "sys/" | "identity/" | "cubbyhole/"),
        Table::Auth => path == "token/",
    }
}

/// Reads the KV-v2 engine config of a mount, if it is a KV-v2 mount.
pub async fn read_kv_config(client: &VaultClient, path: &str) -> Result<Option<KvConfig>> {
    let Some(body) = client.read(&format!("{path}config")).await? else {
        return Ok(None);
    };
    Ok(body
        .get("data")
        .cloned()
        .and_then(|d| serde_json::from_value(d).ok()))
}

pub fn diff(
    desired: &Mount,
    current: Option<&MountEntry>,
    current_kv: Option<&KvConfig>,
) -> (Action, Option<String>) {
    let Some(cur) = current else {
        return (Action::Create, None);
    };
    if cur.local {
        return (
            Action::Refused,
            Some("a local mount on the target is never modified".into()),
        );
    }
    if cur.kind != desired.kind || kv_version(&cur.kind, &cur.options) != desired.kv_version() {
        return (
            Action::Refused,
            Some(format!(
                "exists on the target as `{}`{}, the snapshot has `{}`{}",
                cur.kind,
                version_note(&cur.options),
                desired.kind,
                version_note(&desired.options)
            )),
        );
    }
    let mut differs = Vec::new();
    let mut cur_config: MountConfig =
        serde_json::from_value(Value::Object(cur.config.clone())).unwrap_or_default();
    let untunable = enable_only(cur, &mut cur_config, desired);
    if let Some(why) = &untunable {
        tracing::warn!(table = %desired.table.api(), path = %desired.path, reason = %why, "mount setting left as the target has it");
    }
    // Vault has no way to clear a lockout config: DR keeps its own when the source has none.
    if desired.config.user_lockout_config.is_none() {
        cur_config.user_lockout_config = None;
    }
    if cur_config != desired.config {
        differs.push("config");
    }
    // A tune cannot unpin (Vault refuses an empty version): DR keeps its own pin then.
    if !desired.plugin_version.is_empty() && cur.plugin_version != desired.plugin_version {
        differs.push("plugin_version");
    }
    if cur.description != desired.description {
        differs.push("description");
    }
    if cur.options != desired.options {
        differs.push("options");
    }
    if desired.kv_config.is_some() && desired.kv_config.as_ref() != current_kv {
        differs.push("kv config");
    }
    match (differs.is_empty(), untunable) {
        (true, None) => (Action::Unchanged, None),
        // Nothing a write could change: not written, and said each time.
        (true, Some(why)) => (Action::Skipped, Some(why)),
        (false, why) => {
            let rest = why.map(|w| format!("; {w}")).unwrap_or_default();
            let reason = format!("{} differ{rest}", differs.join(", "));
            (Action::Update, Some(reason))
        }
    }
}

fn version_note(options: &BTreeMap<String, String>) -> String {
    options
        .get("version")
        .map(|v| format!(" version {v}"))
        .unwrap_or_default()
}

/// Creates or tunes the mount, then applies the KV-v2 engine config.
pub async fn apply(client: &VaultClient, desired: &Mount, action: Action) -> Result<()> {
    let api = desired.table.api();
    let path = desired.path.trim_end_matches('/');
    let mut config = serde_json::to_value(&desired.config).unwrap_or_default();
    let lockout = desired.config.user_lockout_config.as_ref();
    if let Some(obj) = config.as_object_mut() {
        obj.remove("user_lockout_config");
    }
    if action == Action::Create {
        let body = json!({
            "type": desired.kind,
            "description": desired.description,
            "config": config,
            "options": desired.options,
            "seal_wrap": desired.seal_wrap,
            "external_entropy_access": desired.external_entropy_access,
            "plugin_version": desired.plugin_version,
        });
        client.write(&format!("{api}/{path}"), &body).await?;
        // Enabling drops a built-in version pin and takes no lockout config: a tune sets both.
        let mut tune = serde_json::Map::new();
        if let Some(l) = lockout {
            tune.insert("user_lockout_config".into(), l.to_tune());
        }
        if !desired.plugin_version.is_empty() {
            tune.insert("plugin_version".into(), json!(desired.plugin_version));
        }
        if !tune.is_empty() {
            client
                .write(&format!("{api}/{path}/tune"), &Value::Object(tune))
                .await?;
        }
    } else if let Some(obj) = config.as_object_mut() {
        obj.remove("force_no_cache");
        obj.insert("description".into(), json!(desired.description));
        obj.insert("options".into(), json!(desired.options));
        if !desired.plugin_version.is_empty() {
            obj.insert("plugin_version".into(), json!(desired.plugin_version));
        }
        if let Some(l) = lockout {
            obj.insert("user_lockout_config".into(), l.to_tune());
        }
        client.write(&format!("{api}/{path}/tune"), &config).await?;
    }
    if let Some(kv) = &desired.kv_config {
        client
            .write(
                &format!("{}config", desired.path),
                &serde_json::to_value(kv).unwrap_or_default(),
            )
            .await?;
    }
    Ok(())
}

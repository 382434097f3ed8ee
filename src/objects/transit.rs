//! Transit keys. A key marked `exportable` with `allow_plaintext_backup` travels as its backup and
//! is restored on the target, so data encrypted on the source decrypts there. Other keys cannot
//! leave the source and are reported as not copied.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::Result;
use crate::plan::Action;
use crate::vault::VaultClient;

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct TransitKey {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Mount path with its trailing slash, e.g. `transit/`.
    pub mount: String,
    pub name: String,
    #[serde(rename = "type")]
    pub key_type: String,
    pub latest_version: u64,
    /// The key's plaintext backup: key material. Never shown by `Debug`.
    pub backup: String,
}

impl fmt::Debug for TransitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransitKey")
            .field("mount", &self.mount)
            .field("name", &self.name)
            .field("latest_version", &self.latest_version)
            .finish_non_exhaustive()
    }
}

/// Type and latest version of a key, or `None` when it does not exist.
pub async fn current(
    client: &VaultClient,
    mount: &str,
    name: &str,
) -> Result<Option<(String, u64)>> {
    Ok(client
        .read(&format!("{mount}keys/{name}"))
        .await?
        .and_then(|v| v.get("data").cloned())
        .map(|d| {
            (
                d.get("type")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                d.get("latest_version").and_then(Value::as_u64).unwrap_or(0),
            )
        }))
}

/// The exportable keys of one mount, and (name, reason) for those that are not.
pub async fn export(
    client: &VaultClient,
    namespace: &str,
    mount: &str,
) -> Result<(Vec<TransitKey>, Vec<(String, String)>)> {
    let mut keys = Vec::new();
    let mut not_copied = Vec::new();
    for name in client.list(&format!("{mount}keys")).await? {
        let Some(d) = client
            .read(&format!("{mount}keys/{name}"))
            .await?
            .and_then(|v| v.get("data").cloned())
        else {
            continue;
        };
        let flag = |k: &str| d.get(k).and_then(Value::as_bool).unwrap_or(false);
        if !(flag("exportable") && flag("allow_plaintext_backup")) {
            not_copied.push((
                format!("{namespace}{mount}keys/{name}"),
                "transit key is not exportable with allow_plaintext_backup".into(),
            ));
            continue;
        }
        let Some(backup) = client
            .read(&format!("{mount}backup/{name}"))
            .await?
            .and_then(|v| {
                v.pointer("/data/backup")
                    .and_then(Value::as_str)
                    .map(String::from)
            })
        else {
            continue;
        };
        keys.push(TransitKey {
            namespace: namespace.to_string(),
            mount: mount.to_string(),
            name,
            key_type: d
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            latest_version: d.get("latest_version").and_then(Value::as_u64).unwrap_or(0),
            backup,
        });
    }
    Ok((keys, not_copied))
}

pub fn diff(desired: &TransitKey, current: Option<&(String, u64)>) -> (Action, Option<String>) {
    match current {
        None => (Action::Create, None),
        Some((t, v)) if *t == desired.key_type && *v == desired.latest_version => {
            (Action::Unchanged, None)
        }
        Some((t, v)) => (
            Action::Update,
            Some(format!(
                "target has {t} v{v}, snapshot has {} v{}",
                desired.key_type, desired.latest_version
            )),
        ),
    }
}

pub async fn apply(client: &VaultClient, desired: &TransitKey, action: Action) -> Result<()> {
    let body = json!({ "backup": desired.backup, "force": action == Action::Update });
    client
        .write(&format!("{}restore/{}", desired.mount, desired.name), &body)
        .await
        .map(|_| ())
}

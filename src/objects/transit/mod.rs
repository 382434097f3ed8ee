//! Transit keys. A key marked `exportable` with `allow_plaintext_backup` travels as its backup and
//! is restored on the target, so data encrypted on the source decrypts there. Other keys cannot
//! leave the source and are reported as not copied. A key is never rolled back or replaced: a
//! restore over an existing key happens only when the target's key is an older state of the very
//! same key (the same material for every version it holds); settings changed without a rotation
//! go through `keys/<name>/config`. Auto-rotation is held off on the target (reported at export).

mod backup;
mod kind;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use backup::{Compared, Decoded};
pub use backup::{KeyConfig, without_backup_time};

use crate::error::{Error, Result};
use crate::model::{Action, Decision};
use crate::objects::engine_item::read_str;
use crate::objects::redacted::redacted_debug;
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

impl TransitKey {
    /// Its API path below the namespace: `<mount>keys/<name>`.
    pub fn api_path(&self) -> String {
        format!("{}keys/{}", self.mount, self.name)
    }
}

redacted_debug!(TransitKey {
    mount,
    name,
    latest_version,
    ..
});

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
        let period = d
            .get("auto_rotate_period")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if period > 0 {
            not_copied.push((
                format!("{namespace}{mount}keys/{name}/config auto_rotate_period"),
                format!(
                    "auto_rotate_period={period}s is held off on the target while it is DR (a \
                     rotation there would fork the key); set it there after promotion"
                ),
            ));
        }
        let Some(backup) = read_str(client, &format!("{mount}backup/{name}"), "backup").await?
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

/// A key as the target has it.
pub enum Current {
    Absent,
    /// A key that cannot be backed up (not exportable with `allow_plaintext_backup`): never one
    /// the importer restored, since every key it restores carries both.
    Opaque {
        key_type: String,
        latest_version: u64,
    },
    /// A key whose backup the importer could read and compare.
    Readable {
        key_type: String,
        backup: Decoded,
    },
}

/// How an update reaches the target.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Restore the snapshot's backup over the target's key, which must still be at `from`.
    Restore { from: u64 },
    /// Only the settings differ.
    Config(KeyConfig),
}

/// Reads the target's key and, when it can be backed up, its backup (to compare material).
pub async fn current(client: &VaultClient, mount: &str, name: &str) -> Result<Current> {
    let Some(d) = client
        .read(&format!("{mount}keys/{name}"))
        .await?
        .and_then(|mut v| v.get_mut("data").map(Value::take))
    else {
        return Ok(Current::Absent);
    };
    let key_type = d
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let latest_version = d.get("latest_version").and_then(Value::as_u64).unwrap_or(0);
    let config = KeyConfig::from_fields(&d, false);
    let opaque = Current::Opaque {
        key_type: key_type.clone(),
        latest_version,
    };
    if !(config.exportable && config.allow_plaintext_backup) {
        return Ok(opaque);
    }
    let path = format!("{mount}backup/{name}");
    let backup = match client.read(&path).await {
        Ok(v) => v,
        Err(Error::Vault { status: 400, .. }) => return Ok(opaque),
        Err(e) => return Err(e),
    };
    let decoded = backup
        .as_ref()
        .and_then(|v| v.pointer("/data/backup").and_then(Value::as_str))
        .and_then(Decoded::from_backup)
        .ok_or_else(|| Error::VaultResponse {
            method: "GET",
            path,
            message: "not a transit key backup".into(),
        })?;
    Ok(Current::Readable {
        key_type,
        backup: decoded,
    })
}

/// Decides what the target's key needs. A target key newer than the snapshot's, or rotated on
/// both sides, is drift and left alone; a key of the same name with other material is refused.
pub fn diff(desired: &TransitKey, current: &Current) -> Decision<Option<Write>> {
    let refuse = |why: String| {
        let why = format!(
            "{why}; left alone (a transit key is never replaced: rename or remove one of them)"
        );
        Decision::with_ops(Action::Refused, Some(why), None)
    };
    let (key_type, cur) = match current {
        Current::Absent => return Decision::with_ops(Action::Create, None, None),
        Current::Opaque {
            key_type,
            latest_version,
        } => {
            return refuse(format!(
                "the target has another key of this name ({key_type} v{latest_version}, \
                 not exportable with a plaintext backup, so never restored by the importer)"
            ));
        }
        Current::Readable { key_type, backup } => (key_type, backup),
    };
    if *key_type != desired.key_type {
        return refuse(format!(
            "the target has another key of this name ({key_type}, the snapshot's is {})",
            desired.key_type
        ));
    }
    let Some(want) = Decoded::from_backup(&desired.backup) else {
        let why = "the snapshot's backup of this key cannot be read".to_string();
        return Decision::with_ops(Action::Failed, Some(why), None);
    };
    let (have, snap) = (cur.latest_version, want.latest_version);
    match cur.compare(&want) {
        Compared::Disjoint => {
            return refuse("the target has another key of this name (no version in common)".into());
        }
        Compared::Differs(v, true) => {
            return refuse(format!(
                "the target has another key of this name (its v{v} is not the snapshot's)"
            ));
        }
        Compared::Differs(v, false) => {
            let why = format!(
                "drift: rotated on both sides, the target's v{v} is not the snapshot's; left as \
                 it is (a transit key is never rolled back)"
            );
            return Decision {
                drift: true,
                ..Decision::new(Action::Skipped, Some(why))
            };
        }
        Compared::Same => {}
    }
    if have > snap {
        let why = format!(
            "drift: the target's key is at v{have}, newer than the snapshot's v{snap}; left as it \
             is (a transit key is never rolled back)"
        );
        return Decision {
            drift: true,
            ..Decision::new(Action::Skipped, Some(why))
        };
    }
    if have < snap {
        let why = format!("rotated on the source: v{have} to v{snap}");
        let write = Some(Write::Restore { from: have });
        return Decision::with_ops(Action::Update, Some(why), write);
    }
    let held = want.config.held();
    let differs = held.differences(&cur.config);
    if differs.is_empty() {
        return Decision::with_ops(Action::Unchanged, None, None);
    }
    let why = format!("settings differ: {}", differs.join(", "));
    Decision::with_ops(Action::Update, Some(why), Some(Write::Config(held)))
}

/// Restores a new key, or carries out the planned update.
pub async fn apply(
    client: &VaultClient,
    desired: &TransitKey,
    action: Action,
    write: Option<&Write>,
) -> Result<()> {
    let (mount, name, at) = (&desired.mount, &desired.name, desired.api_path());
    let refuse = |reason: String| Error::Object {
        kind: "transit key",
        path: at.clone(),
        reason,
    };
    let force = match (action, write) {
        (Action::Create, _) => false,
        (Action::Update, Some(Write::Config(config))) => {
            let path = format!("{at}/config");
            return client.write(&path, &config.body()).await.map(|_| ());
        }
        (Action::Update, Some(Write::Restore { from })) => {
            // The target may have rotated since the plan read it: then it is not replaced.
            let now = client
                .read(&at)
                .await?
                .and_then(|v| v.pointer("/data/latest_version").and_then(Value::as_u64));
            if now != Some(*from) {
                let now = now.map_or("gone".into(), |v| format!("v{v}"));
                return Err(refuse(format!(
                    "changed on the target during the import (planned from v{from}, now {now}); \
                     not replaced"
                )));
            }
            true
        }
        _ => return Err(refuse("no write was planned for this key".into())),
    };
    let body = json!({ "backup": desired.backup, "force": force });
    client
        .write(&format!("{mount}restore/{name}"), &body)
        .await?;
    // A restore brings the source's auto-rotation along: held off on the target at once.
    let rotates =
        Decoded::from_backup(&desired.backup).is_some_and(|d| d.config.auto_rotate_period > 0);
    if rotates {
        let hold = json!({ "auto_rotate_period": "0s" });
        client.write(&format!("{at}/config"), &hold).await?;
    }
    Ok(())
}

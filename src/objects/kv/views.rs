//! What other commands see of a KV secret: `verify --contents`'s summary (never a value), the
//! history `diff` fingerprints by version number, a `--to-prefix` move inside its mount, and the
//! keys a prune finds in a mount.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Metadata, Secret, State};
use crate::error::Result;
use crate::objects::kind::Moved;
use crate::vault::VaultClient;

/// A KV secret without its data.
#[derive(Debug, Clone, Serialize)]
pub struct KvContent {
    pub kv_version: u8,
    /// Its latest version's state.
    pub state: State,
    /// Every version the snapshot carries (exported with `REPLICATOR_KV_HISTORY=all`), oldest
    /// first; without history only the latest version's state is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<Vec<VersionInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    pub version: u64,
    pub state: State,
}

impl KvContent {
    pub fn of(s: &Secret) -> KvContent {
        KvContent {
            kv_version: s.kv_version,
            state: s.state,
            versions: s.history.as_ref().map(|h| {
                h.iter()
                    .map(|v| VersionInfo {
                        version: v.version,
                        state: v.state,
                    })
                    .collect()
            }),
            metadata: s.metadata.clone(),
        }
    }
}

/// A KV secret's `history` (a list, oldest first) as `versions`, keyed by version number, so that
/// one version added or removed changes that version's field only.
pub fn versions_by_number(top: &mut Map<String, Value>) {
    let Some(Value::Array(history)) = top.remove("history") else {
        return;
    };
    let versions = history
        .into_iter()
        .map(|mut v| {
            let number = v
                .as_object_mut()
                .and_then(|o| o.remove("version"))
                .map_or_else(|| "?".to_string(), |n| n.to_string());
            (number, v)
        })
        .collect();
    top.insert("versions".into(), Value::Object(versions));
}

/// The secret moved from the folder `from` to `to` (full paths), which must stay in its mount.
pub fn moved(mut s: Secret, from: &str, to: &str) -> Moved<Secret> {
    let home = format!("{}{}", s.namespace, s.mount);
    let moved = s
        .full_path()
        .strip_prefix(from)
        .map(|rest| format!("{to}{rest}"));
    match moved.as_deref().and_then(|m| m.strip_prefix(&home)) {
        Some(path) if !path.is_empty() => {
            s.path = path.to_string();
            Moved::To(s)
        }
        _ => Moved::Outside(s, format!("--to-prefix {to} is outside its mount {home}")),
    }
}

/// Every key under a KV folder, in all its sub-folders, relative to it.
pub async fn list_all(c: &VaultClient, folder: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut todo = vec![String::new()];
    while let Some(sub) = todo.pop() {
        for name in c.list(&format!("{folder}{sub}")).await? {
            match name.ends_with('/') {
                true => todo.push(format!("{sub}{name}")),
                false => out.push(format!("{sub}{name}")),
            }
        }
    }
    out.sort();
    Ok(out)
}

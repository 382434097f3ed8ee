//! KV secrets, v1 and v2. A KV-v2 secret carries its latest data, the state of its latest version
//! (live, deleted, destroyed), its metadata, and with `REPLICATOR_KV_HISTORY=all` every version.
//! The import reads the target first and writes only what differs, with `cas` set to the target's
//! current version, so a secret that already matches gets no new version and cas_required mounts
//! work.

mod apply;
mod kind;
mod known;
mod listing;
mod meta;
mod views;
mod walk;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use apply::{Current, KvOps, apply, current, diff};
pub use known::{Known, TargetKv};
pub use meta::MetaInfo;
pub use views::{KvContent, VersionInfo};
pub use walk::{Found, Walk, export_mount};

use crate::objects::redacted::redacted_debug;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    #[default]
    Live,
    Deleted,
    Destroyed,
}

/// The per-secret metadata of KV-v2.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Metadata {
    pub custom_metadata: BTreeMap<String, String>,
    pub max_versions: u64,
    pub cas_required: bool,
    pub delete_version_after: String,
}

impl Metadata {
    /// The same metadata with `delete_version_after` spelled as Vault returns it (`0s` for none).
    pub fn normalized(&self) -> Self {
        let mut m = self.clone();
        if m.delete_version_after.is_empty() {
            m.delete_version_after = "0s".into();
        }
        m
    }

    /// What Vault gives a secret nobody configured.
    pub fn is_default(&self) -> bool {
        self.custom_metadata.is_empty()
            && self.max_versions == 0
            && !self.cas_required
            && matches!(self.delete_version_after.as_str(), "" | "0s")
    }
}

/// One version, for history replay. Data is `None` when the version is not live.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub version: u64,
    pub state: State,
    #[serde(default)]
    pub data: Option<Map<String, Value>>,
}

fn default_kv_version() -> u8 {
    2
}

/// A KV secret. Its `Debug` never shows the values.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Secret {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Mount path with its trailing slash, e.g. `secret/`.
    pub mount: String,
    /// Key inside the mount, e.g. `team/app/db`.
    pub path: String,
    /// 1 or 2.
    #[serde(default = "default_kv_version")]
    pub kv_version: u8,
    /// The latest data; `None` when the latest version is deleted or destroyed.
    #[serde(default)]
    pub data: Option<Map<String, Value>>,
    /// The state of the latest version (KV-v2).
    #[serde(default)]
    pub state: State,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Every version, oldest first, when exported with history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<Version>>,
}

impl Secret {
    /// Its API path below the namespace: `<mount><path>` (without KV v2's `data/`).
    pub fn api_path(&self) -> String {
        format!("{}{}", self.mount, self.path)
    }

    pub fn full_path(&self) -> String {
        format!("{}{}", self.namespace, self.api_path())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("path", &self.full_path())
            .field("kv_version", &self.kv_version)
            .field("state", &self.state)
            .field(
                "data",
                &format_args!(
                    "<{} redacted fields>",
                    self.data.as_ref().map_or(0, Map::len)
                ),
            )
            .finish_non_exhaustive()
    }
}

redacted_debug!(Version { version, state, .. });

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn debug_hides_values() {
        let s = Secret {
            namespace: String::new(),
            mount: "secret/".into(),
            path: "a/b".into(),
            kv_version: 2,
            data: json!({"pass": "hunter2"}).as_object().cloned(),
            state: State::Live,
            metadata: None,
            history: None,
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("a/b"));
    }
}

//! KV secrets, v1 and v2. A KV-v2 secret carries its latest data, the state of its latest version
//! (live, deleted, destroyed), its metadata, and with `REPLICATOR_KV_HISTORY=all` every version.
//! The import reads the target first and writes only what differs, with `cas` set to the target's
//! current version, so a secret that already matches gets no new version and cas_required mounts
//! work.

mod apply;
mod known;
mod listing;
mod walk;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use apply::{Current, KvOps, apply, current, diff};
pub use known::{Known, TargetKv};
pub use walk::{Found, Walk, export_mount};

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
    pub fn full_path(&self) -> String {
        format!("{}{}{}", self.namespace, self.mount, self.path)
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

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Version")
            .field("version", &self.version)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// The parts of a KV-v2 metadata answer the tool uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetaInfo {
    pub current_version: u64,
    pub metadata: Metadata,
    /// Version number and state, oldest first.
    pub versions: Vec<(u64, State)>,
}

impl MetaInfo {
    pub fn from_answer(data: &Value) -> Self {
        let metadata: Metadata = serde_json::from_value(data.clone()).unwrap_or_default();
        let mut versions: Vec<(u64, State)> = data
            .get("versions")
            .and_then(Value::as_object)
            .map(|vs| {
                vs.iter()
                    .filter_map(|(n, v)| Some((n.parse().ok()?, state_of(v))))
                    .collect()
            })
            .unwrap_or_default();
        versions.sort_by_key(|(n, _)| *n);
        MetaInfo {
            current_version: data
                .get("current_version")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            metadata,
            versions,
        }
    }

    /// The state of the current version, or `None` when there is no version at all.
    pub fn latest_state(&self) -> Option<State> {
        self.versions
            .iter()
            .find(|(n, _)| *n == self.current_version)
            .map(|(_, s)| *s)
    }
}

fn state_of(v: &Value) -> State {
    if v.get("destroyed").and_then(Value::as_bool) == Some(true) {
        State::Destroyed
    } else if v
        .get("deletion_time")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty())
    {
        State::Deleted
    } else {
        State::Live
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_answers_are_read_with_version_states() {
        let answer = json!({
            "current_version": 3, "max_versions": 7, "cas_required": false,
            "delete_version_after": "0s", "custom_metadata": {"owner": "ops"},
            "versions": {
                "1": {"deletion_time": "", "destroyed": true},
                "2": {"deletion_time": "2026-11-20T22:12:58Z", "destroyed": false},
                "3": {"deletion_time": "", "destroyed": false},
                "10": {"deletion_time": "", "destroyed": false}
            }
        });
        let m = MetaInfo::from_answer(&answer);
        assert_eq!(m.current_version, 3);
        assert_eq!(m.metadata.max_versions, 7);
        assert_eq!(m.metadata.custom_metadata["owner"], "ops");
        assert_eq!(
            m.versions,
            vec![
                (1, State::Destroyed),
                (2, State::Deleted),
                (3, State::Live),
                (10, State::Live)
            ]
        );
        assert_eq!(m.latest_state(), Some(State::Live));
        assert!(!m.metadata.is_default());
    }

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

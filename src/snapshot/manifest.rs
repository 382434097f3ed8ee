//! The manifest, a snapshot's first entry: who made it, when, what it holds, what could not be
//! copied, and the sha256 of every other entry. Read back, its entries are kept as `Entries`
//! (24 bytes each); the writer writes them from its own list.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::entries::{Entries, name_key};
use super::set::SetDigest;
use crate::vault::ClusterInfo;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryDigest {
    pub name: String,
    pub size: u64,
    /// 64 hex digits in the manifest.
    #[serde(with = "hex::serde")]
    pub sha256: [u8; 32],
}

/// An object or field the export could not copy, with the reason. Never silent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotCopied {
    pub kind: String,
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub created_at: DateTime<Utc>,
    pub tool_version: String,
    pub source: ClusterInfo,
    /// Object count per kind (`mount`, `policy`, `kv_secret`).
    pub counts: BTreeMap<String, u64>,
    /// Child namespaces the snapshot carries, relative to the exported one (`team1/`).
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub not_copied: Vec<NotCopied>,
    /// Never serialised from here: a manifest is written by the writer, which lists its entries
    /// in full (`EntryDigest`); what a reader keeps of them has no names.
    #[serde(skip_serializing)]
    pub entries: Entries,
    /// The digest of the whole source set as of this snapshot (format 2; a v1 manifest has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<SetDigest>,
    /// A delta's base and what it takes out of it (format 2); `None` for a full snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<Delta>,
}

/// What makes a snapshot a delta: the snapshot it applies to, and the entries of that one it
/// removes or replaces, each with the first 16 bytes of the sha256 it had there (so that the
/// set's digest can be moved without the base's list of entries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    pub base: Base,
    #[serde(default)]
    pub removed: Vec<Was>,
    #[serde(default)]
    pub changed: Vec<Was>,
}

/// A delta's base: its key and its set's digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Base {
    pub key: String,
    pub set: SetDigest,
}

/// An entry of the base as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Was {
    pub name: String,
    #[serde(with = "hex::serde")]
    pub was: [u8; 16],
}

impl Manifest {
    /// Whether this is a delta.
    pub fn is_delta(&self) -> bool {
        self.delta.is_some()
    }

    /// Refuses a set digest that does not add up: a full snapshot's must be that of its entries;
    /// a delta's, its base's less what it removes and replaces, plus its entries. A delta's
    /// `changed` entries must be among its entries, its `removed` ones not.
    pub fn check_set(&self) -> Result<(), String> {
        let Some(set) = self.set else {
            return match self.delta {
                Some(_) => Err("a delta without the digest of its set".into()),
                None => Ok(()),
            };
        };
        let mut sum = self.entries.set();
        if let Some(d) = &self.delta {
            let names = self.entries.sorted_names();
            let holds = |name: &str| names.binary_search(&name_key(name)).is_ok();
            let mut base = d.base.set;
            for w in &d.changed {
                if !holds(&w.name) {
                    return Err(format!(
                        "delta names {} as changed but holds no entry of it",
                        w.name
                    ));
                }
                base.remove(&w.name, &w.was);
            }
            for w in &d.removed {
                if holds(&w.name) {
                    return Err(format!("delta both holds and removes {}", w.name));
                }
                base.remove(&w.name, &w.was);
            }
            sum.merge(&base);
        }
        match sum == set {
            true => Ok(()),
            false => Err("its entries do not add up to the digest of the set it claims".into()),
        }
    }
}

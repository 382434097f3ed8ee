//! The manifest, a snapshot's first entry: who made it, when, what it holds, what could not be
//! copied, and the sha256 of every other entry. Read back, its entries are kept as `Entries`
//! (24 bytes each); the writer writes them from its own list.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::entries::Entries;
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
}

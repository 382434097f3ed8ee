//! The manifest, a snapshot's first entry: who made it, when, what it holds, what could not be
//! copied, and the sha256 of every other entry.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
    pub entries: Vec<EntryDigest>,
}

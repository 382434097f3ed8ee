//! The manifest as the writer streams it: field for field what `Manifest` serialises, with its
//! `entries` written straight from the sorted index (or a delta's own records), never held.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, Utc};
use serde::ser::{Error as _, SerializeSeq};
use serde::{Serialize, Serializer};

use super::format::MANIFEST_NAME;
use super::join::Listing;
use super::manifest::{Delta, Manifest, NotCopied};
use super::set::SetDigest;
use crate::error::{Error, Result};
use crate::vault::ClusterInfo;

/// A `Manifest` as it serialises, field for field, with its `entries` streamed from a merge of
/// the sorted index: the bytes are exactly those of the `Manifest` with every entry listed.
#[derive(Serialize)]
pub(super) struct ManifestOut<'a> {
    format_version: u32,
    created_at: &'a DateTime<Utc>,
    tool_version: &'a str,
    source: &'a ClusterInfo,
    counts: &'a BTreeMap<String, u64>,
    namespaces: &'a [String],
    not_copied: &'a [NotCopied],
    entries: Entries<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    set: &'a Option<SetDigest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delta: &'a Option<Delta>,
}

impl<'a> ManifestOut<'a> {
    pub(super) fn new(m: &'a Manifest, merge: Listing<'a>) -> Self {
        ManifestOut {
            format_version: m.format_version,
            created_at: &m.created_at,
            tool_version: &m.tool_version,
            source: &m.source,
            counts: &m.counts,
            namespaces: &m.namespaces,
            not_copied: &m.not_copied,
            entries: Entries {
                len: m.counts.values().sum(),
                merge: RefCell::new(Some(merge)),
                failed: RefCell::new(None),
            },
            set: &m.set,
            delta: &m.delta,
        }
    }

    /// Serialises the manifest into `out`; a failed merge is its own error, not a JSON one.
    pub(super) fn write(self, out: impl Write) -> Result<()> {
        serde_json::to_writer_pretty(out, &self).map_err(|e| {
            self.entries.failed.take().unwrap_or_else(|| Error::Object {
                kind: "manifest",
                path: MANIFEST_NAME.into(),
                reason: format!("cannot serialise: {e}"),
            })
        })
    }
}

/// One line of the manifest's `entries`, as `EntryDigest` serialises.
#[derive(Serialize)]
struct EntryOut {
    name: String,
    size: u64,
    #[serde(with = "hex::serde")]
    sha256: [u8; 32],
}

/// The manifest's `entries`, serialised straight from the merge (once).
struct Entries<'a> {
    len: u64,
    merge: RefCell<Option<Listing<'a>>>,
    failed: RefCell<Option<Error>>,
}

impl Serialize for Entries<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut merge = self
            .merge
            .take()
            .ok_or_else(|| S::Error::custom("the entries were already written"))?;
        let mut seq = s.serialize_seq(usize::try_from(self.len).ok())?;
        loop {
            match merge.next() {
                Ok(Some(r)) => seq.serialize_element(&EntryOut {
                    name: r.name,
                    size: r.size,
                    sha256: r.sha256,
                })?,
                Ok(None) => break,
                Err(e) => {
                    let message = e.to_string();
                    self.failed.replace(Some(e));
                    return Err(S::Error::custom(message));
                }
            }
        }
        seq.end()
    }
}

//! Builds a snapshot without holding it, or its index, in memory: objects are serialised into a
//! sealed spool file (`spool`) as the walk finds them, their index records are sorted externally
//! (`runs`), and the tar.gz is written in the format's deterministic order, manifest first.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::ser::{Error as _, SerializeSeq};
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

use super::format::{FORMAT_VERSION, MANIFEST_NAME, entry_name, validate};
use super::manifest::{Manifest, NotCopied};
use super::runs::{Merge, Record, Runs};
use super::spool::Spool;
use crate::error::{Error, Result};
use crate::hashing::Hashing;
use crate::objects::{Kind, Object, Parent, Sink};
use crate::vault::ClusterInfo;

/// The gzip level of the archive (the format does not pin one). Level 1: deflate at level 6 was
/// 42 % of the export's CPU at 100k secrets of 0.1-3 KB random text, which the higher levels
/// compress barely better.
pub(super) const COMPRESSION: Compression = Compression::fast();

/// Index records held before a sorted run is spilled: about 30,000 entries, so a million
/// secrets make some 35 runs, merged with one 64 KiB record of each in memory.
pub(super) const RUN_BYTES: usize = 4 << 20;

/// An object's entry bytes.
pub(super) fn serialise(obj: &Object) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec_pretty(obj)
}

pub struct SnapshotWriter {
    spool: Spool,
    runs: Runs,
    /// Objects per kind, every kind listed.
    counts: BTreeMap<String, u64>,
    namespaces: Vec<String>,
    not_copied: Vec<NotCopied>,
    /// Bumped per object added, for progress lines.
    added: Option<Arc<AtomicU64>>,
}

fn io(context: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::io(context.to_string(), e)
}

impl SnapshotWriter {
    /// A writer spooling into anonymous, sealed files in the temp directory (`TMPDIR`).
    pub fn new() -> Result<Self> {
        Self::with_run_bytes(RUN_BYTES)
    }

    /// A writer that spills a sorted run of its index every `run_bytes`.
    pub(super) fn with_run_bytes(run_bytes: usize) -> Result<Self> {
        Ok(SnapshotWriter {
            spool: Spool::new()?,
            runs: Runs::new(run_bytes)?,
            counts: Kind::ALL
                .iter()
                .map(|k| (k.as_str().to_string(), 0))
                .collect(),
            namespaces: Vec::new(),
            not_copied: Vec::new(),
            added: None,
        })
    }

    /// Counts every object added into `counter`.
    pub fn count_into(&mut self, counter: Arc<AtomicU64>) {
        self.added = Some(counter);
    }

    pub fn add(&mut self, obj: &Object) -> Result<()> {
        validate(obj).map_err(|reason| Error::Object {
            kind: obj.kind().as_str(),
            path: obj.path(),
            reason,
        })?;
        let bytes = serialise(obj).map_err(|e| Error::Object {
            kind: obj.kind().as_str(),
            path: obj.path(),
            reason: format!("cannot serialise: {e}"),
        })?;
        let offset = self.spool.put(&bytes)?;
        self.runs.push(Record {
            kind: obj.kind(),
            name: entry_name(obj),
            size: bytes.len() as u64,
            sha256: Sha256::digest(&bytes).into(),
            offset,
        })?;
        if let Some(n) = self.counts.get_mut(obj.kind().as_str()) {
            *n += 1;
        }
        if let Some(c) = &self.added {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(Parent::Namespace(path)) = obj.as_parent() {
            self.namespaces.push(path);
        }
        Ok(())
    }

    pub fn not_copied(&mut self, kind: Kind, path: String, reason: String) {
        tracing::warn!(%kind, %path, %reason, "not copied");
        self.not_copied.push(NotCopied {
            kind: kind.as_str().to_string(),
            path,
            reason,
        });
    }

    /// Writes the tar.gz to `out` and returns its manifest, without its `entries` (they are
    /// streamed into the archive, never held), and the manifest's sha256 (hex). The manifest is
    /// serialised into the spool too, so no part of the archive is held whole.
    pub fn finish(
        self,
        source: ClusterInfo,
        created_at: DateTime<Utc>,
        out: impl Write,
    ) -> Result<(Manifest, String)> {
        let SnapshotWriter {
            mut spool,
            runs,
            counts,
            mut namespaces,
            mut not_copied,
            ..
        } = self;
        not_copied.sort_by(|a, b| (&a.kind, &a.path).cmp(&(&b.kind, &b.path)));
        namespaces.sort();
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            created_at,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            source,
            counts,
            namespaces,
            not_copied,
            entries: Default::default(),
        };
        let mut sorted = runs.finish()?;
        // First walk of the sorted index: the manifest's list of entries.
        let mut hashed = Hashing::new(spool.chunked());
        ManifestOut::new(&manifest, sorted.merge()?).write(&mut hashed)?;
        let (chunked, manifest_sha256, manifest_len) = hashed.finish();
        let chunks = chunked.finish()?;
        tracing::info!(spool_bytes = spool.len(), "snapshot spooled");
        let mut spool = spool.into_reader()?;
        let mut tar = tar::Builder::new(GzEncoder::new(out, COMPRESSION));
        let mtime = created_at.timestamp();
        append(
            &mut tar,
            MANIFEST_NAME,
            spool.chunks(chunks),
            manifest_len,
            mtime,
        )?;
        // Second walk: the entries themselves, in the manifest's order.
        let mut entries = sorted.merge()?;
        while let Some(e) = entries.next()? {
            let bytes = spool.get(e.offset, e.size)?;
            append(&mut tar, &e.name, bytes.as_slice(), e.size, 0)?;
        }
        let gz = tar.into_inner().map_err(io("write snapshot archive"))?;
        let mut out = gz.finish().map_err(io("write snapshot archive"))?;
        out.flush().map_err(io("write snapshot archive"))?;
        Ok((manifest, manifest_sha256))
    }
}

/// A `Manifest` as it serialises, field for field, with its `entries` streamed from a merge of
/// the sorted index: the bytes are exactly those of the `Manifest` with every entry listed.
#[derive(Serialize)]
struct ManifestOut<'a> {
    format_version: u32,
    created_at: &'a DateTime<Utc>,
    tool_version: &'a str,
    source: &'a ClusterInfo,
    counts: &'a BTreeMap<String, u64>,
    namespaces: &'a [String],
    not_copied: &'a [NotCopied],
    entries: Entries<'a>,
}

impl<'a> ManifestOut<'a> {
    fn new(m: &'a Manifest, merge: Merge<'a>) -> Self {
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
        }
    }

    /// Serialises the manifest into `out`; a failed merge is its own error, not a JSON one.
    fn write(self, out: impl Write) -> Result<()> {
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
    merge: RefCell<Option<Merge<'a>>>,
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

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    data: impl Read,
    size: u64,
    mtime: i64,
) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(mtime.max(0) as u64);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, name, data)
        .map_err(|e| Error::io(format!("write snapshot entry {name}"), e))
}

impl Sink for SnapshotWriter {
    fn add(&mut self, obj: Object) -> Result<()> {
        SnapshotWriter::add(self, &obj)
    }

    fn not_copied(&mut self, kind: Kind, path: String, reason: String) {
        SnapshotWriter::not_copied(self, kind, path, reason);
    }
}

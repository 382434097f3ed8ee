//! Builds a snapshot without holding it, or its index, in memory: objects are serialised into a
//! sealed spool file (`spool`) as the walk finds them, their index records are sorted externally
//! (`runs`), and the tar.gz is written in the format's deterministic order, manifest first. With
//! the exporter's index of the last snapshot (`index`), only what differs from it goes in: a
//! delta (`join`).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use super::format::{FORMAT_VERSION, MANIFEST_NAME, entry_name, validate};
use super::index::{BaseIndex, IndexWriter};
use super::join::{Joined, join, listing};
use super::manifest::{Delta, Manifest, NotCopied};
use super::manifest_out::ManifestOut;
use super::runs::{Record, Runs};
use super::set::SetDigest;
use super::spool::Spool;
use crate::error::{Error, Result};
use crate::hashing::Hashing;
use crate::objects::{Kind, Known, Mark, Object, Parent, Sink, Stage};
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
    /// Whether an index is made for the next delta (every entry then gets a mark).
    indexing: bool,
    /// The last export's index: only what differs from it goes into the archive.
    base: Option<Arc<BaseIndex>>,
}

/// What a finished snapshot is.
pub struct Finished {
    /// Without its `entries` (streamed into the archive, never held).
    pub manifest: Manifest,
    /// The sha256 (hex) of the manifest's bytes.
    pub manifest_sha256: String,
    /// The index of this snapshot, for the next delta, and its set's digest.
    pub index: Option<(IndexWriter, SetDigest)>,
    /// How many entries are new or differ from the base's (a delta's news).
    pub differing: u64,
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
            indexing: false,
            base: None,
        })
    }

    /// Makes an index of this snapshot for the next delta export, and, given `base` (the last
    /// export's index), writes a delta against it.
    pub fn indexed(mut self, base: Option<Arc<BaseIndex>>) -> Self {
        self.indexing = true;
        self.base = base;
        self
    }

    /// Counts every object added into `counter`.
    pub fn count_into(&mut self, counter: Arc<AtomicU64>) {
        self.added = Some(counter);
    }

    pub fn add(&mut self, obj: &Object) -> Result<()> {
        self.add_with(obj, None)
    }

    /// Adds `obj`; `mark` tells its changes when it is not its exported form (a KV secret's
    /// metadata). An object whose mark is the base's goes in as it was (carried), unwritten.
    fn add_with(&mut self, obj: &Object, mark: Option<Mark>) -> Result<()> {
        let failed = |reason: String| Error::Object {
            kind: obj.kind().as_str(),
            path: obj.path(),
            reason,
        };
        validate(obj).map_err(failed)?;
        let bytes = serialise(obj).map_err(|e| failed(format!("cannot serialise: {e}")))?;
        let mark = match (self.indexing, mark) {
            (false, _) => [0; 16],
            (true, Some(m)) => m,
            (true, None) => form_mark(obj, &bytes),
        };
        self.counted(obj);
        // Namespaces and mounts go into every delta (`join`): never carried.
        let container = obj.kind().stage() == Stage::Containers;
        if !container && self.base.as_ref().is_some_and(|b| b.unchanged(obj, &mark)) {
            return self.push_carried(obj, mark);
        }
        let offset = self.spool.put(&bytes)?;
        self.runs.push(Record {
            kind: obj.kind(),
            name: entry_name(obj),
            size: bytes.len() as u64,
            sha256: Sha256::digest(&bytes).into(),
            offset,
            mark,
            carried: false,
        })
    }

    fn push_carried(&mut self, obj: &Object, mark: Mark) -> Result<()> {
        self.runs.push(Record {
            kind: obj.kind(),
            name: entry_name(obj),
            size: 0,
            sha256: [0; 32],
            offset: 0,
            mark,
            carried: true,
        })
    }

    /// Counts an object in, whether it goes into the archive or is carried.
    fn counted(&mut self, obj: &Object) {
        if let Some(n) = self.counts.get_mut(obj.kind().as_str()) {
            *n += 1;
        }
        if let Some(c) = &self.added {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(Parent::Namespace(path)) = obj.as_parent() {
            self.namespaces.push(path);
        }
    }

    pub fn not_copied(&mut self, kind: Kind, path: String, reason: String) {
        tracing::warn!(%kind, %path, %reason, "not copied");
        self.not_copied.push(NotCopied {
            kind: kind.as_str().to_string(),
            path,
            reason,
        });
    }

    /// Writes the tar.gz to `out`: with a base, a delta of what differs from it; without, every
    /// entry. The manifest is serialised into the spool too, so no part of the archive is held
    /// whole (a delta holds its own entries' records).
    pub fn finish(
        self,
        source: ClusterInfo,
        created_at: DateTime<Utc>,
        out: impl Write,
    ) -> Result<Finished> {
        let SnapshotWriter {
            mut spool,
            runs,
            mut counts,
            mut namespaces,
            mut not_copied,
            indexing,
            base,
            ..
        } = self;
        not_copied.sort_by(|a, b| (&a.kind, &a.path).cmp(&(&b.kind, &b.path)));
        namespaces.sort();
        let mut sorted = runs.finish()?;
        let (set, index, delta, held, differing) = joined(&mut sorted, indexing, base.as_deref())?;
        if let Some(held) = &held {
            // A delta counts what it holds.
            counts.values_mut().for_each(|n| *n = 0);
            for r in held {
                *counts.entry(r.kind.as_str().to_string()).or_default() += 1;
            }
        }
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            created_at,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            source,
            counts,
            namespaces,
            not_copied,
            entries: Default::default(),
            set,
            delta,
        };
        // First walk of the sorted index: the manifest's list of entries.
        let mut hashed = Hashing::new(spool.chunked());
        let listed = listing(held.as_deref(), &mut sorted)?;
        ManifestOut::new(&manifest, listed).write(&mut hashed)?;
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
        let mut entries = listing(held.as_deref(), &mut sorted)?;
        while let Some(e) = entries.next()? {
            let bytes = spool.get(e.offset, e.size)?;
            append(&mut tar, &e.name, bytes.as_slice(), e.size, 0)?;
        }
        let gz = tar.into_inner().map_err(io("write snapshot archive"))?;
        let mut out = gz.finish().map_err(io("write snapshot archive"))?;
        out.flush().map_err(io("write snapshot archive"))?;
        Ok(Finished {
            manifest,
            manifest_sha256,
            index: index.zip(set),
            differing,
        })
    }
}

/// The join with the last export's index, when this snapshot is indexed: the set's digest, the
/// index, and for a delta what makes it one and the records of what it holds.
type Join = (
    Option<SetDigest>,
    Option<IndexWriter>,
    Option<Delta>,
    Option<Vec<Record>>,
    u64,
);

fn joined(
    sorted: &mut super::runs::Sorted,
    indexing: bool,
    base: Option<&BaseIndex>,
) -> Result<Join> {
    if !indexing {
        return Ok((None, None, None, None, 0));
    }
    let Joined {
        set,
        index,
        delta,
        differing,
    } = join(sorted, base)?;
    Ok(match delta {
        Some((held, delta)) => (Some(set), Some(index), Some(delta), Some(held), differing),
        None => (Some(set), Some(index), None, None, differing),
    })
}

/// The mark of an object that has no other: a digest of its exported form as `diff`
/// fingerprints it (a transit key's backup without the time it was taken).
fn form_mark(obj: &Object, bytes: &[u8]) -> Mark {
    let mut form: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    if let serde_json::Value::Object(top) = &mut form {
        obj.fingerprinted(top);
    }
    let digest = Sha256::digest(serde_json::to_vec(&form).unwrap_or_default());
    let mut mark = [0u8; 16];
    mark.copy_from_slice(&digest[..16]);
    mark
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

    fn add_marked(&mut self, obj: Object, mark: Mark) -> Result<()> {
        self.add_with(&obj, Some(mark))
    }

    fn carry(&mut self, stub: Object, mark: Mark) -> Result<()> {
        if self.base.is_none() {
            return Err(Error::Object {
                kind: stub.kind().as_str(),
                path: stub.path(),
                reason: "left unread as unchanged, but there is no earlier export".into(),
            });
        }
        self.counted(&stub);
        self.push_carried(&stub, mark)
    }

    fn not_copied(&mut self, kind: Kind, path: String, reason: String) {
        SnapshotWriter::not_copied(self, kind, path, reason);
    }
}

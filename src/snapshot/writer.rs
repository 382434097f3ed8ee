//! Builds a snapshot without holding it in memory: objects are serialised into a sealed spool file
//! (`spool`) as the walk finds them, then written out as a tar.gz in the format's deterministic
//! order, manifest first.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use super::format::{FORMAT_VERSION, MANIFEST_NAME, entry_name, validate};
use super::manifest::{EntryDigest, Manifest, NotCopied};
use super::spool::Spool;
use crate::error::{Error, Result};
use crate::hashing::Hashing;
use crate::objects::{Kind, Object, Sink};
use crate::vault::ClusterInfo;

/// Where one object sits in the spool file, and its manifest line.
struct Indexed {
    kind: Kind,
    offset: u64,
    digest: EntryDigest,
}

pub struct SnapshotWriter {
    spool: Spool,
    index: Vec<Indexed>,
    namespaces: Vec<String>,
    not_copied: Vec<NotCopied>,
    /// Bumped per object added, for progress lines.
    added: Option<Arc<AtomicU64>>,
}

fn io(context: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::io(context.to_string(), e)
}

impl SnapshotWriter {
    /// A writer spooling into an anonymous, sealed file in the temp directory (`TMPDIR`).
    pub fn new() -> Result<Self> {
        Ok(SnapshotWriter {
            spool: Spool::new()?,
            index: Vec::new(),
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
        let bytes = serde_json::to_vec_pretty(obj).map_err(|e| Error::Object {
            kind: obj.kind().as_str(),
            path: obj.path(),
            reason: format!("cannot serialise: {e}"),
        })?;
        let offset = self.spool.put(&bytes)?;
        self.index.push(Indexed {
            kind: obj.kind(),
            offset,
            digest: EntryDigest {
                name: entry_name(obj),
                size: bytes.len() as u64,
                sha256: Sha256::digest(&bytes).into(),
            },
        });
        if let Some(c) = &self.added {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if let Object::Namespace(n) = obj {
            self.namespaces.push(n.path.clone());
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

    /// Writes the tar.gz to `out` and returns its manifest and the manifest's sha256 (hex).
    /// The manifest is serialised into the spool too, so no part of the archive is held whole.
    pub fn finish(
        mut self,
        source: ClusterInfo,
        created_at: DateTime<Utc>,
        out: impl Write,
    ) -> Result<(Manifest, String)> {
        self.index
            .sort_by(|a, b| (a.kind, &a.digest.name).cmp(&(b.kind, &b.digest.name)));
        if let Some(w) = self
            .index
            .windows(2)
            .find(|w| w[0].digest.name == w[1].digest.name)
        {
            return Err(Error::Object {
                kind: w[0].kind.as_str(),
                path: w[0].digest.name.clone(),
                reason: "two objects map to the same snapshot entry".into(),
            });
        }
        let mut counts: BTreeMap<String, u64> = Kind::ALL
            .iter()
            .map(|k| (k.as_str().to_string(), 0))
            .collect();
        for i in &self.index {
            *counts.entry(i.kind.as_str().to_string()).or_default() += 1;
        }
        self.not_copied
            .sort_by(|a, b| (&a.kind, &a.path).cmp(&(&b.kind, &b.path)));
        self.namespaces.sort();
        let (offsets, entries): (Vec<u64>, Vec<EntryDigest>) =
            self.index.into_iter().map(|i| (i.offset, i.digest)).unzip();
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            created_at,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            source,
            counts,
            namespaces: self.namespaces,
            not_copied: self.not_copied,
            entries: entries.iter().collect(),
        };
        let mut hashed = Hashing::new(self.spool.chunked());
        let out_manifest = ManifestOut {
            head: &manifest,
            entries: &entries,
        };
        serde_json::to_writer_pretty(&mut hashed, &out_manifest).map_err(|e| Error::Object {
            kind: "manifest",
            path: MANIFEST_NAME.into(),
            reason: format!("cannot serialise: {e}"),
        })?;
        let (chunked, manifest_sha256, manifest_len) = hashed.finish();
        let chunks = chunked.finish()?;
        let spooled = self.spool.len();
        tracing::info!(spool_bytes = spooled, "snapshot spooled");
        let mut spool = self.spool.into_reader()?;
        let mut tar = tar::Builder::new(GzEncoder::new(out, Compression::default()));
        let mtime = created_at.timestamp();
        append(
            &mut tar,
            MANIFEST_NAME,
            spool.chunks(chunks),
            manifest_len,
            mtime,
        )?;
        for (e, offset) in entries.iter().zip(offsets) {
            let bytes = spool.get(offset, e.size)?;
            append(&mut tar, &e.name, bytes.as_slice(), e.size, 0)?;
        }
        let gz = tar.into_inner().map_err(io("write snapshot archive"))?;
        let mut out = gz.finish().map_err(io("write snapshot archive"))?;
        out.flush().map_err(io("write snapshot archive"))?;
        Ok((manifest, manifest_sha256))
    }
}

/// The manifest as written: its fields, then every entry in full.
#[derive(serde::Serialize)]
struct ManifestOut<'a> {
    #[serde(flatten)]
    head: &'a Manifest,
    entries: &'a [EntryDigest],
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

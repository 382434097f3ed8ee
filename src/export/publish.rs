//! Getting a snapshot into the store: streamed up as it is written, read back and signed over
//! what was read, its index stored next to it, and a delta published only by a conditional move
//! of `latest.json` from its base.

use std::sync::Arc;

use chrono::Utc;

use crate::error::{Error, Result};
use crate::hashing::Hashing;
use crate::seal::{self, Claims, Sealer};
use crate::snapshot::catalog::{self, Pointer};
use crate::snapshot::index::{IndexWriter, index_key};
use crate::snapshot::writer::Finished;
use crate::snapshot::{SetDigest, SnapshotWriter};
use crate::store;

/// What was uploaded: the finished snapshot (manifest, its digest, the index), the archive's
/// digest the signature vouches for, and the sha256 and size of the stored object.
pub(super) struct Written {
    pub finished: Finished,
    pub archive_sha256: String,
    pub sha256: String,
    pub size: u64,
}

/// Writes the sealed tar.gz straight into the store as it is produced (a multipart upload on
/// S3): nothing of the archive is held whole, in memory or on disk.
pub(super) async fn upload(
    store: &Arc<dyn store::Store>,
    key: &str,
    sealer: &Arc<Sealer>,
    writer: SnapshotWriter,
    source: crate::vault::ClusterInfo,
    created_at: chrono::DateTime<Utc>,
) -> Result<Written> {
    let (pipe, mut body) = store::pipe();
    let seal = sealer.clone();
    let writing = tokio::task::spawn_blocking(move || {
        let ctx = |e| Error::io("write snapshot archive", e);
        let mut sealed = seal.writer(Hashing::new(pipe))?;
        let finished = writer.finish(source, created_at, &mut sealed)?;
        let (out, archive_sha256) = sealed.finish().map_err(ctx)?;
        let (pipe, sha256, size) = out.finish();
        pipe.finish().map_err(ctx)?;
        Ok::<_, Error>(Written {
            finished,
            archive_sha256,
            sha256,
            size,
        })
    });
    let uploading = async move { store.put_stream(key, &mut body).await };
    let (written, uploaded) = tokio::join!(writing, uploading);
    let written =
        written.map_err(|e| Error::io("write snapshot archive", std::io::Error::other(e)))?;
    match (written, uploaded) {
        (Ok(w), Ok(_)) => Ok(w),
        // The upload stopped first; the writer only saw the pipe close.
        (Err(Error::Io { source, .. }), Err(e))
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            Err(e)
        }
        (Err(e), uploaded) => {
            if uploaded.is_ok() {
                // Never left behind looking like a snapshot (it is unsigned and unpointed anyway).
                let _ = store.delete(key).await;
            }
            Err(e)
        }
        (Ok(_), Err(e)) => Err(e),
    }
}

/// Reads the uploaded object back as a stream, signs what was read, and refuses to go on unless
/// it is exactly what was written: `latest` never points at an object that did not survive.
pub(super) async fn sign_uploaded(
    store: &Arc<dyn store::Store>,
    key: &str,
    sha256: &str,
    sealer: &Arc<Sealer>,
    claims: Claims,
) -> Result<Option<String>> {
    let stat = store.stat(key).await?;
    let failure = store::StreamFailure::default();
    let back = store::RangeReader::new(store.clone(), key, stat, failure.clone());
    let seal = sealer.clone();
    let read = tokio::task::spawn_blocking(move || {
        let mut hashed = Hashing::new(back);
        let signature = seal.sign(&mut hashed, &claims)?;
        let (_, sha, _) = hashed.finish();
        Ok::<_, Error>((signature, sha))
    })
    .await
    .map_err(|e| Error::io("read back snapshot", std::io::Error::other(e)))?;
    let (signature, sha) = read.map_err(|e| failure.take().unwrap_or(e))?;
    if sha != sha256 {
        return Err(Error::Store {
            location: store.location(),
            message: format!("{key} does not read back as written; latest not moved"),
        });
    }
    Ok(signature)
}

/// Seals this snapshot's index and stores it next to it, for the next delta.
pub(super) async fn store_index(
    store: &dyn store::Store,
    secret: &[u8; 32],
    key: &str,
    index: IndexWriter,
    set: SetDigest,
    made_with: &str,
) -> Result<()> {
    let (secret, snapshot, made_with) = (*secret, key.to_string(), made_with.to_string());
    let sealed =
        tokio::task::spawn_blocking(move || index.seal(&secret, &snapshot, set, &made_with))
            .await
            .map_err(|e| Error::io("seal the export's index", std::io::Error::other(e)))?
            .map_err(|e| Error::io("seal the export's index", e))?;
    store.put(&index_key(key), sealed).await
}

/// Moves `latest.json` to a delta only while it still names the delta's base: another export
/// that extended the chain first wins, and this delta (with its signature and index) is taken
/// back.
pub(super) async fn publish_delta(
    store: &dyn store::Store,
    pointer: &Pointer,
    tag: Option<&str>,
) -> Result<()> {
    match catalog::extend_pointer(store, pointer, tag).await {
        Err(Error::Conflict { location, .. }) => {
            for k in [
                seal::signature_key(&pointer.key),
                index_key(&pointer.key),
                pointer.key.clone(),
            ] {
                let _ = store.delete(&k).await;
            }
            Err(Error::Store {
                location,
                message: format!(
                    "{} moved while this export ran (another export extended the chain first); \
                     {} was not published",
                    catalog::LATEST,
                    pointer.key
                ),
            })
        }
        other => other,
    }
}

//! `export`: walk the source cluster into a snapshot (a delta of what changed since the last
//! export, or a full one: `chain`), upload it, read it back, sign it, store the index the next
//! delta compares against, and only then move `latest`. Any error before the pointer moves leaves
//! `latest` where it was.

mod chain;

use std::sync::Arc;
use std::time::Instant;

use chrono::{DurationRound, TimeDelta, Utc};
use serde::Serialize;

use crate::config::{ChainPolicy, ExportConfig, Filter, WalkConfig};
use crate::error::{Error, Result};
use crate::hashing::Hashing;
use crate::objects::escrow::Escrow;
use crate::objects::{Kind, Known, Scope, Sink, Source, mounts};
use crate::progress::Progress;
use crate::retention;
use crate::seal::{self, Claims, Origin, Sealer};
use crate::snapshot::catalog::{self, Pointer};
use crate::snapshot::index::index_key;
use crate::snapshot::writer::Finished;
use crate::snapshot::{SetDigest, SnapshotWriter};
use crate::store;
use crate::vault::{Session, VaultClient, cluster_info, namespaces};
use chain::Cut;

struct Options<'k> {
    concurrency: usize,
    history: bool,
    filter: Filter,
    /// The importer's own bookkeeping mount, which is never exported.
    state_mount: String,
    /// `REPLICATOR_ESCROW_MOUNT`, and the configured namespace's client to read it with.
    escrow: Option<(String, VaultClient)>,
    /// What the last export saw, for a delta.
    known: Option<&'k dyn Known>,
}

impl Options<'_> {
    /// What a kind's export reads from, in `client`'s namespace.
    fn source<'a>(
        &'a self,
        client: &'a VaultClient,
        filter: &'a (dyn Fn(&str) -> bool + Sync),
    ) -> Source<'a> {
        Source {
            client,
            concurrency: self.concurrency,
            kv_history: self.history,
            filter,
            state_mount: &self.state_mount,
            escrow: self
                .escrow
                .as_ref()
                .map(|(mount, client)| Escrow { client, mount }),
            known: self.known,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ExportReport {
    pub key: String,
    pub location: String,
    pub sha256: String,
    pub size: u64,
    pub counts: std::collections::BTreeMap<String, u64>,
    pub not_copied: usize,
    pub vault_requests: u64,
    pub seconds: f64,
    /// Snapshots deleted by retention after this one became `latest`.
    pub pruned: Vec<String>,
    /// The newer snapshot `latest` was left at (a concurrent export finished first), if any.
    pub newer_latest: Option<String>,
    /// A delta's base and what it changed; `None` for a full snapshot.
    pub delta: Option<DeltaReport>,
    /// Why this export is a full snapshot rather than a delta.
    pub full_because: Option<String>,
}

/// What a delta export made.
#[derive(Debug, Serialize)]
pub struct DeltaReport {
    pub base: String,
    /// Entries it holds (new or changed).
    pub changed: u64,
    /// Entries of the base it removes.
    pub removed: u64,
    /// Snapshots an import applies to reach it, its full one first.
    pub chain: usize,
}

pub async fn run(config: ExportConfig) -> Result<ExportReport> {
    let started = Instant::now();
    let retention = config.retention;
    let sealer = Arc::new(config.sealer);
    let store: Arc<dyn store::Store> = store::open(&config.store_url).await?.into();
    let (store_url, walk, policy) = (&config.store_url, &config.walk, &config.chain);
    let mut report = Session::run(&config.vault, async |client| {
        let run = Run {
            store_url,
            walk,
            policy,
            store: &store,
            sealer: &sealer,
            started,
        };
        export_with(&run, client).await
    })
    .await?;
    if retention.is_set() {
        let pruned = retention::apply(store.as_ref(), retention, false)
            .await
            .map_err(|e| Error::Store {
                location: store.location(),
                message: format!(
                    "export succeeded and latest is {}, but retention failed: {}",
                    report.key,
                    crate::error::one_line(&e)
                ),
            })?;
        report.pruned = pruned.deleted;
    }
    Ok(report)
}

/// What one export works with.
struct Run<'a> {
    store_url: &'a str,
    walk: &'a WalkConfig,
    policy: &'a ChainPolicy,
    store: &'a Arc<dyn store::Store>,
    sealer: &'a Arc<Sealer>,
    started: Instant,
}

async fn export_with(run: &Run<'_>, client: &VaultClient) -> Result<ExportReport> {
    let (store, sealer) = (run.store, run.sealer);
    let created_at = Utc::now()
        .duration_trunc(TimeDelta::seconds(1))
        .unwrap_or_else(|_| Utc::now());

    let source = cluster_info(client).await?;
    tracing::info!(
        source = %source.address,
        cluster = source.cluster_name.as_deref().unwrap_or(""),
        version = source.version.as_deref().unwrap_or(""),
        "export started"
    );
    let made_with = chain::made_with(run.walk, source.cluster_id.as_deref().unwrap_or(""));
    let index_key_secret = sealer.index_key();
    let cut = chain::decide(
        store.as_ref(),
        index_key_secret.as_ref(),
        &made_with,
        run.policy,
        created_at,
    )
    .await?;
    let (base, mut chain, tag, full_because) = match cut {
        Cut::Full(why) => {
            tracing::info!(because = %why, "cutting a full snapshot");
            (None, Vec::new(), None, Some(why))
        }
        Cut::Delta { base, chain, tag } => {
            tracing::info!(base = %base.snapshot, "cutting a delta");
            (Some(base), chain, tag, None)
        }
    };
    let mut writer = SnapshotWriter::new()?;
    if index_key_secret.is_some() {
        writer = writer.indexed(base.clone());
    }
    let progress = Progress::start("export", None);
    writer.count_into(progress.counter());
    let known = base.as_deref().map(|b| b as &dyn Known);
    walk_knowing(run.walk, client, &mut writer, known).await?;
    drop(progress);
    let key = match base.is_some() {
        true => catalog::delta_key(created_at, sealer.encrypts()),
        false => catalog::snapshot_key(created_at, sealer.encrypts()),
    };
    let origin = Origin::new(
        source.cluster_id.as_deref().unwrap_or_default(),
        source.cluster_name.as_deref().unwrap_or_default(),
        &store::prefix_of(run.store_url),
        &store::published_at(run.store_url),
    );
    let written = upload(store, &key, sealer, writer, source, created_at).await?;
    let claims = Claims {
        file: key.clone(),
        archive_sha256: written.archive_sha256.clone(),
        manifest_sha256: written.finished.manifest_sha256.clone(),
        timestamp: created_at.timestamp(),
        origin: Some(origin),
        base: base.as_ref().map(|b| b.snapshot.clone()),
    };
    let signature = sign_uploaded(store, &key, &written.sha256, sealer, claims).await?;
    if let Some(sig) = signature {
        store
            .put(&seal::signature_key(&key), sig.into_bytes())
            .await?;
    }
    let Written {
        finished,
        sha256,
        size,
        ..
    } = written;
    if let (Some(secret), Some((index, set))) = (&index_key_secret, finished.index) {
        store_index(store.as_ref(), secret, &key, index, set, &made_with).await?;
    }
    chain.push(key.clone());
    let pointer = Pointer {
        key: key.clone(),
        sha256: sha256.clone(),
        size,
        created_at,
        chain: match base {
            Some(_) => chain,
            None => vec![key.clone()],
        },
    };
    let manifest = finished.manifest;
    let newer = match &manifest.delta {
        None => catalog::move_pointer(store.as_ref(), &pointer).await?,
        Some(_) => {
            publish_delta(store.as_ref(), &pointer, tag.as_deref()).await?;
            None
        }
    };
    let delta = manifest.delta.as_ref().map(|d| DeltaReport {
        base: d.base.key.clone(),
        changed: manifest.counts.values().sum(),
        removed: d.removed.len() as u64,
        chain: pointer.chain.len(),
    });
    let report = ExportReport {
        key,
        location: store.location(),
        sha256,
        size,
        counts: manifest.counts,
        not_copied: manifest.not_copied.len(),
        vault_requests: client
            .counters()
            .reads
            .load(std::sync::atomic::Ordering::Relaxed),
        seconds: run.started.elapsed().as_secs_f64(),
        pruned: Vec::new(),
        newer_latest: newer,
        delta,
        full_because,
    };
    log_finished(&report);
    Ok(report)
}

/// Seals this snapshot's index and stores it next to it, for the next delta.
async fn store_index(
    store: &dyn store::Store,
    secret: &[u8; 32],
    key: &str,
    index: crate::snapshot::index::IndexWriter,
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
async fn publish_delta(
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

fn log_finished(report: &ExportReport) {
    tracing::info!(
        snapshot = %report.key,
        location = %report.location,
        bytes = report.size,
        counts = %serde_json::to_string(&report.counts).unwrap_or_default(),
        not_copied = report.not_copied,
        vault_requests = report.vault_requests,
        seconds = report.seconds,
        peak_rss_kib = crate::progress::peak_rss_kib().unwrap_or(0),
        latest = report.newer_latest.as_deref().unwrap_or(&report.key),
        "export finished"
    );
}

/// Walks the whole source into `sink` (the snapshot writer, or `diff`'s in-memory view of the
/// live cluster): what only the cluster has (its child namespaces), then each namespace, the
/// configured one first.
pub async fn walk(config: &WalkConfig, client: &VaultClient, sink: &mut dyn Sink) -> Result<()> {
    walk_knowing(config, client, sink, None).await
}

/// `walk`, skipping the reads `known` makes needless (a delta export).
async fn walk_knowing(
    config: &WalkConfig,
    client: &VaultClient,
    sink: &mut dyn Sink,
    known: Option<&dyn Known>,
) -> Result<()> {
    let opts = Options {
        known,
        concurrency: client.concurrency(),
        history: config.kv_history,
        filter: config.filter.clone(),
        state_mount: config.state_mount.clone(),
        escrow: config.escrow_mount.clone().map(|m| (m, client.clone())),
    };
    let children = namespaces(client).await?;
    let everything = |_: &str| true;
    let scope = Scope::Cluster {
        namespaces: &children,
    };
    for kind in Kind::ALL {
        kind.export(&opts.source(client, &everything), &scope, sink)
            .await?;
    }
    for ns in std::iter::once(String::new()).chain(children) {
        export_namespace(&client.in_namespace(&ns), &ns, &opts, sink).await?;
    }
    Ok(())
}

/// What was uploaded: the finished snapshot (manifest, its digest, the index), the archive's
/// digest the signature vouches for, and the sha256 and size of the stored object.
struct Written {
    finished: Finished,
    archive_sha256: String,
    sha256: String,
    size: u64,
}

/// Writes the sealed tar.gz straight into the store as it is produced (a multipart upload on
/// S3): nothing of the archive is held whole, in memory or on disk.
async fn upload(
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
async fn sign_uploaded(
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

/// Everything of one namespace: its mount tables, what lives in each mount (a mount no kind looks
/// into carries its settings only, and says so), then every kind that lives in the namespace
/// itself (the mounts, policies, identity).
async fn export_namespace(
    client: &VaultClient,
    ns: &str,
    opts: &Options<'_>,
    sink: &mut dyn Sink,
) -> Result<()> {
    let allows = |shown: &str| opts.filter.allows(shown);
    let source = opts.source(client, &allows);
    let mounts = mounts::listed(&source, ns, sink).await?;
    for mount in &mounts {
        let scope = Scope::Mount { ns, mount };
        for kind in Kind::ALL.iter().filter(|k| k.lives_in(mount)) {
            kind.export(&source, &scope, sink).await?;
        }
    }
    let scope = Scope::Namespace {
        ns,
        mounts: &mounts,
    };
    for kind in Kind::ALL {
        kind.export(&source, &scope, sink).await?;
    }
    Ok(())
}

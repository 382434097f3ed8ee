//! `export`: walk the source cluster into a snapshot (a delta of what changed since the last
//! export, or a full one: `chain`), upload it, read it back, sign it, store the index the next
//! delta compares against, and only then move `latest`. Any error before the pointer moves leaves
//! `latest` where it was.

mod chain;
mod publish;
mod walk;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::Serialize;

use crate::config::{ChainPolicy, ExportConfig, WalkConfig};
use crate::error::{Error, Result};
use crate::objects::Known;
use crate::progress::Progress;
use crate::retention;
use crate::seal::{self, Claims, Origin, Sealer};
use crate::snapshot::SnapshotWriter;
use crate::snapshot::catalog::{self, Pointer};
use crate::store;
use crate::vault::{Session, VaultClient, cluster_info};
use chain::Cut;
use publish::Written;

#[derive(Debug, Serialize)]
pub struct ExportReport {
    pub key: String,
    pub location: String,
    pub sha256: String,
    /// The snapshot's size in the store.
    #[serde(rename = "bytes")]
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
    /// Entries that are new or changed (it also holds every namespace and mount).
    pub changed: u64,
    /// Entries of the base it removes.
    pub removed: u64,
    /// Snapshots an import applies to reach it, its full one first.
    pub chain: usize,
}

pub use walk::walk;

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
    let secret = sealer.index_key();
    let cut = chain::decide(
        store.as_ref(),
        secret.as_ref(),
        &made_with,
        run.policy,
        created_at,
    );
    let cut = cut.await?;
    let mut writer = SnapshotWriter::new()?;
    if secret.is_some() {
        writer = writer.indexed(cut.base.clone());
    }
    let progress = Progress::start("export", None);
    writer.count_into(progress.counter());
    let known = cut.base.as_deref().map(|b| b as &dyn Known);
    walk::walk_knowing(run.walk, client, &mut writer, known).await?;
    drop(progress);
    let key = match cut.base.is_some() {
        true => catalog::delta_key(created_at, sealer.encrypts()),
        false => catalog::snapshot_key(created_at, sealer.encrypts()),
    };
    let origin = Origin::new(
        source.cluster_id.as_deref().unwrap_or_default(),
        source.cluster_name.as_deref().unwrap_or_default(),
        &store::prefix_of(run.store_url),
        &store::published_at(run.store_url),
    );
    let written = publish::upload(store, &key, sealer, writer, source, created_at).await?;
    let claims = Claims {
        file: key.clone(),
        archive_sha256: written.archive_sha256.clone(),
        manifest_sha256: written.finished.manifest_sha256.clone(),
        timestamp: created_at.timestamp(),
        origin: Some(origin),
        base: cut.base.as_ref().map(|b| b.snapshot.clone()),
    };
    let signature = publish::sign_uploaded(store, &key, &written.sha256, sealer, claims).await?;
    if let Some(sig) = signature {
        store
            .put(&seal::signature_key(&key), sig.into_bytes())
            .await?;
    }
    let index = (secret.as_ref(), made_with.as_str());
    let report = publish(run, cut, key, written, index, created_at).await?;
    let report = ExportReport {
        vault_requests: client.counters().reads.load(Ordering::Relaxed),
        ..report
    };
    log_finished(&report);
    Ok(report)
}

/// Stores the uploaded snapshot's index (sealed with `secret`) and moves `latest.json` to it;
/// what the export made.
async fn publish(
    run: &Run<'_>,
    cut: Cut,
    key: String,
    written: Written,
    (secret, made_with): (Option<&[u8; 32]>, &str),
    created_at: DateTime<Utc>,
) -> Result<ExportReport> {
    let store = run.store.as_ref();
    let Written {
        finished,
        sha256,
        size,
        ..
    } = written;
    // The base's index is done with: its memory goes before the new one is sealed.
    let Cut {
        base, chain, tag, ..
    } = cut;
    let extends = base.is_some();
    drop(base);
    if let (Some(secret), Some((index, set))) = (secret, finished.index) {
        publish::store_index(store, secret, &key, index, set, made_with).await?;
    }
    let mut chain = match extends {
        true => chain,
        false => Vec::new(),
    };
    chain.push(key.clone());
    let pointer = Pointer {
        key: key.clone(),
        sha256: sha256.clone(),
        size,
        created_at,
        chain,
    };
    let manifest = finished.manifest;
    let newer = match &manifest.delta {
        None => catalog::move_pointer(store, &pointer).await?,
        Some(_) => {
            publish::publish_delta(store, &pointer, tag.as_deref()).await?;
            None
        }
    };
    let delta = manifest.delta.as_ref().map(|d| DeltaReport {
        base: d.base.key.clone(),
        changed: finished.differing,
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
        vault_requests: 0,
        seconds: run.started.elapsed().as_secs_f64(),
        pruned: Vec::new(),
        newer_latest: newer,
        delta,
        full_because: cut.full_because,
    };
    Ok(report)
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

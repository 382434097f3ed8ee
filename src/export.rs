//! `export`: walk the source cluster into a snapshot, upload it, read it back, and only then move
//! `latest`. Any error before the pointer moves leaves `latest` where it was.

use std::io::BufWriter;
use std::time::Instant;

use chrono::{DurationRound, TimeDelta, Utc};
use serde::Serialize;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::objects::kv::{self, Found};
use crate::objects::{Kind, Object, mounts, policies};
use crate::snapshot::SnapshotWriter;
use crate::snapshot::catalog::{self, Pointer};
use crate::store;
use crate::vault::{VaultClient, cluster_info, mount_table};

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
}

pub async fn run(settings: &Settings) -> Result<ExportReport> {
    let started = Instant::now();
    let vcfg = settings.vault()?;
    let concurrency = vcfg.concurrency;
    let store = store::open(&settings.store_url()?).await?;
    let client = VaultClient::new(&vcfg)?;
    let created_at = Utc::now()
        .duration_trunc(TimeDelta::seconds(1))
        .unwrap_or_else(|_| Utc::now());

    let source = cluster_info(&client).await?;
    tracing::info!(
        source = %source.address,
        cluster = source.cluster_name.as_deref().unwrap_or(""),
        version = source.version.as_deref().unwrap_or(""),
        "export started"
    );
    let table = mount_table(&client).await?;
    let mut writer = SnapshotWriter::new()?;
    let kv_mounts = mounts::export(&table);
    for m in &kv_mounts {
        writer.add(&Object::Mount(m.clone()))?;
    }
    for p in policies::export(&client, concurrency).await? {
        writer.add(&Object::Policy(p))?;
    }
    for m in &kv_mounts {
        kv::export_mount(&client, &m.path, concurrency, |found| match found {
            Found::Secret(s) => writer.add(&Object::KvSecret(s)),
            Found::Skipped { path, reason } => {
                writer.not_copied(Kind::KvSecret, path, reason);
                Ok(())
            }
        })
        .await?;
    }

    let archive = tempfile::NamedTempFile::new()
        .map_err(|e| Error::io("create archive file in TMPDIR", e))?;
    let out = archive
        .reopen()
        .map_err(|e| Error::io("open archive file", e))?;
    let manifest =
        tokio::task::spawn_blocking(move || writer.finish(source, created_at, BufWriter::new(out)))
            .await
            .map_err(|e| Error::io("write archive", std::io::Error::other(e)))??;
    let (sha256, size) = catalog::sha256_file(archive.path())?;

    let key = catalog::snapshot_key(created_at);
    store.put_file(&key, archive.path()).await?;
    check_uploaded(store.as_ref(), &key, &sha256).await?;
    catalog::write_pointer(
        store.as_ref(),
        &Pointer {
            key: key.clone(),
            sha256: sha256.clone(),
            size,
            created_at,
        },
    )
    .await?;

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
        seconds: started.elapsed().as_secs_f64(),
    };
    tracing::info!(
        snapshot = %report.key,
        location = %report.location,
        bytes = report.size,
        counts = %serde_json::to_string(&report.counts).unwrap_or_default(),
        not_copied = report.not_copied,
        vault_requests = report.vault_requests,
        seconds = report.seconds,
        "export finished; latest moved"
    );
    Ok(report)
}

/// Reads the uploaded object back and compares its digest, before `latest` may point at it.
async fn check_uploaded(store: &dyn store::Store, key: &str, sha256: &str) -> Result<()> {
    let back = tempfile::NamedTempFile::new()
        .map_err(|e| Error::io("create check file in TMPDIR", e))?
        .into_temp_path();
    store.get_file(key, &back).await?;
    let (sha, _) = catalog::sha256_file(&back)?;
    if sha != sha256 {
        return Err(Error::Store {
            location: store.location(),
            message: format!("{key} does not read back as written; latest not moved"),
        });
    }
    Ok(())
}

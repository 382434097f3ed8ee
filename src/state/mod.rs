//! The importer's bookkeeping, kept in the target cluster itself: a KV-v2 mount (default
//! `vault-replicator/`, `REPLICATOR_STATE_MOUNT`) created `local: true`, so the exporter never
//! carries it anywhere, and a DR cluster rebuilt from scratch starts clean.
//!
//! - `meta`: the last snapshot applied and when, and whether that import finished (`complete`,
//!   false from the moment a run takes the lease until it saves at the end);
//! - `fence`: present while the cluster is promoted; every import refuses then;
//! - `lease`: who is importing right now, until when (check-and-set, so two runs cannot both win;
//!   the bookkeeping is saved only while the run still holds it);
//! - `written/<shard>` (see `records`): for each object the importer wrote (or found already
//!   equal), a keyed digest of its snapshot entry (`digest`) and how to delete it, plus
//!   `written/<shard>-<n>`,
//!   the deltas a long run saves on its way (see `shards`). Prune and drift detection read these.
//! - `deleted`: how many objects each prune of the last `REPLICATOR_MAX_DELETE_WINDOW` deleted,
//!   so that the delete guard holds over the window, not per run.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::vault::{Table, VaultClient, mount_table};

mod digest;
mod record;
mod records;
mod shards;
mod sources;

pub use records::{Digest, FLUSH_AT, Record, RecordKey, Records, Seen};
pub use sources::{Claim, Claimed};

pub const DEFAULT_MOUNT: &str = "vault-replicator/";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub last_snapshot: String,
    pub applied_at: DateTime<Utc>,
    pub complete: bool,
    /// Imports since the last one that compared every object with the target.
    #[serde(default)]
    pub runs_since_full_check: u32,
    /// An import here has applied a snapshot whose signature names the store it was published
    /// at: from then on, one whose signature names only its prefix (an exporter before #25) is
    /// refused when `latest.json` leads to it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub store_bound: bool,
    /// The digest of the source's set as of `last_snapshot` (format 2, hex): what the next delta
    /// must start from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<String>,
    /// What the importer's settings that decide what it writes were (a digest): when they
    /// change, the next import compares everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<String>,
    /// The source whose state this is (its store prefix); `None` in a state saved before
    /// sources were told apart (the first source to import after the upgrade takes it over).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fence {
    pub promoted_at: DateTime<Utc>,
    pub by: String,
}

/// One prune's deletions, in the `deleted` log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Deleted {
    at: DateTime<Utc>,
    objects: u64,
}

/// Who holds the import lease, until when; an empty holder is a released lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseData {
    pub holder: String,
    pub expires_at: DateTime<Utc>,
}

/// The importer's state in the state mount of one target cluster: the cluster's own (the fence)
/// and one source's (see `sources`). (Not a KV version's state, which is `objects::kv::State`.)
#[derive(Debug, Clone)]
pub struct ImporterState {
    client: VaultClient,
    mount: String,
    /// Where this source's keys are below the mount: `""` (the first source, and every state
    /// before sources were told apart) or `sources/<slug>/`.
    base: String,
    /// The source (its store prefix, `dc1`), for the state of one; `None` for the cluster's.
    source: Option<String>,
}

impl ImporterState {
    /// The cluster's state, as `promote`, `demote` and `status` see it (and the first source's).
    pub fn new(client: VaultClient, mount: &str) -> Self {
        ImporterState {
            client,
            mount: format!("{}/", mount.trim_matches('/')),
            base: String::new(),
            source: None,
        }
    }

    /// Creates the state mount if it is missing: KV-v2, local, one version kept per key.
    pub async fn ensure_mount(&self) -> Result<()> {
        let table = mount_table(&self.client, Table::Secret).await?;
        if table.contains_key(&self.mount) {
            return Ok(());
        }
        let path = self.mount.trim_end_matches('/');
        let body = json!({
            "type": "kv", "local": true, "options": {"version": "2"},
            "description": "vault-replicator bookkeeping (never replicated)",
        });
        self.client
            .write(&format!("sys/mounts/{path}"), &body)
            .await?;
        self.client
            .write(
                &format!("{}config", self.mount),
                &json!({"max_versions": 1}),
            )
            .await?;
        Ok(())
    }

    /// The data and current version of this source's key `key`.
    async fn get(&self, key: &str) -> Result<(Option<Value>, u64)> {
        self.get_at(&format!("{}{key}", self.base)).await
    }

    /// The data and current version of a key of the mount; `(None, v)` when absent or deleted.
    async fn get_at(&self, key: &str) -> Result<(Option<Value>, u64)> {
        let Some(body) = self
            .client
            .read(&format!("{}data/{key}", self.mount))
            .await?
        else {
            let version = self
                .client
                .read(&format!("{}metadata/{key}", self.mount))
                .await?
                .and_then(|m| m.pointer("/data/current_version").and_then(Value::as_u64))
                .unwrap_or(0);
            return Ok((None, version));
        };
        let version = body
            .pointer("/data/metadata/version")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        Ok((body.pointer("/data/data").cloned(), version))
    }

    /// Writes this source's key `key`.
    async fn put(&self, key: &str, data: &impl Serialize, cas: Option<u64>) -> Result<()> {
        self.put_at(&format!("{}{key}", self.base), data, cas).await
    }

    async fn put_at(&self, key: &str, data: &impl Serialize, cas: Option<u64>) -> Result<()> {
        let mut body = json!({ "data": data });
        if let Some(v) = cas {
            body["options"] = json!({ "cas": v });
        }
        self.client
            .write(&format!("{}data/{key}", self.mount), &body)
            .await
            .map(|_| ())
    }

    async fn mount_exists(&self) -> Result<bool> {
        Ok(mount_table(&self.client, Table::Secret)
            .await?
            .contains_key(&self.mount))
    }

    /// The cluster's fence, or this source's (`promote --source`).
    pub async fn fence(&self) -> Result<Option<Fence>> {
        if !self.mount_exists().await? {
            return Ok(None);
        }
        let (data, _) = self.get_at("fence").await?;
        match data.and_then(|d| serde_json::from_value(d).ok()) {
            Some(fence) => Ok(Some(fence)),
            None => self.source_fence().await,
        }
    }

    /// The fence (this source's, then the cluster's), for a run that knows the state mount
    /// exists: what the lease's watcher reads every second.
    pub async fn fenced(&self) -> Result<Option<Fence>> {
        if let Some(f) = self.source_fence().await? {
            return Ok(Some(f));
        }
        let body = self
            .client
            .read(&format!("{}data/fence", self.mount))
            .await?;
        Ok(body
            .and_then(|b| b.pointer("/data/data").cloned())
            .and_then(|d| serde_json::from_value(d).ok()))
    }

    pub async fn set_fence(&self, fence: &Fence) -> Result<()> {
        self.ensure_mount().await?;
        self.put_at("fence", fence, None).await
    }

    pub async fn clear_fence(&self) -> Result<()> {
        if self.mount_exists().await? {
            self.client
                .delete(&format!("{}metadata/fence", self.mount))
                .await?;
        }
        Ok(())
    }

    pub async fn meta(&self) -> Result<Option<Meta>> {
        if !self.mount_exists().await? {
            return Ok(None);
        }
        let (data, _) = self.get("meta").await?;
        Ok(data.and_then(|d| serde_json::from_value(d).ok()))
    }

    /// The import lease as it stands, and the version of its key (0 when never written).
    pub async fn lease(&self) -> Result<(Option<LeaseData>, u64)> {
        let (data, version) = self.get("lease").await?;
        Ok((data.and_then(|d| serde_json::from_value(d).ok()), version))
    }

    /// Writes `meta` alone (the importer marks its run unfinished with it as it starts).
    pub async fn save_meta(&self, meta: &Meta) -> Result<()> {
        self.put("meta", &self.stamped(meta), None).await
    }

    /// `meta` naming this state's source, which it claims the keys for.
    fn stamped(&self, meta: &Meta) -> Meta {
        Meta {
            source: self.source.clone().or_else(|| meta.source.clone()),
            ..meta.clone()
        }
    }

    /// Takes the import lease, or says who holds it. Returns the version to renew with.
    pub async fn acquire(&self, holder: &str, ttl: Duration) -> Result<Result<u64, String>> {
        let (data, version) = self.get("lease").await?;
        if let Some(lease) = data.and_then(|d| serde_json::from_value::<LeaseData>(d).ok())
            && !lease.holder.is_empty()
            && lease.expires_at > Utc::now()
            && lease.holder != holder
        {
            return Ok(Err(format!(
                "another import holds the lease on this cluster ({}, until {})",
                lease.holder,
                lease.expires_at.format("%Y-%m-%dT%H:%M:%SZ")
            )));
        }
        match self.write_lease(holder, ttl, version).await {
            Ok(v) => Ok(Ok(v)),
            Err(Error::Vault { status: 400, .. }) => Ok(Err(
                "another import took the lease at the same moment".to_string(),
            )),
            Err(e) => Err(e),
        }
    }

    /// Writes the lease with check-and-set; the new version on success.
    pub async fn write_lease(&self, holder: &str, ttl: Duration, cas: u64) -> Result<u64> {
        let expires_at = Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default();
        let lease = LeaseData {
            holder: holder.to_string(),
            expires_at,
        };
        self.put("lease", &lease, Some(cas)).await?;
        Ok(cas + 1)
    }

    /// Gives the lease up (check-and-set, so a lease someone else took over is left alone).
    pub async fn release(&self, cas: u64) -> Result<()> {
        let lease = LeaseData {
            holder: String::new(),
            expires_at: Utc::now(),
        };
        self.put("lease", &lease, Some(cas)).await
    }

    /// The prunes logged in `deleted`, oldest first.
    async fn deleted_log(&self) -> Result<Vec<Deleted>> {
        if !self.mount_exists().await? {
            return Ok(Vec::new());
        }
        let (data, _) = self.get("deleted").await?;
        let Some(runs) = data.and_then(|mut d| d.get_mut("runs").map(Value::take)) else {
            return Ok(Vec::new());
        };
        serde_json::from_value(runs).map_err(|e| Error::VaultResponse {
            method: "GET",
            path: format!("{}data/deleted", self.mount),
            message: format!("the prune log is not readable: {e}"),
        })
    }

    /// Objects the prunes of the last `window` deleted.
    pub async fn deleted_within(&self, window: Duration) -> Result<u64> {
        let since = window_start(window);
        let log = self.deleted_log().await?;
        Ok(log.iter().filter(|d| d.at > since).map(|d| d.objects).sum())
    }

    /// Logs a prune's deletions, and forgets those older than `window`.
    pub async fn note_deleted(&self, objects: u64, window: Duration) -> Result<()> {
        let (now, since) = (Utc::now(), window_start(window));
        let mut log = self.deleted_log().await?;
        log.retain(|d| d.at > since);
        log.push(Deleted { at: now, objects });
        self.ensure_mount().await?;
        self.put("deleted", &json!({ "runs": log }), None).await
    }
}

/// When a window ending now began (the beginning of time for a window too long to say).
fn window_start(window: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(window)
        .ok()
        .and_then(|d| Utc::now().checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

//! `status`: the target cluster's fence, last import and the age of the data it holds (when
//! `VAULT_ADDR` is set), the store's latest snapshot (when a store is set), and the RPO check
//! against `REPLICATOR_MAX_AGE`; a value that `render` prints as text or JSON.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{human_age, with_state};
use crate::config::StatusConfig;
use crate::error::{Error, Result};
use crate::seal;
use crate::snapshot::catalog;
use crate::state::{Fence, ImporterState, Meta};
use crate::store;

/// What `status` found, and why the data is too old when it is (`REPLICATOR_MAX_AGE`).
#[derive(Debug, Serialize)]
pub struct Status {
    /// When it was looked at: ages are counted from here.
    pub now: DateTime<Utc>,
    /// The cluster at VAULT_ADDR, when set.
    pub target: Option<Target>,
    /// The store's latest snapshot, when a store is set.
    pub store: Option<StoreLatest>,
    pub stale: Option<String>,
    /// A snapshot dated in the future (latest, or the last import): an import refuses it (exit 4).
    #[serde(skip)]
    pub future: Option<Error>,
}

/// The fence and last import of the cluster at VAULT_ADDR.
#[derive(Debug, Serialize)]
pub struct Target {
    pub address: String,
    /// Set when the cluster is promoted: imports are refused.
    pub fence: Option<Fence>,
    pub last_import: Option<Meta>,
    /// When the source was exported for the data the cluster holds: the stamp of the last
    /// imported snapshot. Its age is the data age on DR, what the RPO is about.
    pub data_exported_at: Option<DateTime<Utc>>,
    /// Every source imported into the cluster, when there is more than one: each one's last
    /// import and own fence. `last_import` above is the configured store's (or the first's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceStatus>,
}

/// One source of a cluster that imports from several.
#[derive(Debug, Serialize)]
pub struct SourceStatus {
    /// Its store prefix (`dc1`); `None` for a state from before sources were told apart.
    pub source: Option<String>,
    pub fence: Option<Fence>,
    pub last_import: Option<Meta>,
}

#[derive(Debug, Serialize)]
pub struct StoreLatest {
    pub location: String,
    pub latest: Option<Latest>,
}

#[derive(Debug, Serialize)]
pub struct Latest {
    pub key: String,
    pub created_at: DateTime<Utc>,
}

/// The refusal of a snapshot `key`, which `what` names, when it is dated in the future.
fn future(what: &str, key: &str, now: DateTime<Utc>) -> Option<Error> {
    let at = catalog::parse_snapshot_key(key)?;
    seal::future_dated(at, now).then(|| {
        Error::refused(
            key,
            format!(
                "{what} is dated {}, in the future (this machine's clock says {}): an import \
                 refuses it; check the exporter's clock",
                at.format("%Y-%m-%dT%H:%M:%SZ"),
                now.format("%Y-%m-%dT%H:%M:%SZ")
            ),
        )
    })
}

/// The cluster's fence and last import (when VAULT_ADDR is set), the store's latest (when a store
/// is configured), and the RPO check: how old the newest data is against `REPLICATOR_MAX_AGE`.
pub async fn status(config: &StatusConfig) -> Result<Status> {
    let max_age = config.max_age;
    let now = Utc::now();
    // (what, when its data was exported)
    let mut ages: Vec<(&str, DateTime<Utc>)> = Vec::new();
    let mut future_dated = None;
    let mut target = None;
    if let Some(state_config) = &config.target {
        let store_url = config.store_url.as_deref();
        let t = with_state(state_config, async |state, addr| {
            target_status(state, store_url, addr).await
        })
        .await?;
        if let (Some(m), Some(at)) = (&t.last_import, t.data_exported_at) {
            future_dated = future("the last import recorded here", &m.last_snapshot, now);
            ages.push(("the data last imported here", at));
        }
        target = Some(t);
    }
    let mut store_latest = None;
    if let Some(url) = &config.store_url {
        let store = store::open_read(url).await?;
        let latest = catalog::read_pointer(store.as_ref()).await?.map(|p| {
            ages.push(("the store's latest snapshot", p.created_at));
            future_dated = future_dated
                .take()
                .or_else(|| future(LATEST_WHAT, &p.key, now));
            Latest {
                key: p.key,
                created_at: p.created_at,
            }
        });
        store_latest = Some(StoreLatest {
            location: store.location(),
            latest,
        });
    }
    let stale = max_age.and_then(|max| {
        let limit = format!("REPLICATOR_MAX_AGE={}", human_age(now, now - max));
        if ages.is_empty() {
            return Some(format!("no snapshot and no import yet ({limit})"));
        }
        ages.iter()
            .find(|(_, at)| (now - *at).to_std().unwrap_or_default() > max)
            .map(|(what, at)| format!("{what} is {} old, over {limit}", human_age(now, *at)))
    });
    Ok(Status {
        now,
        target,
        store: store_latest,
        stale,
        future: future_dated,
    })
}

const LATEST_WHAT: &str = "the snapshot latest.json points at";

/// The fence, last import and data age of the cluster at VAULT_ADDR, for the source at
/// `store_url` when one is configured; and every source's, when it has several.
async fn target_status(
    cluster: &ImporterState,
    store_url: Option<&str>,
    addr: &str,
) -> Result<Target> {
    let state = match store_url {
        Some(url) => {
            let source = crate::store::source_of(url);
            crate::import::source_state(cluster.clone(), &source, url).await?
        }
        None => cluster.clone(),
    };
    let last_import = state.meta().await?;
    let mut sources = Vec::new();
    let all = cluster.sources().await?;
    if all.len() > 1 {
        for (source, s) in all {
            let last_import = s.meta().await?;
            if last_import.is_none() {
                continue;
            }
            sources.push(SourceStatus {
                source,
                fence: s.source_fence().await?,
                last_import,
            });
        }
    }
    Ok(Target {
        address: addr.to_string(),
        fence: state.fence().await?,
        data_exported_at: last_import
            .as_ref()
            .and_then(|m| catalog::parse_snapshot_key(&m.last_snapshot)),
        last_import,
        sources,
    })
}

//! `status`: the target cluster's fence and last import (when `VAULT_ADDR` is set), the store's
//! latest snapshot (when a store is set), and the RPO check against `REPLICATOR_MAX_AGE`.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::{human_age, with_state};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::seal;
use crate::snapshot::catalog;
use crate::state::ImporterState;
use crate::store;

/// What `status` found, and why the data is too old when it is (`REPLICATOR_MAX_AGE`).
pub struct Status {
    pub text: String,
    pub stale: Option<String>,
    /// A snapshot dated in the future (latest, or the last import): an import refuses it (exit 4).
    pub future: Option<Error>,
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
pub async fn status(settings: &Settings) -> Result<Status> {
    let max_age = settings.max_age()?;
    let now = Utc::now();
    let mut out = String::new();
    // (what, when its data was exported)
    let mut ages: Vec<(&str, DateTime<Utc>)> = Vec::new();
    let mut future_dated = None;
    if settings.vault_addr_set() {
        let (text, imported) = with_state(settings, async |state, addr| {
            target_status(state, addr, now).await
        })
        .await?;
        out.push_str(&text);
        if let Some((key, at)) = imported {
            future_dated = future("the last import recorded here", &key, now);
            ages.push(("the data last imported here", at));
        }
    }
    let store_url = settings.store_url().ok();
    if let Some(url) = &store_url {
        let store = store::open_read(url).await?;
        match catalog::read_pointer(store.as_ref()).await? {
            Some(p) => {
                let _ = writeln!(
                    out,
                    "store latest: {} created {} ago ({})",
                    p.key,
                    human_age(now, p.created_at),
                    store.location()
                );
                ages.push(("the store's latest snapshot", p.created_at));
                future_dated = future_dated.or_else(|| future(LATEST_WHAT, &p.key, now));
            }
            None => {
                let _ = writeln!(out, "store latest: none at {}", store.location());
            }
        }
    }
    if !settings.vault_addr_set() && store_url.is_none() {
        return Err(Error::config(
            "REPLICATOR_STORE",
            "status needs REPLICATOR_STORE, VAULT_ADDR, or both",
        ));
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
    if let Some(e) = &future_dated {
        let _ = writeln!(out, "{e}");
    }
    Ok(Status {
        text: out,
        stale,
        future: future_dated,
    })
}

const LATEST_WHAT: &str = "the snapshot latest.json points at";

/// The fence and last import of the cluster at VAULT_ADDR, and when that import's snapshot was made.
async fn target_status(
    state: &ImporterState,
    addr: &str,
    now: DateTime<Utc>,
) -> Result<(String, Option<(String, DateTime<Utc>)>)> {
    let mut out = match state.fence().await? {
        Some(f) => format!(
            "{addr}: PROMOTED since {} by {} (imports are refused)\n",
            f.promoted_at.format("%Y-%m-%dT%H:%M:%SZ"),
            f.by
        ),
        None => format!("{addr}: not fenced (imports are accepted)\n"),
    };
    let mut imported = None;
    match state.meta().await? {
        Some(m) => {
            imported = catalog::parse_snapshot_key(&m.last_snapshot)
                .map(|at| (m.last_snapshot.clone(), at));
            let _ = writeln!(
                out,
                "last import: {} applied {} ago{}",
                m.last_snapshot,
                human_age(now, m.applied_at),
                if m.complete { "" } else { " (partial)" }
            );
        }
        None => out.push_str("last import: none\n"),
    }
    Ok((out, imported))
}

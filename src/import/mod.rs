//! `import` and `verify`: refuse a fenced target, fetch a snapshot and verify all of it before
//! anything is written, take the import lease, plan against the target (drift, prune, guard), then
//! apply the plan (or print it with `--dry-run`) and record what was written.

mod lease;
mod planner;
mod prune;

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::apply;
use crate::config::{OnDrift, Settings};
use crate::error::{Error, Result};
use crate::objects::Target;
use crate::plan::{Action, Plan};
use crate::snapshot::catalog::{self, Fetched};
use crate::snapshot::reader::Scanned;
use crate::snapshot::{Limits, Manifest, reader};
use crate::state::{Meta, State};
use crate::store;
use crate::summary::Summary;
use crate::vault::VaultClient;

pub use lease::holder_id;

pub struct ImportOutcome {
    pub snapshot: String,
    pub plan: Option<Plan>,
    pub summary: Summary,
    pub writes: u64,
}

/// Downloads and fully verifies a snapshot. Any problem is `Error::Refused`.
pub async fn verify(settings: &Settings, id: &str) -> Result<(Fetched, Manifest)> {
    let store = store::open(&settings.store_url()?).await?;
    let fetched = catalog::fetch(store.as_ref(), id).await?;
    let manifest = scan(&fetched, |_| true).await?;
    tracing::info!(
        snapshot = %fetched.key,
        created_at = %manifest.created_at,
        source = %manifest.source.address,
        entries = manifest.entries.len(),
        "snapshot verified"
    );
    Ok((fetched, manifest))
}

async fn scan(
    fetched: &Fetched,
    on_object: impl FnMut(Scanned) -> bool + Send + 'static,
) -> Result<Manifest> {
    let path: PathBuf = fetched.file.to_path_buf();
    tokio::task::spawn_blocking(move || reader::scan(&path, Limits::default(), on_object))
        .await
        .map_err(|e| Error::refused(&fetched.key, format!("reader crashed: {e}")))?
        .map_err(|reason| Error::refused(&fetched.key, reason))
}

/// Refuses when the target has been promoted.
pub async fn check_fence(state: &State, addr: &str) -> Result<()> {
    if let Some(f) = state.fence().await? {
        return Err(Error::Fenced(format!(
            "{addr} is promoted (since {} by {}): imports into it are refused. If the primary is \
             back in charge and this cluster is DR again, run `vault-replicator demote` against it",
            f.promoted_at.format("%Y-%m-%dT%H:%M:%SZ"),
            f.by
        )));
    }
    Ok(())
}

pub async fn run(settings: &Settings, id: &str, dry_run: bool) -> Result<ImportOutcome> {
    catalog::parse_id(id)?;
    settings.store_url()?;
    let vcfg = settings.vault()?;
    let opts = settings.import_options()?;
    let client = VaultClient::new(&vcfg)?;
    // Bookkeeping goes through its own client, so the write count is the objects' alone.
    let state = State::new(VaultClient::new(&vcfg)?, &opts.state_mount);
    check_fence(&state, client.addr()).await?;
    let (fetched, manifest) = verify(settings, id).await?;

    let cancel = CancellationToken::new();
    lease::cancel_on_signals(cancel.clone());
    let lease = match dry_run {
        true => None,
        false => {
            Some(lease::Lease::take(&state, opts.lease_wait, opts.lease_ttl, cancel.clone()).await?)
        }
    };
    let result = plan_and_apply(
        &client, &state, &fetched, &manifest, &opts, dry_run, &cancel,
    )
    .await;
    if let Some(lease) = lease {
        lease.release().await;
    }
    let (plan, mut summary) = result?;
    summary.not_copied = manifest.not_copied;
    let writes = client.counters().writes.load(Ordering::Relaxed);
    tracing::info!(
        snapshot = %fetched.key,
        dry_run,
        writes,
        summary = %serde_json::to_string(&summary).unwrap_or_default(),
        "import finished"
    );
    Ok(ImportOutcome {
        snapshot: fetched.key,
        plan,
        summary,
        writes,
    })
}

async fn plan_and_apply(
    client: &VaultClient,
    state: &State,
    fetched: &Fetched,
    manifest: &Manifest,
    opts: &crate::config::ImportOptions,
    dry_run: bool,
    cancel: &CancellationToken,
) -> Result<(Option<Plan>, Summary)> {
    let concurrency = client.concurrency();
    let records = state.records().await?;
    let target = Target::load(client.clone(), &manifest.namespaces, opts.userpass).await?;
    let planned = planner::build_plan(&target, fetched, concurrency, &records, opts).await?;
    let mut plan = planned.plan;
    prune::plan_deletions(&mut plan, &records, &planned.seen, opts)
        .map_err(|reason| Error::refused(&fetched.key, reason))?;
    if opts.on_drift == OnDrift::Fail && plan.drifted > 0 {
        return Err(Error::refused(
            &fetched.key,
            format!(
                "{} objects changed on the target since the last import (REPLICATOR_ON_DRIFT=fail); \
                 nothing was written",
                plan.drifted
            ),
        ));
    }
    if dry_run {
        let summary = plan.summary();
        return Ok((Some(plan), summary));
    }
    let deletes: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| c.entry.clone())
        .collect();
    let applied = apply::apply(&target, plan, concurrency, cancel).await;
    let mut after = records.clone();
    for (entry, rec) in planned.seen {
        if !applied.not_done.contains(&entry) {
            after.insert(entry, rec);
        }
    }
    for entry in deletes {
        if !applied.not_done.contains(&entry) {
            after.remove(&entry);
        }
    }
    let complete = !applied.summary.is_partial();
    let meta = Meta {
        last_snapshot: fetched.key.clone(),
        applied_at: Utc::now(),
        complete,
    };
    let unchanged_meta = state
        .meta()
        .await?
        .is_some_and(|m| m.last_snapshot == meta.last_snapshot && m.complete == complete);
    if after != records || !unchanged_meta {
        state.save_records(&records, &after, &meta).await?;
    }
    Ok((None, applied.summary))
}

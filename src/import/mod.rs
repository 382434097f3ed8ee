//! `import` and `verify`: refuse a fenced target, fetch a snapshot and verify all of it before
//! anything is written, take the import lease, plan against the target (drift, prune, guard), then
//! apply the plan (or print it with `--dry-run`) and record what was written.

mod apply;
mod decide;
mod hold;
mod holdings;
mod inherit;
mod lease;
pub mod plan;
mod planner;
mod prune;
pub mod summary;
mod verify;
mod watch;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::config::{OnDrift, Settings};
use crate::error::{Error, Result};
use crate::objects::Target;
use crate::snapshot::Manifest;
use crate::snapshot::catalog;
use crate::state::{ImporterState, Meta};
use crate::vault::{Session, VaultClient};

pub use lease::{Gate, holder_id};
pub use plan::{Change, Plan};
pub use summary::Summary;
pub use verify::{Snapshot, verify, verify_each};
use verify::{check_not_older, scan, verify_with};
pub use watch::{Holder, wait_for_holder};

pub struct ImportOutcome {
    pub snapshot: String,
    pub snapshot_bytes: u64,
    pub plan: Option<Plan>,
    pub summary: Summary,
    pub writes: u64,
    /// Vault reads for the objects (bookkeeping excluded).
    pub reads: u64,
}

/// Refuses when the target has been promoted.
pub async fn check_fence(state: &ImporterState, addr: &str) -> Result<()> {
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

pub async fn run(
    settings: &Settings,
    id: &str,
    dry_run: bool,
    full_check: bool,
) -> Result<ImportOutcome> {
    let by_pointer = catalog::parse_id(id)?.is_none();
    settings.store_url()?;
    // Keys and limits are read before logging in, so that a bad one costs no Vault request.
    let opener = Arc::new(settings.opener()?);
    let limits = settings.limits()?;
    let vcfg = settings.vault()?;
    let mut opts = settings.import_options()?;
    opts.full_check = full_check;
    Session::run(&vcfg, async |client| {
        // Bookkeeping goes through its own client, so the write count is the objects' alone.
        let state = ImporterState::new(client.detached(), &opts.state_mount);
        check_fence(&state, client.addr()).await?;
        let (snapshot, mut manifest) = verify_with(settings, opener, limits, id).await?;
        if !opts.prune {
            // Only a prune needs every entry name; every pass re-reads the signed manifest.
            manifest.entries = Vec::new();
        }
        if by_pointer {
            check_not_older(&state, &snapshot.key).await?;
        }
        import_with(client, &state, snapshot, manifest, dry_run, &opts).await
    })
    .await
}

async fn import_with(
    client: &VaultClient,
    state: &ImporterState,
    snapshot: Snapshot,
    manifest: Manifest,
    dry_run: bool,
    opts: &crate::config::ImportOptions,
) -> Result<ImportOutcome> {
    let cancel = CancellationToken::new();
    lease::cancel_on_signals(cancel.clone());
    let lease = match dry_run {
        true => None,
        false => Some(
            lease::Lease::take(
                state,
                opts.lease_wait,
                opts.lease_ttl,
                cancel,
                client.addr(),
            )
            .await?,
        ),
    };
    let result = plan_and_apply(client, state, &snapshot, &manifest, opts, lease.as_ref()).await;
    let stopped = match lease {
        Some(lease) => lease.release().await,
        None => None,
    };
    let writes = client.counters().writes.load(Ordering::Relaxed);
    if let Some(stop) = stopped {
        // Promoted, or the lease went to another run: that is the news, whatever else happened.
        return Err(stop.into_error(client.addr(), writes));
    }
    let (plan, mut summary) = result?;
    summary.not_copied = manifest.not_copied;
    let reads = client.counters().reads.load(Ordering::Relaxed);
    tracing::info!(
        snapshot = %snapshot.key,
        dry_run,
        writes,
        reads,
        peak_rss_kib = crate::progress::peak_rss_kib().unwrap_or(0),
        summary = %serde_json::to_string(&summary).unwrap_or_default(),
        "import finished"
    );
    Ok(ImportOutcome {
        snapshot_bytes: snapshot.size,
        snapshot: snapshot.key,
        plan,
        summary,
        writes,
        reads,
    })
}

async fn plan_and_apply(
    client: &VaultClient,
    state: &ImporterState,
    snapshot: &Snapshot,
    manifest: &Manifest,
    opts: &crate::config::ImportOptions,
    lease: Option<&lease::Lease>,
) -> Result<(Option<Plan>, Summary)> {
    // Without a lease, nothing is written: a dry run.
    let dry_run = lease.is_none();
    let cancel = &lease.map(lease::Lease::gate).unwrap_or_default();
    let concurrency = client.concurrency();
    let mut records = state.records().await?;
    let before = state.meta().await?;
    if let Some(lease) = lease {
        lease.mark_incomplete(state, before.as_ref()).await?;
    }
    // Between full checks, objects the importer already applied are trusted to be as it left them.
    let mut opts = opts.clone();
    opts.full_check |= before
        .as_ref()
        .is_none_or(|m| !m.complete || m.runs_since_full_check + 1 >= opts.full_check_every);
    let opts = &opts;
    tracing::info!(full_check = opts.full_check, "planning");
    let mut target = Target::load(client.clone(), &manifest.namespaces, opts.userpass).await?;
    target.database = opts.database;
    let (deletes, tally) = match opts.prune {
        false => Default::default(),
        true => plan_prunes(&target, state, &records, snapshot, manifest, opts).await?,
    };
    let applied = if dry_run || opts.on_drift == OnDrift::Fail {
        // The whole plan first: to print it, or to refuse drift before anything is written. The
        // apply then carries out this very plan (which keeps what it applies until then).
        let keep = !dry_run;
        let mut plan =
            planner::plan(&target, snapshot, concurrency, &mut records, opts, keep).await?;
        if opts.on_drift == OnDrift::Fail && plan.drifted > 0 {
            return Err(Error::refused(
                &snapshot.key,
                format!(
                    "{} objects changed on the target since the last import \
                     (REPLICATOR_ON_DRIFT=fail); nothing was written",
                    plan.drifted
                ),
            ));
        }
        if dry_run {
            plan.changes.extend(deletes);
            plan.sort();
            let summary = Summary::of_plan(&plan);
            return Ok((Some(plan), summary));
        }
        let mut applied =
            apply::apply_planned(&target, plan, concurrency, &mut records, deletes, cancel).await;
        applied.interrupted |= cancel.is_cancelled();
        Ok(applied)
    } else {
        planner::apply(
            &target,
            snapshot,
            concurrency,
            &mut records,
            opts,
            deletes,
            cancel,
        )
        .await
    };
    let deleted = tally.settle(&mut records);
    let complete = applied.as_ref().is_ok_and(|s| !s.is_partial());
    let saved = save_progress(state, &mut records, snapshot, opts, before, complete, lease).await;
    let noted = match deleted {
        0 => Ok(()),
        n => state.note_deleted(n, opts.max_delete_window).await,
    };
    let summary = applied?;
    saved?;
    noted?;
    Ok((None, summary))
}

/// The prunes this import makes, decided before anything is written; refused as a whole when
/// they exceed `REPLICATOR_MAX_DELETE` over its window.
async fn plan_prunes(
    target: &Target,
    state: &ImporterState,
    records: &crate::state::Records,
    snapshot: &Snapshot,
    manifest: &Manifest,
    opts: &crate::config::ImportOptions,
) -> Result<(Vec<Change>, prune::Tally)> {
    let names: HashSet<&str> = manifest.entries.iter().map(|e| e.name.as_str()).collect();
    let planned = prune::plan_deletions(target, records, |e| names.contains(e), opts).await?;
    let recent = state.deleted_within(opts.max_delete_window).await?;
    prune::guard(&planned, records.len() as u64, recent, opts)
        .map_err(|reason| Error::refused(&snapshot.key, reason))?;
    Ok(prune::split(planned))
}

/// Saves the records and `meta` after an apply pass, whether it finished or not (the records
/// say what was written), while the run still holds its lease.
async fn save_progress(
    state: &ImporterState,
    records: &mut crate::state::Records,
    snapshot: &Snapshot,
    opts: &crate::config::ImportOptions,
    before: Option<Meta>,
    complete: bool,
    lease: Option<&lease::Lease>,
) -> Result<()> {
    let meta = Meta {
        last_snapshot: snapshot.key.clone(),
        applied_at: Utc::now(),
        complete,
        runs_since_full_check: match opts.full_check {
            true => 0,
            false => before.as_ref().map_or(0, |m| m.runs_since_full_check + 1),
        },
    };
    // The stored meta says `complete: false` since `mark_incomplete`.
    let unchanged_meta = before.is_some_and(|m| {
        m.last_snapshot == meta.last_snapshot
            && !complete
            && m.runs_since_full_check == meta.runs_since_full_check
    });
    // Saved even when the pass failed part-way: the records say what was written.
    match records.is_dirty() || !unchanged_meta {
        true => {
            let hold = async || match lease {
                Some(lease) => lease.hold().await,
                None => Ok(()),
            };
            state.save_records(records, &meta, hold).await
        }
        false => Ok(()),
    }
}

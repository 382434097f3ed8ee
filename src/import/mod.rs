//! `import` and `verify`: refuse a fenced target, fetch a snapshot and verify all of it before
//! anything is written, take the import lease, plan against the target (drift, prune, guard), then
//! apply the plan (or print it with `--dry-run`) and record what was written.

mod applied;
mod apply;
mod decide;
mod hold;
mod holdings;
mod inherit;
mod lease;
pub mod plan;
mod planner;
mod prune;
mod restore;
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
use crate::model::Action;
use crate::objects::{Parent, Target};
use crate::snapshot::Manifest;
use crate::snapshot::catalog;
use crate::state::{ImporterState, Meta};
use crate::vault::{Session, VaultClient};

use applied::Applied;
pub use lease::{Gate, holder_id};
pub use plan::{Change, Plan};
pub use restore::Restore;
pub use summary::Summary;
pub use verify::{Snapshot, verify, verify_each};
use verify::{check_not_older, scan, verify_with};
pub use watch::{Holder, wait_for_holder};

/// What one `import` is asked to do.
#[derive(Debug, Default)]
pub struct Request {
    /// A snapshot ID, or `latest`.
    pub snapshot: String,
    pub dry_run: bool,
    pub full_check: bool,
    /// `--only`: a selective restore.
    pub restore: Option<Restore>,
}

pub struct ImportOutcome {
    pub snapshot: String,
    /// The `--only` selection of a selective restore.
    pub only: Option<String>,
    /// Said loudly: a promoted cluster took this restore (`--allow-fenced`).
    pub warning: Option<String>,
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

pub async fn run(settings: &Settings, req: Request) -> Result<ImportOutcome> {
    let by_pointer = catalog::parse_id(&req.snapshot)?.is_none();
    settings.store_url()?;
    // Keys and limits are read before logging in, so that a bad one costs no Vault request.
    let opener = Arc::new(settings.opener()?);
    let limits = settings.limits()?;
    let vcfg = settings.vault()?;
    let mut opts = settings.import_options()?;
    opts.full_check = req.full_check;
    if let Some(r) = &req.restore {
        // The operator names what to put back: compared in full and written over drift; a
        // copy elsewhere (`--to-prefix`) prunes nothing.
        opts.full_check = true;
        opts.on_drift = OnDrift::Overwrite;
        opts.prune &= !r.renames();
    }
    Session::run(&vcfg, async |client| {
        // Bookkeeping goes through its own client, so the write count is the objects' alone.
        let state = ImporterState::new(client.detached(), &opts.state_mount);
        let allow_fenced = req.restore.as_ref().is_some_and(|r| r.allow_fenced);
        let warning = fence_warning(&state, client.addr(), allow_fenced).await?;
        let (snapshot, mut manifest) = verify_with(settings, opener, limits, &req.snapshot).await?;
        let applied = match opts.full_check {
            false => Applied::of(&manifest.entries),
            true => Applied::default(),
        };
        if !opts.prune {
            // Only a prune needs every entry name; every pass re-reads the signed manifest.
            manifest.entries = Vec::new();
        }
        if by_pointer && req.restore.is_none() {
            check_not_older(&state, &snapshot.key).await?;
        }
        let needs = match &req.restore {
            Some(r) => r.needs(&snapshot).await?,
            None => HashSet::new(),
        };
        let restore = req.restore.as_ref().map(|r| (r, &needs));
        let run = Run {
            client,
            state: &state,
            opts: &opts,
            restore,
            applied,
        };
        let mut out = import_with(&run, snapshot, manifest, req.dry_run).await?;
        out.only = req.restore.as_ref().map(|r| r.only.spec().to_string());
        out.warning = warning;
        Ok(out)
    })
    .await
}

/// Refuses a promoted target, unless a selective restore is allowed into it: then says so, loudly.
async fn fence_warning(state: &ImporterState, addr: &str, allow: bool) -> Result<Option<String>> {
    if !allow {
        check_fence(state, addr).await?;
        return Ok(None);
    }
    let Some(f) = state.fence().await? else {
        return Ok(None);
    };
    let warning = format!(
        "{addr} is promoted (since {} by {}); restoring into it anyway (--allow-fenced)",
        f.promoted_at.format("%Y-%m-%dT%H:%M:%SZ"),
        f.by
    );
    tracing::warn!(%warning, "restoring into a promoted cluster");
    Ok(Some(warning))
}

/// What an import run works with, once its snapshot is verified.
struct Run<'a> {
    client: &'a VaultClient,
    state: &'a ImporterState,
    opts: &'a crate::config::ImportOptions,
    restore: Option<(&'a Restore, &'a HashSet<Parent>)>,
    /// What the snapshot holds, to tell whether the last import applied all of it.
    applied: Applied,
}

async fn import_with(
    run: &Run<'_>,
    snapshot: Snapshot,
    manifest: Manifest,
    dry_run: bool,
) -> Result<ImportOutcome> {
    let (client, opts) = (run.client, run.opts);
    let cancel = CancellationToken::new();
    lease::cancel_on_signals(cancel.clone());
    let lease = match dry_run {
        true => None,
        false => {
            let allow_fenced = run.restore.is_some_and(|(r, _)| r.allow_fenced);
            let (wait, ttl) = (opts.lease_wait, opts.lease_ttl);
            let taken =
                lease::Lease::take(run.state, wait, ttl, cancel, client.addr(), allow_fenced);
            Some(taken.await?)
        }
    };
    let result = plan_and_apply(run, &snapshot, &manifest, lease.as_ref()).await;
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
        only: None,
        warning: None,
        plan,
        summary,
        writes,
        reads,
    })
}

async fn plan_and_apply(
    run: &Run<'_>,
    snapshot: &Snapshot,
    manifest: &Manifest,
    lease: Option<&lease::Lease>,
) -> Result<(Option<Plan>, Summary)> {
    let (client, state) = (run.client, run.state);
    // Without a lease, nothing is written: a dry run.
    let dry_run = lease.is_none();
    let cancel = &lease.map(lease::Lease::gate).unwrap_or_default();
    let mut records = state.records().await?;
    let before = state.meta().await?;
    // What `meta` says while this run works: unfinished, unless this is a restore.
    let mut stored = before.clone();
    if let Some(lease) = lease.filter(|_| run.restore.is_none()) {
        lease.mark_incomplete(state, before.as_ref()).await?;
        stored = stored.map(|m| Meta {
            complete: false,
            ..m
        });
    }
    // Between full checks, objects the importer already applied are trusted to be as it left them.
    let mut opts = run.opts.clone();
    opts.full_check |= before
        .as_ref()
        .is_none_or(|m| !m.complete || m.runs_since_full_check + 1 >= opts.full_check_every);
    let opts = &opts;
    // Every entry is one the last import applied: only namespaces and mounts are planned.
    let heads_only =
        !opts.full_check && !opts.prune && run.restore.is_none() && run.applied.all_in(&records);
    if heads_only {
        tracing::info!(
            "every entry is as the last import applied it: only namespaces and mounts are planned"
        );
    }
    tracing::info!(full_check = opts.full_check, heads_only, "planning");
    let mut target = Target::load(client.clone(), &manifest.namespaces, opts.userpass).await?;
    target.database = opts.database;
    let (deletes, tally) = match opts.prune {
        false => Default::default(),
        true => plan_prunes(run, &target, &records, snapshot, manifest).await?,
    };
    let pass = planner::Pass {
        target: &target,
        snapshot,
        concurrency: client.concurrency(),
        opts,
        restore: run.restore,
        heads_only,
    };
    let applied = if dry_run || opts.on_drift == OnDrift::Fail {
        // The whole plan first: to print it, or to refuse drift before anything is written. The
        // apply then carries out this very plan (which keeps what it applies until then).
        let mut plan = planner::plan(&pass, &mut records, !dry_run).await?;
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
        if heads_only {
            for (kind, n) in applied::beyond_heads(&manifest.counts) {
                *plan.unchanged.entry(kind).or_default() += n;
            }
        }
        if dry_run {
            plan.changes.extend(deletes);
            plan.sort();
            let summary = Summary::of_plan(&plan);
            return Ok((Some(plan), summary));
        }
        let mut applied = apply::apply_planned(
            &target,
            plan,
            pass.concurrency,
            &mut records,
            deletes,
            cancel,
        )
        .await;
        applied.interrupted |= cancel.is_cancelled();
        Ok(applied)
    } else {
        planner::apply(&pass, &mut records, deletes, cancel)
            .await
            .map(|mut summary| {
                for (kind, n) in applied::beyond_heads(&manifest.counts).filter(|_| heads_only) {
                    summary.count(kind, Action::Unchanged, n);
                }
                summary
            })
    };
    let deleted = tally.settle(&mut records);
    let complete = applied.as_ref().is_ok_and(|s| !s.is_partial());
    let meta = match run.restore {
        // A restore is not an import of the snapshot: `meta` stays as the last import left it.
        Some(_) => before,
        None => Some(next_meta(snapshot, opts, before, complete)),
    };
    let saved = save_progress(state, &mut records, (meta, stored), lease).await;
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
/// they exceed `REPLICATOR_MAX_DELETE` over its window. A restore prunes inside its selection
/// only.
async fn plan_prunes(
    run: &Run<'_>,
    target: &Target,
    records: &crate::state::Records,
    snapshot: &Snapshot,
    manifest: &Manifest,
) -> Result<(Vec<Change>, prune::Tally)> {
    let names: HashSet<&str> = manifest.entries.iter().map(|e| e.name.as_str()).collect();
    let kept = |entry: &str, rec: &crate::state::Record| {
        names.contains(entry) || run.restore.is_some_and(|(r, _)| !r.covers(rec))
    };
    let planned = prune::plan_deletions(target, records, kept, run.opts).await?;
    let recent = run.state.deleted_within(run.opts.max_delete_window).await?;
    prune::guard(&planned, records.len() as u64, recent, run.opts)
        .map_err(|reason| Error::refused(&snapshot.key, reason))?;
    Ok(prune::split(planned))
}

/// The `meta` an import of `snapshot` leaves.
fn next_meta(
    snapshot: &Snapshot,
    opts: &crate::config::ImportOptions,
    before: Option<Meta>,
    complete: bool,
) -> Meta {
    Meta {
        last_snapshot: snapshot.key.clone(),
        applied_at: Utc::now(),
        complete,
        runs_since_full_check: match opts.full_check {
            true => 0,
            false => before.as_ref().map_or(0, |m| m.runs_since_full_check + 1),
        },
    }
}

/// Saves the records and `meta` after an apply pass, whether it finished or not (the records
/// say what was written), while the run still holds its lease. `stored` is the meta in the
/// state now: one that differs from it only in `applied_at` is not written again.
async fn save_progress(
    state: &ImporterState,
    records: &mut crate::state::Records,
    (meta, stored): (Option<Meta>, Option<Meta>),
    lease: Option<&lease::Lease>,
) -> Result<()> {
    let Some(lease) = lease else {
        return Ok(());
    };
    let meta = meta.filter(|m| {
        stored.as_ref().is_none_or(|s| {
            (&s.last_snapshot, s.complete, s.runs_since_full_check)
                != (&m.last_snapshot, m.complete, m.runs_since_full_check)
        })
    });
    // Saved even when the pass failed part-way: the records say what was written.
    match records.is_dirty() || meta.is_some() {
        true => {
            state
                .save_records(records, meta.as_ref(), async || lease.hold().await)
                .await
        }
        false => Ok(()),
    }
}

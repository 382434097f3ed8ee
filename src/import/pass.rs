//! One import pass against the target, once its snapshot is verified: the run's `Mode` (decided
//! once, from the options), the bookkeeping (records, meta), whether this run compares
//! everything, the prunes, then the snapshot planned and applied as the mode says (or the plan
//! printed), and what was written saved under the lease.

use std::collections::HashSet;

use super::applied::{self, Applied};
use super::apply::Executor;
use super::inherit::Parents;
use super::meta::{next_meta, this_run};
use super::plan::{Change, Mode, Plan};
use super::planner::Reading;
use super::restore::Restore;
use super::summary::Summary;
use super::{planner, prune};
use crate::error::{Error, Result};
use crate::lease;
use crate::model::Action;
use crate::objects::{Kind, Parent, Target};
use crate::snapshot::Manifest;
use crate::snapshot::entries::name_key;
use crate::snapshot::reader::Scanned;
use crate::snapshot::verify::Snapshot;
use crate::state::{ImporterState, Meta, Records};
use crate::vault::VaultClient;

/// What an import run works with, once its snapshot is verified.
pub(super) struct Run<'a> {
    pub client: &'a VaultClient,
    pub state: &'a ImporterState,
    pub opts: &'a crate::config::ImportOptions,
    pub mode: Mode,
    pub restore: Option<(&'a Restore, &'a HashSet<Parent>)>,
    /// What the records digest entries with.
    pub record_key: crate::state::RecordKey,
    /// What the other sources of the cluster brought to it (read once for all steps).
    pub claimed: &'a crate::state::Claimed,
}

/// What the verifying pass hands a run, used once.
pub(super) struct Once {
    /// What the snapshot holds, to tell whether the last import applied all of it.
    pub applied: Applied,
    /// The namespaces and mounts at the snapshot's head, as the verifying pass met them.
    pub heads: Vec<Scanned>,
    /// The entries a later snapshot of the chain replaces or removes (name hashes, sorted).
    pub superseded: Vec<u64>,
    /// An earlier step of this run left objects unapplied: this one cannot complete the import.
    pub after_partial: bool,
}

pub(super) async fn plan_and_apply(
    run: &Run<'_>,
    once: Once,
    (snapshot, manifest): (&Snapshot, &Manifest),
    lease: Option<&lease::Lease>,
) -> Result<(Option<Plan>, Summary)> {
    let gate = lease.map(lease::Lease::gate).unwrap_or_default();
    // What a dry run talks through cannot write; an import's writes ask its lease first.
    let client = match run.mode {
        Mode::DryRun => run.client.read_only(),
        Mode::PlanThenApply | Mode::Streamed => gated(run, &gate),
    };
    let mut records = load_records(run, manifest, &once.superseded).await?;
    let (before, stored) = read_meta(run, lease).await?;
    let opts = &this_run(run.opts, before.as_ref());
    let heads_only = heads_only(run, opts, &records, once.applied);
    tracing::info!(full_check = opts.full_check, heads_only, "planning");
    let namespaces = opts.map.namespaces(&manifest.namespaces);
    let mut target = Target::load(client.clone(), &namespaces, opts.userpass).await?;
    target.load_more(&opts.map.to_namespaces()).await;
    target.database = opts.database;
    let (deletes, tally) = match opts.prune {
        false => Default::default(),
        true => plan_prunes(run, &target, &records, snapshot).await?,
    };
    let parents = Parents::default();
    let source = run.state.source().unwrap_or_default();
    super::mapped::check_targets(&opts.map, run.claimed, (&snapshot.key, source))?;
    let pass = planner::Pass {
        mode: run.mode,
        exec: Executor {
            target: &target,
            parents: &parents,
            concurrency: client.concurrency(),
            gate: &gate,
        },
        key: &snapshot.key,
        entries: snapshot.entries,
        opts,
        restore: run.restore,
        saver: lease.map(|lease| planner::Saver {
            state: run.state,
            lease,
        }),
        superseded: &once.superseded,
        claimed: run.claimed,
        source,
    };
    // Planning the heads alone needs no second read of the snapshot, and leaves every other
    // object out: found as last applied.
    let (reading, rest) = match heads_only {
        true => (
            Reading::Kept(once.heads),
            applied::beyond_heads(&manifest.counts).collect(),
        ),
        false => (Reading::Snapshot(snapshot), Vec::new()),
    };
    let applied = match carry_out(&pass, reading, &mut records, deletes, rest).await? {
        Done::Planned(plan, summary) => return Ok((Some(plan), summary)),
        Done::Applied(applied) => applied,
    };
    let summary = conclude(
        run,
        lease,
        (snapshot, opts, manifest.set, once.after_partial),
        records,
        applied,
        tally,
        (before, stored),
    );
    Ok((None, summary.await?))
}

/// What a run that writes leaves, whether its pass finished or not: the prunes' records settled,
/// `meta`, and the records saved under the lease; then the pass's own outcome.
async fn conclude(
    run: &Run<'_>,
    lease: Option<&lease::Lease>,
    (snapshot, opts, set, after_partial): (
        &Snapshot,
        &crate::config::ImportOptions,
        Option<crate::snapshot::SetDigest>,
        bool,
    ),
    mut records: Records,
    applied: Result<Summary>,
    tally: prune::Tally,
    (before, stored): (Option<Meta>, Option<Meta>),
) -> Result<Summary> {
    let deleted = tally.settle(&mut records);
    let complete = !after_partial && applied.as_ref().is_ok_and(|s| !s.is_partial());
    let meta = match run.restore {
        // A restore is not an import of the snapshot: `meta` stays as the last import left it.
        Some(_) => before,
        None => Some(next_meta(snapshot, opts, before, complete, set)),
    };
    let saved = save_progress(run.state, &mut records, (meta, stored), lease).await;
    let noted = match deleted {
        0 => Ok(()),
        n => run.state.note_deleted(n, opts.max_delete_window).await,
    };
    let summary = applied?;
    saved?;
    noted?;
    Ok(summary)
}

/// What a pass came to.
pub(super) enum Done {
    /// The plan a dry run prints, and its summary.
    Planned(Plan, Summary),
    /// What applying did; an error here comes after some writes, whose records are then saved.
    Applied(Result<Summary>),
}

/// Plans and applies the snapshot as the pass's mode says: a dry run plans (prunes included); an
/// import with REPLICATOR_ON_DRIFT=fail plans, then applies exactly that plan; any other applies
/// as it plans. An error returned here comes before anything was written. `rest`: the objects a
/// pass over the heads alone leaves out, found as the last import left them.
pub(super) async fn carry_out(
    pass: &planner::Pass<'_>,
    reading: Reading<'_>,
    records: &mut Records,
    deletes: Vec<Change>,
    rest: Vec<(Kind, u64)>,
) -> Result<Done> {
    if pass.mode == Mode::Streamed {
        let applied = planner::apply(pass, reading, records, deletes).await;
        return Ok(Done::Applied(applied.map(|mut summary| {
            for (kind, n) in rest {
                summary.count(kind, Action::Unchanged, n);
            }
            summary
        })));
    }
    let mut plan = planner::plan(pass, reading, records).await?;
    for (kind, n) in rest {
        *plan.unchanged.entry(kind).or_default() += n;
    }
    if pass.mode == Mode::DryRun {
        plan.changes.extend(deletes);
        plan.sort();
        let summary = Summary::of_plan(&plan);
        return Ok(Done::Planned(plan, summary));
    }
    Ok(Done::Applied(Ok(
        apply_whole(pass, plan, records, deletes).await?
    )))
}

/// Applies a plan made whole first (REPLICATOR_ON_DRIFT=fail): refused when anything drifted,
/// before anything is written; otherwise exactly this plan is carried out.
async fn apply_whole(
    pass: &planner::Pass<'_>,
    plan: Plan,
    records: &mut Records,
    deletes: Vec<Change>,
) -> Result<Summary> {
    if plan.drifted > 0 {
        return Err(Error::refused(
            pass.key,
            format!(
                "{} objects changed on the target since the last import \
                 (REPLICATOR_ON_DRIFT=fail); nothing was written",
                plan.drifted
            ),
        ));
    }
    let mut applied = pass.exec.run(plan, records, deletes).await;
    applied.interrupted |= pass.exec.gate.is_cancelled();
    Ok(applied)
}

/// The client a run that holds the lease reads and writes its objects through: every attempt of
/// every write asks `gate`, and no request outlives a third of the lease (`request_budget`).
fn gated(run: &Run<'_>, gate: &lease::Gate) -> VaultClient {
    let budget = lease::Lease::request_budget(run.opts.lease_ttl);
    let gate: std::sync::Arc<dyn crate::vault::WriteGate> = std::sync::Arc::new(gate.clone());
    run.client.with_budget(budget).gated(gate)
}

/// Whether every entry is one the last import applied: then only namespaces and mounts are
/// planned. What the snapshot holds (`applied`) is dropped once told.
fn heads_only(
    run: &Run<'_>,
    opts: &crate::config::ImportOptions,
    records: &Records,
    applied: Applied,
) -> bool {
    let heads_only =
        !opts.full_check && !opts.prune && run.restore.is_none() && applied.all_in(records);
    if heads_only {
        tracing::info!(
            "every entry is as the last import applied it: only namespaces and mounts are planned"
        );
    }
    heads_only
}

/// The importer's records; with prune on, those of entries gone from the snapshot in full.
async fn load_records(run: &Run<'_>, manifest: &Manifest, superseded: &[u64]) -> Result<Records> {
    match run.opts.prune {
        false => run.state.records(run.record_key.clone()).await,
        true => {
            let key = run.record_key.clone();
            let gone = gone(run, manifest);
            let kept = |entry: &str, rec: &crate::state::Record| {
                gone(entry, rec) && superseded.binary_search(&name_key(entry)).is_err()
            };
            run.state.records_keeping(key, kept).await
        }
    }
}

/// Which records a prune looks at: those of entries gone from the snapshot (inside a restore's
/// selection): for a full snapshot every entry it does not list (a name hash shared by chance can
/// only keep a record); for a delta, the entries it removes from its base.
fn gone<'a>(
    run: &'a Run<'_>,
    manifest: &Manifest,
) -> impl Fn(&str, &crate::state::Record) -> bool + 'a {
    let (names, removed) = match &manifest.delta {
        None => (manifest.entries.sorted_names(), None),
        Some(d) => {
            let mut removed: Vec<String> = d.removed.iter().map(|w| w.name.clone()).collect();
            removed.sort_unstable();
            (Vec::new(), Some(removed))
        }
    };
    move |entry, rec| {
        let gone = match &removed {
            Some(removed) => removed.binary_search_by(|n| n.as_str().cmp(entry)).is_ok(),
            None => names.binary_search(&name_key(entry)).is_err(),
        };
        gone && run.restore.is_none_or(|(r, _)| r.covers(rec))
    }
}

/// The prunes this import makes, decided before anything is written; refused as a whole when
/// they exceed `REPLICATOR_MAX_DELETE` over its window. A restore prunes inside its selection
/// only.
async fn plan_prunes(
    run: &Run<'_>,
    target: &Target,
    records: &crate::state::Records,
    snapshot: &Snapshot,
) -> Result<(Vec<Change>, prune::Tally)> {
    let planned = prune::plan_deletions(target, records.kept(), run.opts).await?;
    let recent = run.state.deleted_within(run.opts.max_delete_window).await?;
    prune::guard(&planned, records.len() as u64, recent, run.opts)
        .map_err(|reason| Error::refused(&snapshot.key, reason))?;
    Ok(prune::split(planned))
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
            (
                &s.last_snapshot,
                s.complete,
                s.runs_since_full_check,
                s.store_bound,
                &s.set,
            ) != (
                &m.last_snapshot,
                m.complete,
                m.runs_since_full_check,
                m.store_bound,
                &m.set,
            ) || s.settings != m.settings
                || s.source.as_deref() != state.source()
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

/// The stored `meta` before this run, and what it says while this run works: unfinished (so
/// that a crash leads to a full check), unless this is a restore, which leaves it alone.
async fn read_meta(
    run: &Run<'_>,
    lease: Option<&lease::Lease>,
) -> Result<(Option<Meta>, Option<Meta>)> {
    let before = run.state.meta().await?;
    run.state.check_claim(before.as_ref())?;
    let mut stored = before.clone();
    if let Some(lease) = lease.filter(|_| run.restore.is_none()) {
        lease.mark_incomplete(run.state, before.as_ref()).await?;
        stored = stored.map(|m| Meta {
            complete: false,
            ..m
        });
    }
    Ok((before, stored))
}

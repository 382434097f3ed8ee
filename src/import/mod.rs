//! `import` and `verify`: refuse a fenced target, fetch a snapshot and verify all of it before
//! anything is written, take the import lease, plan against the target (drift, prune, guard), then
//! apply the plan (or print it with `--dry-run`) and record what was written.

mod applied;
mod apply;
mod decide;
mod inherit;
mod input;
mod inside;
mod mapped;
mod meta;
mod pass;
pub mod plan;
mod planner;
mod prune;
mod restore;
mod rollback;
mod source;
pub mod summary;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use tokio_util::sync::CancellationToken;

use crate::config::{ImportConfig, OnDrift};
use crate::error::{Error, Result};
use crate::snapshot::catalog;
use crate::snapshot::chain;
use crate::snapshot::{Manifest, SetDigest};
use crate::state::ImporterState;
use crate::vault::Session;

use crate::lease;
pub use crate::lease::{Gate, holder_id};
pub use crate::lease::{Holder, check_fence, wait_for_holder};
pub use crate::snapshot::verify::{Snapshot, verify, verify_each};
use applied::Applied;
use pass::{Once, Run, plan_and_apply};
use plan::Mode;
pub use plan::{Change, Plan};
pub use restore::Restore;
use rollback::check_not_older;
pub use source::source_state;
pub use summary::Summary;

/// What one `import` is asked to do.
#[derive(Debug, Default)]
pub struct Request {
    /// A snapshot ID, or `latest`.
    pub snapshot: String,
    pub dry_run: bool,
    pub full_check: bool,
    /// `--only`: a selective restore.
    pub restore: Option<Restore>,
    /// `--map`: where this run puts what it reads, instead of REPLICATOR_MAP's rules. A restore
    /// given its own map is a copy elsewhere (nothing pruned or recorded).
    pub map: Option<crate::map::PathMap>,
}

impl Request {
    /// A request for snapshot `snapshot` (an ID, or `latest`), refused when it is neither.
    pub fn new(
        snapshot: String,
        dry_run: bool,
        full_check: bool,
        restore: Option<Restore>,
    ) -> Result<Self> {
        catalog::parse_id(&snapshot)?;
        Ok(Request {
            snapshot,
            dry_run,
            full_check,
            restore,
            map: None,
        })
    }
}

pub struct ImportOutcome {
    pub snapshot: String,
    /// The `--only` selection of a selective restore.
    pub only: Option<String>,
    /// Said loudly: a promoted cluster took this restore (`--allow-fenced`).
    pub warning: Option<String>,
    pub snapshot_bytes: u64,
    /// The snapshots applied, in order, when the import applied a chain (the last is `snapshot`).
    pub chain: Vec<String>,
    pub plan: Option<Plan>,
    pub summary: Summary,
    pub writes: u64,
    /// Vault reads for the objects (bookkeeping excluded).
    pub reads: u64,
}

pub async fn run(config: ImportConfig, req: Request) -> Result<ImportOutcome> {
    let by_pointer = catalog::parse_id(&req.snapshot)?.is_none();
    let ImportConfig {
        verify,
        record_key,
        vault: vcfg,
        options: mut opts,
    } = config;
    opts.full_check = req.full_check;
    let mut req = req;
    if let Some(map) = req.map.take() {
        opts.map = map;
        if let Some(r) = &mut req.restore {
            r.copy_elsewhere(&opts.map)?;
        }
    }
    if let Some(r) = &req.restore {
        // The operator names what to put back: compared in full and written over drift; a
        // copy elsewhere (`--to-prefix`) prunes nothing.
        opts.full_check = true;
        opts.on_drift = OnDrift::Overwrite;
        opts.prune &= !r.renames();
    }
    Session::run(&vcfg, async |client| {
        // Bookkeeping goes through its own client, so the write count is the objects' alone.
        // Its requests end within the lease's request budget, as the objects' do (`pass`).
        let budget = lease::Lease::request_budget(opts.lease_ttl);
        let bookkeeping = client.detached().with_budget(budget);
        // A dry run's bookkeeping cannot write either.
        let bookkeeping = match req.dry_run {
            true => bookkeeping.read_only(),
            false => bookkeeping,
        };
        let state = ImporterState::new(bookkeeping, &opts.state_mount);
        let source = crate::store::prefix_of(&verify.expected.store);
        let state = source_state(state, &source, &verify.store_url).await?;
        let allow_fenced = req.restore.as_ref().is_some_and(|r| r.allow_fenced);
        let warning = fence_warning(&state, client.addr(), allow_fenced).await?;
        let before = state.meta().await?;
        let from_last = !opts.full_check && !meta::due_full_check(&opts, before.as_ref());
        let start = before.as_ref().filter(|_| from_last).and_then(|m| {
            let set = SetDigest::from_hex(m.set.as_deref()?)?;
            Some((m.last_snapshot.as_str(), set))
        });
        let steps = chain::resolve(&verify, &req.snapshot, start).await?;
        let Some(head) = steps.last().map(|s| &s.snapshot) else {
            return Err(Error::refused(&req.snapshot, "no snapshot to apply"));
        };
        if by_pointer && req.restore.is_none() {
            check_not_older(&state, head, &verify.expected).await?;
            check_still_bound(&state, head).await?;
        }
        let mode = Mode::of(req.dry_run, opts.on_drift);
        let ctx = (client, &state, &opts, mode, &record_key);
        let mut out = import_steps(ctx, req.restore.as_ref(), steps).await?;
        out.only = req.restore.as_ref().map(|r| r.only.spec().to_string());
        out.warning = warning;
        Ok(out)
    })
    .await
}

/// Refuses, through `latest.json`, a snapshot whose signature names its store prefix but not its
/// bucket (an exporter before #25) once this target has imported one that names both: that is
/// what a snapshot of another deployment sharing the keys, copied from the same prefix of its own
/// bucket, looks like. Named with `--snapshot`, it is the operator's choice.
async fn check_still_bound(state: &ImporterState, snapshot: &Snapshot) -> Result<()> {
    if !snapshot.names_only_its_prefix() || !state.meta().await?.is_some_and(|m| m.store_bound) {
        return Ok(());
    }
    Err(Error::refused(
        &snapshot.key,
        "its signature names the store prefix but not the bucket (an exporter older than this \
         importer made it), and this cluster already imported snapshots signed with both: \
         upgrade that exporter, or import it with --snapshot if it is intended",
    ))
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

/// What every step of an import shares: the client, the bookkeeping, the options, the mode and
/// the records' key.
type Context<'a> = (
    &'a crate::vault::VaultClient,
    &'a ImporterState,
    &'a crate::config::ImportOptions,
    Mode,
    &'a crate::state::RecordKey,
);

/// One step's inputs: what it holds for the no-op shortcut and the prune, and what later steps
/// take over from it.
fn prepare(
    steps: Vec<chain::Step>,
    opts: &crate::config::ImportOptions,
    key: &crate::state::RecordKey,
) -> Vec<(Snapshot, Manifest, Once)> {
    let superseded = chain::superseded(&steps);
    steps
        .into_iter()
        .zip(superseded)
        .map(|(step, superseded)| {
            let chain::Step {
                snapshot,
                mut manifest,
                heads,
            } = step;
            let applied = match opts.full_check {
                false => Applied::of(&manifest.entries, key),
                true => Applied::default(),
            };
            if !opts.prune {
                // Only a prune needs every entry name; every pass re-reads the signed manifest.
                manifest.entries = Default::default();
            }
            let once = Once {
                applied,
                heads,
                superseded,
                after_partial: false,
            };
            (snapshot, manifest, once)
        })
        .collect()
}

/// Applies the steps of a chain in order, each a pass of its own under one lease (or plans them,
/// for a dry run); stops at the first that fails.
async fn import_steps(
    (client, state, opts, mode, record_key): Context<'_>,
    restore: Option<&Restore>,
    steps: Vec<chain::Step>,
) -> Result<ImportOutcome> {
    let keys: Vec<String> = steps.iter().map(|s| s.snapshot.key.clone()).collect();
    let prepared = prepare(steps, opts, record_key);
    let needs = match restore {
        Some(r) => {
            let snapshots: Vec<&Snapshot> = prepared.iter().map(|(s, _, _)| s).collect();
            r.needs_all(&snapshots).await?
        }
        None => vec![HashSet::new(); prepared.len()],
    };
    let claimed = state.claimed_elsewhere().await?;
    let run = |needs| Run {
        client,
        state,
        opts,
        mode,
        restore: restore.map(|r| (r, needs)),
        record_key: record_key.clone(),
        claimed: &claimed,
    };
    let runs: Vec<Run<'_>> = needs.iter().map(run).collect();
    let mut out = import_with(&runs, prepared).await?;
    if keys.len() > 1 {
        tracing::info!(chain = ?keys, "applied a chain");
    }
    out.chain = keys;
    Ok(out)
}

async fn import_with(
    runs: &[Run<'_>],
    steps: Vec<(Snapshot, Manifest, Once)>,
) -> Result<ImportOutcome> {
    let Some(first) = runs.first() else {
        return Err(Error::refused("", "no snapshot to apply"));
    };
    let (client, opts) = (first.client, first.opts);
    let cancel = CancellationToken::new();
    lease::cancel_on_signals(cancel.clone());
    let dry_run = first.mode == Mode::DryRun;
    let lease = match dry_run {
        true => None,
        false => {
            let allow_fenced = first.restore.is_some_and(|(r, _)| r.allow_fenced);
            let (wait, ttl) = (opts.lease_wait, opts.lease_ttl);
            let taken =
                lease::Lease::take(first.state, wait, ttl, cancel, client.addr(), allow_fenced);
            Some(taken.await?)
        }
    };
    let mut done = Done::default();
    for (run, (snapshot, manifest, mut once)) in runs.iter().zip(steps) {
        // An object an earlier step could not apply is not in the later ones: the run stays
        // incomplete, and the next one compares everything from the full snapshot.
        once.after_partial = done.partial();
        let result = plan_and_apply(run, once, (&snapshot, &manifest), lease.as_ref()).await;
        done.bytes += snapshot.size;
        done.key = snapshot.key;
        done.not_copied = manifest.not_copied;
        let stop = result.is_err() || lease.as_ref().is_some_and(|l| l.gate().is_cancelled());
        done.add(result);
        if stop || done.interrupted() {
            break;
        }
    }
    let stopped = match lease {
        Some(lease) => lease.release().await,
        None => None,
    };
    let writes = client.counters().writes.load(Ordering::Relaxed);
    if let Some(stop) = stopped {
        // Promoted, or the lease went to another run: that is the news, whatever else happened.
        return Err(stop.into_error(client.addr(), writes));
    }
    let (plan, mut summary) = done.result?;
    summary.not_copied = done.not_copied;
    let reads = client.counters().reads.load(Ordering::Relaxed);
    tracing::info!(
        snapshot = %done.key,
        dry_run,
        writes,
        reads,
        peak_rss_kib = crate::progress::peak_rss_kib().unwrap_or(0),
        summary = %serde_json::to_string(&summary).unwrap_or_default(),
        "import finished"
    );
    Ok(ImportOutcome {
        snapshot_bytes: done.bytes,
        snapshot: done.key,
        chain: Vec::new(),
        only: None,
        warning: None,
        plan,
        summary,
        writes,
        reads,
    })
}

/// What the steps of an import came to so far.
struct Done {
    key: String,
    bytes: u64,
    not_copied: Vec<crate::snapshot::NotCopied>,
    result: Result<(Option<Plan>, Summary)>,
}

impl Default for Done {
    fn default() -> Self {
        Done {
            key: String::new(),
            bytes: 0,
            not_copied: Vec::new(),
            result: Ok((None, Summary::default())),
        }
    }
}

impl Done {
    /// Adds a step's outcome: plans and summaries merge; the first error stands.
    fn add(&mut self, step: Result<(Option<Plan>, Summary)>) {
        let Ok((plan, summary)) = &mut self.result else {
            return;
        };
        match step {
            Err(e) => self.result = Err(e),
            Ok((p, s)) => {
                summary.merge(s);
                *plan = match (plan.take(), p) {
                    (Some(mut a), Some(b)) => {
                        a.absorb(b);
                        Some(a)
                    }
                    (a, b) => a.or(b),
                };
            }
        }
    }

    /// Whether a step left objects unapplied (refused, failed or stopped early).
    fn partial(&self) -> bool {
        self.result.as_ref().is_ok_and(|(_, s)| s.is_partial())
    }

    /// Whether a step stopped early: the next steps wait for the next run.
    fn interrupted(&self) -> bool {
        self.result.as_ref().is_ok_and(|(_, s)| s.interrupted)
    }
}

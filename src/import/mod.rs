//! `import` and `verify`: refuse a fenced target, fetch a snapshot and verify all of it before
//! anything is written, take the import lease, plan against the target (drift, prune, guard), then
//! apply the plan (or print it with `--dry-run`) and record what was written.

mod applied;
mod apply;
mod decide;
mod inherit;
mod input;
mod inside;
mod pass;
pub mod plan;
mod planner;
mod prune;
mod restore;
mod rollback;
pub mod summary;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use tokio_util::sync::CancellationToken;

use crate::config::{ImportConfig, OnDrift};
use crate::error::{Error, Result};
use crate::snapshot::Manifest;
use crate::snapshot::catalog;
use crate::state::ImporterState;
use crate::vault::Session;

use crate::lease;
pub use crate::lease::{Gate, holder_id};
pub use crate::lease::{Holder, check_fence, wait_for_holder};
use crate::snapshot::verify::verify_keeping_heads;
pub use crate::snapshot::verify::{Snapshot, verify, verify_each};
use applied::Applied;
use pass::{Once, Run, plan_and_apply};
use plan::Mode;
pub use plan::{Change, Plan};
pub use restore::Restore;
use rollback::check_not_older;
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
        let allow_fenced = req.restore.as_ref().is_some_and(|r| r.allow_fenced);
        let warning = fence_warning(&state, client.addr(), allow_fenced).await?;
        let (snapshot, mut manifest, heads) = verify_keeping_heads(&verify, &req.snapshot).await?;
        let applied = match opts.full_check {
            false => Applied::of(&manifest.entries, &record_key),
            true => Applied::default(),
        };
        if !opts.prune {
            // Only a prune needs every entry name; every pass re-reads the signed manifest.
            manifest.entries = Default::default();
        }
        if by_pointer && req.restore.is_none() {
            check_not_older(&state, &snapshot, &verify.expected).await?;
            check_still_bound(&state, &snapshot).await?;
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
            mode: Mode::of(req.dry_run, opts.on_drift),
            restore,
            record_key,
        };
        let once = Once { applied, heads };
        let mut out = import_with(&run, once, snapshot, manifest).await?;
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

async fn import_with(
    run: &Run<'_>,
    once: Once,
    snapshot: Snapshot,
    manifest: Manifest,
) -> Result<ImportOutcome> {
    let (client, opts) = (run.client, run.opts);
    let cancel = CancellationToken::new();
    lease::cancel_on_signals(cancel.clone());
    let dry_run = run.mode == Mode::DryRun;
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
    let result = plan_and_apply(run, once, (&snapshot, &manifest), lease.as_ref()).await;
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

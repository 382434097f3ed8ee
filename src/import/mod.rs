//! `import` and `verify`: refuse a fenced target, fetch a snapshot and verify all of it before
//! anything is written, take the import lease, plan against the target (drift, prune, guard), then
//! apply the plan (or print it with `--dry-run`) and record what was written.

mod apply;
mod holdings;
mod inherit;
mod lease;
mod planner;
mod prune;
mod watch;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::config::{OnDrift, Settings};
use crate::error::{Error, Result};
use crate::hashing::Hashing;
use crate::objects::Target;
use crate::plan::Plan;
use crate::seal::{self, HashReader, Opener, Signed};
use crate::snapshot::catalog;
use crate::snapshot::reader::Scanned;
use crate::snapshot::{Limits, Manifest, reader};
use crate::state::{Meta, State};
use crate::store::{self, RangeReader, Stat, Store, StreamFailure};
use crate::summary::Summary;
use crate::vault::{Session, VaultClient};

pub use lease::{Gate, holder_id};
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

/// A snapshot in the store whose signature has been checked. Every pass streams it from the
/// store again (pinned to the version that was checked), decrypts it and checks it against what
/// the signature vouches for; nothing of it lands on disk, and it is never held whole.
pub struct Snapshot {
    pub key: String,
    /// Bytes of the object as stored (encrypted).
    pub size: u64,
    pub signed: Option<Signed>,
    /// Entries besides the manifest, once verified.
    pub entries: u64,
    store: Arc<dyn Store>,
    stat: Stat,
    opener: Arc<Opener>,
    limits: Limits,
}

/// Downloads a snapshot, checks its signature, and verifies all of it. Any problem with the
/// snapshot is `Error::Refused`; nothing has been written to any Vault yet.
pub async fn verify(settings: &Settings, id: &str) -> Result<(Snapshot, Manifest)> {
    let opener = Arc::new(settings.opener()?);
    verify_with(settings, opener, settings.limits()?, id).await
}

async fn verify_with(
    settings: &Settings,
    opener: Arc<Opener>,
    limits: Limits,
    id: &str,
) -> Result<(Snapshot, Manifest)> {
    let store: Arc<dyn Store> = store::open(&settings.store_url()?).await?.into();
    let located = catalog::locate(store.as_ref(), id, limits.max_total_bytes).await?;
    // The signature is checked over the object as it streams by, and its digest compared with
    // the pointer's on the way, before anything parses it.
    let failure = StreamFailure::default();
    let reader = RangeReader::new(
        store.clone(),
        &located.key,
        located.stat.clone(),
        failure.clone(),
    );
    let (checker, key, sig) = (
        opener.clone(),
        located.key.clone(),
        located.signature.clone(),
    );
    let (signed, drained, sha256) = tokio::task::spawn_blocking(move || {
        let mut hashed = Hashing::new(reader);
        let signed = checker.check(&key, &mut hashed, sig.as_deref());
        let drained = std::io::copy(&mut hashed, &mut std::io::sink());
        let (_, sha256, _) = hashed.finish();
        (signed, drained, sha256)
    })
    .await
    .map_err(|e| Error::refused(&located.key, format!("reader crashed: {e}")))?;
    if let Some(e) = failure.take() {
        return Err(e);
    }
    drained.map_err(|e| Error::io(format!("read {}", located.key), e))?;
    located.check_pointer(&sha256)?;
    let signed = signed?;
    // What the signature vouches for: the prefix, the source and a date not ahead of the clock.
    let (expected, now) = (settings.expected_origin()?, Utc::now());
    if let Some(s) = &signed {
        expected.check(&located.key, &s.claims, now)?;
    }
    if let Some(at) = catalog::parse_snapshot_key(&located.key) {
        seal::check_not_future(&located.key, "name's", at, now)?;
    }
    let mut snapshot = Snapshot {
        key: located.key,
        size: located.stat.size,
        signed,
        entries: 0,
        store,
        stat: located.stat,
        opener,
        limits,
    };
    let manifest = scan(&snapshot, |_| true).await?;
    let source = &manifest.source;
    let named = (
        source.cluster_name.as_deref().unwrap_or_default(),
        source.cluster_id.as_deref().unwrap_or_default(),
    );
    expected.check_manifest(&snapshot.key, named, manifest.created_at, now)?;
    snapshot.entries = manifest.entries.len() as u64;
    tracing::info!(
        snapshot = %snapshot.key,
        signed_by = snapshot.signed.as_ref().map(|s| s.key_id.as_str()).unwrap_or("nobody"),
        encrypted = snapshot.key.ends_with(seal::AGE_EXT),
        created_at = %manifest.created_at,
        source = %manifest.source.address,
        entries = manifest.entries.len(),
        "snapshot verified"
    );
    Ok((snapshot, manifest))
}

/// Trailing bytes tolerated after the gzip stream of an unsigned snapshot.
const MAX_TRAILER: u64 = 64 << 10;

async fn scan(
    snap: &Snapshot,
    on_object: impl FnMut(Scanned) -> bool + Send + 'static,
) -> Result<Manifest> {
    let key = snap.key.clone();
    let (opener, limits, signed) = (snap.opener.clone(), snap.limits, snap.signed.clone());
    let failure = StreamFailure::default();
    let data = RangeReader::new(snap.store.clone(), &key, snap.stat.clone(), failure.clone());
    let scanned = tokio::task::spawn_blocking(move || {
        let refuse = |reason: String| Error::refused(&key, reason);
        let signed_manifest = signed.as_ref().map(|s| s.claims.manifest_sha256.as_str());
        let mut input = HashReader::new(opener.open(&key, data)?);
        let end = reader::scan(&mut input, limits, signed_manifest, on_object).map_err(refuse)?;
        let archive_sha256 = input
            .finish(MAX_TRAILER)
            .map_err(|e| refuse(format!("archive is corrupt or truncated: {e}")))?;
        if let Some(s) = signed {
            if s.claims.archive_sha256 != archive_sha256 {
                return Err(refuse("its archive is not the one that was signed".into()));
            }
            if s.claims.manifest_sha256 != end.manifest_sha256 {
                return Err(refuse("its manifest is not the one that was signed".into()));
            }
        }
        Ok(end.manifest)
    })
    .await
    .map_err(|e| Error::refused(&snap.key, format!("reader crashed: {e}")))?;
    // A store that failed mid-read is the store's error, not a fault of the snapshot.
    scanned.map_err(|e| failure.take().unwrap_or(e))
}

/// Refuses to follow `latest.json` back to a snapshot older than the one this target last
/// imported: an attacker who can write the pointer must not be able to roll DR back. An older
/// snapshot can still be imported by naming it with `--snapshot`.
async fn check_not_older(state: &State, key: &str) -> Result<()> {
    let Some(last) = state.meta().await? else {
        return Ok(());
    };
    let (Some(this_at), Some(last_at)) = (
        catalog::parse_snapshot_key(key),
        catalog::parse_snapshot_key(&last.last_snapshot),
    ) else {
        return Ok(());
    };
    // A future-dated snapshot recorded by an older release must not block every later one.
    if seal::future_dated(last_at, Utc::now()) {
        tracing::warn!(
            last_snapshot = %last.last_snapshot,
            "the last import recorded here is dated in the future; not comparing with it"
        );
        return Ok(());
    }
    if this_at < last_at {
        return Err(Error::refused(
            key,
            format!(
                "{} points at it, but this cluster already imported the newer {}; import it \
                 with --snapshot if going back is intended",
                catalog::LATEST,
                last.last_snapshot
            ),
        ));
    }
    Ok(())
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
        let state = State::new(client.detached(), &opts.state_mount);
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
    state: &State,
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
    state: &State,
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
    let target = Target::load(client.clone(), &manifest.namespaces, opts.userpass).await?;
    let (deletes, tally) = match opts.prune {
        false => Default::default(),
        true => plan_prunes(&target, state, &records, snapshot, manifest, opts).await?,
    };
    if dry_run || opts.on_drift == OnDrift::Fail {
        // The whole plan first: to print it, or to refuse drift before anything is written.
        let mut plan = planner::plan(&target, snapshot, concurrency, &mut records, opts).await?;
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
            let summary = plan.summary();
            return Ok((Some(plan), summary));
        }
    }
    let applied = planner::apply(
        &target,
        snapshot,
        concurrency,
        &mut records,
        opts,
        deletes,
        cancel,
    )
    .await;
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
    state: &State,
    records: &crate::state::Records,
    snapshot: &Snapshot,
    manifest: &Manifest,
    opts: &crate::config::ImportOptions,
) -> Result<(Vec<crate::plan::Change>, prune::Tally)> {
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
    state: &State,
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

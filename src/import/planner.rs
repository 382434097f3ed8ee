//! One pass over the verified snapshot as it streams by: each object is planned against the
//! target (namespaces and mounts first, so that the objects inside them know whether their parent
//! is new or refused), with drift flagged from the importer's records. What the pass does with
//! each change is the run's `Mode`: a dry run and REPLICATOR_ON_DRIFT=fail collect the plan; a
//! streamed import applies each container and content as soon as it is planned (through the
//! executor) and updates the records, so memory stays flat however many objects the snapshot
//! holds, and hands the executor the rest.

use std::collections::HashSet;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;

use super::apply::{self, Executor};
use super::decide::plan_one;
use super::input::{Input, replay};
use super::mapped::{self, Taken};
use super::plan::{Change, Mode, Plan};
use super::restore::Restore;
use super::summary::Summary;
use crate::config::ImportOptions;
use crate::model::Action;
use crate::objects::{Object, Parent, Stage};
use crate::progress::Progress;
use crate::snapshot::reader::Scanned;
use crate::snapshot::verify::{Snapshot, scan};
use crate::state::{ImporterState, Record, Records};

/// What a pass reads: the whole verified snapshot, or objects already read (the namespaces and
/// mounts the verifying pass kept, when every other entry is one the last import applied; see
/// `applied`).
pub enum Reading<'a> {
    Snapshot(&'a Snapshot),
    Kept(Vec<Scanned>),
}

/// Where a pass's changes go.
enum Sink<'a> {
    /// Collected: without values for a dry run; with each object and its record (`keep`) for
    /// REPLICATOR_ON_DRIFT=fail, whose apply then carries out exactly this plan.
    Plan { plan: &'a mut Plan, keep: bool },
    /// Applied as they come; later stages wait for everything else (`deferred`).
    Apply {
        summary: &'a mut Summary,
        deferred: &'a mut Plan,
        progress: &'a Progress,
    },
}

/// One planned (and, when streamed, applied) object.
struct Done {
    change: Change,
    /// The record the object gets once applied (kinds that can be pruned only).
    record: Option<Record>,
    result: Result<(), String>,
    /// Planned, but the run was stopped before its write started.
    stopped: bool,
}

/// What one pass over the snapshot works with.
pub struct Pass<'a> {
    pub mode: Mode,
    pub exec: Executor<'a>,
    /// The snapshot's key, as errors name it.
    pub key: &'a str,
    /// How many entries it holds (for the progress).
    pub entries: u64,
    pub opts: &'a ImportOptions,
    /// A selective restore, and the containers its selection needs.
    pub restore: Option<(&'a Restore, &'a HashSet<Parent>)>,
    /// Where records are saved on the way (an import run holding its lease), every
    /// `REPLICATOR_RECORDS_BATCH` records.
    pub saver: Option<Saver<'a>>,
    /// The entries a later snapshot of the chain replaces or removes (name hashes, sorted): this
    /// pass leaves them to it, containers aside (what they hold needs them now).
    pub superseded: &'a [u64],
    /// What the other sources of this cluster brought to it: never written from this one.
    pub claimed: &'a crate::state::Claimed,
    /// This run's source, as a refusal names it.
    pub source: &'a str,
}

/// Plans every object of the snapshot against the target, writing nothing. When the mode
/// applies the plan afterwards, each change keeps its object and record for `Executor::run`
/// (and the records take the objects found unchanged).
pub async fn plan(
    pass: &Pass<'_>,
    reading: Reading<'_>,
    records: &mut Records,
) -> crate::Result<Plan> {
    let mut plan = Plan::default();
    let keep = pass.mode != Mode::DryRun;
    walk(
        pass,
        reading,
        records,
        Sink::Plan {
            plan: &mut plan,
            keep,
        },
    )
    .await?;
    plan.sort();
    Ok(plan)
}

/// Plans and applies every object of the snapshot, then what later stages hold and `deletes`,
/// and updates `records` with what took effect. On an error the records still say what was done.
pub async fn apply(
    pass: &Pass<'_>,
    reading: Reading<'_>,
    records: &mut Records,
    deletes: Vec<Change>,
) -> crate::Result<Summary> {
    let mut summary = Summary::default();
    let mut deferred = Plan::default();
    let progress = Progress::start("import", Some(pass.entries));
    let sink = Sink::Apply {
        summary: &mut summary,
        deferred: &mut deferred,
        progress: &progress,
    };
    walk(pass, reading, records, sink).await?;
    summary.merge(pass.exec.run(deferred, records, deletes).await);
    summary.interrupted |= pass.exec.gate.is_cancelled();
    Ok(summary)
}

/// Saves the records a long pass has set so far, under the run's lease.
#[derive(Clone, Copy)]
pub struct Saver<'a> {
    pub state: &'a ImporterState,
    pub lease: &'a crate::lease::Lease,
}

impl Saver<'_> {
    async fn flush(&self, records: &mut Records) -> crate::Result<()> {
        let lease = self.lease;
        self.state
            .flush_records(records, async || lease.hold().await)
            .await
    }
}

async fn walk(
    pass: &Pass<'_>,
    reading: Reading<'_>,
    records: &mut Records,
    mut sink: Sink<'_>,
) -> crate::Result<()> {
    let (concurrency, cancel) = (pass.exec.concurrency, pass.exec.gate);
    // What an earlier pass (a dry plan before this one) found is not trusted here.
    pass.exec.target.kv.forget();
    let (tx, rx) = mpsc::channel::<Scanned>(concurrency * 4);
    let feed = move |s: Scanned| tx.blocking_send(s).is_ok();
    let reading: BoxFuture<'_, crate::Result<()>> = match reading {
        Reading::Kept(objects) => Box::pin(replay(pass.key, objects, feed)),
        Reading::Snapshot(snapshot) => {
            Box::pin(async move { scan(snapshot, feed).await.map(drop) })
        }
    };
    let walking = async move {
        let mut input = Input::new(rx);
        let mut running: FuturesUnordered<BoxFuture<'_, Done>> = FuturesUnordered::new();
        let mut failed = None;
        loop {
            while running.len() < concurrency {
                if cancel.is_cancelled() || failed.is_some() {
                    // Stops the reader; the changes in flight finish.
                    input.close();
                    break;
                }
                let Some(scanned) = input.next().await else {
                    break;
                };
                running.extend(take(pass, scanned, records, &mut sink).await);
            }
            match running.next().await {
                Some(done) => settle(&mut sink, records, done),
                None if input.is_done() => break,
                None => {}
            }
            if let Some(saver) = pass
                .saver
                .filter(|_| records.pending() >= pass.opts.records_batch)
                && failed.is_none()
                && let Err(e) = saver.flush(records).await
            {
                // Nothing more starts; what is running finishes and is settled.
                failed = Some(e);
            }
        }
        failed
    };
    let (read, failed) = tokio::join!(reading, walking);
    if let Some(e) = failed {
        return Err(e);
    }
    match read {
        Err(_) if cancel.is_cancelled() => Ok(()),
        read => read,
    }
}

/// Takes one object off the snapshot: a parent is planned (and, when streamed, applied) at once,
/// before its children arrive; one the records vouch for is settled unread; anything else comes
/// back as work to run concurrently.
async fn take<'a>(
    pass: &'a Pass<'a>,
    scanned: Scanned,
    records: &mut Records,
    sink: &mut Sink<'_>,
) -> Option<BoxFuture<'a, Done>> {
    let (target, opts) = (pass.exec.target, pass.opts);
    let Scanned {
        object,
        entry,
        sha256,
    } = scanned;
    let later = (pass.superseded)
        .binary_search(&crate::snapshot::entries::name_key(&entry))
        .is_ok();
    if later && object.as_parent().is_none() {
        return None;
    }
    let Taken {
        object,
        copy,
        container,
        note,
        theirs,
    } = match mapped::admit((pass.restore, &opts.map, pass.claimed), object, &entry)? {
        Ok(taken) => taken,
        Err(skipped) => {
            let done = finish(pass, skipped, None).await;
            settle(sink, records, done);
            return None;
        }
    };
    let digest = records.key().digest(&sha256);
    // A restore's copy elsewhere is not the importer's.
    let record = (!copy).then(|| record_of(&object, digest, records.key()));
    let known = records.get(&entry);
    let recorded = known.map(|r| r.is(&digest));
    // Whether the last import applied this very entry (not left it as it found it).
    let applied = known.map(|r| r.is(&digest) && !r.unsettled);
    let inherited = pass
        .exec
        .parents
        .inherited(target, &object, &opts.state_mount);
    target.note(&object);
    if let Some(p) = object.as_parent() {
        let change = match inherited {
            Some(d) => Change::decided(object, d),
            None => plan_one(target, object, (recorded, applied), opts).await,
        };
        let mut change = match container {
            true => super::restore::container_only(change),
            false => change,
        };
        note.mark(&mut change);
        let mut change = mapped::unclaimed(change, theirs.as_ref(), pass.source);
        if later && !container {
            left_to_later(&mut change);
        }
        pass.exec.parents.planned(p, &change);
        let done = finish(pass, change, record).await;
        settle(sink, records, done);
        return None;
    }
    if inherited.is_none() && applied == Some(true) && !opts.full_check {
        // Applied by an earlier import and unchanged in the source since: not read.
        let mut change = Change::new(object, Action::Unchanged, None);
        note.mark(&mut change);
        settle(sink, records, finish(pass, change, record).await);
        return None;
    }
    Some(Box::pin(async move {
        let mut change = match inherited {
            Some(d) => Change::decided(object, d),
            None => plan_one(target, object, (recorded, applied), opts).await,
        };
        note.mark(&mut change);
        let change = mapped::unclaimed(change, theirs.as_ref(), pass.source);
        finish(pass, change, record).await
    }))
}

/// A container a later step of the chain holds too: this step only creates it when missing
/// (what this step holds needs it), and leaves its settings to that step.
fn left_to_later(change: &mut Change) {
    if change.action == Action::Update {
        (change.action, change.reason, change.drift) = (Action::Unchanged, None, false);
        change.ops = Default::default();
    }
}

/// The record an object gets once applied (where it was written). Transit keys are never pruned
/// one by one, but recorded all the same: a mount prune must know which keys are the importer's.
fn record_of(
    object: &Object,
    digest: crate::state::Digest,
    key: &crate::state::RecordKey,
) -> Record {
    let (ns, delete) = object.delete_target().unzip();
    let ns = ns.as_deref().unwrap_or(object.namespace());
    Record::new(digest, object.kind(), &object.path(), ns, delete.as_deref()).made_with(key.id())
}

/// Applies a planned create or update of a container or content when the mode streams, unless
/// the run was stopped while it was being planned.
async fn finish(pass: &Pass<'_>, change: Change, record: Option<Record>) -> Done {
    let now = pass.mode == Mode::Streamed
        && matches!(change.action, Action::Create | Action::Update)
        && change.kind.stage() <= Stage::Contents;
    let (change, result, stopped) = match now {
        false => (change, Ok(()), false),
        true => match pass.exec.apply_one(change).await {
            Ok((change, result)) => (change, result, false),
            Err(change) => (change, Ok(()), true),
        },
    };
    Done {
        change,
        record,
        result,
        stopped,
    }
}

/// Takes one done object into the plan, or into the summary and the records.
fn settle(sink: &mut Sink<'_>, records: &mut Records, done: Done) {
    let Done {
        mut change,
        record,
        result,
        stopped,
    } = done;
    let drifted = is_drift(&change);
    match sink {
        Sink::Plan { plan, keep } => {
            plan.drifted += u64::from(drifted);
            match (*keep, record) {
                (false, _) => change.object = None,
                // Already as the snapshot has it: recorded now, as an apply pass would.
                (true, Some(r)) if change.action == Action::Unchanged => {
                    records.set(std::mem::take(&mut change.entry), r);
                }
                (true, record) => change.record = record,
            }
            plan.push(change);
        }
        Sink::Apply {
            summary,
            deferred,
            progress,
        } => {
            summary.drifted += u64::from(drifted);
            if stopped {
                // Not written: compared in full next time, and not counted.
                records.unsettle(&change.entry);
                return;
            }
            if drifted && change.action == Action::Skipped {
                summary.note_drift(&change);
            }
            if change.kind.stage() > Stage::Contents
                && matches!(change.action, Action::Create | Action::Update)
            {
                change.record = record;
                deferred.changes.push(change);
                return;
            }
            progress.add(1);
            let entry = std::mem::take(&mut change.entry);
            let ok = apply::record(summary, &change, result);
            let created = change.action == Action::Create;
            let record = record.map(|mut r| {
                r.created = created;
                r
            });
            apply::settle_record(records, entry, ok, record);
        }
    }
}

fn is_drift(change: &Change) -> bool {
    if change.drift {
        tracing::warn!(kind = %change.kind, path = %change.path, action = ?change.action, "drift: changed on the target since the last import");
    }
    change.drift
}

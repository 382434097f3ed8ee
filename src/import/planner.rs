//! One pass over the verified snapshot as it streams by: each object is planned against the
//! target (namespaces and mounts first, so that the objects inside them know whether their parent
//! is new or refused), with drift flagged from the importer's records. A `--dry-run` pass collects
//! the plan; an import pass applies each change as soon as it is planned and updates the records,
//! so memory stays flat however many objects the snapshot holds.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;

use super::apply;
use super::decide::plan_one;
use super::inherit::{ParentDecision, inherited};
use super::input::{Input, replay};
use super::plan::{Change, Plan};
use super::restore::{Admitted, Restore};
use super::summary::Summary;
use super::{Gate, Snapshot, scan};
use crate::config::ImportOptions;
use crate::model::Action;
use crate::objects::{Object, Parent, Stage, Target};
use crate::progress::Progress;
use crate::snapshot::reader::Scanned;
use crate::state::{ImporterState, Record, Records};

/// Where a pass's changes go.
enum Sink<'a> {
    /// Collected: without values for `--dry-run`; with each object and its record (`keep`) for
    /// REPLICATOR_ON_DRIFT=fail, whose apply then carries out exactly this plan.
    Plan { plan: &'a mut Plan, keep: bool },
    /// Applied as they come; what names other contents (PKI configs and roles), entities and groups wait
    /// for everything else.
    Apply {
        summary: &'a mut Summary,
        deferred: &'a mut Vec<(Change, Option<Record>)>,
        progress: &'a Progress,
    },
}

/// One planned (and, when importing, applied) object.
struct Done {
    change: Change,
    /// The record the object gets once applied (kinds that can be pruned only).
    record: Option<Record>,
    result: Result<(), String>,
    /// Planned, but the run was stopped before its write started.
    stopped: bool,
}

/// Plans every object of the snapshot against the target, writing nothing. With `keep`, each
/// change keeps its object and record for `apply::apply_planned` (and the records take the
/// objects found unchanged).
pub async fn plan(pass: &Pass<'_>, records: &mut Records, keep: bool) -> crate::Result<Plan> {
    let mut plan = Plan::default();
    let sink = Sink::Plan {
        plan: &mut plan,
        keep,
    };
    walk(pass, records, &Gate::default(), sink).await?;
    plan.sort();
    Ok(plan)
}

/// Plans and applies every object of the snapshot, then the entities, groups and `deletes`, and
/// updates `records` with what took effect. On an error the records still say what was done.
/// A write starts only when `cancel` lets it.
pub async fn apply(
    pass: &Pass<'_>,
    records: &mut Records,
    deletes: Vec<Change>,
    cancel: &Gate,
) -> crate::Result<Summary> {
    let mut summary = Summary::default();
    let mut deferred = Vec::new();
    let progress = Progress::start("import", Some(pass.snapshot.entries));
    let sink = Sink::Apply {
        summary: &mut summary,
        deferred: &mut deferred,
        progress: &progress,
    };
    walk(pass, records, cancel, sink).await?;
    let mut later = Plan::default();
    for (mut change, record) in deferred {
        change.record = record;
        later.changes.push(change);
    }
    let (target, concurrency) = (pass.target, pass.concurrency);
    let applied = apply::apply_planned(target, later, concurrency, records, deletes, cancel).await;
    summary.merge(applied);
    summary.interrupted |= cancel.is_cancelled();
    Ok(summary)
}

/// What one pass over the snapshot works with.
pub struct Pass<'a> {
    pub target: &'a Target,
    pub snapshot: &'a Snapshot,
    pub concurrency: usize,
    pub opts: &'a ImportOptions,
    /// A selective restore, and the containers its selection needs.
    pub restore: Option<(&'a Restore, &'a HashSet<Parent>)>,
    /// Only namespaces and mounts are planned: every other entry is one the last import applied
    /// (`applied`), and the pass stops where they end.
    pub heads_only: bool,
    /// Where records are saved on the way (an import run holding its lease), every
    /// `REPLICATOR_RECORDS_BATCH` records.
    pub saver: Option<Saver<'a>>,
    /// Those namespaces and mounts, as the verifying pass met them: taken instead of reading the
    /// snapshot's head again.
    pub heads: std::sync::Mutex<Option<Vec<Scanned>>>,
}

/// Saves the records a long pass has set so far, under the run's lease.
#[derive(Clone, Copy)]
pub struct Saver<'a> {
    pub state: &'a ImporterState,
    pub lease: &'a super::lease::Lease,
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
    records: &mut Records,
    cancel: &Gate,
    mut sink: Sink<'_>,
) -> crate::Result<()> {
    let Pass {
        target,
        snapshot,
        concurrency,
        ..
    } = *pass;
    // What an earlier pass (a dry plan before this one) found is not trusted here.
    target.kv.forget();
    let (tx, rx) = mpsc::channel::<Scanned>(concurrency * 4);
    // Namespaces and mounts come first in a snapshot: a pass over them alone stops at the first
    // entry of another kind.
    let heads_only = pass.heads_only;
    let stopped_early = Arc::new(AtomicBool::new(false));
    let stopped = stopped_early.clone();
    let feed = move |s: Scanned| {
        if heads_only && s.object.as_parent().is_none() {
            stopped.store(true, Ordering::Relaxed);
            return false;
        }
        tx.blocking_send(s).is_ok()
    };
    let kept = pass.heads.lock().ok().and_then(|mut h| h.take());
    let reading: BoxFuture<'_, crate::Result<()>> = match kept {
        Some(heads) => Box::pin(replay(snapshot, heads, feed)),
        None => Box::pin(async move { scan(snapshot, feed).await.map(drop) }),
    };
    let walking = async move {
        let mut input = Input::new(rx);
        let mut decisions: HashMap<Parent, ParentDecision> = HashMap::new();
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
                let work = take(pass, scanned, records, &mut decisions, &mut sink, cancel).await;
                running.extend(work);
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
        Err(_) if cancel.is_cancelled() || stopped_early.load(Ordering::Relaxed) => Ok(()),
        Err(e) => Err(e),
        Ok(_) => Ok(()),
    }
}

/// Takes one object off the snapshot: a parent is planned (and, when importing, applied) at once,
/// before its children arrive; one the records vouch for is settled unread; anything else comes
/// back as work to run concurrently.
async fn take<'a>(
    pass: &Pass<'a>,
    scanned: Scanned,
    records: &mut Records,
    decisions: &mut HashMap<Parent, ParentDecision>,
    sink: &mut Sink<'_>,
    cancel: &'a Gate,
) -> Option<BoxFuture<'a, Done>> {
    let (target, opts) = (pass.target, pass.opts);
    let applying = matches!(sink, Sink::Apply { .. });
    let Scanned {
        object,
        entry,
        sha256,
    } = scanned;
    let (object, copy, container) = match admit(pass, object)? {
        Ok(taken) => taken,
        Err(skipped) => {
            let done = finish(target, skipped, None, false, cancel).await;
            settle(sink, records, done);
            return None;
        }
    };
    // Transit keys are never pruned one by one, but recorded all the same: a mount prune must
    // know which keys are the importer's. A restore's copy elsewhere is not the importer's.
    let (ns, delete) = object.delete_target().unzip();
    let ns = ns.as_deref().unwrap_or(object.namespace());
    let (key, digest) = (records.key().id(), records.key().digest(&sha256));
    let record = (!copy).then(|| {
        Record::new(digest, object.kind(), &object.path(), ns, delete.as_deref()).made_with(key)
    });
    let known = records.get(&entry);
    let recorded = known.map(|r| r.is(&digest));
    // Whether the last import applied this very entry (not left it as it found it).
    let applied = known.map(|r| r.is(&digest) && !r.unsettled);
    let trusted = applied == Some(true);
    let inherited = inherited(target, &object, decisions, &opts.state_mount);
    if let Object::Mount(m) = &object {
        target.note_auth_mount(m);
    }
    if let Some(p) = object.as_parent() {
        let change = match inherited {
            Some(d) => Change::decided(object, d),
            None => plan_one(target, object, (recorded, applied), opts).await,
        };
        let change = match container {
            true => super::restore::hold_container(change),
            false => change,
        };
        decisions.insert(p.clone(), (change.action, change.reason.clone()));
        let done = finish(target, change, record, applying, cancel).await;
        if let (Action::Create, Err(why)) = (done.change.action, &done.result) {
            // Not created: what it would hold goes nowhere (not to the root namespace of a
            // server that ignores the namespace header).
            decisions.insert(p, (Action::Failed, Some(why.clone())));
        }
        settle(sink, records, done);
        return None;
    }
    if inherited.is_none() && trusted && !opts.full_check {
        // Applied by an earlier import and unchanged in the source since: not read.
        let change = Change::new(object, Action::Unchanged, None);
        settle(
            sink,
            records,
            finish(target, change, record, false, cancel).await,
        );
        return None;
    }
    Some(Box::pin(async move {
        let change = match inherited {
            Some(d) => Change::decided(object, d),
            None => plan_one(target, object, (recorded, applied), opts).await,
        };
        finish(target, change, record, applying, cancel).await
    }))
}

/// How a selective restore takes an object: `None` when it is not part of it; the object, whether
/// it is a copy elsewhere (`--to-prefix`) and whether it is only a container the selection needs;
/// or the change that skips it.
fn admit(pass: &Pass<'_>, object: Object) -> Option<Result<(Object, bool, bool), Change>> {
    let Some((restore, needs)) = pass.restore else {
        return Some(Ok((object, false, false)));
    };
    Some(match restore.admit(object, needs) {
        Admitted::Out(_) => return None,
        Admitted::Selected { object, renamed } => Ok((object, renamed, false)),
        Admitted::Container(object) => Ok((object, false, true)),
        Admitted::Skipped(object, why) => Err(Change::new(object, Action::Skipped, Some(why))),
    })
}

/// Applies a planned create or update when importing, unless the run was stopped while it was
/// being planned; entities and groups are left for later.
async fn finish(
    target: &Target,
    change: Change,
    record: Option<Record>,
    applying: bool,
    cancel: &Gate,
) -> Done {
    let now = applying
        && matches!(change.action, Action::Create | Action::Update)
        && change.kind.stage() <= Stage::Contents;
    if !now || !cancel.ready().await {
        return Done {
            change,
            record,
            result: Ok(()),
            stopped: now,
        };
    }
    let (change, result) = apply::apply_one(target, change).await;
    Done {
        change,
        record,
        result,
        stopped: false,
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
                deferred.push((change, record));
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

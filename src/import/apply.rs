//! Executes a list of changes in stages: namespaces and mounts one by one; then policies, auth
//! items, secrets, transit keys and PKI issuers with bounded concurrency; then what names them
//! (PKI configs and roles); then entities; then groups, members first; then prunes, children before
//! the mounts and namespaces that held them. The import
//! applies most objects as it plans them and hands this the rest: entities, groups and prunes.
//!
//! A failure on one object is recorded and the others go on. On cancellation (SIGTERM, the
//! fence, a lost lease) no new change starts, the ones in flight finish, and the summary says it
//! stopped early.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::ready;
use std::sync::Mutex;

use futures::{StreamExt, stream};

use super::Gate;
use super::inherit::not_created;
use super::plan::{Change, Plan};
use super::summary::Summary;
use crate::error::one_line;
use crate::model::Action;
use crate::objects::{Object, Ops, Parent, Stage, Target, identity};
use crate::progress::Progress;
use crate::state::{Record, Records};

pub struct Applied {
    pub summary: Summary,
    /// Entry names of the changes that did not succeed (or did not run).
    pub not_done: HashSet<String>,
}

/// Where a change runs: its kind's stage, and prunes last, containers after what they held.
fn stage_of(c: &Change) -> usize {
    match (c.action, c.kind.stage()) {
        (Action::Delete, Stage::Containers) => 6,
        (Action::Delete, _) => 5,
        (_, Stage::Containers) => 0,
        (_, Stage::Contents) => 1,
        (_, Stage::Dependents) => 2,
        (_, Stage::Entities) => 3,
        (_, Stage::Groups) => 4,
    }
}

/// Applies `plan` in stages; a change starts only when `cancel` lets it (never once the run was
/// stopped), and the fence is read once more just before the first delete.
pub async fn apply(target: &Target, mut plan: Plan, concurrency: usize, cancel: &Gate) -> Applied {
    plan.sort();
    let mut summary = Summary::default();
    for (kind, n) in &plan.unchanged {
        summary.count(*kind, Action::Unchanged, *n);
    }
    summary.drifted = plan.drifted;
    let mut not_done: HashSet<String> = plan.changes.iter().map(|c| c.entry.clone()).collect();
    let progress = Progress::start("apply", Some(not_done.len() as u64));
    let mut stages: Vec<Vec<Change>> = (0..7).map(|_| Vec::new()).collect();
    for c in plan.changes {
        stages[stage_of(&c)].push(c);
    }
    stages[4] = group_order(std::mem::take(&mut stages[4]));
    stages[5].reverse();
    stages[6].reverse();
    let mut fence_read = false;
    // Containers whose creation failed: nothing planned inside them is written.
    let failed: Mutex<HashMap<Parent, String>> = Mutex::default();
    for (i, stage) in stages.into_iter().enumerate() {
        if i >= 5 && !stage.is_empty() && !fence_read {
            cancel.recheck_fence().await;
            fence_read = true;
        }
        let parallel = if matches!(i, 1 | 2 | 3 | 5) {
            concurrency.max(1)
        } else {
            1
        };
        let mut results = stream::iter(stage)
            .take_while(|_| ready(!cancel.is_cancelled()))
            .map(|c| {
                let failed = &failed;
                async move {
                    let mut c = c;
                    if let Some(reason) = inside_failed(&c, failed) {
                        c.action = Action::Refused;
                        c.reason = Some(reason);
                        return Some((c, Ok(())));
                    }
                    match cancel.ready().await {
                        true => Some(apply_one(target, c).await),
                        false => None,
                    }
                }
            })
            .buffered(parallel);
        while let Some(outcome) = results.next().await {
            // Not started: the run was stopped.
            let Some((change, result)) = outcome else {
                continue;
            };
            if let (Action::Create, Err(why), Some(obj)) = (change.action, &result, &change.object)
                && let Some(p) = obj.as_parent()
                && let Ok(mut failed) = failed.lock()
            {
                let reason = not_created(&p, why);
                failed.insert(p, reason);
            }
            progress.add(1);
            if record(&mut summary, &change, result) {
                not_done.remove(&change.entry);
            }
        }
    }
    summary.interrupted = cancel.is_cancelled();
    summary
        .failures
        .sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
    Applied { summary, not_done }
}

/// Applies a plan whose changes keep their objects and records (entities and groups held back
/// by an import pass, or the whole plan of REPLICATOR_ON_DRIFT=fail), then `deletes`, and
/// updates `records` with what took effect.
pub async fn apply_planned(
    target: &Target,
    mut plan: Plan,
    concurrency: usize,
    records: &mut Records,
    deletes: Vec<Change>,
    cancel: &Gate,
) -> Summary {
    let pending: Vec<(String, Option<Record>)> = plan
        .changes
        .iter_mut()
        .map(|c| {
            let created = c.action == Action::Create;
            let record = c.record.take().map(|mut r| {
                r.created = created;
                r
            });
            (c.entry.clone(), record)
        })
        .collect();
    let deleted: Vec<String> = deletes.iter().map(|c| c.entry.clone()).collect();
    plan.changes.extend(deletes);
    let applied = apply(target, plan, concurrency, cancel).await;
    for (entry, record) in pending {
        let ok = !applied.not_done.contains(&entry);
        settle_record(records, entry, ok, record);
    }
    for entry in deleted {
        if !applied.not_done.contains(&entry) {
            records.remove(&entry);
        }
    }
    applied.summary
}

/// The object took effect (its record is the snapshot's), or was left as it was (compare it in
/// full next time).
pub(super) fn settle_record(
    records: &mut Records,
    entry: String,
    ok: bool,
    record: Option<Record>,
) {
    match (ok, record) {
        (true, Some(r)) => records.set(entry, r),
        (true, None) => {}
        (false, _) => records.unsettle(&entry),
    }
}

/// Why the change is refused, when it lies inside a container whose creation failed (or inside
/// one refused for that reason): it is never written elsewhere (not in the root namespace of a
/// server that ignores the namespace header). What it would hold is refused the same way.
fn inside_failed(c: &Change, failed: &Mutex<HashMap<Parent, String>>) -> Option<String> {
    let obj = c.object.as_ref()?;
    let parent = obj.parent()?;
    let mut failed = failed.lock().ok()?;
    let reason = failed.get(&parent)?.clone();
    if let Some(p) = obj.as_parent() {
        failed.insert(p, reason.clone());
    }
    Some(reason)
}

/// Group changes with member groups before the groups that contain them, per namespace.
fn group_order(changes: Vec<Change>) -> Vec<Change> {
    let mut by_ns: BTreeMap<String, HashMap<String, Change>> = BTreeMap::new();
    let mut rest = Vec::new();
    for c in changes {
        match &c.object {
            Some(Object::Group(g)) => {
                let (ns, name) = (g.namespace.clone(), g.name.clone());
                by_ns.entry(ns).or_default().insert(name, c);
            }
            _ => rest.push(c),
        }
    }
    let mut out = Vec::new();
    for (_, mut changes) in by_ns {
        let groups: Vec<identity::Group> = changes
            .values()
            .filter_map(|c| match &c.object {
                Some(Object::Group(g)) => Some(g.clone()),
                _ => None,
            })
            .collect();
        for g in identity::member_order(groups) {
            out.extend(changes.remove(&g.name));
        }
    }
    out.extend(rest);
    out
}

type Outcome = (Change, Result<(), String>);

pub(crate) async fn apply_one(target: &Target, change: Change) -> Outcome {
    let result = match (&change.object, &change.ops) {
        (_, Ops::Delete(ns, path)) => target.client(ns).delete(path).await,
        (Some(obj), ops) => obj.apply(target, change.action, ops).await,
        (None, _) => Ok(()),
    };
    (change, result.map_err(|e| one_line(&e)))
}

/// Counts one outcome; true when the change took effect as planned.
pub(crate) fn record(summary: &mut Summary, change: &Change, result: Result<(), String>) -> bool {
    match result {
        Ok(()) => {
            summary.count(change.kind, change.action, 1);
            match change.action {
                Action::Refused | Action::Failed => {
                    let reason = change.reason.clone().unwrap_or_default();
                    tracing::warn!(kind = %change.kind, path = %change.path, %reason, "not applied");
                    summary.fail(change, reason);
                    false
                }
                Action::Skipped => {
                    if !change.drift {
                        summary.skip(change);
                    }
                    false
                }
                _ => {
                    summary.refused_parts(change);
                    true
                }
            }
        }
        Err(reason) => {
            tracing::warn!(kind = %change.kind, path = %change.path, %reason, "failed");
            summary.count(change.kind, Action::Failed, 1);
            summary.fail(change, reason);
            false
        }
    }
}

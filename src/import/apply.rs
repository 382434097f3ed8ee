//! The executor: carries out changes in steps derived from each kind's `Stage` (`Step`):
//! namespaces and mounts one by one; then policies, auth items, secrets, transit keys and PKI
//! issuers with bounded concurrency; then what names them (PKI configs and roles); then entities;
//! then groups, in the order their kind asks (member groups first); then prunes, children before
//! the mounts and namespaces that held them. A streamed import runs its containers and contents
//! through `Executor::apply_one` as it plans them and hands `Executor::run` the rest.
//!
//! A failure on one object is recorded and the others go on; a change inside a parent that
//! failed is refused (`Parents`). On cancellation (SIGTERM, the fence, a lost lease) no new
//! change starts, the ones in flight finish, and the summary says it stopped early.

use std::collections::{BTreeMap, HashSet};
use std::future::ready;

use futures::{StreamExt, stream};

use super::inherit::Parents;
use super::plan::{Change, Plan};
use super::summary::Summary;
use crate::error::one_line;
use crate::lease::Gate;
use crate::model::Action;
use crate::objects::{Object, Stage, Target};
use crate::progress::Progress;
use crate::state::{Record, Records};

/// When a change runs: writes in their kind's stage, then prunes, containers last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Write(Stage),
    Prune { containers: bool },
}

impl Step {
    fn of(c: &Change) -> Step {
        match (c.action, c.kind.stage()) {
            (Action::Delete, stage) => Step::Prune {
                containers: stage == Stage::Containers,
            },
            (_, stage) => Step::Write(stage),
        }
    }

    /// Whether its changes depend on one another (a namespace on its parent, a group on its
    /// members, a mount's prune on its contents'), and so run one by one, in order.
    fn one_by_one(self) -> bool {
        matches!(
            self,
            Step::Write(Stage::Containers | Stage::Groups) | Step::Prune { containers: true }
        )
    }
}

/// A change and how applying it went.
pub(super) type Outcome = (Change, Result<(), String>);

/// What carries out changes against the target, for one run.
pub(super) struct Executor<'a> {
    pub target: &'a Target,
    pub parents: &'a Parents,
    pub concurrency: usize,
    pub gate: &'a Gate,
}

struct Applied {
    summary: Summary,
    /// Entry names of the changes that did not succeed (or did not run).
    not_done: HashSet<String>,
}

impl Executor<'_> {
    /// One change: refused inside a parent that failed, not started (given back) once the run
    /// was stopped, otherwise written; a parent whose create failed is noted for its children.
    pub async fn apply_one(&self, mut change: Change) -> Result<Outcome, Change> {
        if self.parents.refuse_inside(&mut change) {
            return Ok((change, Ok(())));
        }
        if !self.gate.ready().await {
            return Err(change);
        }
        let result = match (&change.object, change.ops.deletes()) {
            (_, Some((ns, path))) => self.target.client(ns).delete(path).await,
            (Some(obj), None) => obj.apply(self.target, change.action, &change.ops).await,
            (None, None) => Ok(()),
        };
        let result = result.map_err(|e| one_line(&e));
        self.parents.applied(&change, &result);
        Ok((change, result))
    }

    /// Applies a plan whose changes keep their objects and records (what an import pass held
    /// back, or the whole plan of REPLICATOR_ON_DRIFT=fail), then `deletes`, and updates
    /// `records` with what took effect.
    pub async fn run(
        &self,
        mut plan: Plan,
        records: &mut Records,
        deletes: Vec<Change>,
    ) -> Summary {
        let pending: Vec<(String, Option<Record>)> = plan
            .changes
            .iter_mut()
            .map(|c| (c.entry.clone(), take_record(c)))
            .collect();
        let deleted: Vec<String> = deletes.iter().map(|c| c.entry.clone()).collect();
        plan.changes.extend(deletes);
        let applied = self.steps(plan).await;
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

    /// Applies `plan` step by step; the fence is read once more just before the first prune.
    async fn steps(&self, mut plan: Plan) -> Applied {
        plan.sort();
        let mut summary = Summary::default();
        for (kind, n) in &plan.unchanged {
            summary.count(*kind, Action::Unchanged, *n);
        }
        summary.drifted = plan.drifted;
        let mut not_done: HashSet<String> = plan.changes.iter().map(|c| c.entry.clone()).collect();
        let progress = Progress::start("apply", Some(not_done.len() as u64));
        let mut steps: BTreeMap<Step, Vec<Change>> = BTreeMap::new();
        for c in plan.changes {
            steps.entry(Step::of(&c)).or_default().push(c);
        }
        let mut fence_read = false;
        for (step, changes) in steps {
            if matches!(step, Step::Prune { .. }) && !fence_read {
                self.gate.recheck_fence().await;
                fence_read = true;
            }
            let parallel = match step.one_by_one() {
                true => 1,
                false => self.concurrency.max(1),
            };
            let mut results = stream::iter(in_order(step, changes))
                .take_while(|_| ready(!self.gate.is_cancelled()))
                .map(|c| self.apply_one(c))
                .buffered(parallel);
            while let Some(outcome) = results.next().await {
                // Not started: the run was stopped.
                let Ok((change, result)) = outcome else {
                    continue;
                };
                progress.add(1);
                if record(&mut summary, &change, result) {
                    not_done.remove(&change.entry);
                }
            }
        }
        summary.interrupted = self.gate.is_cancelled();
        summary
            .failures
            .sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
        Applied { summary, not_done }
    }
}

/// A change's record, taken for its apply: one a create sets says the importer created it.
fn take_record(c: &mut Change) -> Option<Record> {
    let created = c.action == Action::Create;
    c.record.take().map(|mut r| {
        r.created = created;
        r
    })
}

/// The changes of one step in the order they run: prunes children first; writes of each kind in
/// the order the kind asks (`Kind::apply_order`), those without an object after them.
fn in_order(step: Step, mut changes: Vec<Change>) -> Vec<Change> {
    if let Step::Prune { .. } = step {
        changes.reverse();
        return changes;
    }
    let (with, rest): (Vec<Change>, Vec<Change>) =
        changes.into_iter().partition(|c| c.object.is_some());
    let mut by_kind: BTreeMap<_, Vec<Change>> = BTreeMap::new();
    for c in with {
        by_kind.entry(c.kind).or_default().push(c);
    }
    let mut out = Vec::new();
    for (kind, changes) in by_kind {
        let objects: Vec<&Object> = changes.iter().filter_map(|c| c.object.as_ref()).collect();
        let order = Object::apply_order(kind, &objects);
        let mut slots: Vec<Option<Change>> = changes.into_iter().map(Some).collect();
        out.extend(order.into_iter().filter_map(|i| slots.get_mut(i)?.take()));
    }
    out.extend(rest);
    out
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

/// Counts one outcome; true when the change took effect as planned.
pub(super) fn record(summary: &mut Summary, change: &Change, result: Result<(), String>) -> bool {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn change(v: serde_json::Value, action: Action) -> Change {
        Change::new(serde_json::from_value(v).unwrap(), action, None)
    }

    fn group(ns: &str, name: &str, members: &[&str]) -> Change {
        let v = json!({"kind": "group", "namespace": ns, "name": name, "type": "internal",
            "policies": [], "metadata": {}, "member_entities": [], "member_groups": members});
        change(v, Action::Create)
    }

    #[test]
    fn groups_run_after_the_groups_they_hold_per_namespace_and_unplanned_ones_last() {
        let refused = change(
            json!({"kind": "group", "name": "r", "type": "internal"}),
            Action::Refused,
        );
        let changes = vec![
            refused,
            group("", "a", &["c"]),
            group("", "b", &[]),
            group("t/", "x", &["y"]),
            group("", "c", &["b"]),
            group("t/", "y", &[]),
        ];
        let step = Step::of(&changes[1]);
        assert_eq!(step, Step::Write(Stage::Groups));
        assert!(step.one_by_one());
        let order: Vec<String> = in_order(step, changes)
            .into_iter()
            .map(|c| c.path.replace("identity/group/name/", ""))
            .collect();
        assert_eq!(order, ["b", "c", "a", "t/y", "t/x", "r"]);
    }

    #[test]
    fn steps_follow_the_stages_then_prunes_with_containers_last() {
        let policy = json!({"kind": "policy", "type": "acl", "name": "p", "policy": ""});
        let ns = json!({"kind": "namespace", "path": "team1/"});
        let write = Step::of(&change(policy.clone(), Action::Create));
        let prune = Step::of(&change(policy, Action::Delete));
        let prune_ns = Step::of(&change(ns.clone(), Action::Delete));
        let create_ns = Step::of(&change(ns, Action::Create));
        assert!(create_ns < write && write < prune && prune < prune_ns);
        assert!(create_ns.one_by_one() && !write.one_by_one() && !prune.one_by_one());
        assert!(prune_ns.one_by_one());
    }
}

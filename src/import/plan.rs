//! Plan, then apply: how a run carries out its plan (`Mode`), and what an import will do to each
//! object, with the reason. Plans name objects by path and never show values; `render` is for
//! people, `to_json` for `--output json`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::OnDrift;
use crate::model::{Action, Decision};
use crate::objects::{Kind, Object, Ops};
use crate::snapshot::format::entry_name;
use crate::state::Record;

/// How a run carries out its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `--dry-run`: planned through a read-only client and printed; no lease, nothing written.
    DryRun,
    /// REPLICATOR_ON_DRIFT=fail: the whole snapshot planned first, refused before anything is
    /// written when something drifted, otherwise exactly that plan applied.
    PlanThenApply,
    /// Containers and contents applied as they are planned, later stages and prunes after.
    Streamed,
}

impl Mode {
    /// The mode an import's options ask for.
    pub fn of(dry_run: bool, on_drift: OnDrift) -> Mode {
        match (dry_run, on_drift) {
            (true, _) => Mode::DryRun,
            (false, OnDrift::Fail) => Mode::PlanThenApply,
            (false, OnDrift::Overwrite | OnDrift::Skip) => Mode::Streamed,
        }
    }
}

/// What the import will do to one object. `object` is kept only for creates and updates.
#[derive(Debug, Serialize)]
pub struct Change {
    pub kind: Kind,
    pub path: String,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The target changed since the importer wrote it.
    #[serde(skip)]
    pub drift: bool,
    /// The object's snapshot entry name: its identity in the importer's state.
    pub entry: String,
    /// Where the snapshot has it, when `--map` put it elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// What `--map` rewrote inside it (`path "secret/*" → "dc-secret/*"`), never a value.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rewritten: Vec<String>,
    #[serde(skip)]
    pub object: Option<Object>,
    /// What the apply step needs beyond the object (a kind's own ops, or a prune's target).
    #[serde(skip)]
    pub ops: Ops,
    /// The record the object gets once applied, when the plan is kept for its apply.
    #[serde(skip)]
    pub record: Option<Record>,
}

impl Change {
    pub fn new(object: Object, action: Action, reason: Option<String>) -> Self {
        Self::decided(object, Decision::new(action, reason))
    }

    /// The change a decision on `object` stands for.
    pub fn decided(object: Object, d: Decision<Ops>) -> Self {
        let keep = matches!(d.action, Action::Create | Action::Update);
        Change {
            kind: object.kind(),
            path: crate::select::shown(&object),
            action: d.action,
            reason: d.reason,
            drift: d.drift,
            entry: entry_name(&object),
            from: None,
            rewritten: Vec::new(),
            object: keep.then_some(object),
            ops: d.ops,
            record: None,
        }
    }
}

/// Every change an import will make, plus the count of objects that already match.
#[derive(Debug, Default, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub unchanged: BTreeMap<Kind, u64>,
    /// Objects whose target value changed since the importer wrote it.
    pub drifted: u64,
}

impl Plan {
    pub fn push(&mut self, change: Change) {
        if change.action == Action::Unchanged {
            *self.unchanged.entry(change.kind).or_default() += 1;
        } else {
            self.changes.push(change);
        }
    }

    /// Adds the plan of a later step of a chain: its changes replace this one's of the same
    /// object.
    pub fn absorb(&mut self, later: Plan) {
        let replaced: std::collections::HashSet<(Kind, &str)> = later
            .changes
            .iter()
            .map(|c| (c.kind, c.path.as_str()))
            .collect();
        let mut kept: Vec<Change> = std::mem::take(&mut self.changes);
        kept.retain(|c| !replaced.contains(&(c.kind, c.path.as_str())));
        drop(replaced);
        self.changes = kept;
        self.changes.extend(later.changes);
        for (kind, n) in later.unchanged {
            *self.unchanged.entry(kind).or_default() += n;
        }
        self.drifted += later.drifted;
        self.sort();
    }

    /// Puts changes in apply order: by kind (the registry's order, mounts first), then by path.
    pub fn sort(&mut self) {
        self.changes
            .sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
    }

    pub fn count(&self, action: Action) -> usize {
        self.changes.iter().filter(|c| c.action == action).count()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::objects::policies::{Policy, PolicyType};

    pub(crate) fn policy(name: &str) -> Object {
        Object::Policy(Policy {
            namespace: String::new(),
            policy_type: PolicyType::Acl,
            name: name.into(),
            policy: "path \"x\" {}".into(),
        })
    }

    #[test]
    fn unchanged_objects_are_counted_not_kept() {
        let mut plan = Plan::default();
        plan.push(Change::new(policy("a"), Action::Unchanged, None));
        plan.push(Change::new(policy("b"), Action::Create, None));
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(plan.unchanged[&Kind::Policy], 1);
        assert!(plan.changes[0].object.is_some());
        assert_eq!(plan.changes[0].entry, "policies/acl/b.json");
    }

    /// A sorted plan that creates policy `a` and refuses policy `z` ("nope").
    pub(crate) fn create_a_refuse_z() -> Plan {
        let mut plan = Plan::default();
        plan.push(Change::new(
            policy("z"),
            Action::Refused,
            Some("nope".into()),
        ));
        plan.push(Change::new(policy("a"), Action::Create, None));
        plan.sort();
        plan
    }

    #[test]
    fn refused_changes_make_the_summary_partial_and_render_in_the_plan() {
        let plan = create_a_refuse_z();
        assert_eq!(plan.changes[0].path, "sys/policies/acl/a");
        assert!(crate::import::summary::Summary::of_plan(&plan).is_partial());
        assert!(plan.changes[1].object.is_none());
    }

    #[test]
    fn json_plans_carry_no_values() {
        let mut plan = Plan::default();
        plan.push(Change::new(policy("a"), Action::Create, None));
        let json = serde_json::to_string(&plan).unwrap_or_default();
        assert!(json.contains("\"action\":\"create\""), "{json}");
        assert!(!json.contains("path \\\"x\\\""), "{json}");
    }
}

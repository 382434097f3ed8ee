//! Plan, then apply: what an import will do to each object, the order it does it in, and the
//! per-kind summary it ends with. Plans and summaries name objects by path and never show values.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use futures::{StreamExt, stream};
use serde::Serialize;

use crate::error::one_line;
use crate::objects::{self, Detail, Kind, Object, Target, identity};
use crate::snapshot::NotCopied;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Unchanged,
    /// The object cannot be applied to this target (for example a mount of another type).
    Refused,
    /// Deliberately not applied, by configuration.
    Skipped,
}

/// What the import will do to one object. `object` is kept only for creates and updates.
#[derive(Debug)]
pub struct Change {
    pub kind: Kind,
    pub path: String,
    pub action: Action,
    pub reason: Option<String>,
    pub object: Option<Object>,
    pub detail: Detail,
}

impl Change {
    pub fn new(object: Object, action: Action, reason: Option<String>) -> Self {
        Self::with_detail(object, action, reason, Detail::None)
    }

    pub fn with_detail(
        object: Object,
        action: Action,
        reason: Option<String>,
        detail: Detail,
    ) -> Self {
        let keep = matches!(action, Action::Create | Action::Update);
        Change {
            kind: object.kind(),
            path: object.path(),
            action,
            reason,
            object: keep.then_some(object),
            detail,
        }
    }
}

/// Every change an import will make, plus the count of objects that already match.
#[derive(Debug, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub unchanged: BTreeMap<Kind, u64>,
}

impl Plan {
    pub fn push(&mut self, change: Change) {
        if change.action == Action::Unchanged {
            *self.unchanged.entry(change.kind).or_default() += 1;
        } else {
            self.changes.push(change);
        }
    }

    /// Puts changes in apply order: by kind (mounts first), then by path.
    pub fn sort(&mut self) {
        self.changes
            .sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
    }

    /// The plan as a summary, as if every change succeeded (for `--dry-run`).
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for (kind, n) in &self.unchanged {
            s.row(*kind).unchanged += n;
        }
        for c in &self.changes {
            s.count(c.kind, c.action, 1);
            if c.action == Action::Refused {
                s.failures
                    .push(Failure::new(c, c.reason.clone().unwrap_or_default()));
            }
        }
        s
    }

    /// Human-readable plan, one line per change, like `terraform plan`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for c in &self.changes {
            let (sign, verb) = match c.action {
                Action::Create => ("+", "create"),
                Action::Update => ("~", "update"),
                Action::Refused => ("!", "refuse"),
                Action::Skipped => ("-", "skip"),
                Action::Unchanged => ("=", "keep"),
            };
            let _ = write!(out, "{sign} {verb:<7} {:<11} {}", c.kind.as_str(), c.path);
            if let Some(r) = &c.reason {
                let _ = write!(out, "  ({r})");
            }
            out.push('\n');
        }
        let s = self.summary();
        let _ = writeln!(
            out,
            "Plan: {} to create, {} to update, {} unchanged, {} refused, {} skipped.",
            s.total(|r| r.created),
            s.total(|r| r.updated),
            s.total(|r| r.unchanged),
            s.total(|r| r.refused),
            s.total(|r| r.skipped),
        );
        out
    }
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Row {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub refused: u64,
    pub skipped: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub kind: Kind,
    pub path: String,
    pub reason: String,
}

impl Failure {
    fn new(c: &Change, reason: String) -> Self {
        Failure {
            kind: c.kind,
            path: c.path.clone(),
            reason,
        }
    }
}

/// Per-kind outcome of an import.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    pub kinds: BTreeMap<Kind, Row>,
    pub failures: Vec<Failure>,
    /// What the export could not copy, from the snapshot's manifest.
    pub not_copied: Vec<NotCopied>,
}

impl Summary {
    fn row(&mut self, kind: Kind) -> &mut Row {
        self.kinds.entry(kind).or_default()
    }

    fn count(&mut self, kind: Kind, action: Action, n: u64) {
        let row = self.row(kind);
        match action {
            Action::Create => row.created += n,
            Action::Update => row.updated += n,
            Action::Unchanged => row.unchanged += n,
            Action::Refused => row.refused += n,
            Action::Skipped => row.skipped += n,
        }
    }

    pub fn total(&self, f: impl Fn(&Row) -> u64) -> u64 {
        self.kinds.values().map(f).sum()
    }

    /// Whether some objects were refused or failed (exit code 3).
    pub fn is_partial(&self) -> bool {
        self.total(|r| r.failed + r.refused) > 0
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "{:<12} {:>8} {:>8} {:>10} {:>8} {:>8} {:>7}\n",
            "KIND", "CREATED", "UPDATED", "UNCHANGED", "REFUSED", "SKIPPED", "FAILED"
        );
        for kind in Kind::ALL {
            let Some(r) = self.kinds.get(&kind) else {
                continue;
            };
            let _ = writeln!(
                out,
                "{:<12} {:>8} {:>8} {:>10} {:>8} {:>8} {:>7}",
                kind.as_str(),
                r.created,
                r.updated,
                r.unchanged,
                r.refused,
                r.skipped,
                r.failed
            );
        }
        for f in &self.failures {
            let _ = writeln!(out, "failed: {} {}: {}", f.kind, f.path, f.reason);
        }
        for n in &self.not_copied {
            let _ = writeln!(out, "not copied: {} {}: {}", n.kind, n.path, n.reason);
        }
        out
    }
}

/// Executes a plan in stages: namespaces, then mounts, one by one; then policies, auth items,
/// secrets and transit keys with bounded concurrency; then entities; then groups, members first.
/// A failure on one object is recorded and the others go on.
pub async fn apply(target: &Target, mut plan: Plan, concurrency: usize) -> Summary {
    plan.sort();
    let mut summary = Summary::default();
    for (kind, n) in &plan.unchanged {
        summary.row(*kind).unchanged += n;
    }
    let mut stages: Vec<Vec<Change>> = (0..5).map(|_| Vec::new()).collect();
    for c in plan.changes {
        let stage = match c.kind {
            Kind::Namespace | Kind::Mount => 0,
            Kind::Policy | Kind::AuthItem | Kind::KvSecret | Kind::TransitKey => 1,
            Kind::Entity => 2,
            Kind::Group => 3,
        };
        stages[stage].push(c);
    }
    let groups = std::mem::take(&mut stages[3]);
    stages[3] = group_order(groups);
    for (i, stage) in stages.into_iter().enumerate() {
        let parallel = if matches!(i, 1 | 2) {
            concurrency.max(1)
        } else {
            1
        };
        let mut results = stream::iter(stage)
            .map(|c| apply_one(target, c))
            .buffered(parallel);
        while let Some(outcome) = results.next().await {
            record(&mut summary, outcome);
        }
    }
    summary
        .failures
        .sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
    summary
}

/// Group changes with member groups before the groups that contain them, per namespace.
fn group_order(changes: Vec<Change>) -> Vec<Change> {
    let mut by_ns: BTreeMap<String, std::collections::HashMap<String, Change>> = BTreeMap::new();
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

async fn apply_one(target: &Target, change: Change) -> Outcome {
    let result = match &change.object {
        None => Ok(()),
        Some(obj) => objects::apply(target, obj, change.action, &change.detail).await,
    };
    (change, result.map_err(|e| one_line(&e)))
}

fn record(summary: &mut Summary, (change, result): Outcome) {
    match result {
        Ok(()) => {
            summary.count(change.kind, change.action, 1);
            if change.action == Action::Refused {
                let reason = change.reason.clone().unwrap_or_default();
                tracing::warn!(kind = %change.kind, path = %change.path, %reason, "refused");
                summary.failures.push(Failure::new(&change, reason));
            }
        }
        Err(reason) => {
            tracing::warn!(kind = %change.kind, path = %change.path, %reason, "failed");
            summary.row(change.kind).failed += 1;
            summary.failures.push(Failure::new(&change, reason));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::policies::{Policy, PolicyType};

    fn policy(name: &str) -> Object {
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
    }

    #[test]
    fn refused_changes_make_the_summary_partial_and_render_in_the_plan() {
        let mut plan = Plan::default();
        plan.push(Change::new(
            policy("z"),
            Action::Refused,
            Some("nope".into()),
        ));
        plan.push(Change::new(policy("a"), Action::Create, None));
        plan.sort();
        assert_eq!(plan.changes[0].path, "a");
        let text = plan.render();
        assert!(text.contains("+ create  policy      a"), "{text}");
        assert!(text.contains("! refuse  policy      z  (nope)"), "{text}");
        assert!(
            text.contains("Plan: 1 to create, 0 to update, 0 unchanged, 1 refused, 0 skipped.")
        );
        assert!(plan.summary().is_partial());
        assert!(plan.changes[1].object.is_none());
    }
}

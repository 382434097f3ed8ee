//! Plan, then apply: what an import will do to each object, the order it does it in, and the
//! per-kind summary it ends with. Plans and summaries name objects by path and never show values.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use futures::{StreamExt, stream};
use serde::Serialize;

use crate::error::one_line;
use crate::objects::{Kind, Object, kv, mounts, policies};
use crate::vault::VaultClient;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Unchanged,
    /// The object cannot be applied to this target (for example a mount of another type).
    Refused,
}

/// What the import will do to one object. `object` is kept only for creates and updates.
#[derive(Debug)]
pub struct Change {
    pub kind: Kind,
    pub path: String,
    pub action: Action,
    pub reason: Option<String>,
    pub object: Option<Object>,
}

impl Change {
    pub fn new(object: Object, action: Action, reason: Option<String>) -> Self {
        let keep = matches!(action, Action::Create | Action::Update);
        Change {
            kind: object.kind(),
            path: object.path(),
            action,
            reason,
            object: keep.then_some(object),
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
                Action::Unchanged => ("=", "keep"),
            };
            let _ = write!(out, "{sign} {verb:<7} {:<10} {}", c.kind.as_str(), c.path);
            if let Some(r) = &c.reason {
                let _ = write!(out, "  ({r})");
            }
            out.push('\n');
        }
        let s = self.summary();
        let _ = writeln!(
            out,
            "Plan: {} to create, {} to update, {} unchanged, {} refused.",
            s.total(|r| r.created),
            s.total(|r| r.updated),
            s.total(|r| r.unchanged),
            s.total(|r| r.refused),
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
            "{:<10} {:>8} {:>8} {:>10} {:>8} {:>7}\n",
            "KIND", "CREATED", "UPDATED", "UNCHANGED", "REFUSED", "FAILED"
        );
        for kind in Kind::ALL {
            let r = self.kinds.get(&kind).cloned().unwrap_or_default();
            let _ = writeln!(
                out,
                "{:<10} {:>8} {:>8} {:>10} {:>8} {:>7}",
                kind.as_str(),
                r.created,
                r.updated,
                r.unchanged,
                r.refused,
                r.failed
            );
        }
        for f in &self.failures {
            let _ = writeln!(out, "failed: {} {}: {}", f.kind, f.path, f.reason);
        }
        out
    }
}

/// Executes a plan: mounts one by one first, then everything else with bounded concurrency.
/// A failure on one object is recorded and the others go on.
pub async fn apply(client: &VaultClient, mut plan: Plan, concurrency: usize) -> Summary {
    plan.sort();
    let mut summary = Summary::default();
    for (kind, n) in &plan.unchanged {
        summary.row(*kind).unchanged += n;
    }
    let (mounts_first, rest): (Vec<Change>, Vec<Change>) = plan
        .changes
        .into_iter()
        .partition(|c| c.kind == Kind::Mount);
    for change in mounts_first {
        record(&mut summary, apply_one(client, change).await);
    }
    let mut results = stream::iter(rest)
        .map(|c| apply_one(client, c))
        .buffer_unordered(concurrency.max(1));
    while let Some(outcome) = results.next().await {
        record(&mut summary, outcome);
    }
    summary
        .failures
        .sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
    summary
}

type Outcome = (Change, Result<(), String>);

async fn apply_one(client: &VaultClient, change: Change) -> Outcome {
    let result = match &change.object {
        None => Ok(()),
        Some(Object::Mount(m)) => mounts::apply(client, m).await,
        Some(Object::Policy(p)) => policies::apply(client, p).await,
        Some(Object::KvSecret(s)) => kv::apply(client, s).await,
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
    use crate::objects::policies::Policy;

    fn policy(name: &str) -> Object {
        Object::Policy(Policy {
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
        assert!(text.contains("+ create  policy     a"), "{text}");
        assert!(text.contains("! refuse  policy     z  (nope)"), "{text}");
        assert!(text.contains("Plan: 1 to create, 0 to update, 0 unchanged, 1 refused."));
        assert!(plan.summary().is_partial());
        assert!(plan.changes[1].object.is_none());
    }
}

//! The outcome of an import: per-kind counts, every failed or refused object with its cause, the
//! drift count, and what the export could not copy. Rendered as a table and as one JSON log line.

use std::collections::BTreeMap;

use serde::Serialize;

use super::plan::{Change, Plan};
use crate::model::Action;
use crate::objects::Kind;
use crate::snapshot::NotCopied;

#[derive(Debug, Default, Clone, Serialize)]
pub struct Row {
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
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

#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    pub kinds: BTreeMap<Kind, Row>,
    pub failures: Vec<Failure>,
    /// Objects changed on the target since the importer wrote them.
    pub drifted: u64,
    /// Drifted objects left as the target has them, with the reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_alone: Vec<Failure>,
    /// Objects deliberately not applied (by configuration, or a setting only creation takes),
    /// with the reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Failure>,
    /// The run stopped early (SIGTERM, or the lease was lost).
    pub interrupted: bool,
    /// What the export could not copy, from the snapshot's manifest.
    pub not_copied: Vec<NotCopied>,
}

impl Summary {
    /// A plan as a summary, as if every change succeeded (for `--dry-run`).
    pub fn of_plan(plan: &Plan) -> Summary {
        let mut s = Summary::default();
        for (kind, n) in &plan.unchanged {
            s.count(*kind, Action::Unchanged, *n);
        }
        for c in &plan.changes {
            s.count(c.kind, c.action, 1);
            if matches!(c.action, Action::Refused | Action::Failed) {
                s.fail(c, c.reason.clone().unwrap_or_default());
            }
            if c.action == Action::Skipped && !c.drift {
                s.skip(c);
            }
            s.refused_parts(c);
        }
        s.drifted = plan.drifted;
        s
    }

    /// (kind, result, count) for every non-zero cell, as the metrics report them.
    pub fn metrics(&self) -> Vec<(String, String, u64)> {
        let mut out = Vec::new();
        for (kind, r) in &self.kinds {
            for (result, n) in [
                ("created", r.created),
                ("updated", r.updated),
                ("deleted", r.deleted),
                ("unchanged", r.unchanged),
                ("refused", r.refused),
                ("skipped", r.skipped),
                ("failed", r.failed),
            ] {
                if n > 0 {
                    out.push((kind.as_str().to_string(), result.to_string(), n));
                }
            }
        }
        out
    }

    pub fn count(&mut self, kind: Kind, action: Action, n: u64) {
        let row = self.kinds.entry(kind).or_default();
        match action {
            Action::Create => row.created += n,
            Action::Update => row.updated += n,
            Action::Delete => row.deleted += n,
            Action::Unchanged => row.unchanged += n,
            Action::Refused => row.refused += n,
            Action::Skipped => row.skipped += n,
            Action::Failed => row.failed += n,
        }
    }

    /// Adds another part of the same run.
    pub fn merge(&mut self, other: Summary) {
        for (kind, r) in other.kinds {
            for (action, n) in [
                (Action::Create, r.created),
                (Action::Update, r.updated),
                (Action::Delete, r.deleted),
                (Action::Unchanged, r.unchanged),
                (Action::Refused, r.refused),
                (Action::Skipped, r.skipped),
                (Action::Failed, r.failed),
            ] {
                if n > 0 {
                    self.count(kind, action, n);
                }
            }
        }
        self.failures.extend(other.failures);
        self.failures
            .sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
        self.drifted += other.drifted;
        self.left_alone.extend(other.left_alone);
        self.skipped.extend(other.skipped);
        self.interrupted |= other.interrupted;
        self.not_copied.extend(other.not_copied);
    }

    pub fn fail(&mut self, c: &Change, reason: String) {
        self.failures.push(Failure {
            kind: c.kind,
            path: c.path.clone(),
            reason,
        });
    }

    /// An object deliberately not applied, with the reason.
    pub fn skip(&mut self, c: &Change) {
        self.skipped.push(Failure {
            kind: c.kind,
            path: c.path.clone(),
            reason: c.reason.clone().unwrap_or_default(),
        });
    }

    /// A drifted object left as the target has it.
    pub fn note_drift(&mut self, c: &Change) {
        self.left_alone.push(Failure {
            kind: c.kind,
            path: c.path.clone(),
            reason: c
                .reason
                .as_deref()
                .map(|r| r.strip_prefix("drift: ").unwrap_or(r).to_string())
                .unwrap_or_default(),
        });
    }

    /// Counts an applied object whose plan refused some of its parts (an entity's aliases) as
    /// refused too, and says why (exit code 3).
    pub fn refused_parts(&mut self, c: &Change) {
        let refused = c.ops.refused_parts();
        if !refused.is_empty() && matches!(c.action, Action::Create | Action::Update) {
            self.count(c.kind, Action::Refused, 1);
            self.fail(c, refused.join("; "));
        }
    }

    pub fn total(&self, f: impl Fn(&Row) -> u64) -> u64 {
        self.kinds.values().map(f).sum()
    }

    /// Whether some objects were refused or failed, or the run stopped early (exit code 3).
    pub fn is_partial(&self) -> bool {
        self.interrupted || self.total(|r| r.failed + r.refused) > 0
    }
}

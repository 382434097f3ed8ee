//! The words every layer shares and that depend on nothing else in the crate: what an import does
//! to an object (`Action`) and what a kind's diff decides (`Decision`).

use serde::Serialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    /// Prune: the importer brought this object here and it has left the source.
    Delete,
    #[default]
    Unchanged,
    /// The object cannot be applied to this target (for example a mount of another type).
    Refused,
    /// Deliberately not applied, by configuration (drift skip, userpass skip).
    Skipped,
    /// The target could not be read for this object.
    Failed,
}

/// What a kind decides for one object: the action, why (never a value), whether the target
/// drifted from what the importer last wrote, and the kind's own facts for the apply step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision<O> {
    pub action: Action,
    pub reason: Option<String>,
    /// The target changed since the importer wrote it (set by the planner, from its records).
    pub drift: bool,
    pub ops: O,
}

impl<O: Default> Decision<O> {
    /// A decision with nothing for the apply step beyond the object.
    pub fn new(action: Action, reason: Option<String>) -> Self {
        Decision {
            action,
            reason,
            drift: false,
            ops: O::default(),
        }
    }

    /// A decision from the `(action, reason)` pair most diffs return.
    pub fn from_pair((action, reason): (Action, Option<String>)) -> Self {
        Decision::new(action, reason)
    }
}

impl<O> Decision<O> {
    pub fn with_ops(action: Action, reason: Option<String>, ops: O) -> Self {
        Decision {
            action,
            reason,
            drift: false,
            ops,
        }
    }

    /// The same decision with its ops turned into another type (the registry's `Ops`).
    pub fn map<P>(self, f: impl FnOnce(O) -> P) -> Decision<P> {
        Decision {
            action: self.action,
            reason: self.reason,
            drift: self.drift,
            ops: f(self.ops),
        }
    }
}

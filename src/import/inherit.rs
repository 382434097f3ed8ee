//! What an object takes over from its parent instead of being planned or applied on its own, in
//! one map of parent outcomes (`Parents`) that the planner and the executor both fill: everything
//! inside a new namespace or mount is new; inside a refused one, or one the importer could not
//! create (when planned, or since, when applied), nothing is applied (never in the root namespace
//! instead); and the importer's own state mount is never written from a snapshot.

use std::collections::HashMap;
use std::sync::Mutex;

use super::plan::Change;
use crate::model::{Action, Decision};
use crate::objects::{Object, Ops, Parent, Target};
use crate::vault::Table;

/// A parent's outcome as its children see it: planned (new, refused, ...) or failed.
type Outcome = (Action, Option<String>);

/// The outcome of every object that holds others, for the whole run.
#[derive(Default)]
pub(super) struct Parents(Mutex<HashMap<Parent, Outcome>>);

impl Parents {
    fn get(&self, p: &Parent) -> Option<Outcome> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(p)
            .cloned()
    }

    fn set(&self, p: Parent, outcome: Outcome) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(p, outcome);
    }

    /// Notes what a parent was planned to be.
    pub fn planned(&self, p: Parent, change: &Change) {
        self.set(p, (change.action, change.reason.clone()));
    }

    /// Notes the outcome of an applied change: a parent whose create failed holds nothing.
    pub fn applied(&self, change: &Change, result: &Result<(), String>) {
        if let (Action::Create, Err(why), Some(obj)) = (change.action, result, &change.object)
            && let Some(p) = obj.as_parent()
        {
            self.set(p, (Action::Failed, Some(why.clone())));
        }
    }

    /// The decision an object takes over from its parent (new, refused, failed) or from the
    /// state mount guard, when it is planned.
    pub fn inherited(
        &self,
        target: &Target,
        obj: &Object,
        state_mount: &str,
    ) -> Option<Decision<Ops>> {
        if in_state_mount(obj, state_mount) {
            let why = "the importer's own state mount is never written from a snapshot";
            return Some(Decision::new(Action::Refused, Some(why.into())));
        }
        let parent = obj.parent()?;
        match self.get(&parent)? {
            (Action::Create, _) => Some(obj.under_new_parent(target)),
            (action, why) => Some(Decision::new(
                Action::Refused,
                Some(refusal(&parent, action, why)?),
            )),
        }
    }

    /// Refuses, in place, a change planned inside a parent refused or failed since (when a
    /// whole plan is applied after it was made); what it holds is then refused alike.
    pub fn refuse_inside(&self, change: &mut Change) -> bool {
        let Some(obj) = &change.object else {
            return false;
        };
        let Some(parent) = obj.parent() else {
            return false;
        };
        let Some(reason) = self
            .get(&parent)
            .and_then(|(a, why)| refusal(&parent, a, why))
        else {
            return false;
        };
        if let Some(p) = obj.as_parent() {
            self.set(p, (Action::Refused, Some(reason.clone())));
        }
        change.action = Action::Refused;
        change.reason = Some(reason);
        true
    }
}

/// Why an object inside a parent with this outcome is refused; `None` when it is not.
fn refusal(parent: &Parent, action: Action, why: Option<String>) -> Option<String> {
    let why = why.unwrap_or_default();
    match action {
        Action::Refused => Some(format!("its parent is refused: {why}")),
        // A parent that could not be created, or whose state could not be read.
        Action::Failed => Some(not_created(parent, &why)),
        _ => None,
    }
}

/// Whether the object is the importer's own state mount (a top-level mount at its path), or a
/// secret inside it.
fn in_state_mount(obj: &Object, state_mount: &str) -> bool {
    match (obj.as_parent(), obj.parent()) {
        (Some(Parent::Mount(ns, _, path)), _) => ns.is_empty() && path == state_mount,
        (None, Some(Parent::Mount(ns, Table::Secret, path))) => {
            ns.is_empty() && path == state_mount
        }
        _ => false,
    }
}

/// Why an object is not applied when its parent could not be created.
fn not_created(parent: &Parent, why: &str) -> String {
    let parent = match parent {
        Parent::Namespace(ns) => format!("namespace {ns}"),
        Parent::Mount(ns, Table::Auth, path) => format!("auth method {ns}auth/{path}"),
        Parent::Mount(ns, Table::Secret, path) => format!("mount {ns}{path}"),
    };
    format!("not applied: its {parent} was not created: {why}")
}

//! What an object takes over from its parent instead of being planned on its own: everything
//! inside a new namespace or mount is new; inside a refused one, or one the importer could not
//! create, nothing is applied (never in the root namespace instead); and the importer's own state
//! mount is never written from a snapshot.

use std::collections::HashMap;

use crate::model::{Action, Decision};
use crate::objects::{Object, Ops, Parent, Target};
use crate::vault::Table;

/// A parent's decision as its children see it.
pub(super) type ParentDecision = (Action, Option<String>);

/// A decision an object takes over from its parent (new, refused) or from the state mount guard.
pub(super) fn inherited(
    target: &Target,
    obj: &Object,
    decisions: &HashMap<Parent, ParentDecision>,
    state_mount: &str,
) -> Option<Decision<Ops>> {
    let own_state = match obj {
        Object::Mount(m) => m.namespace.is_empty() && m.path == state_mount,
        Object::KvSecret(s) => s.namespace.is_empty() && s.mount == state_mount,
        _ => false,
    };
    if own_state {
        let why = "the importer's own state mount is never written from a snapshot";
        return Some(Decision::new(Action::Refused, Some(why.into())));
    }
    match obj.parent().and_then(|p| decisions.get(&p)).cloned() {
        Some((Action::Create, _)) => Some(obj.under_new_parent(target)),
        Some((Action::Refused, why)) => Some(Decision::new(
            Action::Refused,
            Some(format!(
                "its parent is refused: {}",
                why.unwrap_or_default()
            )),
        )),
        // A parent that could not be created, or whose state could not be read.
        Some((Action::Failed, why)) => {
            let parent = obj.parent()?;
            let reason = not_created(&parent, &why.unwrap_or_default());
            Some(Decision::new(Action::Refused, Some(reason)))
        }
        _ => None,
    }
}

/// Why an object is not applied when its parent could not be created.
pub(super) fn not_created(parent: &Parent, why: &str) -> String {
    let parent = match parent {
        Parent::Namespace(ns) => format!("namespace {ns}"),
        Parent::Mount(ns, Table::Auth, path) => format!("auth method {ns}auth/{path}"),
        Parent::Mount(ns, Table::Secret, path) => format!("mount {ns}{path}"),
    };
    format!("not applied: its {parent} was not created: {why}")
}

//! What an import pass takes of each object it reads: a selective restore's choice, where `--map`
//! puts it (before it is planned), and another source's claim on it. Its change keeps the
//! snapshot entry's name (its identity in the importer's records, whatever the target path) and
//! shows where it came from and what was rewritten in it.

use std::collections::HashSet;

use super::plan::Change;
use super::restore::Admitted;
use crate::error::{Error, Result};
use crate::map::{PathMap, Relocated};
use crate::model::Action;
use crate::objects::{Kind, Object, Parent};
use crate::state::{Claim, Claimed};

/// What a change of a placed object carries back from the map.
#[derive(Default)]
pub(super) struct Note {
    /// The snapshot entry, when the map is on.
    entry: Option<String>,
    /// The path the snapshot has it at, when a rule moved it.
    from: Option<String>,
    told: Vec<String>,
}

/// Where the map puts one object. (Returned once per object and taken apart at once: boxing the
/// object would cost an allocation per object for nothing.)
#[allow(clippy::large_enum_variant)]
pub(super) enum Mapped {
    Placed(Object, Note),
    /// `--map-only` leaves it out.
    Out,
    /// It cannot be put there: the refusal.
    Refused(Change),
}

/// Puts `object`, read from the snapshot entry `entry`, where `map` says.
pub(super) fn place(map: &PathMap, object: Object, entry: &str) -> Mapped {
    if map.is_empty() {
        return Mapped::Placed(object, Note::default());
    }
    let shown = crate::select::shown(&object);
    let entry = entry.to_string();
    match map.relocate(object) {
        Relocated::Kept { object, told } => Mapped::Placed(
            object,
            Note {
                entry: Some(entry),
                from: None,
                told,
            },
        ),
        Relocated::Moved { object, told, .. } => Mapped::Placed(
            object,
            Note {
                entry: Some(entry),
                from: Some(shown),
                told,
            },
        ),
        Relocated::Out(_) => Mapped::Out,
        Relocated::Refused(object, why) => {
            tracing::warn!(kind = %object.kind(), path = %shown, reason = %why, "refused by --map");
            let mut change = Change::new(object, Action::Refused, Some(why));
            (change.path, change.entry) = (shown, entry);
            Mapped::Refused(change)
        }
    }
}

/// What decides whether a pass takes an object: a selective restore and the containers it needs,
/// the map, and what the other sources claimed.
pub(super) type Admission<'a> = (
    Option<(&'a super::restore::Restore, &'a HashSet<Parent>)>,
    &'a PathMap,
    &'a Claimed,
);

/// One object a pass takes, where the map puts it.
pub(super) struct Taken {
    pub object: Object,
    /// A copy elsewhere (`--to-prefix`, a restore's own `--map`): never recorded.
    pub copy: bool,
    /// Only a container a selective restore needs.
    pub container: bool,
    pub note: Note,
    /// Another source of the cluster brought this object here.
    pub theirs: Option<Claim>,
}

/// How a pass takes an object read from the snapshot entry `entry`: `None` when a selective
/// restore or `--map-only` leaves it out; the object where the map puts it; or the change that
/// skips or refuses it.
pub(super) fn admit(
    (restore, map, claimed): Admission<'_>,
    object: Object,
    entry: &str,
) -> Option<Result<Taken, Change>> {
    let (object, copy, container) = match restore {
        None => (object, false, false),
        Some((restore, needs)) => match restore.admit(object, needs) {
            Admitted::Out(_) => return None,
            Admitted::Selected { object, renamed } => (object, renamed, false),
            Admitted::Container(object) => (object, false, true),
            Admitted::Skipped(object, why) => {
                return Some(Err(Change::new(object, Action::Skipped, Some(why))));
            }
        },
    };
    match place(map, object, entry) {
        Mapped::Out => None,
        Mapped::Refused(change) => Some(Err(change)),
        Mapped::Placed(object, note) => Some(Ok(Taken {
            theirs: claimed.by(object.kind(), &object.path()),
            object,
            copy,
            container,
            note,
        })),
    }
}

/// Refuses, before anything is written, a map that puts things where another source of the
/// cluster created a namespace or mount (`claimed`): its TO is that source's.
pub(super) fn check_targets(
    map: &PathMap,
    claimed: &Claimed,
    (key, ours): (&str, &str),
) -> Result<()> {
    for (from, to) in map.rules() {
        let theirs = [Kind::Mount, Kind::Namespace]
            .into_iter()
            .filter_map(|kind| claimed.by(kind, to))
            .find(|c| c.created);
        if let Some(theirs) = theirs {
            return Err(Error::refused(
                key,
                format!(
                    "--map puts {from} at {to}, which the imports from the source `{}` created; \
                     `{ours}` must not write into it: map it elsewhere. Nothing was written",
                    theirs.source
                ),
            ));
        }
    }
    Ok(())
}

/// `change`, or its refusal when another source of the cluster brought its object there
/// (`theirs`, from `Claimed::by`): two sources never write one object, whichever imported first.
/// A namespace or mount another source created is refused whatever the plan (what it holds is
/// that source's); anything else only when it would be written (what both sources have alike, a
/// namespace's `default` policy or a mount DR had before either, is left as it is).
pub(super) fn unclaimed(mut change: Change, theirs: Option<&Claim>, ours: &str) -> Change {
    let Some(Claim {
        source: theirs,
        created,
    }) = theirs
    else {
        return change;
    };
    let writes = matches!(change.action, Action::Create | Action::Update);
    if !(writes || *created && change.kind.is_container()) {
        return change;
    }
    let why = format!(
        "imported here from the source `{theirs}`, and `{ours}` has it too: two sources must not \
         write one object (put one elsewhere with --map)"
    );
    tracing::warn!(kind = %change.kind, path = %change.path, reason = %why, "refused");
    change.action = Action::Refused;
    change.reason = Some(why);
    change.object = None;
    change.ops = Default::default();
    change
}

impl Note {
    /// Names `change` by the snapshot entry and tells where it came from and what was rewritten.
    pub(super) fn mark(self, change: &mut Change) {
        if let Some(entry) = self.entry {
            change.entry = entry;
        }
        change.from = self.from;
        change.rewritten = self.told;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(kind_json: serde_json::Value, action: Action) -> Change {
        let object: Object = serde_json::from_value(kind_json).unwrap();
        Change::new(object, action, None)
    }

    #[test]
    fn another_sources_object_is_refused_only_where_it_would_be_touched() {
        let theirs = |created| Claim {
            source: "dc1".into(),
            created,
        };
        let policy = serde_json::json!({"kind": "policy", "name": "app", "policy": "x"});
        let mount = serde_json::json!({"kind": "mount", "table": "secret", "path": "kv/",
            "type": "kv"});
        // Written: refused, naming both sources.
        let c = unclaimed(
            change(policy.clone(), Action::Update),
            Some(&theirs(false)),
            "dc2",
        );
        assert_eq!(c.action, Action::Refused);
        let why = c.reason.unwrap();
        assert!(why.contains("source `dc1`, and `dc2` has it too"), "{why}");
        assert!(c.object.is_none());
        // Alike on both: left as it is.
        let c = unclaimed(
            change(policy, Action::Unchanged),
            Some(&theirs(true)),
            "dc2",
        );
        assert_eq!(c.action, Action::Unchanged);
        // A mount the other source created is its own, even unchanged; one it found is shared.
        let c = unclaimed(
            change(mount.clone(), Action::Unchanged),
            Some(&theirs(true)),
            "dc2",
        );
        assert_eq!(c.action, Action::Refused);
        let c = unclaimed(
            change(mount.clone(), Action::Unchanged),
            Some(&theirs(false)),
            "dc2",
        );
        assert_eq!(c.action, Action::Unchanged);
        let c = unclaimed(change(mount, Action::Create), None, "dc2");
        assert_eq!(c.action, Action::Create);
    }
}

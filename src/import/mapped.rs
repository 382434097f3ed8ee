//! `--map` in an import pass: each object of the snapshot is put where the map says before it is
//! planned; its change keeps the snapshot entry's name (its identity in the importer's records,
//! whatever the target path) and shows where it came from and what was rewritten in it.

use super::plan::Change;
use crate::error::{Error, Result};
use crate::map::{PathMap, Relocated};
use crate::model::Action;
use crate::objects::{Kind, Object};
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

/// Where the map puts one object.
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
    let entry = Some(entry.to_string());
    match map.relocate(object) {
        Relocated::Kept { object, told } => Mapped::Placed(
            object,
            Note {
                entry,
                from: None,
                told,
            },
        ),
        Relocated::Moved { object, told, .. } => Mapped::Placed(
            object,
            Note {
                entry,
                from: Some(shown),
                told,
            },
        ),
        Relocated::Out(_) => Mapped::Out,
        Relocated::Refused(object, why) => {
            tracing::warn!(kind = %object.kind(), path = %shown, reason = %why, "refused by --map");
            let mut change = Change::new(object, Action::Refused, Some(why));
            (change.path, change.entry) = (shown, entry.unwrap_or_default());
            Mapped::Refused(change)
        }
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
    if !writes && !(*created && change.kind.is_container()) {
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

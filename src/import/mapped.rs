//! `--map` in an import pass: each object of the snapshot is put where the map says before it is
//! planned; its change keeps the snapshot entry's name (its identity in the importer's records,
//! whatever the target path) and shows where it came from and what was rewritten in it.

use super::plan::Change;
use crate::map::{PathMap, Relocated};
use crate::model::Action;
use crate::objects::Object;

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

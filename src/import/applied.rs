//! The no-op shortcut. Between full checks an import trusts what the last import applied: an
//! entry whose name and digest match a settled record is settled without a read. When every
//! entry of the verified snapshot is such an entry, the planning pass plans only the namespaces
//! and mounts (which it always plans) and stops reading where they end, at the head of the
//! archive, instead of streaming every object a second time.

use std::collections::BTreeMap;

use crate::objects::{Kind, Stage};
use crate::snapshot::entries::Entries;
use crate::state::{RecordKey, Records, Seen};

/// Each entry of a snapshot as (hash of its name, first 8 bytes of the records' digest of it),
/// sorted: 16 bytes an entry, kept after the manifest's list is dropped.
#[derive(Debug, Default)]
pub struct Applied(Vec<(u64, u64)>);

fn key(name: u64, sha: &[u8; 16]) -> (u64, u64) {
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&sha[..8]);
    (name, u64::from_le_bytes(prefix))
}

impl Applied {
    /// The entries, digested as records made with `with` are (`RecordKey::short`).
    pub fn of(entries: &Entries, with: &RecordKey) -> Applied {
        let mut keys: Vec<(u64, u64)> = entries
            .iter()
            .map(|e| key(e.name, &with.short(&e.sha)))
            .collect();
        keys.sort_unstable();
        Applied(keys)
    }

    /// Whether the last import applied every entry, as it is in this snapshot, and left none
    /// unsettled. A hash collision can only make this false (and the import compare as usual)
    /// unless two different digests of the same name share their first 64 bits.
    pub fn all_in(&self, records: &Records) -> bool {
        if self.0.is_empty() || records.len() < self.0.len() {
            return false;
        }
        let settled = |(e, r): (u64, Seen)| (!r.unsettled).then(|| key(e, &r.sha));
        let Some(saved) = records.saved_in_order() else {
            let mut all: Vec<(u64, u64)> = records.seen().filter_map(settled).collect();
            all.sort_unstable();
            return self.0.iter().all(|k| all.binary_search(k).is_ok());
        };
        // Both in order: a merge.
        let mut saved = saved.filter_map(settled).peekable();
        self.0.iter().all(|k| {
            while saved.next_if(|s| s < k).is_some() {}
            saved.next_if_eq(k).is_some()
        })
    }
}

/// The kinds and counts a pass over namespaces and mounts alone leaves out: every other object
/// of the snapshot, found as the last import left it.
pub fn beyond_heads(counts: &BTreeMap<String, u64>) -> impl Iterator<Item = (Kind, u64)> + '_ {
    Kind::ALL
        .iter()
        .filter(|k| k.stage() != Stage::Containers)
        .filter_map(|k| Some((*k, *counts.get(k.as_str()).filter(|n| **n > 0)?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::manifest::EntryDigest;
    use crate::state::Record;

    fn entry(name: &str, sha: u8) -> EntryDigest {
        EntryDigest {
            name: name.into(),
            size: 1,
            sha256: [sha; 32],
        }
    }

    fn entries(list: &[EntryDigest]) -> Entries {
        list.iter().collect()
    }

    fn records(list: &[(&str, u8, bool)]) -> Records {
        let mut r = Records::new(RecordKey::Plain);
        for (name, sha, unsettled) in list {
            let mut rec = Record::new([*sha; 32], Kind::KvSecret, name, "", None);
            rec.unsettled = *unsettled;
            r.set(*name, rec);
        }
        r
    }

    /// The same records held, and as loaded once saved: both must answer alike.
    fn both(list: &[(&str, u8, bool)]) -> [Records; 2] {
        let held = records(list);
        let saved = held.as_saved();
        [held, saved]
    }

    fn all(snap: &Applied, records: &[Records; 2]) -> bool {
        let answers = records.each_ref().map(|r| snap.all_in(r));
        assert_eq!(
            answers[0], answers[1],
            "held and saved records answer alike"
        );
        answers[0]
    }

    #[test]
    fn only_a_snapshot_the_last_import_applied_whole_is_a_no_op() {
        let snap = Applied::of(&entries(&[entry("a", 1), entry("b", 2)]), &RecordKey::Plain);
        assert!(all(
            &snap,
            &both(&[("a", 1, false), ("b", 2, false), ("old", 3, false)])
        ));
        assert!(
            !all(&snap, &both(&[("a", 1, false), ("b", 9, false)])),
            "changed"
        );
        assert!(!all(&snap, &both(&[("a", 1, false)])), "new entry");
        assert!(
            !all(&snap, &both(&[("a", 1, false), ("b", 2, true)])),
            "unsettled"
        );
        assert!(!all(&Applied::default(), &both(&[])), "empty snapshot");
    }

    // #25 (7): records hold keyed digests; the snapshot's entries are digested alike to match.
    #[test]
    fn a_snapshot_matches_records_digested_with_the_same_key_only() {
        let list = [entry("a", 1), entry("b", 2)];
        let (k, other) = (RecordKey::keyed(&[1; 32]), RecordKey::keyed(&[2; 32]));
        let mut recs = Records::new(k.clone());
        for e in &list {
            let rec = Record::new(k.digest(&e.sha256), Kind::KvSecret, &e.name, "", None);
            recs.set(&*e.name, rec.made_with(k.id()));
        }
        let held = [recs.clone(), recs.as_saved()];
        assert!(all(&Applied::of(&entries(&list), &k), &held));
        assert!(!all(&Applied::of(&entries(&list), &other), &held));
        assert!(!all(
            &Applied::of(&entries(&list), &RecordKey::Plain),
            &held
        ));
    }
}

//! Prune: objects this importer brought to the target that have left the snapshot are deleted,
//! when `REPLICATOR_PRUNE=true` (mounts and namespaces only with `REPLICATOR_PRUNE_MOUNTS=true`).
//! Objects the importer never wrote are never touched, and `REPLICATOR_MAX_DELETE` refuses a plan
//! that would delete too much, so an empty or truncated source cannot wipe DR.

use crate::config::ImportOptions;
use crate::objects::{Detail, Kind};
use crate::plan::{Action, Change};
use crate::state::Records;

/// The deletions, decided before anything is written from the records and the snapshot's entry
/// names; `Err` with the reason when they exceed the guard.
pub fn plan_deletions(
    records: &Records,
    in_snapshot: impl Fn(&str) -> bool,
    opts: &ImportOptions,
) -> Result<Vec<Change>, String> {
    let mut changes = Vec::new();
    if !opts.prune {
        return Ok(changes);
    }
    for (entry, rec) in records.iter() {
        if in_snapshot(entry) {
            continue;
        }
        let Some(delete) = rec.delete() else { continue };
        if matches!(rec.kind, Kind::Mount | Kind::Namespace) && !opts.prune_mounts {
            continue;
        }
        changes.push(Change {
            kind: rec.kind,
            path: rec.path().to_string(),
            action: Action::Delete,
            reason: Some("gone from the snapshot".into()),
            entry: entry.to_string(),
            object: None,
            detail: Detail::Delete(rec.ns().to_string(), delete.to_string()),
        });
    }
    let (n, owned) = (changes.len(), records.len() as u64);
    let limit = opts.max_delete.limit(owned);
    if n as u64 > limit {
        return Err(format!(
            "the plan deletes {n} objects, over REPLICATOR_MAX_DELETE={} ({limit} of the {owned} \
             objects this importer brought here); nothing was written. Check the source, or raise \
             the limit for one run",
            opts.max_delete
        ));
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{MaxDelete, OnDrift};
    use crate::objects::auth::NewUserPassword;
    use crate::state::Record;

    fn opts(prune: bool, prune_mounts: bool, max: MaxDelete) -> ImportOptions {
        ImportOptions {
            prune,
            prune_mounts,
            max_delete: max,
            on_drift: OnDrift::Overwrite,
            state_mount: "vault-replicator/".into(),
            lease_wait: std::time::Duration::ZERO,
            lease_ttl: std::time::Duration::from_secs(300),
            userpass: NewUserPassword::Random,
            full_check_every: 6,
            full_check: false,
        }
    }

    fn records(entries: &[(&str, Kind)]) -> Records {
        entries
            .iter()
            .map(|(e, k)| {
                let rec = Record::new([0; 32], *k, e, "", Some(&format!("del/{e}")));
                (e.to_string(), rec)
            })
            .collect()
    }

    #[test]
    fn only_recorded_objects_missing_from_the_snapshot_are_deleted() {
        let owned = records(&[
            ("a", Kind::KvSecret),
            ("b", Kind::KvSecret),
            ("m", Kind::Mount),
        ]);
        let changes = plan_deletions(
            &owned,
            |e| e == "a",
            &opts(true, false, MaxDelete::Count(5)),
        )
        .unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].entry, "b");
        assert_eq!(changes[0].action, Action::Delete);
    }

    #[test]
    fn mounts_need_their_own_switch_and_prune_is_off_by_default() {
        let owned = records(&[("m", Kind::Mount)]);
        let all = MaxDelete::Percent(100);
        let gone = |_: &str| false;
        let n = |o| plan_deletions(&owned, gone, &o).map(|c| c.len());
        assert_eq!(n(opts(true, true, all)), Ok(1));
        assert_eq!(n(opts(true, false, all)), Ok(0));
        assert_eq!(n(opts(false, true, all)), Ok(0));
    }

    #[test]
    fn an_empty_source_is_refused_by_the_guard() {
        let owned = records(&[
            ("a", Kind::KvSecret),
            ("b", Kind::Policy),
            ("c", Kind::Entity),
        ]);
        let err = plan_deletions(
            &owned,
            |_| false,
            &opts(true, false, MaxDelete::Percent(10)),
        );
        assert!(err.unwrap_err().contains("deletes 3 objects"));
    }
}

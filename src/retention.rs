//! Snapshot retention: which snapshots to delete from the store. A rule picks restore points:
//! the newest `REPLICATOR_KEEP_LAST` snapshots, full or delta alike (an import can go to any of
//! them), and/or those within `REPLICATOR_KEEP_WITHIN` of the newest (measured, as restic does,
//! from the newest snapshot, so a DC that stopped exporting never ages its last snapshots away).
//! Chains are kept whole on top: a kept delta keeps what an import needs to reach it, the newest
//! full snapshot older than it and every delta between them (the exporter only extends a chain
//! on the store's newest full snapshot). `latest.json`'s snapshot and the chain it names are
//! never deleted. A deleted snapshot's sidecars (signature, exporter's index) go with it, and so
//! do sidecars an interrupted pass left without their snapshot (once they are an hour old).

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::config::Retention;
use crate::error::Result;
use crate::seal;
use crate::snapshot::catalog::{self, Pointer};
use crate::snapshot::index::index_key;
use crate::store::{ObjectInfo, Store};

/// The snapshots a retention pass keeps and those it deletes (or would, in a dry run).
#[derive(Debug, Default, Serialize)]
pub struct Selection {
    pub kept: Vec<String>,
    pub deleted: Vec<String>,
    /// The kept snapshots no rule picked, kept to keep a chain whole: what a kept delta needs,
    /// and `latest.json`'s chain.
    pub chained: Vec<String>,
    /// Signatures and indexes whose snapshot is gone, deleted with the pass.
    pub orphans: Vec<String>,
}

/// Whether `rule` keeps the `i`th newest snapshot, made at `at` (`newest` is the first's time).
fn picked(rule: Retention, i: usize, at: DateTime<Utc>, newest: DateTime<Utc>) -> bool {
    let by_count = rule.keep_last.is_some_and(|n| i < n);
    let by_age = rule.keep_within.is_some_and(|within| {
        newest
            .signed_duration_since(at)
            .to_std()
            .unwrap_or_default()
            <= within
    });
    !rule.is_set() || by_count || by_age
}

/// Splits `snapshots` (newest first) into kept and deleted keys. `latest` is `latest.json`: its
/// snapshot and its chain are kept. Walking from the newest, a kept delta keeps every older
/// snapshot up to and including the next full one.
pub fn select(
    snapshots: &[(DateTime<Utc>, String)],
    latest: Option<&Pointer>,
    rule: Retention,
) -> Selection {
    let mut out = Selection::default();
    let Some(newest) = snapshots.first().map(|s| s.0) else {
        return out;
    };
    let pinned: BTreeSet<&str> = latest
        .map(|p| p.chain.iter().chain([&p.key]).map(String::as_str).collect())
        .unwrap_or_default();
    let mut chain_needed = false;
    for (i, (at, key)) in snapshots.iter().enumerate() {
        let by_rule = picked(rule, i, *at, newest);
        let keep = by_rule || chain_needed || pinned.contains(key.as_str());
        match keep {
            true => out.kept.push(key.clone()),
            false => out.deleted.push(key.clone()),
        }
        if keep && !by_rule {
            out.chained.push(key.clone());
        }
        // A kept delta needs everything down to its full snapshot; a full one, nothing older.
        chain_needed = catalog::is_delta(key) && keep;
    }
    out
}

/// What travels with snapshot `key`: its signature and the exporter's index of it.
fn sidecars(key: &str) -> [String; 2] {
    [seal::signature_key(key), index_key(key)]
}

/// How old a sidecar without its snapshot must be before it is deleted: a store whose listing
/// lags its writes never costs a new snapshot its signature.
const ORPHAN_AGE: TimeDelta = TimeDelta::hours(1);

/// The sidecars in `objects` (one store listing) whose snapshot is not in it, last written over
/// `ORPHAN_AGE` before `now`. A snapshot is written before its sidecars and deleted before them,
/// so they are what a pass stopped midway left.
fn orphans(objects: &[ObjectInfo], now: DateTime<Utc>) -> Vec<String> {
    let present: BTreeSet<&str> = objects.iter().map(|o| o.key.as_str()).collect();
    objects
        .iter()
        .filter(|o| o.modified.is_some_and(|at| now - at > ORPHAN_AGE))
        .map(|o| &o.key)
        .filter(|k| {
            let owner = k.rsplit_once('.').map(|(owner, _)| owner);
            owner.is_some_and(|o| {
                catalog::parse_snapshot_key(o).is_some()
                    && sidecars(o).contains(k)
                    && !present.contains(o)
            })
        })
        .cloned()
        .collect()
}

/// Applies `rule` to the store (or only reports, with `dry_run`). Each deleted snapshot's
/// sidecars go with it, and so do sidecars long left without their snapshot.
pub async fn apply(store: &dyn Store, rule: Retention, dry_run: bool) -> Result<Selection> {
    let latest = catalog::read_pointer(store).await?;
    let snapshots: Vec<(DateTime<Utc>, String)> = catalog::list_snapshots(store)
        .await?
        .into_iter()
        .map(|(at, o)| (at, o.key))
        .collect();
    let mut selection = select(&snapshots, latest.as_ref(), rule);
    selection.orphans = orphans(&store.list().await?, Utc::now());
    if !dry_run {
        for key in &selection.deleted {
            store.delete(key).await?;
            for sidecar in sidecars(key) {
                store.delete(&sidecar).await?;
            }
            tracing::info!(snapshot = %key, "snapshot deleted by retention");
        }
        for key in &selection.orphans {
            store.delete(key).await?;
            tracing::info!(object = %key, "deleted by retention: its snapshot is gone");
        }
    }
    Ok(selection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::catalog::write_pointer;
    use crate::store::{MemoryStore, ReadStore};
    use chrono::TimeZone;
    use std::time::Duration;

    fn hourly(n: u32) -> Vec<(DateTime<Utc>, String)> {
        (0..n)
            .rev()
            .map(|h| {
                let at = Utc.with_ymd_and_hms(2026, 11, 20, h, 0, 0).unwrap();
                (at, catalog::snapshot_key(at, true))
            })
            .collect()
    }

    /// Two chains, newest first: a full snapshot at 00:00 and 01:00, each with deltas at :05 and
    /// :10.
    fn two_chains() -> Vec<(DateTime<Utc>, String)> {
        let mut snaps = Vec::new();
        for h in 0..2 {
            for m in [0, 5, 10] {
                let at = Utc.with_ymd_and_hms(2026, 11, 20, h, m, 0).unwrap();
                snaps.push(match m {
                    0 => (at, catalog::snapshot_key(at, true)),
                    _ => (at, catalog::delta_key(at, true)),
                });
            }
        }
        snaps.reverse();
        snaps
    }

    fn pointer(at: DateTime<Utc>, key: &str, chain: &[String]) -> Pointer {
        Pointer {
            key: key.to_string(),
            sha256: "0".repeat(64),
            size: 1,
            created_at: at,
            chain: chain.to_vec(),
        }
    }

    fn keep_last(n: usize) -> Retention {
        Retention {
            keep_last: Some(n),
            keep_within: None,
        }
    }

    fn keys(snaps: &[(DateTime<Utc>, String)]) -> Vec<String> {
        snaps.iter().map(|s| s.1.clone()).collect()
    }

    #[test]
    fn no_rule_keeps_everything() {
        let p = select(&hourly(5), None, Retention::default());
        assert_eq!((p.kept.len(), p.deleted.len()), (5, 0));
    }

    #[test]
    fn keep_last_keeps_the_newest_and_never_latest() {
        let snaps = hourly(6);
        let (at, oldest) = snaps[5].clone();
        let latest = pointer(at, &oldest, &[]);
        let p = select(&snaps, Some(&latest), keep_last(2));
        assert_eq!(p.kept, vec![snaps[0].1.clone(), snaps[1].1.clone(), oldest]);
        assert_eq!(p.deleted.len(), 3);
    }

    #[test]
    fn keep_within_counts_from_the_newest_and_unions_with_keep_last() {
        let snaps = hourly(10);
        let rule = Retention {
            keep_last: None,
            keep_within: Some(Duration::from_secs(3 * 3600)),
        };
        assert_eq!(select(&snaps, None, rule).kept.len(), 4);
        let both = Retention {
            keep_last: Some(6),
            ..rule
        };
        assert_eq!(select(&snaps, None, both).kept.len(), 6);
    }

    /// A delta is useless without its full snapshot and the deltas before it: keeping the newest
    /// one keeps its whole chain, and only the older chain goes.
    #[test]
    fn a_kept_delta_keeps_its_full_and_the_deltas_between() {
        let snaps = keys(&two_chains());
        let p = select(&two_chains(), None, keep_last(1));
        assert_eq!(p.kept, snaps[..3]);
        assert_eq!(p.chained, snaps[1..3]);
        assert_eq!(p.deleted, snaps[3..]);
        // Four restore points reach into the older chain: all of it stays.
        let p = select(&two_chains(), None, keep_last(4));
        assert_eq!((p.kept.len(), p.chained), (6, snaps[4..].to_vec()));
    }

    #[test]
    fn a_full_snapshot_whose_deltas_all_expired_goes() {
        // The older chain's deltas are past the rule, and the newer chain needs no older full.
        let snaps = two_chains();
        let rule = Retention {
            keep_last: None,
            keep_within: Some(Duration::from_secs(10 * 60)),
        };
        let p = select(&snaps, None, rule);
        assert_eq!(p.kept, keys(&snaps[..3]));
        assert!(p.deleted.contains(&snaps[5].1), "{p:?}");
        // A full snapshot with no delta after it keeps nothing older.
        let p = select(&snaps[2..], None, keep_last(1));
        assert_eq!((p.kept, p.deleted), (keys(&snaps[2..3]), keys(&snaps[3..])));
    }

    #[test]
    fn latest_and_the_chain_it_names_stay() {
        let snaps = two_chains();
        // latest.json still names the older chain's last delta (the newer chain never got it).
        let chain = [snaps[5].1.clone(), snaps[4].1.clone(), snaps[3].1.clone()];
        let latest = pointer(snaps[3].0, &snaps[3].1, &chain);
        let p = select(&snaps, Some(&latest), keep_last(1));
        assert_eq!((p.kept.len(), p.deleted.len()), (6, 0));
        // An older pointer names no chain: its snapshot still stays, and the chain to it.
        let latest = pointer(snaps[4].0, &snaps[4].1, &[]);
        let p = select(&snaps, Some(&latest), keep_last(1));
        assert_eq!(p.deleted, vec![snaps[3].1.clone()]);
    }

    #[tokio::test]
    async fn a_deleted_snapshot_takes_its_sidecars_and_latest_stays() {
        let store = MemoryStore::new();
        let snaps = two_chains();
        for (_, key) in &snaps {
            store.put(key, vec![0]).await.unwrap();
            for sidecar in sidecars(key) {
                store.put(&sidecar, vec![1]).await.unwrap();
            }
        }
        // Sidecars without their snapshot, written just now: a listing may lag, they stay.
        let gone =
            catalog::snapshot_key(Utc.with_ymd_and_hms(2026, 11, 19, 0, 0, 0).unwrap(), true);
        let fresh = sidecars(&gone);
        for sidecar in &fresh {
            store.put(sidecar, vec![1]).await.unwrap();
        }
        let chain = keys(&snaps[..3]);
        let latest = pointer(
            snaps[0].0,
            &snaps[0].1,
            &chain.iter().rev().cloned().collect::<Vec<_>>(),
        );
        write_pointer(&store, &latest).await.unwrap();
        let dry = apply(&store, keep_last(1), true).await.unwrap();
        assert_eq!(dry.deleted, keys(&snaps[3..]));
        assert!(dry.orphans.is_empty(), "{dry:?}");
        assert_eq!(store.keys().unwrap().len(), 21, "a dry run deletes nothing");
        let done = apply(&store, keep_last(1), false).await.unwrap();
        assert_eq!(done.deleted, dry.deleted);
        let mut left: Vec<String> = chain
            .iter()
            .flat_map(|k| [vec![k.clone()], sidecars(k).to_vec()].concat())
            .chain([catalog::LATEST.to_string()])
            .chain(fresh)
            .collect();
        left.sort();
        assert_eq!(store.keys().unwrap(), left);
        assert_eq!(catalog::list_snapshots(&store).await.unwrap().len(), 3);
        assert_eq!(store.list().await.unwrap().len(), 12);
    }

    #[test]
    fn sidecars_long_left_without_their_snapshot_go() {
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
        let snaps = keys(&two_chains());
        let (kept, gone, recent) = (&snaps[0], &snaps[1], &snaps[2]);
        let object = |key: &str, age: i64| ObjectInfo {
            key: key.to_string(),
            size: 1,
            modified: Some(now - TimeDelta::minutes(age)),
        };
        let mut listing = vec![object(kept, 120), object(catalog::LATEST, 120)];
        for (key, age) in [(kept, 120), (gone, 120), (recent, 30)] {
            listing.extend(sidecars(key).iter().map(|k| object(k, age)));
        }
        listing.push(object(&format!("{gone}.other"), 120));
        assert_eq!(orphans(&listing, now), sidecars(gone));
    }
}

//! Snapshot retention: which timestamped snapshots to delete from the store, beyond `REPLICATOR_KEEP_LAST` and/or older
//! than `REPLICATOR_KEEP_WITHIN` (measured, as restic does, from the newest snapshot, so a DC that
//! stopped exporting never ages its last snapshots away). Never the one `latest.json` names.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Retention;
use crate::error::Result;
use crate::seal;
use crate::snapshot::catalog;
use crate::store::Store;

/// The snapshots a retention pass keeps and those it deletes (or would, in a dry run).
#[derive(Debug, Default, Serialize)]
pub struct Selection {
    pub kept: Vec<String>,
    pub deleted: Vec<String>,
}

/// Splits `snapshots` (newest first) into kept and deleted keys.
pub fn select(
    snapshots: &[(DateTime<Utc>, String)],
    latest: Option<&str>,
    rule: Retention,
) -> Selection {
    let mut out = Selection::default();
    let newest = snapshots.first().map(|s| s.0);
    for (i, (at, key)) in snapshots.iter().enumerate() {
        let by_count = rule.keep_last.is_some_and(|n| i < n);
        let by_age = match (rule.keep_within, newest) {
            (Some(within), Some(newest)) => {
                newest
                    .signed_duration_since(*at)
                    .to_std()
                    .unwrap_or_default()
                    <= within
            }
            _ => false,
        };
        if !rule.is_set() || by_count || by_age || latest == Some(key.as_str()) {
            out.kept.push(key.clone());
        } else {
            out.deleted.push(key.clone());
        }
    }
    out
}

/// Applies `rule` to the store (or only reports, with `dry_run`). Each deleted snapshot's
/// signature goes with it.
pub async fn apply(store: &dyn Store, rule: Retention, dry_run: bool) -> Result<Selection> {
    let latest = catalog::read_pointer(store).await?.map(|p| p.key);
    let snapshots: Vec<(DateTime<Utc>, String)> = catalog::list_snapshots(store)
        .await?
        .into_iter()
        .map(|(at, o)| (at, o.key))
        .collect();
    let selection = select(&snapshots, latest.as_deref(), rule);
    if !dry_run {
        for key in &selection.deleted {
            store.delete(key).await?;
            store.delete(&seal::signature_key(key)).await?;
            tracing::info!(snapshot = %key, "snapshot deleted by retention");
        }
    }
    Ok(selection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::catalog::{Pointer, write_pointer};
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

    #[test]
    fn no_rule_keeps_everything() {
        let p = select(&hourly(5), None, Retention::default());
        assert_eq!((p.kept.len(), p.deleted.len()), (5, 0));
    }

    #[test]
    fn keep_last_keeps_the_newest_and_never_latest() {
        let snaps = hourly(6);
        let oldest = snaps[5].1.clone();
        let rule = Retention {
            keep_last: Some(2),
            keep_within: None,
        };
        let p = select(&snaps, Some(&oldest), rule);
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

    #[tokio::test]
    async fn a_deleted_snapshot_takes_its_signature_and_latest_stays() {
        let store = MemoryStore::new();
        let snaps = hourly(4);
        for (_, key) in &snaps {
            store.put(key, vec![0]).await.unwrap();
            store.put(&seal::signature_key(key), vec![1]).await.unwrap();
        }
        let (at, oldest) = snaps[3].clone();
        let pointer = Pointer {
            key: oldest.clone(),
            sha256: "0".repeat(64),
            size: 1,
            created_at: at,
            chain: Vec::new(),
        };
        write_pointer(&store, &pointer).await.unwrap();
        let rule = Retention {
            keep_last: Some(1),
            keep_within: None,
        };
        let dry = apply(&store, rule, true).await.unwrap();
        assert_eq!(dry.deleted, vec![snaps[1].1.clone(), snaps[2].1.clone()]);
        assert_eq!(store.keys().unwrap().len(), 9, "a dry run deletes nothing");
        let done = apply(&store, rule, false).await.unwrap();
        assert_eq!(done.deleted, dry.deleted);
        let mut left = vec![
            snaps[0].1.clone(),
            seal::signature_key(&snaps[0].1),
            oldest.clone(),
            seal::signature_key(&oldest),
            catalog::LATEST.to_string(),
        ];
        left.sort();
        assert_eq!(store.keys().unwrap(), left);
        assert_eq!(store.list().await.unwrap().len(), 5);
    }
}

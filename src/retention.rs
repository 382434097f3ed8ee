//! Retention: which timestamped snapshots to delete, beyond `REPLICATOR_KEEP_LAST` and/or older
//! than `REPLICATOR_KEEP_WITHIN` (measured, as restic does, from the newest snapshot, so a DC that
//! stopped exporting never ages its last snapshots away). Never the one `latest.json` names.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Retention;
use crate::error::Result;
use crate::seal;
use crate::snapshot::catalog;
use crate::store::Store;

#[derive(Debug, Default, Serialize)]
pub struct Pruned {
    pub kept: Vec<String>,
    pub deleted: Vec<String>,
}

/// Splits `snapshots` (newest first) into kept and deleted keys.
pub fn select(
    snapshots: &[(DateTime<Utc>, String)],
    latest: Option<&str>,
    rule: Retention,
) -> Pruned {
    let mut out = Pruned::default();
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
pub async fn prune(store: &dyn Store, rule: Retention, dry_run: bool) -> Result<Pruned> {
    let latest = catalog::read_pointer(store).await?.map(|p| p.key);
    let snapshots: Vec<(DateTime<Utc>, String)> = catalog::list_snapshots(store)
        .await?
        .into_iter()
        .map(|(at, o)| (at, o.key))
        .collect();
    let pruned = select(&snapshots, latest.as_deref(), rule);
    if !dry_run {
        for key in &pruned.deleted {
            store.delete(key).await?;
            store.delete(&seal::signature_key(key)).await?;
            tracing::info!(snapshot = %key, "snapshot deleted by retention");
        }
    }
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;
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
}

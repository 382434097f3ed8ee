//! `list` and `verify`: look at the store and its snapshots without touching any Vault.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::import;
use crate::snapshot::catalog;
use crate::store;

/// The snapshots, newest first, with size and age; `latest` is marked.
pub async fn list(settings: &Settings) -> Result<String> {
    let store = store::open(&settings.store_url()?).await?;
    let snaps = catalog::list_snapshots(store.as_ref()).await?;
    if snaps.is_empty() {
        return Err(Error::NotFound {
            location: store.location(),
            what: "snapshot".into(),
        });
    }
    let latest = catalog::read_pointer(store.as_ref())
        .await
        .ok()
        .flatten()
        .map(|p| p.key);
    let now = Utc::now();
    let mut out = format!("{:<26} {:>10} {:>8}  \n", "SNAPSHOT", "SIZE", "AGE");
    for (at, info) in &snaps {
        let mark = if latest.as_deref() == Some(info.key.as_str()) {
            "latest"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{:<26} {:>10} {:>8}  {mark}",
            info.key,
            human_bytes(info.size),
            human_age(now, *at)
        );
    }
    Ok(out.replace("  \n", "\n"))
}

/// Verifies one snapshot and describes it.
pub async fn verify(settings: &Settings, id: &str) -> Result<String> {
    let (fetched, m) = import::verify(settings, id).await?;
    let counts: Vec<String> = m.counts.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    let mut out = format!(
        "{} OK: format v{}, created {} by {} ({}), {} entries ({})\n",
        fetched.key,
        m.format_version,
        m.created_at.format("%Y-%m-%dT%H:%M:%SZ"),
        m.source.address,
        m.source
            .cluster_name
            .as_deref()
            .unwrap_or("unnamed cluster"),
        m.entries.len(),
        counts.join(", ")
    );
    for nc in &m.not_copied {
        let _ = writeln!(out, "not copied: {} {}: {}", nc.kind, nc.path, nc.reason);
    }
    Ok(out)
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

pub fn human_age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds().max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn sizes_and_ages_read_like_kubectl() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        let now = Utc::now();
        assert_eq!(human_age(now, now - TimeDelta::seconds(30)), "30s");
        assert_eq!(human_age(now, now - TimeDelta::minutes(90)), "90m");
        assert_eq!(human_age(now, now - TimeDelta::hours(30)), "30h");
        assert_eq!(human_age(now, now - TimeDelta::days(3)), "3d");
    }
}

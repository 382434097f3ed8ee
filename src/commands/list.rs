//! `list` and `verify`: what the store holds, and whether one snapshot would import. Neither
//! touches a Vault cluster; both only read the store.

use std::fmt::Write as _;

use chrono::Utc;

use super::{human_age, human_bytes};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::import;
use crate::seal;
use crate::snapshot::catalog;
use crate::store;

/// The snapshots, newest first, with size and age; `latest` is marked.
pub async fn list(settings: &Settings) -> Result<String> {
    let store = store::open_read(&settings.store_url()?).await?;
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
    let (snapshot, m) = import::verify(settings, id).await?;
    let counts: Vec<String> = m.counts.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    let signer = |s: &seal::Signed| match &s.claims.origin {
        Some(o) => format!(
            "signed by key {} for cluster {} under prefix `{}`",
            s.key_id,
            if o.source_name.is_empty() {
                &o.source_id
            } else {
                &o.source_name
            },
            o.prefix
        ),
        None => format!("signed by key {}", s.key_id),
    };
    let sealed = match (&snapshot.signed, seal::is_encrypted(&snapshot.key)) {
        (Some(s), true) => format!("{}, encrypted", signer(s)),
        (Some(s), false) => format!("{}, NOT encrypted", signer(s)),
        (None, true) => "NOT signed, encrypted".to_string(),
        (None, false) => "NOT signed, NOT encrypted".to_string(),
    };
    let mut out = format!(
        "{} OK: {sealed}; format v{}, created {} by {} ({}), {} entries ({})\n",
        snapshot.key,
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

//! `list` and `verify` look at the store without touching any Vault; `status`, `promote` and
//! `demote` look at (and fence) a target cluster.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::import;
use crate::snapshot::catalog;
use crate::state::{Fence, State};
use crate::store;
use crate::vault::Session;

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
    let (snapshot, m) = import::verify(settings, id).await?;
    let counts: Vec<String> = m.counts.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    let signer = |s: &crate::seal::Signed| match &s.claims.origin {
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
    let sealed = match (
        &snapshot.signed,
        snapshot.key.ends_with(crate::seal::AGE_EXT),
    ) {
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

/// Runs `work` against the importer's state on the cluster at VAULT_ADDR, logged in.
async fn with_state<T>(
    settings: &Settings,
    work: impl AsyncFnOnce(&State, &str) -> Result<T>,
) -> Result<T> {
    let vcfg = settings.vault()?;
    let opts = settings.import_options()?;
    Session::run(&vcfg, async |client| {
        let state = State::new(client.clone(), &opts.state_mount);
        work(&state, client.addr()).await
    })
    .await
}

/// What `status` found, and why the data is too old when it is (`REPLICATOR_MAX_AGE`).
pub struct Status {
    pub text: String,
    pub stale: Option<String>,
    /// A snapshot dated in the future (latest, or the last import): an import refuses it (exit 4).
    pub future: Option<Error>,
}

/// The refusal of a snapshot `key`, which `what` names, when it is dated in the future.
fn future(what: &str, key: &str, now: DateTime<Utc>) -> Option<Error> {
    let at = catalog::parse_snapshot_key(key)?;
    crate::seal::future_dated(at, now).then(|| {
        Error::refused(
            key,
            format!(
                "{what} is dated {}, in the future (this machine's clock says {}): an import \
                 refuses it; check the exporter's clock",
                at.format("%Y-%m-%dT%H:%M:%SZ"),
                now.format("%Y-%m-%dT%H:%M:%SZ")
            ),
        )
    })
}

/// The cluster's fence and last import (when VAULT_ADDR is set), the store's latest (when a store
/// is configured), and the RPO check: how old the newest data is against `REPLICATOR_MAX_AGE`.
pub async fn status(settings: &Settings) -> Result<Status> {
    let max_age = settings.max_age()?;
    let now = Utc::now();
    let mut out = String::new();
    // (what, when its data was exported)
    let mut ages: Vec<(&str, DateTime<Utc>)> = Vec::new();
    let mut future_dated = None;
    if settings.vault_addr_set() {
        let (text, imported) = with_state(settings, async |state, addr| {
            target_status(state, addr, now).await
        })
        .await?;
        out.push_str(&text);
        if let Some((key, at)) = imported {
            future_dated = future("the last import recorded here", &key, now);
            ages.push(("the data last imported here", at));
        }
    }
    let store_url = settings.store_url().ok();
    if let Some(url) = &store_url {
        let store = store::open(url).await?;
        match catalog::read_pointer(store.as_ref()).await? {
            Some(p) => {
                let _ = writeln!(
                    out,
                    "store latest: {} created {} ago ({})",
                    p.key,
                    human_age(now, p.created_at),
                    store.location()
                );
                ages.push(("the store's latest snapshot", p.created_at));
                future_dated = future_dated.or_else(|| future(LATEST_WHAT, &p.key, now));
            }
            None => {
                let _ = writeln!(out, "store latest: none at {}", store.location());
            }
        }
    }
    if !settings.vault_addr_set() && store_url.is_none() {
        return Err(crate::Error::config(
            "REPLICATOR_STORE",
            "status needs REPLICATOR_STORE, VAULT_ADDR, or both",
        ));
    }
    let stale = max_age.and_then(|max| {
        let limit = format!("REPLICATOR_MAX_AGE={}", human_age(now, now - max));
        if ages.is_empty() {
            return Some(format!("no snapshot and no import yet ({limit})"));
        }
        ages.iter()
            .find(|(_, at)| (now - *at).to_std().unwrap_or_default() > max)
            .map(|(what, at)| format!("{what} is {} old, over {limit}", human_age(now, *at)))
    });
    if let Some(e) = &future_dated {
        let _ = writeln!(out, "{e}");
    }
    Ok(Status {
        text: out,
        stale,
        future: future_dated,
    })
}

const LATEST_WHAT: &str = "the snapshot latest.json points at";

/// The fence and last import of the cluster at VAULT_ADDR, and when that import's snapshot was made.
async fn target_status(
    state: &State,
    addr: &str,
    now: DateTime<Utc>,
) -> Result<(String, Option<(String, DateTime<Utc>)>)> {
    let mut out = match state.fence().await? {
        Some(f) => format!(
            "{addr}: PROMOTED since {} by {} (imports are refused)\n",
            f.promoted_at.format("%Y-%m-%dT%H:%M:%SZ"),
            f.by
        ),
        None => format!("{addr}: not fenced (imports are accepted)\n"),
    };
    let mut imported = None;
    match state.meta().await? {
        Some(m) => {
            imported = catalog::parse_snapshot_key(&m.last_snapshot)
                .map(|at| (m.last_snapshot.clone(), at));
            let _ = writeln!(
                out,
                "last import: {} applied {} ago{}",
                m.last_snapshot,
                human_age(now, m.applied_at),
                if m.complete { "" } else { " (partial)" }
            );
        }
        None => out.push_str("last import: none\n"),
    }
    Ok((out, imported))
}

/// Fences the cluster, then waits up to `timeout` (default: the lease TTL and a minute) until
/// the import running into it, if any, has stopped or its lease has expired, and says which.
pub async fn promote(settings: &Settings, timeout: Option<&str>) -> Result<String> {
    let timeout = match timeout {
        Some(t) => crate::config::parse_duration("--timeout", t)?,
        None => settings.import_options()?.lease_ttl + std::time::Duration::from_secs(60),
    };
    with_state(settings, async |state, addr| {
        let fence = Fence {
            promoted_at: Utc::now(),
            by: crate::import::holder_id(),
        };
        state.set_fence(&fence).await?;
        tracing::warn!(target_addr = %addr, "cluster promoted: imports into it are now refused");
        let holder = import::wait_for_holder(state, addr, timeout).await?;
        Ok(format!(
            "{addr} is promoted: every import into it is refused until `vault-replicator demote`.\n{}",
            holder.describe(addr)
        ))
    })
    .await
}

pub async fn demote(settings: &Settings) -> Result<String> {
    with_state(settings, async |state, addr| {
        state.clear_fence().await?;
        tracing::warn!(target_addr = %addr, "cluster demoted: imports into it are accepted again");
        Ok(format!(
            "{addr} is demoted: imports into it are accepted again.\n"
        ))
    })
    .await
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

/// `prune`: applies the retention rules to the store on demand.
pub async fn prune(settings: &Settings, dry_run: bool) -> Result<String> {
    let rule = settings.retention()?;
    if !rule.is_set() {
        return Err(crate::Error::config(
            "REPLICATOR_KEEP_LAST",
            "neither REPLICATOR_KEEP_LAST nor REPLICATOR_KEEP_WITHIN is set: nothing to prune by",
        ));
    }
    let store = store::open(&settings.store_url()?).await?;
    let pruned = crate::retention::prune(store.as_ref(), rule, dry_run).await?;
    let verb = if dry_run { "would delete" } else { "deleted" };
    let mut out = String::new();
    for key in &pruned.deleted {
        let _ = writeln!(out, "{verb} {key}");
    }
    let _ = writeln!(
        out,
        "{} snapshots kept, {} {verb}{}",
        pruned.kept.len(),
        pruned.deleted.len(),
        if dry_run {
            " (dry run: nothing was deleted)"
        } else {
            ""
        }
    );
    Ok(out)
}

/// `keygen`: writes the key files and says which half goes where.
pub fn keygen(dir: &std::path::Path, force: bool) -> Result<String> {
    let g = crate::seal::keygen(dir, force)?;
    let file = |name: &str| dir.join(name).display().to_string();
    Ok(format!(
        "Public halves (safe to share):\n\
         \x20 age recipient  {recipient}\n\
         \x20 verify key     {verify} (key ID {id})\n\
         \n\
         Exporter (DC): REPLICATOR_AGE_RECIPIENTS={recipient}\n\
         \x20              REPLICATOR_SIGNING_KEY_FILE={sk}   (secret)\n\
         Importer (DR): REPLICATOR_AGE_IDENTITY_FILE={ik}   (secret)\n\
         \x20              REPLICATOR_VERIFY_KEY={verify}\n\
         \n\
         Wrote {ik}, {rk}, {sk} and {vk} (mode 0600). Keep age.key on DR only: the DC cannot \
         decrypt snapshots without it.\n",
        recipient = g.recipient,
        verify = g.verify_key,
        id = g.verify_key_id,
        ik = file(crate::seal::IDENTITY_FILE),
        rk = file(crate::seal::RECIPIENT_FILE),
        sk = file(crate::seal::SIGNING_FILE),
        vk = file(crate::seal::VERIFY_FILE),
    ))
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

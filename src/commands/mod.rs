//! The commands besides `export` and `import`, one module each, returning the text it prints or
//! (`list`, `verify`, `diff`, `status`) a value `render` prints as text or JSON: `list` and
//! `verify` (the store, read only; `contents` describes what a snapshot holds), `diff` (two
//! snapshots, or one and the live cluster, compared by `fingerprint`), `status` (the target's
//! fence and last import, the store's latest, the RPO check), `promote` and `demote` (the
//! fence), `prune` (snapshot retention, on demand) and `keygen`. Also the sizes and ages they
//! print.

mod contents;
mod diff;
mod fence;
mod fingerprint;
mod keygen;
mod list;
mod retention;
mod status;

use chrono::{DateTime, Utc};

use crate::config::StateConfig;
use crate::error::Result;
use crate::state::ImporterState;
use crate::vault::Session;

pub use contents::{Content, KvContent, VersionInfo};
pub use diff::{CLUSTER, Changed, Diff, DiffRequest, Item, diff};
pub use fence::{demote, promote};
pub use keygen::keygen;
pub use list::{Check, Listed, Listing, Signature, SnapshotKind, Verified, list, verify};
pub use retention::retention;
pub use status::{Latest, Status, StoreLatest, Target, status};

/// Runs `work` against the importer's state on the cluster at VAULT_ADDR, logged in.
async fn with_state<T>(
    config: &StateConfig,
    work: impl AsyncFnOnce(&ImporterState, &str) -> Result<T>,
) -> Result<T> {
    Session::run(&config.vault, async |client| {
        let state = ImporterState::new(client.clone(), &config.state_mount);
        work(&state, client.addr()).await
    })
    .await
}

/// A size as `list` prints it: bytes up to 1 KiB, then one decimal in binary units.
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

/// An age as `kubectl` prints one: seconds, minutes, hours or days.
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

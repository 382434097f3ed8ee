//! `promote` and `demote`: set and clear the fence on the target cluster, or on the imports from
//! one of its sources (`--source`). While it is fenced, every import it covers is refused;
//! promoting also waits for the imports already running that it covers.

use chrono::Utc;

use super::with_state;
use crate::config::{PromoteConfig, StateConfig};
use crate::error::Result;
use crate::import;
use crate::state::{Fence, ImporterState};

/// Fences the cluster (or the imports from `source` alone), then waits up to the configured
/// timeout (default: the lease TTL and a minute) until each import running into it that the fence
/// covers has stopped or its lease has expired, and says which.
pub async fn promote(config: &PromoteConfig, source: Option<&str>) -> Result<String> {
    let timeout = config.timeout;
    let source = source.map(crate::store::source_of);
    with_state(&config.state, async |state, addr| {
        let fence = Fence {
            promoted_at: Utc::now(),
            by: import::holder_id(),
        };
        let (what, until) = match &source {
            Some(s) => {
                state.set_source_fence(s, &fence).await?;
                (format!("the imports from {s} into {addr} are"), format!("demote --source {s}"))
            }
            None => {
                state.set_fence(&fence).await?;
                (format!("{addr} is promoted: every import into it is"), "demote".to_string())
            }
        };
        tracing::warn!(target_addr = %addr, source = ?source, "promoted: the imports it covers are now refused");
        let started = std::time::Instant::now();
        let mut out = format!("{what} refused until `vault-replicator {until}`.\n");
        let covered = covered(state, source.as_deref()).await?;
        let many = covered.len() > 1;
        for (name, held) in covered {
            let left = timeout.saturating_sub(started.elapsed());
            let holder = import::wait_for_holder(&held, addr, left).await?;
            if let Some(name) = name.filter(|_| many) {
                out.push_str(&format!("{name}: "));
            }
            out.push_str(&holder.describe(addr));
        }
        Ok(out)
    })
    .await
}

/// The sources whose running imports a fence covers: `source`, or every one (the first's state,
/// the top of the mount, even before any import).
async fn covered(
    state: &ImporterState,
    source: Option<&str>,
) -> Result<Vec<(Option<String>, ImporterState)>> {
    let mut all = state.sources().await?;
    if let Some(s) = source {
        all.retain(|(name, _)| name.as_deref() == Some(s));
    }
    if all.is_empty() && source.is_none() {
        all.push((None, state.clone()));
    }
    Ok(all)
}

/// Clears the fence (or the fence of `source` alone): the imports it covered are accepted again.
pub async fn demote(config: &StateConfig, source: Option<&str>) -> Result<String> {
    let source = source.map(crate::store::source_of);
    with_state(config, async |state, addr| {
        let what = match &source {
            Some(s) => {
                state.clear_source_fence(s).await?;
                format!("the imports from {s} into {addr} are")
            }
            None => {
                state.clear_fence().await?;
                format!("{addr} is demoted: imports into it are")
            }
        };
        tracing::warn!(target_addr = %addr, source = ?source, "demoted: the imports it covered are accepted again");
        Ok(format!("{what} accepted again.\n"))
    })
    .await
}

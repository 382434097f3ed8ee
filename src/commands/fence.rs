//! `promote` and `demote`: set and clear the fence on the target cluster. While it is fenced,
//! every import into it is refused; promoting also waits for an import already running into it.

use chrono::Utc;

use super::with_state;
use crate::config::{PromoteConfig, StateConfig};
use crate::error::Result;
use crate::import;
use crate::state::Fence;

/// Fences the cluster, then waits up to the configured timeout (default: the lease TTL and a
/// minute) until the import running into it, if any, has stopped or its lease has expired, and
/// says which.
pub async fn promote(config: &PromoteConfig) -> Result<String> {
    let timeout = config.timeout;
    with_state(&config.state, async |state, addr| {
        let fence = Fence {
            promoted_at: Utc::now(),
            by: import::holder_id(),
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

/// Clears the fence: imports into the cluster are accepted again.
pub async fn demote(config: &StateConfig) -> Result<String> {
    with_state(config, async |state, addr| {
        state.clear_fence().await?;
        tracing::warn!(target_addr = %addr, "cluster demoted: imports into it are accepted again");
        Ok(format!(
            "{addr} is demoted: imports into it are accepted again.\n"
        ))
    })
    .await
}

//! How hard the client tries one Vault request: `BAO_MAX_RETRIES` or `VAULT_MAX_RETRIES`, as
//! the `vault` CLI reads it, and `REPLICATOR_RETRY_MAX_WAIT`, the waiting all retries may add up to.

use super::options::duration;
use super::{Settings, set};
use crate::error::{Error, Result};
use crate::vault::RetryPolicy;

impl Settings {
    /// Retries of one request: `VAULT_MAX_RETRIES` (default 5, 0 for none) within
    /// `REPLICATOR_RETRY_MAX_WAIT` of waiting (default 30s).
    pub(super) fn retry_policy(&self) -> Result<RetryPolicy> {
        let mut policy = RetryPolicy::default();
        if let Some(v) = self.vault_var(|v| &v.max_retries) {
            let n = v.parse::<usize>().ok().filter(|n| *n <= 1000);
            policy.max_retries = n.ok_or_else(|| {
                Error::config(
                    self.vault_var_name(|v| &v.max_retries, "VAULT_MAX_RETRIES"),
                    format!("expected a count from 0 to 1000, got `{v}`"),
                )
            })?;
        }
        if let Some(v) = set(&self.replicator.retry_max_wait) {
            policy.max_wait = duration("REPLICATOR_RETRY_MAX_WAIT", Some(v))?;
        }
        Ok(policy)
    }
}

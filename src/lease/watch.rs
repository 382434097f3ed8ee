//! Both sides of a promotion. The running import's watcher reads the fence and the lease every
//! second (renewing the lease every TTL/3) and stops the run when the cluster is promoted or the
//! lease was taken from it; `promote`, once the fence is up, waits until the lease holder has
//! stopped or its lease has expired, and says which.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::shared::{Shared, Stop, is_cas_mismatch};
use crate::error::{Error, Result, one_line};
use crate::state::ImporterState;

/// How often a running import reads the fence (and the lease), at most.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// How often `promote` looks at the lease while it waits.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// The watcher's period for a lease of `ttl`.
pub(super) fn tick(ttl: Duration) -> Duration {
    WATCH_EVERY.min(ttl / 3)
}

/// Watches the fence and the lease until `stop`; renews the lease every TTL/3. Each tick that
/// finds the fence down and the lease held lets writes go on starting (see `Gate`).
pub(super) async fn watch(shared: Arc<Shared>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(tick(shared.ttl)) => {}
        }
        let started = Instant::now();
        let unfenced = match shared.check_fence().await {
            Ok(fenced) => !fenced,
            Err(e) => {
                tracing::warn!(error = %one_line(&e), "could not read the fence");
                false
            }
        };
        let mut held = shared.held.lock().await;
        if held.renewed.elapsed() >= shared.ttl / 3 {
            match shared.renew(&mut held).await {
                Ok(()) if unfenced => shared.confirm(started),
                Ok(()) => {}
                Err(_) if matches!(shared.stopped(), Some(Stop::Lost(_))) => {
                    tracing::error!("lost the import lease to another run; stopping");
                    return;
                }
                Err(e) => {
                    // Not known to be lost: start nothing new; the save at the end renews or fails.
                    tracing::error!(error = %one_line(&e), "could not renew the import lease; stopping");
                    shared.cancel_run();
                }
            }
            continue;
        }
        match shared.state.lease().await {
            Ok((lease, version)) => {
                let holder = lease.map(|l| l.holder).unwrap_or_default();
                if holder != shared.holder || version != held.version {
                    let why = match holder.is_empty() {
                        true => "it was released for this run after it expired".to_string(),
                        false => format!("{holder} holds it now"),
                    };
                    tracing::error!(%why, "the import lease was taken from this run; stopping");
                    shared.stop(Stop::Lost(why));
                    return;
                }
                if unfenced {
                    shared.confirm(started);
                }
            }
            Err(e) => tracing::warn!(error = %one_line(&e), "could not read the import lease"),
        }
    }
}

/// How `promote` found the import lease once the fence was up.
#[derive(Debug, Clone, PartialEq)]
pub enum Holder {
    /// No import held it.
    Free,
    /// The import that held it stopped and released it.
    Stopped { holder: String, after: Duration },
    /// Its holder did not stop before the lease ran out; the lease was taken from it.
    Expired { holder: String, at: DateTime<Utc> },
}

impl Holder {
    /// What `promote` prints about it.
    pub fn describe(&self, addr: &str) -> String {
        match self {
            Holder::Free => "The import lease is free: no import was running.\n".to_string(),
            Holder::Stopped { holder, after } => format!(
                "The running import ({holder}) stopped after {:.1}s: no import writes to {addr} \
                 any more.\n",
                after.as_secs_f64()
            ),
            Holder::Expired { holder, at } => format!(
                "The import {holder} did not stop: its lease expired at {} (the run was killed, \
                 or cut off from Vault). The lease was taken from it, so it can neither renew \
                 it nor save its records.\n",
                at.format("%Y-%m-%dT%H:%M:%SZ")
            ),
        }
    }
}

/// Waits up to `timeout` for the lease to be released or to expire. An expired lease is taken
/// away (check-and-set), so that its holder, should it come back, finds it lost.
pub async fn wait_for_holder(
    state: &ImporterState,
    addr: &str,
    timeout: Duration,
) -> Result<Holder> {
    let started = Instant::now();
    let mut first: Option<String> = None;
    loop {
        let (lease, version) = state.lease().await?;
        match lease.filter(|l| !l.holder.is_empty()) {
            None => {
                return Ok(match first {
                    None => Holder::Free,
                    Some(holder) => Holder::Stopped {
                        holder,
                        after: started.elapsed(),
                    },
                });
            }
            Some(l) if l.expires_at <= Utc::now() => match state.release(version).await {
                Ok(()) => {
                    return Ok(Holder::Expired {
                        holder: l.holder,
                        at: l.expires_at,
                    });
                }
                // Renewed (or taken) in between: look again.
                Err(e) if is_cas_mismatch(&e) => {}
                Err(e) => return Err(e),
            },
            Some(l) => {
                if first.is_none() {
                    tracing::info!(holder = %l.holder, "waiting for the running import to stop");
                    first = Some(l.holder.clone());
                }
                if started.elapsed() >= timeout {
                    return Err(Error::Busy(format!(
                        "{addr} is fenced, but the import {} still holds the import lease (until \
                         {}) after {}s: it may still be writing. Find it and stop it, then run \
                         promote again",
                        l.holder,
                        l.expires_at.format("%Y-%m-%dT%H:%M:%SZ"),
                        timeout.as_secs()
                    )));
                }
            }
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

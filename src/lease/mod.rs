//! One importer at a time, and none on a promoted cluster: a lease in the target's state mount, taken with check-and-set after
//! the fence is checked (and checked again once it is held), renewed while the run lasts, and
//! released at the end; a lease left by a killed run expires after its TTL. While it is held, a
//! watcher (`watch`) stops the run when the cluster is promoted or the lease is taken from it,
//! and the run's bookkeeping is saved only while it still holds the lease. Also the signal
//! handling: SIGTERM or SIGINT stop the run after the requests in flight, and the fence check
//! (`check_fence`) every import and the watcher make. `shared` is what a held lease and its
//! watcher share; `watch` both sides of a promotion.

mod shared;
mod watch;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::state::{ImporterState, Meta};
pub use shared::Stop;
use shared::{Held, Shared};
pub use watch::{Holder, wait_for_holder};

/// Refuses when the target has been promoted.
pub async fn check_fence(state: &ImporterState, addr: &str) -> Result<()> {
    if let Some(f) = state.fence().await? {
        return Err(Error::Fenced(format!(
            "{addr} is promoted (since {} by {}): imports into it are refused. If the primary is \
             back in charge and this cluster is DR again, run `vault-replicator demote` against it",
            f.promoted_at.format("%Y-%m-%dT%H:%M:%SZ"),
            f.by
        )));
    }
    Ok(())
}

/// Who this run is: the pod name in Kubernetes (`HOSTNAME`), the process ID, and a random part,
/// so that two containers with the same name and PID (PID 1, typically) are still two holders.
/// The same for the whole process.
pub fn holder_id() -> String {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(new_holder_id).clone()
}

fn new_holder_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "unknown-host".into());
    format!(
        "{host}/pid-{}/{:016x}",
        std::process::id(),
        rand::random::<u64>()
    )
}

pub struct Lease {
    shared: Arc<Shared>,
    watcher: JoinHandle<()>,
    stop: CancellationToken,
}

impl Lease {
    /// Takes the lease, waiting up to `wait` for another run to finish. Refuses a fenced
    /// cluster (unless `allow_fenced`: a selective restore told to), before the lease is taken and again once it is held: a `promote` that fenced
    /// the cluster before this run's lease write is seen here, and one after it finds the lease
    /// held and waits for this run, which its watcher stops.
    pub async fn take(
        state: &ImporterState,
        wait: Duration,
        ttl: Duration,
        cancel: CancellationToken,
        addr: &str,
        allow_fenced: bool,
    ) -> Result<Lease> {
        state.ensure_mount().await?;
        let check_fence = async || match allow_fenced {
            true => Ok(()),
            false => check_fence(state, addr).await,
        };
        check_fence().await?;
        let holder = holder_id();
        let started = Instant::now();
        let version = loop {
            match state.acquire(&holder, ttl).await? {
                Ok(v) => break v,
                Err(why) if started.elapsed() >= wait => {
                    return Err(Error::Busy(format!(
                        "{why}; nothing was written. Retry later, or set REPLICATOR_LEASE_WAIT to wait for it"
                    )));
                }
                Err(why) => {
                    tracing::info!(%why, "waiting for the import lease");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        };
        let taken = Instant::now();
        if let Err(e) = check_fence().await {
            if let Err(r) = state.release(version).await {
                tracing::warn!(error = %crate::error::one_line(&r), "could not release the import lease; it expires by itself");
            }
            return Err(e);
        }
        let shared = Arc::new(Shared {
            state: state.clone(),
            holder,
            ttl,
            held: tokio::sync::Mutex::new(Held {
                version,
                renewed: taken,
            }),
            stopped: Mutex::new(None),
            cancel,
            confirmed: Mutex::new(taken),
            fenced_ok: allow_fenced,
            fresh_for: watch::tick(ttl) * 3,
        });
        let stop = CancellationToken::new();
        let watcher = tokio::spawn(watch::watch(shared.clone(), stop.clone()));
        Ok(Lease {
            shared,
            watcher,
            stop,
        })
    }

    /// The most one request of this run may take, its retries included: a third of the TTL. A
    /// write is sent only within three watch ticks of a confirmation that the lease was held
    /// (with at least two thirds of its TTL left), so with a TTL of 10 s or more every request
    /// ends before the lease could have expired, and `promote`, which waits for that, never
    /// returns while one of this run's writes is still on its way.
    pub fn request_budget(ttl: Duration) -> Duration {
        ttl / 3
    }

    /// What the run's writes wait for.
    pub fn gate(&self) -> Gate {
        Gate {
            cancel: self.shared.cancel.clone(),
            lease: Some(self.shared.clone()),
        }
    }

    /// Makes sure the run still holds the lease before a bookkeeping write: renews it with
    /// check-and-set unless that was done within the last second.
    pub async fn hold(&self) -> Result<()> {
        if let Some(Stop::Lost(why)) = self.shared.stopped() {
            return Err(Error::Busy(format!("lost the import lease: {why}")));
        }
        let mut held = self.shared.held.lock().await;
        if held.renewed.elapsed() < Duration::from_secs(1) {
            return Ok(());
        }
        self.shared.renew(&mut held).await
    }

    /// Marks the last import unfinished (`complete: false`) while this run works, so that after
    /// a crash the next run compares every object instead of trusting records this run never
    /// got to save.
    pub async fn mark_incomplete(
        &self,
        state: &ImporterState,
        before: Option<&Meta>,
    ) -> Result<()> {
        let Some(m) = before.filter(|m| m.complete) else {
            return Ok(());
        };
        self.hold().await?;
        let marked = Meta {
            complete: false,
            ..m.clone()
        };
        state.save_meta(&marked).await
    }

    /// Stops watching and gives the lease up (with check-and-set, so a lease someone else took
    /// is left alone). Returns why the run was stopped from outside, if it was.
    pub async fn release(self) -> Option<Stop> {
        self.stop.cancel();
        let _ = self.watcher.await;
        let stopped = self.shared.stopped();
        if !matches!(stopped, Some(Stop::Lost(_))) {
            let held = self.shared.held.lock().await;
            if let Err(e) = self.shared.state.release(held.version).await {
                tracing::warn!(error = %crate::error::one_line(&e), "could not release the import lease; it expires by itself");
            }
        }
        stopped
    }
}

/// What a write waits for before it starts. None starts once the run is stopped (SIGTERM, the
/// fence, a lost lease), nor while the watcher's last confirmation that the fence is down and
/// the lease still held is stale (the process was frozen, or the watcher cannot reach Vault):
/// then the write waits for the next confirmation, or for the run to be stopped.
#[derive(Clone, Default)]
pub struct Gate {
    cancel: CancellationToken,
    /// None without a lease (a dry run, which writes nothing).
    lease: Option<Arc<Shared>>,
}

impl Gate {
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Waits until a write may start; false once the run was stopped.
    pub async fn ready(&self) -> bool {
        loop {
            if self.cancel.is_cancelled() {
                return false;
            }
            if self.lease.as_ref().is_none_or(|l| l.is_fresh()) {
                return true;
            }
            tokio::select! {
                _ = self.cancel.cancelled() => return false,
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    }

    /// Reads the fence now, without waiting for the watcher (before deletes, which nothing
    /// undoes); a fence stops the run.
    pub async fn recheck_fence(&self) {
        if let Some(lease) = &self.lease
            && let Err(e) = lease.check_fence().await
        {
            tracing::warn!(error = %crate::error::one_line(&e), "could not read the fence");
        }
    }
}

#[async_trait::async_trait]
impl crate::vault::WriteGate for Gate {
    async fn ready(&self) -> bool {
        Gate::ready(self).await
    }
}

/// Cancels the token on SIGTERM (a Job deadline, a node drain) or SIGINT.
pub fn cancel_on_signals(cancel: CancellationToken) {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::warn!("signal received: finishing the requests in flight, then stopping");
        cancel.cancel();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_run_is_its_own_holder_even_with_the_same_host_and_pid() {
        let (a, b) = (new_holder_id(), new_holder_id());
        assert_ne!(a, b);
        let pid = format!("/pid-{}/", std::process::id());
        assert!(a.contains(&pid) && b.contains(&pid), "{a} {b}");
        assert_eq!(holder_id(), holder_id(), "one holder for the whole process");
    }
}

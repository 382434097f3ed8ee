//! One importer at a time: a lease in the target's state mount, renewed while the run lasts and
//! released at the end. A lease left by a killed run expires after its TTL. Also the signal
//! handling: SIGTERM or SIGINT stop the run after the requests in flight.

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::state::State;

/// Who this run is: the pod name in Kubernetes (`HOSTNAME`), plus the process ID.
pub fn holder_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "unknown-host".into());
    format!("{host}/pid-{}", std::process::id())
}

pub struct Lease {
    state: State,
    renewer: JoinHandle<u64>,
    stop: CancellationToken,
}

impl Lease {
    /// Takes the lease, waiting up to `wait` for another run to finish.
    pub async fn take(
        state: &State,
        wait: Duration,
        ttl: Duration,
        cancel: CancellationToken,
    ) -> Result<Lease> {
        state.ensure_mount().await?;
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
        let stop = CancellationToken::new();
        let renewer = tokio::spawn(renew(
            state.clone(),
            holder,
            version,
            ttl,
            stop.clone(),
            cancel,
        ));
        Ok(Lease {
            state: state.clone(),
            renewer,
            stop,
        })
    }

    pub async fn release(self) {
        self.stop.cancel();
        let version = self.renewer.await.unwrap_or(0);
        if let Err(e) = self.state.release(version).await {
            tracing::warn!(error = %crate::error::one_line(&e), "could not release the import lease; it expires by itself");
        }
    }
}

/// Renews every TTL/3; if the lease is lost, cancels the run. Returns the last version held.
async fn renew(
    state: State,
    holder: String,
    mut version: u64,
    ttl: Duration,
    stop: CancellationToken,
    cancel: CancellationToken,
) -> u64 {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return version,
            _ = tokio::time::sleep(ttl / 3) => {}
        }
        match state.write_lease(&holder, ttl, version).await {
            Ok(v) => version = v,
            Err(e) => {
                tracing::error!(error = %crate::error::one_line(&e), "lost the import lease; stopping");
                cancel.cancel();
                return version;
            }
        }
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

//! What a held import lease and its watcher share: the lease's last written version, whether
//! (and why) the run was stopped from outside, and when the watcher last confirmed the fence down
//! and the lease held.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::state::{Fence, ImporterState};

/// Why a run was stopped from outside while it held the lease.
#[derive(Debug, Clone)]
pub enum Stop {
    /// The cluster was promoted (`vault-replicator promote`).
    Fenced(Fence),
    /// Another run holds the lease now.
    Lost(String),
}

impl Stop {
    /// The error the run ends with, once its requests in flight are done.
    pub fn into_error(self, addr: &str, writes: u64) -> Error {
        match self {
            Stop::Fenced(f) => Error::Fenced(format!(
                "stopped: {addr} was promoted during this import (at {} by {}); it made \
                 {writes} writes, started none after it saw the fence, and recorded its \
                 progress. Imports into it are refused until `vault-replicator demote`",
                f.promoted_at.format("%Y-%m-%dT%H:%M:%SZ"),
                f.by
            )),
            Stop::Lost(why) => Error::Busy(format!(
                "stopped: lost the import lease on {addr} ({why}) after {writes} writes; the \
                 bookkeeping is left to the run that holds the lease now, not saved over it"
            )),
        }
    }
}

/// What the lease and its watcher share.
pub(super) struct Shared {
    pub(super) state: ImporterState,
    pub(super) holder: String,
    pub(super) ttl: Duration,
    /// The version of the lease key this run last wrote, and when it sent that write.
    pub(super) held: tokio::sync::Mutex<Held>,
    pub(super) stopped: Mutex<Option<Stop>>,
    /// The run's token: cancelled, the run starts no new write.
    pub(super) cancel: CancellationToken,
    /// When the watcher last found the cluster unfenced and the lease still this run's (the
    /// time its check started).
    pub(super) confirmed: Mutex<Instant>,
    /// How old that may be for a write to start: three watch ticks, never more than the TTL.
    pub(super) fresh_for: Duration,
    /// A selective restore into a promoted cluster (`--allow-fenced`): the fence stops nothing.
    pub(super) fenced_ok: bool,
}

pub(super) struct Held {
    pub(super) version: u64,
    pub(super) renewed: Instant,
}

impl Shared {
    pub(super) fn stopped(&self) -> Option<Stop> {
        self.stopped.lock().ok().and_then(|s| s.clone())
    }

    /// Stops the run for `why` (the first reason stays).
    pub(super) fn stop(&self, why: Stop) {
        if let Ok(mut s) = self.stopped.lock() {
            s.get_or_insert(why);
        }
        self.cancel.cancel();
    }

    /// Records a watch tick that found the fence down and the lease held, started at `at`.
    pub(super) fn confirm(&self, at: Instant) {
        if let Ok(mut c) = self.confirmed.lock() {
            *c = at;
        }
    }

    pub(super) fn is_fresh(&self) -> bool {
        self.confirmed
            .lock()
            .is_ok_and(|c| c.elapsed() < self.fresh_for)
    }

    /// Cancels the run without a reason of its own (a renewal that failed for now).
    pub(super) fn cancel_run(&self) {
        self.cancel.cancel();
    }

    /// Renews the lease with check-and-set; a mismatch means another run took it.
    pub(super) async fn renew(&self, held: &mut Held) -> Result<()> {
        let sent = Instant::now();
        match self
            .state
            .write_lease(&self.holder, self.ttl, held.version)
            .await
        {
            Ok(v) => {
                held.version = v;
                held.renewed = sent;
                Ok(())
            }
            Err(e) if is_cas_mismatch(&e) => {
                let why = "another run took it".to_string();
                self.stop(Stop::Lost(why.clone()));
                Err(Error::Busy(format!("lost the import lease: {why}")))
            }
            Err(e) => Err(e),
        }
    }

    /// Reads the fence now; a fence stops the run. True when fenced.
    pub(super) async fn check_fence(&self) -> Result<bool> {
        if self.fenced_ok {
            return Ok(false);
        }
        let Some(f) = self.state.fenced().await? else {
            return Ok(false);
        };
        tracing::warn!(promoted_by = %f.by, "the cluster was promoted: starting no new write, finishing the ones in flight");
        self.stop(Stop::Fenced(f));
        Ok(true)
    }
}

/// Whether a check-and-set write was refused because the key moved on.
pub(super) fn is_cas_mismatch(e: &Error) -> bool {
    matches!(e, Error::Vault { status: 400, .. })
}

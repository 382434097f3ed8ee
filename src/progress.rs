//! Progress lines on long runs: every `REPLICATOR_PROGRESS_INTERVAL` (default 10s), one log line
//! with the objects done, the total when it is known, and the rate. A run shorter than one
//! interval logs none.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

static INTERVAL: OnceLock<Duration> = OnceLock::new();

/// Sets the interval for the whole run (once, at start).
pub fn set_interval(every: Duration) {
    let _ = INTERVAL.set(every);
}

pub struct Progress {
    done: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Progress {
    /// Starts logging the progress of `step` (`export`, `apply`) until dropped.
    pub fn start(step: &'static str, total: Option<u64>) -> Progress {
        let every = *INTERVAL.get_or_init(|| Duration::from_secs(10));
        let done = Arc::new(AtomicU64::new(0));
        let counter = done.clone();
        let started = Instant::now();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                let n = counter.load(Ordering::Relaxed);
                let rate = n as f64 / started.elapsed().as_secs_f64().max(0.001);
                match total {
                    Some(t) => tracing::info!(
                        step,
                        done = n,
                        total = t,
                        per_second = rate.round(),
                        "progress: {n}/{t} objects, {rate:.0}/s"
                    ),
                    None => tracing::info!(
                        step,
                        done = n,
                        per_second = rate.round(),
                        "progress: {n} objects, {rate:.0}/s"
                    ),
                }
            }
        });
        Progress { done, task }
    }

    /// The counter to bump as objects are done (shared with synchronous code).
    pub fn counter(&self) -> Arc<AtomicU64> {
        self.done.clone()
    }

    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// This process's peak resident memory in KiB (`VmHWM`), where the platform reports it. Unlike
/// `getrusage`, it does not include the parent's memory from before `exec`.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

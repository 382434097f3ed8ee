//! Progress lines on long runs: every `REPLICATOR_PROGRESS_INTERVAL` (default 10s), one log line
//! with the objects done and the rate, and where the total is known the share done and the time
//! left at that rate. A run shorter than one interval logs none.

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
                let elapsed = started.elapsed();
                let rate = n as f64 / elapsed.as_secs_f64().max(0.001);
                match total {
                    Some(t) => {
                        let (percent, eta) = (percent(n, t), eta(n, t, elapsed));
                        tracing::info!(
                            step,
                            done = n,
                            total = t,
                            percent,
                            per_second = rate.round(),
                            eta_seconds = eta.map(|d| d.as_secs()),
                            "progress: {}",
                            known_total(n, t, rate, eta)
                        )
                    }
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

/// The share of `total` that `n` is, in whole percent (100 when there is nothing to do).
fn percent(n: u64, total: u64) -> u64 {
    match total {
        0 => 100,
        t => (n.min(t) * 100) / t,
    }
}

/// The time left at the rate so far; unknown before the first object is done.
fn eta(n: u64, total: u64, elapsed: Duration) -> Option<Duration> {
    if n == 0 {
        return None;
    }
    let left = total.saturating_sub(n) as f64;
    Some(Duration::from_secs(
        (left * elapsed.as_secs_f64() / n as f64).ceil() as u64,
    ))
}

/// `1200/5000 objects (24%), 120/s, about 32s left`, as `restic` and `kubectl` spell it.
fn known_total(n: u64, total: u64, rate: f64, eta: Option<Duration>) -> String {
    let left = match eta {
        Some(d) => format!("about {} left", humantime::format_duration(d)),
        None => "time left not known yet".to_string(),
    };
    format!(
        "{n}/{total} objects ({}%), {rate:.0}/s, {left}",
        percent(n, total)
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_total_gives_the_share_done_and_the_time_left() {
        let line = known_total(1200, 5000, 120.0, eta(1200, 5000, Duration::from_secs(10)));
        assert_eq!(line, "1200/5000 objects (24%), 120/s, about 32s left");
        assert_eq!(
            known_total(0, 10, 0.0, eta(0, 10, Duration::from_secs(10))),
            "0/10 objects (0%), 0/s, time left not known yet"
        );
        assert_eq!(percent(7, 0), 100);
        assert_eq!(percent(12, 10), 100);
        assert_eq!(eta(10, 10, Duration::from_secs(5)), Some(Duration::ZERO));
        assert_eq!(
            eta(100, 3700, Duration::from_secs(10))
                .map(|d| humantime::format_duration(d).to_string()),
            Some("6m".to_string())
        );
    }
}

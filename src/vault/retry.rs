//! How the client retries one request (`retrying`): at most `VAULT_MAX_RETRIES` times and at most
//! `REPLICATOR_RETRY_MAX_WAIT` of waiting in all, honouring the server's `Retry-After` within what
//! is left of that budget. A server that answers 429 or 503 for ever ends the run, it does not hold
//! it.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use super::answer::gave_up;
use crate::error::{Error, Result};

/// Retries of one request, as the client bounds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 means none (`VAULT_MAX_RETRIES`, default 5).
    pub max_retries: usize,
    /// Time spent waiting between the attempts of one request, in all
    /// (`REPLICATOR_RETRY_MAX_WAIT`, default 30s).
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: DEFAULT_MAX_RETRIES,
            max_wait: DEFAULT_MAX_WAIT,
        }
    }
}

pub const DEFAULT_MAX_RETRIES: usize = 5;
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(30);

impl RetryPolicy {
    /// The wait before the next retry, or `None` to give up: when the backoff has no retry left
    /// (`backoff` is `None`) or the wait budget is spent. The server's `Retry-After` replaces the
    /// backoff's delay, and either is cut to what is left of the budget.
    pub fn next_wait(
        &self,
        waited: Duration,
        backoff: Option<Duration>,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let backoff = backoff?;
        let left = self.max_wait.saturating_sub(waited);
        if left.is_zero() {
            return None;
        }
        Some(retry_after.unwrap_or(backoff).min(left))
    }
}

/// Runs `attempt` until it succeeds, fails with an error that is not transient, or `policy` says
/// to give up (exponential backoff with jitter, 100 ms to 5 s, `Retry-After` honoured); each retry
/// is logged as a warning, and the error given up on says how many retries and how long it waited.
pub(super) async fn retrying<T, Fut>(policy: RetryPolicy, attempt: impl FnMut() -> Fut) -> Result<T>
where
    Fut: Future<Output = Result<T>>,
{
    let (retries, waited_ms) = (AtomicUsize::new(0), AtomicU64::new(0));
    let result = attempt
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(100))
                .with_max_delay(Duration::from_secs(5))
                .with_max_times(policy.max_retries)
                .with_jitter(),
        )
        .when(Error::is_transient)
        .adjust(|e, dur| {
            let waited = Duration::from_millis(waited_ms.load(Ordering::Relaxed));
            let next = policy.next_wait(waited, dur, e.retry_after());
            if let Some(d) = next {
                retries.fetch_add(1, Ordering::Relaxed);
                waited_ms.fetch_add(d.as_millis() as u64, Ordering::Relaxed);
            }
            next
        })
        .notify(|e, dur| {
            tracing::warn!(error = %crate::error::one_line(e), retry_in_ms = dur.as_millis() as u64, "retrying Vault request");
        })
        .await;
    result.map_err(|e| {
        let waited = Duration::from_millis(waited_ms.load(Ordering::Relaxed));
        gave_up(e, retries.load(Ordering::Relaxed), waited)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn retry_after_is_honoured_within_the_budget_and_spent_retries_end_it() {
        let p = RetryPolicy {
            max_retries: 5,
            max_wait: S(10),
        };
        // The backoff's delay, or the server's Retry-After instead.
        assert_eq!(p.next_wait(S(0), Some(S(1)), None), Some(S(1)));
        assert_eq!(p.next_wait(S(0), Some(S(1)), Some(S(3))), Some(S(3)));
        // Cut to what is left of the budget, then nothing.
        assert_eq!(p.next_wait(S(8), Some(S(1)), Some(S(5))), Some(S(2)));
        assert_eq!(p.next_wait(S(10), Some(S(1)), Some(S(1))), None);
        // The old bug: the retries were spent (no backoff delay) but Retry-After kept it going.
        assert_eq!(p.next_wait(S(0), None, Some(S(1))), None);
    }

    #[test]
    fn a_server_that_always_says_retry_after_one_second_is_given_up_on() {
        let p = RetryPolicy::default();
        let mut waited = Duration::ZERO;
        let mut retries = 0;
        // The backoff yields `max_retries` delays, then none; the server always says 1 s.
        let mut backoff = std::iter::repeat_n(Duration::from_millis(100), p.max_retries);
        while let Some(d) = p.next_wait(waited, backoff.next(), Some(S(1))) {
            waited += d;
            retries += 1;
            assert!(retries <= 1000, "never ends");
        }
        assert_eq!((retries, waited), (5, S(5)));
        let none = RetryPolicy {
            max_retries: 0,
            max_wait: S(30),
        };
        assert_eq!(none.next_wait(S(0), None, Some(S(1))), None);
    }
}

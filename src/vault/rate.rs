//! The cap on requests per second (`VAULT_RATE_LIMIT=rate[:burst]`, as the `vault` CLI reads it):
//! a token bucket shared by every clone of a client, which every attempt waits on before it is sent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::settings::RateLimit;

/// Tokens refill at `per_second` up to `burst`; an attempt takes one, and when none is left it
/// reserves the next and sleeps until it is due, so waiting requests go out in turn.
#[derive(Debug, Clone)]
pub struct Limiter {
    limit: RateLimit,
    bucket: Arc<Mutex<Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    /// May go below zero: each waiting request has reserved a token not yet refilled.
    tokens: f64,
    at: Instant,
}

impl Limiter {
    pub fn new(limit: RateLimit) -> Self {
        Limiter {
            limit,
            bucket: Arc::new(Mutex::new(Bucket {
                tokens: f64::from(limit.burst.max(1)),
                at: Instant::now(),
            })),
        }
    }

    /// Waits until one more request may be sent.
    pub async fn acquire(&self) {
        let wait = {
            // A poisoned lock only means another thread panicked mid-update: the count still holds.
            let mut b = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let burst = f64::from(self.limit.burst.max(1));
            let refill = now.duration_since(b.at).as_secs_f64() * self.limit.per_second;
            b.tokens = (b.tokens + refill).min(burst) - 1.0;
            b.at = now;
            match b.tokens {
                t if t >= 0.0 => None,
                t => Some(Duration::from_secs_f64(-t / self.limit.per_second)),
            }
        };
        if let Some(w) = wait {
            tokio::time::sleep(w).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_goes_at_once_and_the_rest_at_the_rate() {
        let limiter = Limiter::new(RateLimit {
            per_second: 100.0,
            burst: 3,
        });
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire().await;
        }
        assert!(start.elapsed() < Duration::from_millis(10));
        for _ in 0..20 {
            limiter.acquire().await;
        }
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(195) && took < Duration::from_millis(400),
            "{took:?}"
        );
    }
}

//! The layers a client stacks over its transport, each one `VaultApi` over another (as rustic
//! wraps its backends): from the outside in, `ReadOnly` (a dry run: a write is an error, never a
//! request), `Budgeted` (the most one request may take, retries included), `Retrying`, and per
//! attempt `Limited` (requests in flight, the rate cap), `Gated` (a write asks the run's gate)
//! and `Counting` (requests sent, by kind).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::api::{Request, VaultApi};
use super::client::Counters;
use super::gate::WriteGate;
use super::rate::Limiter;
use super::retry::{RetryPolicy, retrying};
use crate::error::{Error, Result};

type Inner = Arc<dyn VaultApi>;

/// A request the client did not complete, with why.
fn not_done(req: &Request<'_>, message: String) -> Error {
    Error::VaultNotDone {
        method: req.op.name(),
        path: req.shown(),
        message,
    }
}

/// Counts each request that reaches the transport.
pub(super) struct Counting(pub Inner, pub Arc<Counters>);

#[async_trait]
impl VaultApi for Counting {
    async fn send(&self, req: Request<'_>) -> Result<Value> {
        let counter = match req.op.is_write() {
            true => &self.1.writes,
            false => &self.1.reads,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.0.send(req).await
    }
}

/// Asks the run's gate before every attempt of a write: none goes out once the run was stopped.
pub(super) struct Gated(pub Inner, pub Arc<dyn WriteGate>);

#[async_trait]
impl VaultApi for Gated {
    async fn send(&self, req: Request<'_>) -> Result<Value> {
        if req.op.is_write() && !self.1.ready().await {
            return Err(not_done(&req, "not sent: the run was stopped".into()));
        }
        self.0.send(req).await
    }
}

/// Waits for a slot among the requests in flight, then for the rate cap, before each attempt.
pub(super) struct Limited {
    pub inner: Inner,
    pub in_flight: Arc<Semaphore>,
    pub rate: Option<Limiter>,
}

#[async_trait]
impl VaultApi for Limited {
    async fn send(&self, req: Request<'_>) -> Result<Value> {
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| Error::VaultResponse {
                method: req.op.name(),
                path: req.shown(),
                message: "client closed".into(),
            })?;
        if let Some(rate) = &self.rate {
            rate.acquire().await;
        }
        self.inner.send(req).await
    }
}

/// Retries a transient failure (`retry::retrying`).
pub(super) struct Retrying(pub Inner, pub RetryPolicy);

#[async_trait]
impl VaultApi for Retrying {
    async fn send(&self, req: Request<'_>) -> Result<Value> {
        retrying(self.1, || self.0.send(req)).await
    }
}

/// Ends each request within a budget, its retries included: when the budget runs out, the
/// attempt in flight is dropped (its connection closed) and the request fails.
pub(super) struct Budgeted(pub Inner, pub Duration);

#[async_trait]
impl VaultApi for Budgeted {
    async fn send(&self, req: Request<'_>) -> Result<Value> {
        match tokio::time::timeout(self.1, self.0.send(req)).await {
            Ok(result) => result,
            Err(_) => Err(not_done(
                &req,
                format!(
                    "no answer within {:.1}s, the most one request may take (a third of \
                     REPLICATOR_LEASE_TTL); given up so that nothing sent outlives the lease",
                    self.1.as_secs_f64()
                ),
            )),
        }
    }
}

/// What a dry run talks through: reads pass, a write is an error and never a request.
pub(super) struct ReadOnly(pub Inner);

#[async_trait]
impl VaultApi for ReadOnly {
    async fn send(&self, req: Request<'_>) -> Result<Value> {
        if req.op.is_write() {
            return Err(not_done(&req, "not sent: a dry run writes nothing".into()));
        }
        self.0.send(req).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use serde_json::json;

    use crate::vault::MemoryVault;

    #[tokio::test]
    async fn a_read_only_client_reads_but_a_write_is_an_error_and_never_a_request() {
        let api = Arc::new(MemoryVault::new());
        api.put("", "secret/data/a", json!({"data": {"data": {"k": "v"}}}));
        let c = api.client().read_only();
        assert!(c.read("secret/data/a").await.unwrap().is_some());
        let e = c.write("secret/data/a", &json!({})).await.unwrap_err();
        assert!(e.to_string().contains("a dry run writes nothing"), "{e}");
        assert!(c.delete("secret/data/a").await.is_err());
        assert!(api.writes().is_empty() && api.deletes().is_empty());
        assert_eq!(c.counters().writes.load(Ordering::Relaxed), 0);
        assert_eq!(c.counters().reads.load(Ordering::Relaxed), 1);
    }
}

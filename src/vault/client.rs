//! HTTP client for the Vault/OpenBao API: token and namespace headers, path encoding, a bound on
//! requests in flight and per second, a timeout, bounded retries with backoff (honouring
//! `Retry-After`, see `retry`), and request counters. A client may carry a budget (the most one
//! request may take, all its attempts and waits included) and a `WriteGate` asked before every
//! attempt of a write: an import's requests thus end before its lease could expire. Redirects are
//! never followed: they would carry the token to another address.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Semaphore;

use super::answer::{found, read_answer, unreachable};
use super::api::VaultApi;
use super::gate::WriteGate;
use super::op::Op;
use super::path::{dot_segment, encode_path};
use super::rate::Limiter;
use super::retry::{RetryPolicy, retrying};
use super::settings::{Token, VaultConfig};
use crate::error::{Error, Result};

/// Requests sent, by kind. Writes are what an idempotent re-import must keep at zero.
#[derive(Debug, Default)]
pub struct Counters {
    pub reads: AtomicU64,
    pub writes: AtomicU64,
}

#[derive(Clone)]
pub struct VaultClient {
    http: reqwest::Client,
    addr: String,
    /// Where requests go: `addr`, or with `VAULT_TLS_SERVER_NAME` as its host (see `tls`).
    base: String,
    token: Token,
    namespace: Option<String>,
    in_flight: Arc<Semaphore>,
    concurrency: usize,
    retry: RetryPolicy,
    rate: Option<Limiter>,
    counters: Arc<Counters>,
    /// The most one request may take, its attempts and the waits between them included.
    budget: Option<Duration>,
    /// Asked before every attempt of a write.
    gate: Option<Arc<dyn WriteGate>>,
    /// Answers requests instead of HTTP (unit tests; see `api`).
    api: Option<Arc<dyn VaultApi>>,
}

impl fmt::Debug for VaultClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultClient")
            .field("addr", &self.addr)
            .field("namespace", &self.namespace)
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl VaultClient {
    /// A client that sends `token` (none when empty, for logging in).
    pub fn new(cfg: &VaultConfig, token: Token) -> Result<Self> {
        let builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5).min(cfg.timeout))
            .timeout(cfg.timeout)
            .pool_max_idle_per_host(cfg.concurrency)
            // reqwest would follow a redirect with X-Vault-Token to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vault-replicator/", env!("CARGO_PKG_VERSION")));
        let builder = super::tls::configure(builder, &cfg.tls, &cfg.addr)?;
        let (builder, base) = super::tls::server_name(builder, &cfg.tls, &cfg.addr)?;
        let http = builder
            .build()
            .map_err(|e| Error::config("VAULT_ADDR", format!("cannot build HTTP client: {e}")))?;
        Ok(VaultClient {
            http,
            addr: cfg.addr.clone(),
            base,
            token,
            namespace: cfg.namespace.clone(),
            in_flight: Arc::new(Semaphore::new(cfg.concurrency)),
            concurrency: cfg.concurrency,
            retry: cfg.retry,
            rate: cfg.rate_limit.map(Limiter::new),
            counters: Arc::new(Counters::default()),
            budget: None,
            gate: None,
            api: None,
        })
    }

    /// A client whose requests `api` answers instead of a server (unit tests).
    pub fn with_api(api: Arc<dyn VaultApi>) -> Self {
        VaultClient {
            http: reqwest::Client::new(),
            addr: "memory".into(),
            base: "memory".into(),
            token: Token::new(String::new()),
            namespace: None,
            in_flight: Arc::new(Semaphore::new(4)),
            concurrency: 4,
            retry: RetryPolicy::default(),
            rate: None,
            counters: Arc::new(Counters::default()),
            budget: None,
            gate: None,
            api: Some(api),
        }
    }

    /// The API that answers instead of HTTP, with the namespace to ask in, counting the request.
    fn api(&self, write: bool) -> Option<(&dyn VaultApi, &str)> {
        let api = self.api.as_deref()?;
        let n = if write {
            &self.counters.writes
        } else {
            &self.counters.reads
        };
        n.fetch_add(1, Ordering::Relaxed);
        Some((api, self.namespace.as_deref().unwrap_or("")))
    }

    /// The same connections, bound, rate cap and counters, sending another token.
    pub fn with_token(&self, token: Token) -> VaultClient {
        let mut c = self.clone();
        c.token = token;
        c
    }

    /// The same connections and token, with its own bound and counters: for bookkeeping that
    /// must neither wait behind object requests nor count among them.
    pub fn detached(&self) -> VaultClient {
        let mut c = self.clone();
        c.in_flight = Arc::new(Semaphore::new(self.concurrency.min(4)));
        c.counters = Arc::new(Counters::default());
        c
    }

    /// The same client, each of whose requests ends within `budget`, retries included: when the
    /// budget runs out, the attempt in flight is dropped (its connection closed) and the request
    /// fails.
    pub fn with_budget(&self, budget: Duration) -> VaultClient {
        let mut c = self.clone();
        c.budget = Some(budget);
        c
    }

    /// The same client, whose writes ask `gate` before every attempt (retries included).
    pub fn gated(&self, gate: Arc<dyn WriteGate>) -> VaultClient {
        let mut c = self.clone();
        c.gate = Some(gate);
        c
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The same client (connections, limits, counters) working in another namespace.
    /// `ns` is relative to the configured namespace; `""` is the configured one itself.
    pub fn in_namespace(&self, ns: &str) -> VaultClient {
        let ns = ns.trim_matches('/');
        let mut c = self.clone();
        c.namespace = match (&self.namespace, ns) {
            (base, "") => base.clone(),
            (None, child) => Some(child.to_string()),
            (Some(base), child) => Some(format!("{base}/{child}")),
        };
        c
    }

    /// The bound on requests in flight.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// A path as error messages show it: with the namespace in front, as Vault accepts it too.
    fn shown(&self, path: &str) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{path}"),
            None => path.to_string(),
        }
    }

    /// GET a path; `None` when Vault answers 404.
    pub async fn read(&self, path: &str) -> Result<Option<Value>> {
        self.read_query(path, "").await
    }

    /// GET a path with a query string such as `version=3`; `None` when Vault answers 404.
    pub async fn read_query(&self, path: &str, query: &str) -> Result<Option<Value>> {
        if let Some((api, ns)) = self.api(false) {
            return api.read(ns, path, query).await;
        }
        found(self.send(Op::Get, path, None, query).await)
    }

    /// LIST a folder; an empty list when Vault answers 404 (the folder has no keys).
    pub async fn list(&self, path: &str) -> Result<Vec<String>> {
        let folder = format!("{}/", path.trim_end_matches('/'));
        let Some(body) = self.list_query(&folder, "").await? else {
            return Ok(Vec::new());
        };
        let keys = body
            .pointer("/data/keys")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::VaultResponse {
                method: "LIST",
                path: folder.clone(),
                message: "no data.keys in the answer".into(),
            })?;
        Ok(keys
            .iter()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect())
    }

    /// LIST a folder (path with its trailing slash) with extra query parameters such as
    /// `limit=1000`; the whole answer, or `None` when Vault answers 404.
    pub async fn list_query(&self, folder: &str, query: &str) -> Result<Option<Value>> {
        if let Some((api, ns)) = self.api(false) {
            return api.list(ns, folder, query).await;
        }
        found(self.send(Op::List, folder, None, query).await)
    }

    /// POST a JSON body; returns the answer's body (`Null` for 204).
    pub async fn write(&self, path: &str, body: &Value) -> Result<Value> {
        if let Some((api, ns)) = self.api(true) {
            return api.write(ns, path, body).await;
        }
        self.send(Op::Post, path, Some(body), "").await
    }

    /// DELETE a path; a 404 counts as done.
    pub async fn delete(&self, path: &str) -> Result<()> {
        if let Some((api, ns)) = self.api(true) {
            return api.delete(ns, path).await;
        }
        match self.send(Op::Delete, path, None, "").await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A request within the client's budget, if it has one. A path with a `.` or `..` segment is
    /// never sent: the URL would be collapsed to another path.
    async fn send(&self, op: Op, path: &str, body: Option<&Value>, query: &str) -> Result<Value> {
        if let Some(seg) = dot_segment(path) {
            return Err(Error::VaultNotDone {
                method: op.name(),
                path: self.shown(path),
                message: format!("refused: a `{seg}` segment would send the request elsewhere"),
            });
        }
        let retrying = self.send_retrying(op, path, body, query);
        let Some(budget) = self.budget else {
            return retrying.await;
        };
        match tokio::time::timeout(budget, retrying).await {
            Ok(result) => result,
            Err(_) => Err(Error::VaultNotDone {
                method: op.name(),
                path: self.shown(path),
                message: format!(
                    "no answer within {:.1}s, the most one request may take (a third of \
                     REPLICATOR_LEASE_TTL); given up so that nothing sent outlives the lease",
                    budget.as_secs_f64()
                ),
            }),
        }
    }

    /// A request with its retries (`retry::retrying`).
    async fn send_retrying(
        &self,
        op: Op,
        path: &str,
        body: Option<&Value>,
        query: &str,
    ) -> Result<Value> {
        retrying(self.retry, || self.send_once(op, path, body, query)).await
    }

    /// One attempt at a request: waits for a slot (and the rate cap), asks the gate (a write),
    /// sends, and reads the answer.
    async fn send_once(
        &self,
        op: Op,
        path: &str,
        body: Option<&Value>,
        query: &str,
    ) -> Result<Value> {
        let url = self.url(op, path, query);
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| Error::VaultResponse {
                method: op.name(),
                path: self.shown(path),
                message: "client closed".into(),
            })?;
        if let Some(rate) = &self.rate {
            rate.acquire().await;
        }
        if let Some(gate) = self.gate.as_deref().filter(|_| op.is_write())
            && !gate.ready().await
        {
            return Err(self.stopped(op, path));
        }
        let counter = if op.is_write() {
            &self.counters.writes
        } else {
            &self.counters.reads
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let resp = self
            .request(op, &url, body)
            .send()
            .await
            .map_err(|source| self.unreachable(source))?;
        let shown = self.shown(path);
        read_answer(op, (path, &shown), &url, &self.addr, resp).await
    }

    /// The URL of a request, with `list=true` for a LIST and the extra query after it.
    fn url(&self, op: Op, path: &str, query: &str) -> String {
        let mut url = format!("{}/v1/{}", self.base, encode_path(path));
        if op == Op::List {
            url.push_str("?list=true");
        }
        if !query.is_empty() {
            url.push(if op == Op::List { '&' } else { '?' });
            url.push_str(query);
        }
        url
    }

    /// The request with its headers: the token (unless empty), the namespace, the JSON body.
    fn request(&self, op: Op, url: &str, body: Option<&Value>) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(op.method(), url)
            .header("X-Vault-Request", "true");
        if !self.token.expose().is_empty() {
            req = req.header("X-Vault-Token", self.token.expose());
        }
        if let Some(ns) = &self.namespace {
            req = req.header("X-Vault-Namespace", ns);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        req
    }

    /// A write not sent: the run was stopped (promoted, lease lost, signal) before this attempt.
    fn stopped(&self, op: Op, path: &str) -> Error {
        Error::VaultNotDone {
            method: op.name(),
            path: self.shown(path),
            message: "not sent: the run was stopped".into(),
        }
    }

    fn unreachable(&self, source: reqwest::Error) -> Error {
        unreachable(&self.addr, source)
    }
}

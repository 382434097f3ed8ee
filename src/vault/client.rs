//! The Vault/OpenBao client an object kind talks through: read, list, write and delete in a
//! namespace, over a stack of layers built on a transport (`http`, or a test stub): a bound on
//! requests in flight and per second, bounded retries with backoff (honouring `Retry-After`, see
//! `retry`), request counters, and optionally a budget (the most one request may take, all its
//! attempts and waits included), a `WriteGate` asked before every attempt of a write (an
//! import's requests thus end before its lease could expire), and a read-only guard (a dry run).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Semaphore;

use super::answer::found;
use super::api::{Request, VaultApi};
use super::gate::WriteGate;
use super::http::Http;
use super::layers::{Budgeted, Counting, Gated, Limited, ReadOnly, Retrying};
use super::op::Op;
use super::path::dot_segment;
use super::rate::Limiter;
use super::retry::RetryPolicy;
use super::settings::{Token, VaultConfig};
use crate::error::{Error, Result};

/// Requests sent, by kind. Writes are what an idempotent re-import must keep at zero.
#[derive(Debug, Default)]
pub struct Counters {
    pub reads: AtomicU64,
    pub writes: AtomicU64,
}

/// What a client's stack is built from; each `with_…` changes one part and builds it again.
#[derive(Clone)]
struct Layers {
    transport: Arc<dyn VaultApi>,
    in_flight: Arc<Semaphore>,
    rate: Option<Limiter>,
    retry: RetryPolicy,
    counters: Arc<Counters>,
    budget: Option<Duration>,
    gate: Option<Arc<dyn WriteGate>>,
    read_only: bool,
}

impl Layers {
    /// The transport with every layer it has around it (see `layers`).
    fn build(&self) -> Arc<dyn VaultApi> {
        let mut api: Arc<dyn VaultApi> =
            Arc::new(Counting(self.transport.clone(), self.counters.clone()));
        if let Some(gate) = &self.gate {
            api = Arc::new(Gated(api, gate.clone()));
        }
        let (in_flight, rate) = (self.in_flight.clone(), self.rate.clone());
        api = Arc::new(Limited {
            inner: api,
            in_flight,
            rate,
        });
        api = Arc::new(Retrying(api, self.retry));
        if let Some(budget) = self.budget {
            api = Arc::new(Budgeted(api, budget));
        }
        if self.read_only {
            api = Arc::new(ReadOnly(api));
        }
        api
    }
}

#[derive(Clone)]
pub struct VaultClient {
    addr: String,
    token: Token,
    namespace: Option<String>,
    concurrency: usize,
    layers: Layers,
    /// `layers`, built.
    api: Arc<dyn VaultApi>,
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
    /// A client that sends `token` (none when empty, for logging in) over HTTP.
    pub fn new(cfg: &VaultConfig, token: Token) -> Result<Self> {
        let builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5).min(cfg.timeout))
            .timeout(cfg.timeout)
            .pool_max_idle_per_host(cfg.concurrency)
            // reqwest would follow a redirect with X-Vault-Token to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vault-replicator/", env!("CARGO_PKG_VERSION")));
        let builder = match &cfg.proxy {
            Some(url) => builder.proxy(reqwest::Proxy::all(url).map_err(|_| {
                Error::config("VAULT_PROXY_ADDR", "expected a proxy URL: http://host:port")
            })?),
            None => builder,
        };
        let builder = super::tls::configure(builder, &cfg.tls, &cfg.addr)?;
        let (builder, base) = super::tls::server_name(builder, &cfg.tls, &cfg.addr)?;
        let http = builder
            .build()
            .map_err(|e| Error::config("VAULT_ADDR", format!("cannot build HTTP client: {e}")))?;
        let addr = cfg.addr.clone();
        let transport = Arc::new(Http {
            http,
            addr: addr.clone(),
            base,
        });
        let mut c = Self::over(transport, addr, cfg.concurrency, cfg.retry);
        c.token = token;
        c.namespace = cfg.namespace.clone();
        c.layers.rate = cfg.rate_limit.map(Limiter::new);
        Ok(c.rebuilt())
    }

    /// A client over any transport, with the default layers.
    fn over(
        transport: Arc<dyn VaultApi>,
        addr: String,
        concurrency: usize,
        retry: RetryPolicy,
    ) -> Self {
        let layers = Layers {
            transport,
            in_flight: Arc::new(Semaphore::new(concurrency)),
            rate: None,
            retry,
            counters: Arc::new(Counters::default()),
            budget: None,
            gate: None,
            read_only: false,
        };
        VaultClient {
            addr,
            token: Token::new(String::new()),
            namespace: None,
            concurrency,
            api: layers.build(),
            layers,
        }
    }

    /// A client whose requests `api` answers instead of a server (unit tests).
    #[cfg(test)]
    pub fn with_api(api: Arc<dyn VaultApi>) -> Self {
        Self::over(api, "memory".into(), 4, RetryPolicy::default())
    }

    /// The same client with its stack built again from `layers`.
    fn rebuilt(mut self) -> Self {
        self.api = self.layers.build();
        self
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
        c.layers.in_flight = Arc::new(Semaphore::new(self.concurrency.min(4)));
        c.layers.counters = Arc::new(Counters::default());
        c.rebuilt()
    }

    /// The same client, each of whose requests ends within `budget`, retries included.
    pub fn with_budget(&self, budget: Duration) -> VaultClient {
        let mut c = self.clone();
        c.layers.budget = Some(budget);
        c.rebuilt()
    }

    /// The same client, whose writes ask `gate` before every attempt (retries included).
    pub fn gated(&self, gate: Arc<dyn WriteGate>) -> VaultClient {
        let mut c = self.clone();
        c.layers.gate = Some(gate);
        c.rebuilt()
    }

    /// The same client, through which a write is an error and never a request (a dry run).
    pub fn read_only(&self) -> VaultClient {
        let mut c = self.clone();
        c.layers.read_only = true;
        c.rebuilt()
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
        &self.layers.counters
    }

    /// GET a path; `None` when Vault answers 404.
    pub async fn read(&self, path: &str) -> Result<Option<Value>> {
        self.read_query(path, "").await
    }

    /// GET a path with a query string such as `version=3`; `None` when Vault answers 404.
    pub async fn read_query(&self, path: &str, query: &str) -> Result<Option<Value>> {
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
        found(self.send(Op::List, folder, None, query).await)
    }

    /// POST a JSON body; returns the answer's body (`Null` for 204).
    pub async fn write(&self, path: &str, body: &Value) -> Result<Value> {
        self.send(Op::Post, path, Some(body), "").await
    }

    /// DELETE a path; a 404 counts as done.
    pub async fn delete(&self, path: &str) -> Result<()> {
        match self.send(Op::Delete, path, None, "").await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A request through the stack. A path with a `.` or `..` segment is never sent: the URL
    /// would be collapsed to another path.
    async fn send(&self, op: Op, path: &str, body: Option<&Value>, query: &str) -> Result<Value> {
        let req = Request {
            op,
            token: &self.token,
            ns: self.namespace.as_deref().unwrap_or(""),
            path,
            query,
            body,
        };
        if let Some(seg) = dot_segment(path) {
            return Err(Error::VaultNotDone {
                method: op.name(),
                path: req.shown(),
                message: format!("refused: a `{seg}` segment would send the request elsewhere"),
            });
        }
        self.api.send(req).await
    }
}

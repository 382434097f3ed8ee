//! A cluster in memory for unit tests (never in the release binary): answers what a test put
//! there, stores each write's body as `{"data": body}` at its path (no engine's semantics), and
//! keeps every write in order; and `Stub`, the four answers any test double gives.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{Value, json};

use super::api::{Request, VaultApi};
use super::client::VaultClient;
use super::op::Op;
use crate::error::{Error, Result};

type Key = (String, String);

#[derive(Default)]
pub struct MemoryVault {
    answers: Mutex<BTreeMap<Key, Value>>,
    writes: Mutex<Vec<(String, String, Value)>>,
    deletes: Mutex<Vec<(String, String)>>,
    /// Paths whose writes fail (prefixes).
    refused: Mutex<Vec<String>>,
}

impl MemoryVault {
    /// A cluster with empty mount tables.
    pub fn new() -> Self {
        let v = MemoryVault::default();
        v.put("", "sys/mounts", json!({"data": {}}));
        v.put("", "sys/auth", json!({"data": {}}));
        v
    }

    /// A client whose requests this cluster answers (`VaultClient::with_api`).
    pub fn client(self: &Arc<Self>) -> VaultClient {
        VaultClient::with_api(self.clone())
    }

    /// Sets the answer a read of `path` in `ns` gets.
    pub fn put(&self, ns: &str, path: &str, answer: Value) {
        let mut a = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        a.insert((ns.to_string(), path.to_string()), answer);
    }

    /// Makes every write to a path starting with `prefix` fail, as a server that refuses it.
    pub fn refuse_writes(&self, prefix: &str) {
        let mut r = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        r.push(prefix.to_string());
    }

    /// Every write so far: (namespace, path, body).
    pub fn writes(&self) -> Vec<(String, String, Value)> {
        self.writes.lock().map(|w| w.clone()).unwrap_or_default()
    }

    /// Every delete so far: (namespace, path).
    pub fn deletes(&self) -> Vec<(String, String)> {
        self.deletes.lock().map(|d| d.clone()).unwrap_or_default()
    }
}

/// A test double's four answers, in the shape an object kind asks (`ns` is the full namespace,
/// `""` for none; `list` takes a folder with its trailing slash). Every `Stub` is a `VaultApi`.
#[async_trait]
pub trait Stub: Send + Sync {
    /// The answer's body, `None` when there is nothing at `path`.
    async fn read(&self, ns: &str, path: &str, query: &str) -> Result<Option<Value>>;
    /// The list answer (`{"data": {"keys": [...]}}`), `None` when the folder is empty.
    async fn list(&self, ns: &str, folder: &str, query: &str) -> Result<Option<Value>>;
    /// The answer's body (`Null` when there is none).
    async fn write(&self, ns: &str, path: &str, body: &Value) -> Result<Value>;
    async fn delete(&self, ns: &str, path: &str) -> Result<()>;
}

#[async_trait]
impl<T: Stub> VaultApi for T {
    async fn send(&self, req: Request<'_>) -> Result<Value> {
        let (ns, path, query) = (req.ns, req.path, req.query);
        let found = match req.op {
            Op::Get => self.read(ns, path, query).await?,
            Op::List => self.list(ns, path, query).await?,
            Op::Post => Some(
                self.write(ns, path, req.body.unwrap_or(&Value::Null))
                    .await?,
            ),
            Op::Delete => Some(self.delete(ns, path).await.map(|()| Value::Null)?),
        };
        found.ok_or_else(|| Error::Vault {
            method: req.op.name(),
            path: req.shown(),
            status: 404,
            message: "nothing there".into(),
            retry_after: None,
        })
    }
}

#[async_trait]
impl Stub for MemoryVault {
    async fn read(&self, ns: &str, path: &str, _query: &str) -> Result<Option<Value>> {
        let a = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        Ok(a.get(&(ns.to_string(), path.to_string())).cloned())
    }

    async fn list(&self, ns: &str, folder: &str, _query: &str) -> Result<Option<Value>> {
        let a = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        let mut keys: Vec<String> = a
            .keys()
            .filter(|(n, _)| n == ns)
            .filter_map(|(_, p)| p.strip_prefix(folder))
            .map(|rest| match rest.split_once('/') {
                Some((dir, _)) => format!("{dir}/"),
                None => rest.to_string(),
            })
            .filter(|k| !k.is_empty())
            .collect();
        keys.dedup();
        Ok((!keys.is_empty()).then(|| json!({"data": {"keys": keys}})))
    }

    async fn write(&self, ns: &str, path: &str, body: &Value) -> Result<Value> {
        let refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        if refused.iter().any(|r| path.starts_with(r.as_str())) {
            return Err(Error::Vault {
                method: "POST",
                path: path.to_string(),
                status: 400,
                message: "refused by the test".into(),
                retry_after: None,
            });
        }
        drop(refused);
        self.put(ns, path, json!({ "data": body }));
        let mut w = self.writes.lock().unwrap_or_else(|e| e.into_inner());
        w.push((ns.to_string(), path.to_string(), body.clone()));
        Ok(Value::Null)
    }

    async fn delete(&self, ns: &str, path: &str) -> Result<()> {
        let mut a = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        a.remove(&(ns.to_string(), path.to_string()));
        let mut d = self.deletes.lock().unwrap_or_else(|e| e.into_inner());
        d.push((ns.to_string(), path.to_string()));
        Ok(())
    }
}

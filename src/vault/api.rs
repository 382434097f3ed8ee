//! The seam under every object kind: the four requests they make (read, list, write, delete) as
//! one small trait. `VaultClient` sends them over HTTP; a client made `with_api` hands them to an
//! implementation instead, such as `MemoryVault`, so that planning and each kind's
//! current / diff / apply get unit tests without a server (as kube-rs controllers test their
//! reconcilers against a stubbed API). Integration tests always talk to real OpenBao.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::error::Result;

/// What an object kind asks of a cluster. `ns` is the namespace relative to the configured one
/// (`""` for it); paths have no leading slash; `list` takes a folder with its trailing slash.
#[async_trait]
pub trait VaultApi: Send + Sync {
    /// The answer's body, `None` when there is nothing at `path`.
    async fn read(&self, ns: &str, path: &str, query: &str) -> Result<Option<Value>>;
    /// The list answer (`{"data": {"keys": [...]}}`), `None` when the folder is empty.
    async fn list(&self, ns: &str, folder: &str, query: &str) -> Result<Option<Value>>;
    /// The answer's body (`Null` when there is none).
    async fn write(&self, ns: &str, path: &str, body: &Value) -> Result<Value>;
    async fn delete(&self, ns: &str, path: &str) -> Result<()>;
}

/// A cluster in memory for unit tests: answers what a test put there, stores each write's body
/// as `{"data": body}` at its path (no engine's semantics), and keeps every write in order.
#[derive(Default)]
pub struct MemoryVault {
    answers: Mutex<BTreeMap<(String, String), Value>>,
    writes: Mutex<Vec<(String, String, Value)>>,
}

impl MemoryVault {
    /// A cluster with empty mount tables.
    pub fn new() -> Self {
        let v = MemoryVault::default();
        v.put("", "sys/mounts", json!({"data": {}}));
        v.put("", "sys/auth", json!({"data": {}}));
        v
    }

    /// Sets the answer a read of `path` in `ns` gets.
    pub fn put(&self, ns: &str, path: &str, answer: Value) {
        if let Ok(mut a) = self.answers.lock() {
            a.insert((ns.to_string(), path.to_string()), answer);
        }
    }

    /// Every write so far: (namespace, path, body).
    pub fn writes(&self) -> Vec<(String, String, Value)> {
        self.writes.lock().map(|w| w.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl VaultApi for MemoryVault {
    async fn read(&self, ns: &str, path: &str, _query: &str) -> Result<Option<Value>> {
        let a = self.answers.lock().map_err(poisoned)?;
        Ok(a.get(&(ns.to_string(), path.to_string())).cloned())
    }

    async fn list(&self, ns: &str, folder: &str, _query: &str) -> Result<Option<Value>> {
        let a = self.answers.lock().map_err(poisoned)?;
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
        self.put(ns, path, json!({ "data": body }));
        if let Ok(mut w) = self.writes.lock() {
            w.push((ns.to_string(), path.to_string(), body.clone()));
        }
        Ok(Value::Null)
    }

    async fn delete(&self, ns: &str, path: &str) -> Result<()> {
        let mut a = self.answers.lock().map_err(poisoned)?;
        a.remove(&(ns.to_string(), path.to_string()));
        Ok(())
    }
}

fn poisoned<T>(_: T) -> crate::error::Error {
    crate::error::Error::io("memory vault", std::io::Error::other("lock poisoned"))
}

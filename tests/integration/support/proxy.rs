//! HashiCorp Vault's answers without a Vault binary: `VaultProxy` (tests/vault_proxy.py) sits in
//! front of OpenBao and answers as Vault Community does where the two differ (no KV-v2
//! `detailed-metadata/`, no namespaces, Vault-only fields in read-backs), and records every
//! write it forwards.

use std::path::PathBuf;

use serde_json::Value;

use super::{Background, Bao, free_port, python_stand_in};

/// A Vault-shaped proxy in front of one OpenBao server.
pub struct VaultProxy {
    _child: Background,
    pub addr: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl VaultProxy {
    /// Starts the proxy for `bao`; `inject` maps API paths to fields set in their GET answers.
    pub fn start(bao: &Bao, inject: &Value) -> VaultProxy {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("requests.jsonl");
        let port = free_port();
        let script = include_str!("../../vault_proxy.py");
        let inject = inject.to_string();
        let args = [&bao.addr, &bao.token, log.to_str().unwrap(), &inject];
        let child = python_stand_in(script, port, &args);
        VaultProxy {
            _child: child,
            addr: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        }
    }

    /// What it recorded of this `kind`: `write` (each write forwarded), `read` (each GET that
    /// is not a listing), `namespace` (each
    /// request meant for a namespace, answered 404) or `vault404` (each request it answered as
    /// Vault does: `sys/namespaces`, a KV-v2 `detailed-metadata/`).
    pub fn recorded(&self, kind: &str) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|l| l["kind"] == kind)
            .collect()
    }
}

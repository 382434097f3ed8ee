//! A real, non-dev OpenBao server (`bao server -config`) on free ports of 127.0.0.1, on
//! single-node `raft` storage in a directory of its own or on `postgresql` storage (OpenBao 2.7
//! has no `file` storage any more), initialised through `sys/init` with Shamir keys of its own
//! (3 shares, threshold 2), unsealed and active: a `Bao` like any other.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Bao, die_with_parent, free_ports, unique};

/// The storage backend of a real server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Storage {
    /// Integrated storage, one node, in the server's own directory.
    Raft,
    /// A PostgreSQL database (`Postgres::storage_url`); OpenBao creates its table.
    Postgresql(String),
}

impl Storage {
    fn stanza(&self, dir: &Path) -> String {
        let data = dir.join("data");
        match self {
            Storage::Postgresql(url) => {
                format!("storage \"postgresql\" {{\n  connection_url = \"{url}\"\n}}\n")
            }
            Storage::Raft => format!(
                "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"{}\"\n}}\n",
                data.display(),
                unique("node")
            ),
        }
    }
}

impl Bao {
    /// Starts `bao server -config` on `storage`, initialises it with its own Shamir keys, unseals
    /// it and waits until it is active (a raft node must first elect itself leader).
    pub fn start_real(storage: &Storage) -> Bao {
        let mut log = String::new();
        for _ in 0..3 {
            match try_start_real(storage) {
                Ok(bao) => return bao,
                Err(tail) => log = tail, // most likely a lost port race; try other ports
            }
        }
        panic!("bao server -config did not start; its log ends with:\n{log}");
    }
}

fn try_start_real(storage: &Storage) -> Result<Bao, String> {
    let port = free_ports(2);
    let addr = format!("http://127.0.0.1:{port}");
    let home = tempfile::tempdir().expect("server dir");
    std::fs::create_dir(home.path().join("data")).expect("data dir");
    let config = format!(
        "{}listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  \
         cluster_address = \"127.0.0.1:{cluster}\"\n  tls_disable = true\n}}\n\
         api_addr = \"{addr}\"\ncluster_addr = \"http://127.0.0.1:{cluster}\"\n",
        storage.stanza(home.path()),
        cluster = port + 1,
    );
    let file = home.path().join("server.hcl");
    std::fs::write(&file, config).expect("write server config");
    let log_path = home.path().join("server.log");
    let log = std::fs::File::create(&log_path).expect("server log");
    let child = die_with_parent(
        Command::new("bao")
            .arg("server")
            .arg(format!("-config={}", file.display()))
            .stdout(Stdio::null())
            .stderr(log),
    )
    .spawn()
    .expect("cannot start `bao server -config`");
    let mut bao = Bao::from_parts(child, addr, String::new(), Some(home));
    let http = reqwest::blocking::Client::new();
    // Listening: `sys/seal-status` answers (`sys/health` is 501 until initialised).
    until(&mut bao, &log_path, |b| {
        http.get(format!("{}/v1/sys/seal-status", b.addr))
            .send()
            .is_ok_and(|r| r.status().is_success())
    })?;
    let init = put(
        &http,
        &bao.addr,
        "sys/init",
        json!({"secret_shares": 3, "secret_threshold": 2}),
    );
    bao.token = init["root_token"].as_str().expect("root token").to_string();
    bao.unseal_keys = init["keys"]
        .as_array()
        .expect("unseal keys")
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    for key in bao.unseal_keys.clone().iter().take(2) {
        put(&http, &bao.addr, "sys/unseal", json!({ "key": key }));
    }
    // Active: 200 (429 is a standby, as a raft node is until it has elected itself).
    until(&mut bao, &log_path, |b| {
        http.get(format!("{}/v1/sys/health", b.addr))
            .send()
            .is_ok_and(|r| r.status().as_u16() == 200)
    })?;
    Ok(bao)
}

/// Polls `ready` for up to 60 s; the end of the server's log when it exited first.
fn until(bao: &mut Bao, log: &Path, ready: impl Fn(&Bao) -> bool) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if ready(bao) {
            return Ok(());
        }
        if bao.exited() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            return Err(lines[lines.len().saturating_sub(10)..].join("\n"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("bao server at {} did not become ready in 60 s", bao.addr);
}

fn put(http: &reqwest::blocking::Client, addr: &str, path: &str, body: Value) -> Value {
    let resp = http
        .put(format!("{addr}/v1/{path}"))
        .json(&body)
        .send()
        .unwrap_or_else(|e| panic!("PUT {path}: {e}"));
    let status = resp.status();
    let text = resp.text().unwrap_or_default();
    assert!(status.is_success(), "PUT {path}: HTTP {status}");
    serde_json::from_str(&text).expect("JSON answer")
}

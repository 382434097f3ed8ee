//! What an operator's shell and automation expect of the binary, against real OpenBao:
//! `VAULT_PROXY_ADDR` carries every Vault request (its credentials sent, never printed),
//! `export -o json` for scripts, and `NO_COLOR` on a terminal.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use super::support::{Bao, env_for, file_store, free_port, python_stand_in, replicator};

/// A forward HTTP proxy: relays absolute-URI requests and logs each as
/// `METHOD URL auth=<Proxy-Authorization or ->`.
const FORWARD_PROXY: &str = r#"
import sys, http.client, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port, log = int(sys.argv[1]), sys.argv[2]
HOP = {"proxy-authorization", "proxy-connection", "connection", "keep-alive", "host"}
class Relay(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def relay(self):
        url = urllib.parse.urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with open(log, "a") as f:
            f.write(f"{self.command} {self.path} auth={self.headers.get('Proxy-Authorization', '-')}\n")
        upstream = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        target = url.path + ("?" + url.query if url.query else "")
        upstream.request(self.command, target, body or None, headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for k, v in answer.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    do_GET = do_POST = do_PUT = do_DELETE = do_LIST = do_HEAD = relay
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", port), Relay).serve_forever()
"#;

fn export_env(bao: &Bao, store: &Path, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env_for(bao, &file_store(store), &extra)
}

#[test]
fn vault_proxy_addr_carries_every_vault_request_and_its_password_is_never_printed() {
    let bao = Bao::start();
    bao.kv_put("secret", "app", json!({"v": "1"}));
    let store = tempfile::tempdir().unwrap();
    let log = store.path().join("proxied.log");
    let port = free_port();
    let proxy = python_stand_in(FORWARD_PROXY, port, &[log.to_str().unwrap()]);
    let with_credentials = format!("http://ops:pr0xy-s3cret@127.0.0.1:{port}");
    let env = export_env(
        &bao,
        store.path(),
        &[("VAULT_PROXY_ADDR", &with_credentials)],
    );
    let run = replicator(&["export"], &env);
    run.assert_code(0);
    drop(proxy);
    let proxied = std::fs::read_to_string(&log).unwrap();
    let expected_auth = {
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode("ops:pr0xy-s3cret");
        format!("auth=Basic {basic}")
    };
    let lines: Vec<&str> = proxied.lines().collect();
    assert!(lines.iter().any(|l| l.contains("/v1/secret/")), "{proxied}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains(&format!("{}/v1/", bao.addr)) && l.ends_with(&expected_auth)),
        "{proxied}"
    );

    // A proxy nobody answers at: one line naming what failed, the password nowhere.
    let dead = format!("http://ops:pr0xy-s3cret@127.0.0.1:{}", free_port());
    let env = export_env(&bao, store.path(), &[("VAULT_PROXY_ADDR", &dead)]);
    let run = replicator(&["export"], &env);
    assert_ne!(run.code, 0);
    assert!(!run.all().contains("pr0xy-s3cret"), "{}", run.all());
    // The older name is read too, and a malformed value is a configuration error (exit 2).
    let env = export_env(
        &bao,
        store.path(),
        &[("VAULT_HTTP_PROXY", "ops:pr0xy-s3cret@nowhere")],
    );
    let run = replicator(&["export"], &env);
    run.assert_code(2);
    assert!(run.stderr.contains("VAULT_HTTP_PROXY"), "{}", run.stderr);
    assert!(!run.all().contains("pr0xy-s3cret"), "{}", run.all());
}

#[test]
fn export_prints_json_for_automation() {
    let bao = Bao::start();
    bao.kv_put("secret", "app", json!({"v": "1"}));
    let store = tempfile::tempdir().unwrap();
    let run = replicator(
        &["export", "-o", "json"],
        &export_env(&bao, store.path(), &[]),
    );
    run.assert_code(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect(&run.stdout);
    let latest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.path().join("latest.json")).unwrap()).unwrap();
    assert_eq!(doc["key"], latest["key"], "{doc}");
    let stored = std::fs::metadata(store.path().join(doc["key"].as_str().unwrap())).unwrap();
    assert_eq!(doc["bytes"].as_u64(), Some(stored.len()), "{doc}");
    assert_eq!(doc["counts"]["kv_secret"], 1, "{doc}");
    assert!(doc["delta"].is_null() && doc["sha256"].is_string(), "{doc}");
}

/// Runs the binary on a pseudo-terminal (util-linux `script`) so that stderr is a terminal, and
/// returns everything it printed there.
fn on_a_terminal(bao: &Bao, no_color: Option<&str>) -> String {
    let mut env = vec![
        format!("BAO_ADDR={}", bao.addr),
        format!("BAO_TOKEN={}", bao.token),
        "REPLICATOR_LOG_FORMAT=text".to_string(),
        // A misspelt variable: the tool logs a warning about it, in colour or not.
        "REPLICATOR_KEEP_LASST=3".to_string(),
    ];
    env.extend(no_color.map(|v| format!("NO_COLOR={v}")));
    let line = format!(
        "env -i {} {} status",
        env.join(" "),
        env!("CARGO_BIN_EXE_vault-replicator")
    );
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .output()
        .expect("script (util-linux)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn no_color_turns_the_colours_of_text_logs_off_on_a_terminal() {
    let bao = Bao::start();
    let coloured = on_a_terminal(&bao, None);
    assert!(coloured.contains('\u{1b}'), "{coloured:?}");
    for off in ["1", "true"] {
        let plain = on_a_terminal(&bao, Some(off));
        assert!(!plain.contains('\u{1b}'), "NO_COLOR={off}: {plain:?}");
        assert!(
            plain.contains("WARN") && plain.contains("REPLICATOR_KEEP_LASST"),
            "{plain:?}"
        );
    }
}

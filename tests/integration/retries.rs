//! How the client behaves towards a server that misbehaves in ways OpenBao cannot be made to:
//! one that answers 429 with `Retry-After` for ever, and one that redirects elsewhere. Both are
//! Python stand-ins on 127.0.0.1 that log every request they get.

use std::process::Stdio;
use std::time::{Duration, Instant};

use super::support::{Run, command, file_store, finish, free_ports, keys, python_stand_in};

/// A stand-in Vault: `busy` answers every request 429 with `Retry-After: 1`; `redirect:PORT`
/// answers 307 to the same path on 127.0.0.1:PORT; `ok` answers 200 `{}`. Each request is
/// logged as `METHOD PATH token=<X-Vault-Token or ->`.
const STAND_IN: &str = r#"
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port, log, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class Handler(BaseHTTPRequestHandler):
    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        with open(log, "a") as f:
            f.write("%s %s token=%s\n" % (self.command, self.path, self.headers.get("X-Vault-Token", "-")))
        if mode == "busy":
            body = b'{"errors":["rate limit quota exceeded"]}'
            self.send_response(429)
            self.send_header("Retry-After", "1")
        elif mode.startswith("redirect:"):
            body = b""
            self.send_response(307)
            self.send_header("Location", "http://127.0.0.1:%s%s" % (mode.split(":")[1], self.path))
        else:
            body = b"{}"
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_PUT = do_DELETE = do_LIST = answer
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"#;

const TOKEN: &str = "s.retries-test-token-never-elsewhere";

/// Runs the real binary against `addr`, killing it if it is still running after `limit`.
fn run_within(
    args: &[&str],
    addr: &str,
    extra: &[(&str, &str)],
    limit: Duration,
) -> (Run, Duration) {
    let store = tempfile::tempdir().unwrap();
    let mut env: Vec<(String, String)> = vec![
        ("VAULT_ADDR".into(), addr.into()),
        ("VAULT_TOKEN".into(), TOKEN.into()),
        ("REPLICATOR_STORE".into(), file_store(store.path())),
    ];
    env.extend(keys().env());
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let started = Instant::now();
    let mut child = command(args, &env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "`{}` still running after {limit:?}; stderr:\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let elapsed = started.elapsed();
    (finish(child.wait_with_output().unwrap()), elapsed)
}

fn requests(log: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Regression: the retry loop honoured `Retry-After` even after the retries were spent, so a
/// server answering 429 with `Retry-After: 1` kept an import (or export) retrying for ever.
#[test]
fn a_server_answering_429_with_retry_after_for_ever_ends_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.log");
    let port = free_ports(1);
    let _busy = python_stand_in(STAND_IN, port, &[log.to_str().unwrap(), "busy"]);
    let addr = format!("http://127.0.0.1:{port}");
    for args in [&["import"][..], &["export"][..]] {
        let (run, took) = run_within(args, &addr, &[], Duration::from_secs(60));
        run.assert_code(1);
        let line = run.last_error_line();
        assert!(
            line.contains("HTTP 429") && line.contains("gave up after 5 retries"),
            "{line}"
        );
        assert!(took < Duration::from_secs(60), "{args:?} took {took:?}");
        assert!(!run.all().contains(TOKEN));
    }
    // Each failed request was tried once and retried five times, a second apart.
    let seen = requests(&log);
    assert!(seen.len() >= 12, "{seen:?}");
}

#[test]
fn retries_are_bounded_by_vault_max_retries_and_the_total_wait() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.log");
    let port = free_ports(1);
    let _busy = python_stand_in(STAND_IN, port, &[log.to_str().unwrap(), "busy"]);
    let addr = format!("http://127.0.0.1:{port}");

    // VAULT_MAX_RETRIES=0: every request is sent once.
    let none = [("VAULT_MAX_RETRIES", "0")];
    let (run, took) = run_within(&["import"], &addr, &none, Duration::from_secs(60));
    run.assert_code(1);
    assert!(
        run.last_error_line().contains("gave up after 0 retries"),
        "{}",
        run.stderr
    );
    let seen = requests(&log);
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(seen, unique, "a request was repeated");
    assert!(took < Duration::from_secs(10), "took {took:?}");

    // Many retries allowed, but only two seconds of waiting in all per request.
    let short = [
        ("VAULT_MAX_RETRIES", "100"),
        ("REPLICATOR_RETRY_MAX_WAIT", "2s"),
    ];
    let (run, took) = run_within(&["import"], &addr, &short, Duration::from_secs(60));
    run.assert_code(1);
    let line = run.last_error_line();
    assert!(line.contains("gave up after 2 retries and 2.0s"), "{line}");
    assert!(took < Duration::from_secs(15), "took {took:?}");

    // A malformed setting is a usage error naming it.
    let bad = [("VAULT_MAX_RETRIES", "lots")];
    let (run, _) = run_within(&["import"], &addr, &bad, Duration::from_secs(30));
    run.assert_code(2);
    assert!(
        run.last_error_line().contains("VAULT_MAX_RETRIES"),
        "{}",
        run.stderr
    );
}

/// Regression: reqwest followed redirects, and sent X-Vault-Token along to wherever they pointed.
#[test]
fn a_redirect_is_not_followed_and_the_token_never_reaches_the_other_address() {
    let dir = tempfile::tempdir().unwrap();
    let (first_log, other_log) = (dir.path().join("first.log"), dir.path().join("other.log"));
    let (first, other) = (free_ports(1), free_ports(1));
    let _other = python_stand_in(STAND_IN, other, &[other_log.to_str().unwrap(), "ok"]);
    let to = format!("redirect:{other}");
    let _first = python_stand_in(STAND_IN, first, &[first_log.to_str().unwrap(), &to]);
    let addr = format!("http://127.0.0.1:{first}");

    let (run, _) = run_within(&["import"], &addr, &[], Duration::from_secs(60));
    assert!(
        !requests(&first_log).is_empty(),
        "the first address was asked"
    );
    let leaked = requests(&other_log);
    assert!(
        leaked.iter().all(|l| !l.contains(TOKEN)),
        "the token reached the other address: {leaked:?}"
    );
    run.assert_code(1);
    let line = run.last_error_line();
    assert!(
        line.contains(&format!("redirect to http://127.0.0.1:{other}"))
            && line.contains("point VAULT_ADDR at"),
        "{line}"
    );
}

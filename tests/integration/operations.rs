//! Running the tool as a scheduled job: retention after export and `prune`, the RPO check in
//! `status`, metrics pushed to a Pushgateway, and progress lines on long runs.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::support::{Bao, Run, env_for, file_store, free_ports, python_stand_in, replicator};

fn run(bao: &Bao, store: &Path, args: &[&str], extra: &[(&str, &str)]) -> Run {
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    replicator(args, &env_for(bao, &file_store(store), &extra))
}

/// Everything in the store but `latest.json`: snapshots and their sidecars.
fn snapshots(store: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(store)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "latest.json")
        .collect();
    names.sort();
    names
}

fn latest(store: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(store.join("latest.json")).unwrap()).unwrap()
}

/// Exports once (with `extra`) and returns the key it published.
fn export(bao: &Bao, store: &Path, extra: &[(&str, &str)]) -> String {
    // Snapshot names are stamped to the second.
    std::thread::sleep(Duration::from_millis(1100));
    run(bao, store, &["export"], extra).assert_code(0);
    latest(store)["key"].as_str().unwrap().to_string()
}

#[test]
fn retention_keeps_the_newest_and_never_latest() {
    let src = Bao::start();
    src.kv_put("secret", "app", json!({"v": "1"}));
    let store = tempfile::tempdir().unwrap();
    // Full snapshots only: no chain keeps an older one.
    let full = [("REPLICATOR_FULL_EVERY", "0")];
    for _ in 0..3 {
        export(&src, store.path(), &full);
    }
    assert_eq!(
        snapshots(store.path()).len(),
        9,
        "3 snapshots with their signatures and indexes"
    );

    std::thread::sleep(Duration::from_millis(1100));
    let run_keep = run(
        &src,
        store.path(),
        &["export"],
        &[full[0], ("REPLICATOR_KEEP_LAST", "2")],
    );
    run_keep.assert_code(0);
    assert!(
        run_keep.stdout.contains("(retention)"),
        "{}",
        run_keep.stdout
    );
    let left = snapshots(store.path());
    assert_eq!(left.len(), 6, "{left:?}");
    assert!(left.contains(&latest(store.path())["key"].as_str().unwrap().to_string()));

    // `prune` on demand: a dry run deletes nothing; the real run keeps one.
    let dry = run(
        &src,
        store.path(),
        &["prune", "--dry-run"],
        &[("REPLICATOR_KEEP_LAST", "1")],
    );
    dry.assert_code(0);
    assert!(
        dry.stdout.contains("would delete") && dry.stdout.contains("nothing was deleted"),
        "{}",
        dry.stdout
    );
    assert_eq!(snapshots(store.path()).len(), 6);
    run(
        &src,
        store.path(),
        &["prune"],
        &[("REPLICATOR_KEEP_LAST", "1")],
    )
    .assert_code(0);
    assert_eq!(snapshots(store.path()).len(), 3);
    let none = run(&src, store.path(), &["prune"], &[]);
    none.assert_code(2);
    assert!(
        none.last_error_line().contains("REPLICATOR_KEEP_LAST"),
        "{}",
        none.stderr
    );
}

/// A delta is useless without its full snapshot and the deltas before it: retention keeps the
/// newest chain whole however few snapshots it is told to keep, and deletes an older chain with
/// its signatures and indexes.
#[test]
fn retention_keeps_the_chain_of_a_kept_delta_whole() {
    let src = Bao::start();
    let store = tempfile::tempdir().unwrap();
    let mut older = Vec::new();
    for v in 0..3 {
        src.kv_put("secret", "app", json!({"v": v}));
        older.push(export(&src, store.path(), &[]));
    }
    // A full snapshot on demand starts the newer chain; two deltas extend it, and retention runs
    // after the last export.
    src.kv_put("secret", "app", json!({"v": "full"}));
    let full = export(&src, store.path(), &[("REPLICATOR_FULL_EVERY", "0")]);
    src.kv_put("secret", "other", json!({"v": "1"}));
    let first = export(&src, store.path(), &[]);
    src.kv_put("secret", "app", json!({"v": "last"}));
    let last = export(&src, store.path(), &[("REPLICATOR_KEEP_LAST", "1")]);
    let chain = vec![full.clone(), first.clone(), last.clone()];
    assert!(
        !is_delta(&older[0]) && is_delta(&older[2]) && !is_delta(&full) && is_delta(&last),
        "{older:?} {chain:?}"
    );
    assert_eq!(latest(store.path())["chain"], json!(chain));
    let sidecars = |k: &String| [k.clone(), format!("{k}.minisig"), format!("{k}.index")];
    let mut kept: Vec<String> = chain.iter().flat_map(sidecars).collect();
    kept.sort();
    assert_eq!(snapshots(store.path()), kept, "the older chain goes whole");

    let dry = run(
        &src,
        store.path(),
        &["prune", "--dry-run"],
        &[("REPLICATOR_KEEP_LAST", "1")],
    );
    dry.assert_code(0);
    assert!(
        dry.stdout
            .contains("3 snapshots kept (2 of them only to keep a chain whole), 0 would delete"),
        "{}",
        dry.stdout
    );

    // `list` shows the chain: what each is, a delta's base, what latest.json's chain holds;
    // with --verify, the base is the one its signature vouches for.
    for args in [
        &["list", "--output", "json"][..],
        &["list", "--verify", "--output", "json"],
    ] {
        let listed = run(&src, store.path(), args, &[]);
        listed.assert_code(0);
        let doc: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
        assert_lists_chain(&doc, &chain, &listed.stdout);
        let check = if args.contains(&"--verify") {
            "verified"
        } else {
            "unverified"
        };
        assert!(
            doc["snapshots"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["verification"] == check),
            "{}",
            listed.stdout
        );
    }
}

/// `list --output json` shows `chain` (a full snapshot and two deltas, oldest first) as it is.
fn assert_lists_chain(doc: &serde_json::Value, chain: &[String], listed: &str) {
    let [full, first, last] = chain else {
        panic!("{chain:?}")
    };
    let rows: Vec<_> = doc["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["key"].clone(),
                s["kind"].clone(),
                s["base"].clone(),
                s["in_latest_chain"].clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (json!(last), json!("delta"), json!(first), json!(true)),
            (json!(first), json!("delta"), json!(full), json!(true)),
            (json!(full), json!("full"), json!(null), json!(true)),
        ],
        "{listed}"
    );
    assert_eq!(
        doc["snapshots"][0]["counts"]["kv_secret"], 1,
        "a delta counts what it holds"
    );
}

fn is_delta(key: &str) -> bool {
    key.contains(".delta.")
}

#[test]
fn status_fails_when_the_newest_data_is_older_than_max_age() {
    let (src, dst) = (Bao::start(), Bao::start());
    src.kv_put("secret", "app", json!({"v": "1"}));
    let store = tempfile::tempdir().unwrap();
    let stale = run(
        &dst,
        store.path(),
        &["status"],
        &[("REPLICATOR_MAX_AGE", "1h")],
    );
    stale.assert_code(5);
    assert!(
        stale
            .last_error_line()
            .contains("no snapshot and no import yet"),
        "{}",
        stale.stderr
    );

    run(&src, store.path(), &["export"], &[]).assert_code(0);
    run(&dst, store.path(), &["import"], &[]).assert_code(0);
    let ok = run(
        &dst,
        store.path(),
        &["status"],
        &[("REPLICATOR_MAX_AGE", "1h")],
    );
    ok.assert_code(0);
    assert!(
        ok.stdout.contains("last import:") && ok.stdout.contains("store latest:"),
        "{}",
        ok.stdout
    );

    std::thread::sleep(Duration::from_millis(2100));
    let old = run(
        &dst,
        store.path(),
        &["status"],
        &[("REPLICATOR_MAX_AGE", "1s")],
    );
    old.assert_code(5);
    assert!(
        old.last_error_line().contains("over REPLICATOR_MAX_AGE"),
        "{}",
        old.stderr
    );

    // Without VAULT_ADDR it checks the store alone: the probe a DC-side alert can run.
    let env = [
        ("REPLICATOR_STORE".to_string(), file_store(store.path())),
        ("REPLICATOR_MAX_AGE".to_string(), "1h".to_string()),
    ];
    replicator(&["status"], &env).assert_code(0);
}

/// A stand-in Pushgateway: appends every pushed body, with its path, to a file.
const PUSHGATEWAY: &str = r#"
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
port, log = int(sys.argv[1]), sys.argv[2]
class Push(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        with open(log, "a") as f:
            f.write("PATH " + self.path + "\n" + body)
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
HTTPServer(("127.0.0.1", port), Push).serve_forever()
"#;

#[test]
fn metrics_are_pushed_after_success_and_failure() {
    let (src, dst) = (Bao::start(), Bao::start());
    src.kv_put("secret", "app", json!({"v": "1"}));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("pushed.txt");
    let port = free_ports(1);
    let gw = python_stand_in(PUSHGATEWAY, port, &[log.to_str().unwrap()]);
    let url = format!("http://127.0.0.1:{port}");
    let store = tempfile::tempdir().unwrap();
    let push = [("REPLICATOR_PUSHGATEWAY_URL", url.as_str())];
    run(&src, store.path(), &["export"], &push).assert_code(0);
    run(&dst, store.path(), &["import"], &push).assert_code(0);
    run(&dst, store.path(), &["promote"], &[]).assert_code(0);
    run(&dst, store.path(), &["import"], &push).assert_code(4);
    drop(gw);

    let pushed = std::fs::read_to_string(&log).unwrap();
    let pushes: Vec<&str> = pushed.split("PATH ").filter(|p| !p.is_empty()).collect();
    assert_eq!(pushes.len(), 3, "{pushed}");
    assert!(pushes[0].starts_with("/metrics/job/vault-replicator/command/export"));
    assert!(pushes[0].contains("vault_replicator_last_success_timestamp_seconds "));
    assert!(
        pushes[0].contains("vault_replicator_objects{kind=\"kv_secret\",result=\"exported\"} 1")
    );
    assert!(pushes[0].contains("vault_replicator_snapshot_bytes "));
    assert!(
        pushes[1].contains("vault_replicator_objects{kind=\"kv_secret\",result=\"created\"} 1")
    );
    assert!(pushes[2].contains("vault_replicator_last_failure_timestamp_seconds "));
    assert!(pushes[2].contains("vault_replicator_last_exit_code 4"));
    assert!(!pushes[2].contains("last_success"));
}

/// Issue #27 item 5: the age of the data on DR. A complete import pushes the source time of the
/// snapshot it applied (its key's stamp); a refused import pushes none, so the Pushgateway keeps
/// the last complete import's; a dry run pushes nothing at all (#28); `status` prints the data's
/// age.
#[test]
fn a_complete_import_pushes_the_source_time_of_the_data_it_applied() {
    let (src, dst) = (Bao::start(), Bao::start());
    src.kv_put("secret", "app", json!({"v": "1"}));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("pushed.txt");
    let port = free_ports(1);
    let gw = python_stand_in(PUSHGATEWAY, port, &[log.to_str().unwrap()]);
    let url = format!("http://127.0.0.1:{port}");
    let store = tempfile::tempdir().unwrap();
    let push = [("REPLICATOR_PUSHGATEWAY_URL", url.as_str())];
    run(&src, store.path(), &["export"], &push).assert_code(0);
    run(&dst, store.path(), &["import", "--dry-run"], &push).assert_code(0);
    run(&dst, store.path(), &["import"], &push).assert_code(0);
    let status = run(&dst, store.path(), &["status"], &[]);
    status.assert_code(0);
    run(&dst, store.path(), &["promote"], &[]).assert_code(0);
    run(&dst, store.path(), &["import"], &push).assert_code(4);
    drop(gw);

    let latest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.path().join("latest.json")).unwrap()).unwrap();
    let key = latest["key"].as_str().unwrap();
    let exported = vault_replicator::snapshot::catalog::parse_snapshot_key(key).unwrap();
    let metric = "vault_replicator_import_data_timestamp_seconds";
    let pushed = std::fs::read_to_string(&log).unwrap();
    let pushes: Vec<&str> = pushed.split("PATH ").filter(|p| !p.is_empty()).collect();
    assert_eq!(pushes.len(), 3, "export, import, refused import: {pushed}");
    let with_metric: Vec<bool> = pushes.iter().map(|p| p.contains(metric)).collect();
    assert_eq!(with_metric, [false, true, false], "{pushed}");
    assert!(
        pushes[1].contains(&format!("\n{metric} {}\n", exported.timestamp())),
        "{}",
        pushes[1]
    );
    let line = format!(
        "data age: {}",
        status
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("data age: "))
            .unwrap_or_else(|| panic!("no data age in {}", status.stdout))
    );
    let at = exported.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    assert!(
        line.ends_with(&format!("(exported from the source at {at})")),
        "{line}"
    );
}

/// The pushed paths, in order, from the stand-in's log.
fn pushed_paths(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("PATH "))
        .map(String::from)
        .collect()
}

fn base64url(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE.encode(s)
}

#[test]
fn a_dc_export_and_a_failback_export_push_to_different_groups() {
    let (dc, dr) = (Bao::start(), Bao::start());
    dc.kv_put("secret", "app", json!({"v": "1"}));
    dr.kv_put("secret", "app", json!({"v": "1"}));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("pushed.txt");
    let port = free_ports(1);
    let gw = python_stand_in(PUSHGATEWAY, port, &[log.to_str().unwrap()]);
    let url = format!("http://127.0.0.1:{port}");
    let (dc_store, failback_store) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let named = [
        ("REPLICATOR_PUSHGATEWAY_URL", url.as_str()),
        ("REPLICATOR_METRICS_INSTANCE", "dc"),
    ];
    run(&dc, dc_store.path(), &["export"], &named).assert_code(0);
    // No REPLICATOR_METRICS_INSTANCE: the Vault address's host and port name the deployment.
    let unnamed = [("REPLICATOR_PUSHGATEWAY_URL", url.as_str())];
    run(&dr, failback_store.path(), &["export"], &unnamed).assert_code(0);
    drop(gw);

    let paths = pushed_paths(&log);
    let group = "/metrics/job/vault-replicator/command/export";
    let prefix = |p: &Path| base64url(p.to_str().unwrap().trim_end_matches('/'));
    let dr_host = dr.addr.trim_start_matches("http://").trim_end_matches('/');
    assert_eq!(
        paths,
        vec![
            format!(
                "{group}/instance/dc/prefix@base64/{}",
                prefix(dc_store.path())
            ),
            format!(
                "{group}/instance/{}/prefix@base64/{}",
                dr_host.replace(':', "%3A"),
                prefix(failback_store.path())
            ),
        ]
    );
}

#[test]
fn long_runs_log_progress_lines() {
    let (src, dst) = (Bao::start(), Bao::start());
    for i in 0..200 {
        src.kv_put("secret", &format!("s{i}"), json!({"v": i}));
    }
    let store = tempfile::tempdir().unwrap();
    let every = [
        ("REPLICATOR_PROGRESS_INTERVAL", "20ms"),
        ("REPLICATOR_CONCURRENCY", "1"),
    ];
    let export = run(&src, store.path(), &["export"], &every);
    export.assert_code(0);
    assert!(export.stderr.contains("progress: "), "{}", export.stderr);
    let import = run(&dst, store.path(), &["import"], &every);
    import.assert_code(0);
    // 200 secrets, the `secret/` mount and the default policy.
    assert!(import.stderr.contains("/202 objects"), "{}", import.stderr);
}

//! The importer's safety rails against real OpenBao: prune and its guard, native objects, drift,
//! the promotion fence, a killed import, SIGTERM, and two imports at once.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;

use super::support::{Bao, Pair, command, finish, replicator, words};

fn seed_many(bao: &Bao, n: usize) {
    for i in 0..n {
        bao.kv_put("secret", &format!("bulk/{i:04}"), json!({"v": i}));
    }
}

#[test]
fn prune_deletes_exactly_what_left_the_source_and_never_native_objects() {
    let p = Pair::new();
    for k in ["a", "b", "c"] {
        p.src.kv_put("secret", k, json!({"k": k}));
    }
    p.src.write(
        "sys/policies/acl/gone-pol",
        json!({"policy": "path \"x\" {}"}),
    );
    p.export();
    p.import(&[]).assert_code(0);
    p.dst.kv_put("secret", "native", json!({"dr": "only"}));
    p.dst.write(
        "sys/policies/acl/native-pol",
        json!({"policy": "path \"y\" {}"}),
    );

    p.src.delete("secret/metadata/b");
    p.src.delete("sys/policies/acl/gone-pol");
    p.export();
    // Without REPLICATOR_PRUNE nothing is deleted.
    p.import(&[]).assert_code(0);
    assert!(p.dst.kv_get("secret", "b").is_some());

    let run = p.import(&[("REPLICATOR_PRUNE", "true"), ("REPLICATOR_MAX_DELETE", "2")]);
    run.assert_code(0);
    let out = words(&run.stdout);
    assert!(out.contains("kv_secret 0 0 1"), "{out}");
    assert_eq!(p.dst.kv_keys("secret"), ["a", "c", "native"]);
    assert!(
        p.dst.read("secret/metadata/b").is_none(),
        "all versions and metadata gone"
    );
    assert!(p.dst.read("sys/policies/acl/gone-pol").is_none());
    assert!(p.dst.read("sys/policies/acl/native-pol").is_some());
}

#[test]
fn an_empty_source_is_refused_by_the_delete_guard() {
    let p = Pair::new();
    seed_many(&p.src, 30);
    p.export();
    p.import(&[]).assert_code(0);
    for i in 0..30 {
        p.src.delete(&format!("secret/metadata/bulk/{i:04}"));
    }
    p.export();
    let run = p.import(&[("REPLICATOR_PRUNE", "true")]);
    run.assert_code(4);
    let line = run.last_error_line();
    assert!(
        line.contains("REPLICATOR_MAX_DELETE=10%") && line.contains("deletes 30"),
        "{line}"
    );
    assert_eq!(p.dst.kv_keys("secret").len(), 30, "nothing deleted");
}

#[test]
fn drift_is_detected_under_each_mode() {
    let p = Pair::new();
    p.src.kv_put("secret", "app", json!({"pw": "from-dc"}));
    p.export();
    p.import(&[]).assert_code(0);

    // Between full checks, an object the last import applied is not read: DR's write is not seen.
    p.dst
        .kv_put("secret", "app", json!({"pw": "written-on-dr"}));
    let run = p.import(&[]);
    run.assert_code(0);
    assert!(!run.stdout.contains("drift"), "{}", run.stdout);

    // Every REPLICATOR_FULL_CHECK_EVERY-th import compares everything. skip: DR's write stays,
    // the object is reported.
    let run = p.import(&[
        ("REPLICATOR_ON_DRIFT", "skip"),
        ("REPLICATOR_FULL_CHECK_EVERY", "1"),
    ]);
    run.assert_code(0);
    assert!(run.stdout.contains("drift: 1 objects"), "{}", run.stdout);
    assert_eq!(
        p.dst.kv_get("secret", "app"),
        Some(json!({"pw": "written-on-dr"}))
    );

    // fail: refused as a whole, nothing written. (The run after a skip compares in full again:
    // the state says the object was not applied.)
    let run = p.import(&[("REPLICATOR_ON_DRIFT", "fail")]);
    run.assert_code(4);
    assert!(
        run.last_error_line().contains("changed on the target"),
        "{}",
        run.stderr
    );
    assert_eq!(
        p.dst.kv_get("secret", "app"),
        Some(json!({"pw": "written-on-dr"}))
    );

    // overwrite (the default): back to the snapshot, with a warning.
    let run = p.import(&[]);
    run.assert_code(0);
    assert!(run.stderr.contains("drift"), "{}", run.stderr);
    assert!(run.stdout.contains("drift: 1 objects"), "{}", run.stdout);
    assert_eq!(
        p.dst.kv_get("secret", "app"),
        Some(json!({"pw": "from-dc"}))
    );
    // Once converged, there is no drift left.
    let run = p.import(&[]);
    assert!(!run.stdout.contains("drift"), "{}", run.stdout);
}

#[test]
fn a_promoted_cluster_refuses_imports_until_demoted() {
    let p = Pair::new();
    p.src.kv_put("secret", "app", json!({"v": "1"}));
    p.export();
    replicator(&["promote"], &p.env(&p.dst, &[])).assert_code(0);
    let status = replicator(&["status"], &p.env(&p.dst, &[]));
    status.assert_code(0);
    assert!(status.stdout.contains("PROMOTED"), "{}", status.stdout);

    let run = p.import(&[]);
    run.assert_code(4);
    let line = run.last_error_line();
    assert!(
        line.contains("promoted") && line.contains("vault-replicator demote"),
        "{line}"
    );
    assert!(p.dst.kv_get("secret", "app").is_none());

    replicator(&["demote"], &p.env(&p.dst, &[])).assert_code(0);
    p.import(&[]).assert_code(0);
    assert_eq!(p.dst.kv_get("secret", "app"), Some(json!({"v": "1"})));
}

/// Starts an import and kills it with `signal` once the target has some of the secrets.
fn interrupt_import(p: &Pair, signal: i32, extra: &[(&str, &str)]) -> super::support::Run {
    let child = command(&["import"], &p.env(&p.dst, extra))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while p.dst.list("secret/metadata/bulk").len() < 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, signal) };
    finish(child.wait_with_output().unwrap())
}

#[test]
fn a_killed_import_converges_on_the_next_run_without_extra_versions() {
    let p = Pair::new();
    seed_many(&p.src, 400);
    p.export();
    let ttl = [
        ("REPLICATOR_LEASE_TTL", "2s"),
        ("REPLICATOR_CONCURRENCY", "2"),
    ];
    let killed = interrupt_import(&p, libc::SIGKILL, &ttl);
    assert_eq!(killed.code, -1, "killed by the signal");
    let partial = p.dst.list("secret/metadata/bulk").len();
    assert!(
        partial < 400,
        "the kill landed mid-import ({partial} written)"
    );

    // The killed run's lease expires; the next run waits for it and converges.
    let run = p.import(&[
        ("REPLICATOR_LEASE_TTL", "2s"),
        ("REPLICATOR_LEASE_WAIT", "30s"),
    ]);
    run.assert_code(0);
    assert_eq!(p.dst.kv_keys("secret").len(), 400);
    for i in (0..400).step_by(37) {
        let key = format!("bulk/{i:04}");
        assert_eq!(p.dst.kv_get("secret", &key), Some(json!({"v": i})));
        assert_eq!(
            p.dst.kv_version("secret", &key),
            1,
            "{key} got an extra version"
        );
    }
    assert!(p.import(&[]).stdout.contains("(0 writes)"));
}

#[test]
fn sigterm_finishes_in_flight_requests_records_progress_and_exits_3() {
    let p = Pair::new();
    seed_many(&p.src, 400);
    p.export();
    let run = interrupt_import(&p, libc::SIGTERM, &[("REPLICATOR_CONCURRENCY", "2")]);
    run.assert_code(3);
    assert!(run.stdout.contains("interrupted"), "{}", run.stdout);
    let rerun = p.import(&[]);
    rerun.assert_code(0);
    assert_eq!(p.dst.kv_keys("secret").len(), 400);
}

#[test]
fn two_imports_at_once_do_not_interleave() {
    let p = Pair::new();
    seed_many(&p.src, 300);
    p.export();
    let slow = [("REPLICATOR_CONCURRENCY", "1")];
    let first = command(&["import"], &p.env(&p.dst, &slow))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first run holds the lease and is writing.
    let deadline = Instant::now() + Duration::from_secs(60);
    while p.dst.list("secret/metadata/bulk").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = p.import(&[]);
    second.assert_code(1);
    assert!(
        second
            .last_error_line()
            .contains("another import holds the lease"),
        "{}",
        second.stderr
    );
    assert!(second.last_error_line().contains("nothing was written"));
    finish(first.wait_with_output().unwrap()).assert_code(0);
    assert_eq!(p.dst.kv_keys("secret").len(), 300);
}

#[test]
fn a_dry_run_leaves_no_trace_not_even_bookkeeping() {
    let p = Pair::new();
    p.src.kv_put("secret", "a", json!({"v": 1}));
    p.export();
    let run = replicator(
        &["import", "--dry-run", "--output", "json"],
        &p.env(&p.dst, &[]),
    );
    run.assert_code(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["plan"]["changes"][0]["action"], json!("create"));
    assert_eq!(doc["plan"]["changes"][0]["path"], json!("secret/a"));
    assert!(!run.stdout.contains("\"v\""), "no values in the JSON plan");
    let mounts = p.dst.read("sys/mounts").unwrap();
    assert!(mounts["data"].get("vault-replicator/").is_none());
    assert!(p.dst.kv_get("secret", "a").is_none());
}

#[test]
fn an_import_after_a_few_changes_reads_only_what_changed_until_a_full_check() {
    let p = Pair::new();
    for i in 0..200 {
        p.src.kv_put("secret", &format!("s{i}"), json!({"v": i}));
    }
    p.export();
    let reads = |extra: &[(&str, &str)]| {
        let run = p.import_args(&["import", "--output", "json"], extra);
        run.assert_code(0);
        let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        (
            doc["reads"].as_u64().unwrap(),
            doc["writes"].as_u64().unwrap(),
        )
    };
    let (_, first) = reads(&[]);
    assert_eq!(first, 200, "the first import writes everything");

    for i in 0..2 {
        p.src
            .kv_put("secret", &format!("s{i}"), json!({"v": "changed"}));
    }
    p.export();
    let (changed, writes) = reads(&[]);
    assert_eq!(writes, 2);
    assert!(
        changed < 30,
        "2 changes must not re-read 200 secrets: {changed} reads"
    );
    assert_eq!(p.dst.kv_get("secret", "s1"), Some(json!({"v": "changed"})));

    let (again, _) = p
        .import_args(&["import", "--full-check", "--output", "json"], &[])
        .stdout
        .parse::<serde_json::Value>()
        .map(|d| (d["reads"].as_u64().unwrap(), 0))
        .unwrap();
    assert!(
        again >= 200,
        "--full-check compares everything: {again} reads"
    );
}

/// #19: an import of a snapshot whose every entry the last import applied plans only its mounts
/// (the pass stops at the head of the archive; no object inside is read, nothing is written),
/// until a full check or a change in the source.
#[test]
fn a_no_op_import_reads_no_object_until_the_source_changes_or_a_full_check_is_due() {
    let p = Pair::new();
    for i in 0..50 {
        p.src.kv_put("secret", &format!("s{i}"), json!({"v": i}));
    }
    p.sync(&[], 0);
    let import = |extra: &[(&str, &str)]| {
        let run = p.import_args(&["import", "--output", "json"], extra);
        run.assert_code(0);
        let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let reads = doc["reads"].as_u64().unwrap();
        let unchanged = doc["summary"]["kinds"]["kv_secret"]["unchanged"].clone();
        (
            reads,
            doc["writes"].as_u64().unwrap(),
            unchanged,
            run.stderr,
        )
    };
    let (reads, writes, unchanged, log) = import(&[]);
    // Planning `secret/` reads the mount tables; no object inside it is read (50 secrets).
    assert!(
        reads < 10 && writes == 0,
        "{reads} reads, {writes} writes\n{log}"
    );
    assert_eq!(unchanged, json!(50), "{log}");
    assert!(
        log.contains("only namespaces and mounts are planned"),
        "{log}"
    );

    p.src.kv_put("secret", "s1", json!({"v": "changed"}));
    p.export();
    let (reads, writes, _, log) = import(&[]);
    assert_eq!(writes, 1, "{log}");
    assert!(
        reads > 0 && !log.contains("only namespaces and mounts are planned"),
        "{log}"
    );

    let (reads, _, _, log) = import(&[("REPLICATOR_FULL_CHECK_EVERY", "1")]);
    assert!(
        reads >= 50 && !log.contains("only namespaces and mounts are planned"),
        "{reads} reads\n{log}"
    );
}

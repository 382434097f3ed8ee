//! Injected network faults between the tool and real OpenBao (`FaultProxy`): a connection to DR
//! stalled past the import's lease while `promote` takes it, and servers that answer 503, drop
//! connections, or lose the answer after the write landed. After each, DR equals DC, or the run
//! stopped and nothing it sent landed after `promote` returned.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::support::{Bao, Fault, FaultProxy, Pair, command, finish, replicator};

fn seed_many(bao: &Bao, n: usize) {
    for i in 0..n {
        bao.kv_put("secret", &format!("bulk/{i:04}"), json!({"v": i}));
    }
}

/// An import into the target whose requests all go through `proxy`.
fn import_through(p: &Pair, proxy: &FaultProxy, extra: &[(&str, &str)]) -> Child {
    let mut env = p.env(&p.dst, extra);
    env.push(("VAULT_ADDR".into(), proxy.addr.clone()));
    command(&["import"], &env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn bulk_on(bao: &Bao) -> usize {
    bao.list("secret/metadata/bulk").len()
}

/// Waits until the running import has written at least `n` of the bulk secrets.
fn wait_for_bulk(dst: &Bao, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while bulk_on(dst) < n {
        assert!(Instant::now() < deadline, "the import never got going");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every secret under `secret/bulk/` of the source, with the same value on the target.
fn assert_bulk_equal(src: &Bao, dst: &Bao) {
    let keys = src.list("secret/metadata/bulk");
    assert_eq!(keys, dst.list("secret/metadata/bulk"));
    for k in keys {
        let path = format!("bulk/{k}");
        assert_eq!(
            src.kv_get("secret", &path),
            dst.kv_get("secret", &path),
            "{path}"
        );
    }
}

/// Issue #25 item 4: the network to DR stalled mid-import past the lease's TTL; `promote` took
/// the expired lease and returned, the stall healed, and a retried KV write landed on the
/// promoted cluster, since the client's retries (up to VAULT_MAX_RETRIES × VAULT_CLIENT_TIMEOUT)
/// outlived the lease and never looked at it again.
#[test]
fn a_write_stalled_past_the_lease_never_lands_after_promote() {
    let p = Pair::new();
    seed_many(&p.src, 1500);
    p.export();
    let proxy = FaultProxy::start(&p.dst.addr);
    let import = import_through(
        &p,
        &proxy,
        &[
            ("REPLICATOR_CONCURRENCY", "1"),
            ("REPLICATOR_LEASE_TTL", "20s"),
            ("VAULT_CLIENT_TIMEOUT", "10s"),
        ],
    );
    wait_for_bulk(&p.dst, 20);
    proxy.set(Fault::Stall);
    // The lease was renewed at most a third of its TTL before the stall: expired after 20 s.
    std::thread::sleep(Duration::from_secs(21));

    let promoted = replicator(&["promote"], &p.env(&p.dst, &[]));
    promoted.assert_code(0);
    assert!(
        promoted.stdout.contains("expired"),
        "promote took the stalled import's expired lease: {}",
        promoted.stdout
    );
    let at_promote = bulk_on(&p.dst);
    proxy.set(Fault::Pass);

    let import = finish(import.wait_with_output().unwrap());
    // Whatever the import still had in hand when the network came back stays unsent.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        bulk_on(&p.dst),
        at_promote,
        "a write landed on DR after promote returned; the import said:\n{}",
        import.stderr
    );
    import.assert_code(4);
    assert!(
        import
            .last_error_line()
            .contains("was promoted during this import"),
        "{}",
        import.stderr
    );
    // Later imports are refused by the fence.
    p.import(&[]).assert_code(4);
    assert_eq!(bulk_on(&p.dst), at_promote);
}

/// Issue #25 fault tests: a stall shorter than a request's budget (a third of the lease TTL)
/// only slows the import down: the held bytes go through when it heals, the run completes, and
/// DR equals DC.
#[test]
fn a_short_stall_only_slows_the_import_down() {
    let p = Pair::new();
    seed_many(&p.src, 400);
    p.export();
    let proxy = FaultProxy::start(&p.dst.addr);
    let import = import_through(
        &p,
        &proxy,
        &[
            ("REPLICATOR_CONCURRENCY", "1"),
            ("REPLICATOR_LEASE_TTL", "30s"),
        ],
    );
    wait_for_bulk(&p.dst, 20);
    proxy.set(Fault::Stall);
    std::thread::sleep(Duration::from_secs(4));
    proxy.set(Fault::Pass);
    let import = finish(import.wait_with_output().unwrap());
    import.assert_code(0);
    assert_bulk_equal(&p.src, &p.dst);
}

/// Issue #25 fault tests: a target that answers 503, drops connections, and loses answers after
/// the write landed. The import retries its way through, DR ends equal to DC, and the next
/// import writes nothing. It used to end partial (exit 3): a KV write whose answer was lost was
/// retried with the same `cas`, which the landed first attempt had moved past.
#[test]
fn a_flaky_target_ends_equal_to_the_source() {
    let p = Pair::new();
    seed_many(&p.src, 300);
    p.src.write(
        "sys/policy/app",
        json!({"policy": "path \"secret/*\" {capabilities = [\"read\"]}"}),
    );
    p.export();
    let proxy = FaultProxy::start(&p.dst.addr);
    proxy.set(Fault::Flaky);
    // Few connections kept alive: most requests open a new one, so faults keep coming.
    let extra = [("REPLICATOR_CONCURRENCY", "8"), ("VAULT_MAX_RETRIES", "8")];
    let first = finish(
        import_through(&p, &proxy, &extra)
            .wait_with_output()
            .unwrap(),
    );
    assert!(proxy.injected() > 0, "no fault was injected");
    assert!(
        first.stderr.contains("retrying Vault request"),
        "{}",
        first.stderr
    );
    // A KV write whose answer was lost is found landed when its retry meets the moved version.
    first.assert_code(0);
    assert_bulk_equal(&p.src, &p.dst);
    assert!(p.dst.read("sys/policy/app").is_some());
    proxy.set(Fault::Pass);
    let again = finish(import_through(&p, &proxy, &[]).wait_with_output().unwrap());
    again.assert_code(0);
    assert!(again.stdout.contains("(0 writes)"), "{}", again.stdout);
}

/// Issue #25 fault tests: an export whose source answers 503, drops connections and loses
/// answers still writes a whole snapshot (or fails, never a partial one), and the import
/// from it makes DR equal to DC.
#[test]
fn an_export_from_a_flaky_source_is_whole() {
    let p = Pair::new();
    seed_many(&p.src, 300);
    let proxy = FaultProxy::start(&p.src.addr);
    proxy.set(Fault::Flaky);
    let mut env = p.env(&p.src, &[("VAULT_MAX_RETRIES", "8")]);
    env.push(("VAULT_ADDR".into(), proxy.addr.clone()));
    std::thread::sleep(Duration::from_millis(1050));
    let export = replicator(&["export"], &env);
    assert!(proxy.injected() > 0, "no fault was injected");
    export.assert_code(0);
    p.import(&[]).assert_code(0);
    assert_bulk_equal(&p.src, &p.dst);
}

/// Issue #25 fault tests: an import killed (SIGKILL) mid-write while the target is flaky; the
/// next run, still through the faults, completes, and DR equals DC without a version too many.
#[test]
fn an_import_killed_mid_write_on_a_flaky_target_converges() {
    let p = Pair::new();
    seed_many(&p.src, 600);
    p.export();
    let proxy = FaultProxy::start(&p.dst.addr);
    proxy.set(Fault::Flaky);
    let extra = [
        ("REPLICATOR_CONCURRENCY", "4"),
        ("VAULT_MAX_RETRIES", "8"),
        ("REPLICATOR_LEASE_TTL", "10s"),
    ];
    let mut import = import_through(&p, &proxy, &extra);
    wait_for_bulk(&p.dst, 50);
    import.kill().unwrap();
    assert_eq!(finish(import.wait_with_output().unwrap()).code, -1);

    // The killed run's lease is still held: the next one waits it out.
    let wait = [("REPLICATOR_LEASE_WAIT", "1m")];
    let next = finish(
        import_through(&p, &proxy, &[extra[0], extra[1], extra[2], wait[0]])
            .wait_with_output()
            .unwrap(),
    );
    next.assert_code(0);
    assert!(proxy.injected() > 0);
    assert_bulk_equal(&p.src, &p.dst);
    for k in ["bulk/0000", "bulk/0599"] {
        assert_eq!(p.dst.kv_version("secret", k), 1, "{k}");
    }
    proxy.set(Fault::Pass);
    let again = finish(import_through(&p, &proxy, &[]).wait_with_output().unwrap());
    again.assert_code(0);
    assert!(again.stdout.contains("(0 writes)"), "{}", again.stdout);
}

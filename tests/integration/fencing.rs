//! DR safety under real operator sequences, against real OpenBao: `promote` stopping an import
//! that is already running, the lease guarding the bookkeeping, a full check after a killed run,
//! and lease holders that stay distinct across containers with the same name and PID.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::support::{Bao, Pair, Run, command, finish, replicator};

impl Pair {
    fn run_on_dst(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        replicator(args, &self.env(&self.dst, extra))
    }

    /// An import started in the background.
    fn start_import(&self, extra: &[(&str, &str)]) -> Child {
        command(&["import"], &self.env(&self.dst, extra))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Secrets under `secret/bulk/` on the target.
    fn bulk_on_dst(&self) -> usize {
        self.dst.list("secret/metadata/bulk").len()
    }

    /// Waits until the running import has written at least `n` of the bulk secrets.
    fn wait_for_bulk(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.bulk_on_dst() < n {
            assert!(Instant::now() < deadline, "the import never got going");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// What `status` says the target last imported.
    fn last_import(&self) -> String {
        let status = self.run_on_dst(&["status"], &[]);
        status.assert_code(0);
        status
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("last import: "))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or("")
            .to_string()
    }
}

fn seed_many(bao: &Bao, n: usize) {
    for i in 0..n {
        bao.kv_put("secret", &format!("bulk/{i:04}"), json!({"v": i}));
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, sig) };
}

/// Log text without its colours.
fn plain(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|c| *c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

/// `Imported KEY (N writes).` on stdout names the snapshot an import applied.
fn imported_key(run: &Run) -> String {
    run.stdout
        .lines()
        .find_map(|l| l.strip_prefix("Imported "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("")
        .to_string()
}

/// Issue item 5: `promote` only fenced later imports; one already running kept writing.
#[test]
fn promote_stops_a_running_import_and_returns_once_it_has_stopped() {
    let p = Pair::new();
    seed_many(&p.src, 2000);
    p.export();
    let import = p.start_import(&[("REPLICATOR_CONCURRENCY", "1")]);
    p.wait_for_bulk(20);

    let promoted = p.run_on_dst(&["promote"], &[]);
    // From the moment promote returns, nothing the import does may reach DR.
    let at_promote = p.bulk_on_dst();
    p.dst
        .kv_put("secret", "bulk/1999", json!({"v": "written on DR"}));
    let import = finish(import.wait_with_output().unwrap());
    assert_eq!(
        p.bulk_on_dst(),
        at_promote + 1,
        "the import went on writing after promote returned ({at_promote} when it returned)"
    );
    assert_eq!(
        p.dst.kv_get("secret", "bulk/1999"),
        Some(json!({"v": "written on DR"}))
    );
    assert_eq!(p.dst.kv_version("secret", "bulk/1999"), 1);

    import.assert_code(4);
    let line = import.last_error_line();
    assert!(
        line.contains("promoted") && line.contains("writes"),
        "the import says why it stopped and how much it wrote: {line}"
    );
    promoted.assert_code(0);
    assert!(
        promoted.stdout.contains("is promoted") && promoted.stdout.contains("stopped"),
        "promote says the running import stopped: {}",
        promoted.stdout
    );
    // A later import is refused, and the writes made on DR stay.
    p.import(&[]).assert_code(4);
    assert_eq!(p.bulk_on_dst(), at_promote + 1);
}

/// Issue item 5: a killed import cannot be asked to stop; promote waits out its lease.
#[test]
fn promote_waits_out_the_lease_of_a_killed_import_and_says_so() {
    let p = Pair::new();
    seed_many(&p.src, 1000);
    p.export();
    let import = p.start_import(&[
        ("REPLICATOR_CONCURRENCY", "1"),
        ("REPLICATOR_LEASE_TTL", "3s"),
    ]);
    p.wait_for_bulk(20);
    signal(&import, libc::SIGKILL);
    assert_eq!(finish(import.wait_with_output().unwrap()).code, -1);

    let started = Instant::now();
    let promoted = p.run_on_dst(&["promote"], &[]);
    promoted.assert_code(0);
    assert!(
        promoted.stdout.contains("expired"),
        "promote says the holder's lease expired: {}",
        promoted.stdout
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    // Nothing running, nothing to wait for.
    let again = p.run_on_dst(&["promote"], &[]);
    again.assert_code(0);
    assert!(
        again.stdout.contains("no import was running"),
        "{}",
        again.stdout
    );
}

/// Issue item 5: an import that cannot answer (here: frozen) keeps promote waiting only until
/// `--timeout`; promote then fails and says so. Once it runs again, the import starts no write
/// before it has read the fence (its last look is older than three seconds), and stops.
#[test]
fn promote_gives_up_after_its_timeout_and_names_the_holder() {
    let p = Pair::new();
    seed_many(&p.src, 1000);
    p.export();
    let import = p.start_import(&[
        ("REPLICATOR_CONCURRENCY", "1"),
        ("REPLICATOR_LEASE_TTL", "60s"),
    ]);
    p.wait_for_bulk(20);
    signal(&import, libc::SIGSTOP);
    let frozen_at = p.bulk_on_dst();

    let promoted = p.run_on_dst(&["promote", "--timeout", "4s"], &[]);
    promoted.assert_code(1);
    let line = promoted.last_error_line();
    assert!(
        line.contains("still holds the import lease") && line.contains("pid-"),
        "{line}"
    );
    let bad = p.run_on_dst(&["promote", "--timeout", "soon"], &[]);
    bad.assert_code(2);
    assert!(
        bad.last_error_line().contains("--timeout"),
        "{}",
        bad.stderr
    );

    signal(&import, libc::SIGCONT);
    let import = finish(import.wait_with_output().unwrap());
    import.assert_code(4);
    // At most the requests that were in flight when it froze (one, at concurrency 1).
    assert!(p.bulk_on_dst() <= frozen_at + 1);
}

/// Issue item 7: a run whose lease ran out (here: frozen past its TTL) saved its records and
/// `meta` over those of the newer run that took the lease meanwhile.
#[test]
fn an_import_that_lost_its_lease_does_not_save_over_the_newer_run() {
    let p = Pair::new();
    seed_many(&p.src, 1000);
    p.export();
    let short = [("REPLICATOR_LEASE_TTL", "3s")];
    let first = p.start_import(&[short[0], ("REPLICATOR_CONCURRENCY", "1")]);
    p.wait_for_bulk(20);
    signal(&first, libc::SIGSTOP);

    // While the first run is stuck its lease runs out; a newer snapshot is imported in full.
    p.src.kv_put("secret", "newer", json!({"v": "1"}));
    p.export();
    std::thread::sleep(Duration::from_secs(4));
    let second = p.import(&short);
    second.assert_code(0);
    let newer = imported_key(&second);
    assert!(!newer.is_empty(), "{}", second.stdout);
    assert_eq!(p.last_import(), newer);

    signal(&first, libc::SIGCONT);
    let first = finish(first.wait_with_output().unwrap());
    assert_eq!(
        p.last_import(),
        newer,
        "the stale run moved `meta` back:\n{}",
        first.stderr
    );
    first.assert_code(1);
    assert!(
        first.last_error_line().contains("lost the import lease"),
        "{}",
        first.stderr
    );
    // The newer run's records are whole: the next import has nothing to do.
    let next = p.import(&[]);
    next.assert_code(0);
    assert!(next.stdout.contains("(0 writes)"), "{}", next.stdout);
}

/// Issue item 8: records and `meta` were saved only at the end, so the run after a killed one
/// trusted the last complete run's records and skipped the full check.
#[test]
fn after_a_killed_import_the_next_run_checks_everything() {
    let p = Pair::new();
    p.src.kv_put("secret", "app", json!({"pw": "from-dc"}));
    p.export();
    let rarely = ("REPLICATOR_FULL_CHECK_EVERY", "100");
    p.import(&[rarely]).assert_code(0);
    // A write on DR behind the importer's back: only a full check finds it.
    p.dst
        .kv_put("secret", "app", json!({"pw": "changed on DR"}));
    seed_many(&p.src, 1000);
    p.export();

    let ttl = ("REPLICATOR_LEASE_TTL", "2s");
    let killed = p.start_import(&[rarely, ttl, ("REPLICATOR_CONCURRENCY", "1")]);
    p.wait_for_bulk(20);
    signal(&killed, libc::SIGKILL);
    assert_eq!(finish(killed.wait_with_output().unwrap()).code, -1);
    assert!(p.bulk_on_dst() < 1000, "the kill landed mid-import");

    let run = p.import(&[rarely, ttl, ("REPLICATOR_LEASE_WAIT", "30s")]);
    run.assert_code(0);
    assert!(
        plain(&run.stderr).contains("planning full_check=true"),
        "{}",
        run.stderr
    );
    assert_eq!(
        p.dst.kv_get("secret", "app"),
        Some(json!({"pw": "from-dc"})),
        "the full check repairs the write made on DR"
    );
    assert_eq!(p.bulk_on_dst(), 1000);
}

/// An import as PID 1 of its own PID namespace with `HOSTNAME=importer-0`: what two pods of a
/// StatefulSet-like name, or a pod and its retry, look like to `holder_id`.
fn contained_import(p: &Pair, extra: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["--user", "--map-root-user", "--pid", "--fork"])
        .arg(env!("CARGO_BIN_EXE_vault-replicator"))
        .arg("import")
        .env_clear();
    for var in ["PATH", "TMPDIR", "HOME"] {
        if let Ok(v) = std::env::var(var) {
            cmd.env(var, v);
        }
    }
    cmd.env("REPLICATOR_LOG_FORMAT", "text")
        .env("HOSTNAME", "importer-0");
    for (k, v) in p.env(&p.dst, extra) {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// The lease holder was `HOSTNAME/pid-N`: two containers with the same name and PID were the
/// same holder, and the second took the first one's lease as its own.
#[test]
fn two_imports_with_the_same_hostname_and_pid_do_not_share_the_lease() {
    let p = Pair::new();
    seed_many(&p.src, 1000);
    p.export();
    let slow = [("REPLICATOR_CONCURRENCY", "1")];
    let first = contained_import(&p, &slow).spawn().unwrap();
    p.wait_for_bulk(20);
    let holder = p.dst.kv_get("vault-replicator", "lease").unwrap()["holder"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        holder.starts_with("importer-0/pid-1"),
        "the first run is PID 1 of importer-0: {holder}"
    );

    let second = finish(contained_import(&p, &[]).output().unwrap());
    second.assert_code(1);
    assert!(
        second
            .last_error_line()
            .contains("another import holds the lease"),
        "{}",
        second.stderr
    );
    finish(first.wait_with_output().unwrap()).assert_code(0);
    assert_eq!(p.bulk_on_dst(), 1000);
}

/// The `REPLICATOR_LEASE_*` settings the shipped import ConfigMap sets
/// (k8s/base/import/kustomization.yaml; the chart renders the same, scripts/chart-vs-overlay.py).
fn shipped_lease_settings() -> Vec<(String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/k8s/base/import/kustomization.yaml"
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().split_once(": "))
        .filter(|(k, _)| k.starts_with("REPLICATOR_LEASE_"))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

/// `90s`, `1m`: the durations the shipped lease settings are written in.
fn seconds(d: &str) -> u64 {
    match d.split_at(d.len() - 1) {
        (n, "s") => n.parse().unwrap(),
        (n, "m") => n.parse::<u64>().unwrap() * 60,
        _ => panic!("duration {d}"),
    }
}

/// Issue #27 item 5: the lease of an import killed with SIGKILL held every following import off
/// for its whole TTL (5 minutes by default), each one exiting 1 "another import holds the lease":
/// with 5-minute schedules, several cycles lost. With the shipped settings (a short TTL, renewed
/// often, and a wait above it) the import started right after waits the dead holder out.
#[test]
fn an_import_started_right_after_a_killed_one_waits_its_lease_out_with_the_shipped_settings() {
    let p = Pair::new();
    seed_many(&p.src, 400);
    p.export();
    let shipped = shipped_lease_settings();
    let shipped: Vec<(&str, &str)> = shipped.iter().map(|(k, v)| (&**k, &**v)).collect();
    let ttl = shipped
        .iter()
        .find(|(k, _)| *k == "REPLICATOR_LEASE_TTL")
        .map_or(60, |(_, v)| seconds(v));
    let mut first = shipped.clone();
    first.push(("REPLICATOR_CONCURRENCY", "1"));
    let killed = p.start_import(&first);
    p.wait_for_bulk(20);
    signal(&killed, libc::SIGKILL);
    assert_eq!(finish(killed.wait_with_output().unwrap()).code, -1);
    assert!(p.bulk_on_dst() < 400, "the kill landed mid-import");

    let started = Instant::now();
    let next = p.import(&shipped);
    next.assert_code(0);
    assert!(
        plain(&next.stderr).contains("waiting for the import lease"),
        "the killed import's lease was still held: {}",
        next.stderr
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(ttl + 30),
        "took {took:?}, more than the lease's TTL ({ttl}s) and the import"
    );
    assert_eq!(p.bulk_on_dst(), 400);
}

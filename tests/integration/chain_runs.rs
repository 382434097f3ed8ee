//! Delta chains (#27) in the runs operators meet: a source that answers as HashiCorp Vault does
//! (no `detailed-metadata/`), an import killed with SIGKILL mid-chain, a transit key whose backup
//! changes on every read, an S3 store (Garage) whose `latest.json` a delta extends, and two
//! exports racing for `latest.json` on a store that ignores conditional writes.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;

use super::support::{Bao, Pair, Run, command, env_for, finish, garage, replicator, writes};

/// Exports the source (a second after the last, since snapshots are named by the second).
fn export(p: &Pair, extra: &[(&str, &str)]) -> Run {
    std::thread::sleep(Duration::from_millis(1050));
    let run = replicator(&["export"], &p.env(&p.src, extra));
    run.assert_code(0);
    run
}

fn seed(bao: &Bao, n: usize, value: &str) {
    for i in 0..n {
        bao.kv_put("secret", &format!("app/{i:03}"), json!({"v": value}));
    }
}

/// The KV-v2 reads of `secret/` a proxy forwarded: (metadata reads, data reads).
fn kv_reads(recorded: &[serde_json::Value]) -> (usize, usize) {
    let count = |prefix: &str| {
        recorded
            .iter()
            .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with(prefix)))
            .count()
    };
    (count("secret/metadata/app/"), count("secret/data/app/"))
}

#[test]
fn through_vault_answers_a_delta_reads_each_secrets_metadata_once_and_only_changed_data() {
    let p = Pair::vault_shaped(json!({}), json!({}));
    let (src_proxy, _) = p.proxies.as_ref().unwrap();
    seed(&p.src, 30, "one");
    let full = export(&p, &[]);
    assert!(full.stdout.contains("a full snapshot"), "{}", full.stdout);
    p.import(&[]).assert_code(0);
    let (_, full_data) = kv_reads(&src_proxy.recorded("read"));
    assert!(full_data >= 30, "the full export read {full_data} secrets");

    for i in [3, 7] {
        p.src
            .kv_put("secret", &format!("app/{i:03}"), json!({"v": "two"}));
    }
    p.src.delete("secret/metadata/app/011");
    let before = src_proxy.recorded("read").len();
    let delta = export(&p, &[]);
    assert!(
        delta.stdout.contains("2 changed, 1 removed"),
        "{}",
        delta.stdout
    );
    let (meta, data) = kv_reads(&src_proxy.recorded("read")[before..]);
    // Vault has no detailed-metadata/: one metadata read per secret replaces the data read.
    assert_eq!(meta, 29, "metadata reads of the delta export");
    assert_eq!(data, 2, "data reads of the delta export: only what changed");

    let run = p.import(&[("REPLICATOR_PRUNE", "true")]);
    run.assert_code(0);
    assert_eq!(writes(&run), 3, "{}", run.stdout);
    assert_eq!(p.dst.kv_get("secret", "app/003").unwrap()["v"], "two");
    assert!(p.dst.kv_get("secret", "app/011").is_none());
    p.assert_converged();
}

/// Waits until the target holds `n` of `keys` with `value`.
fn wait_for_value(dst: &Bao, keys: &[String], value: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = keys
            .iter()
            .filter(|k| dst.kv_get("secret", k).is_some_and(|v| v["v"] == value))
            .count();
        if done >= n {
            return;
        }
        assert!(Instant::now() < deadline, "the import never got going");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn an_import_killed_mid_chain_converges_on_the_next_run() {
    let p = Pair::new();
    seed(&p.src, 300, "one");
    export(&p, &[]);
    p.import(&[]).assert_code(0);
    seed(&p.src, 300, "two");
    export(&p, &[]);
    // The second delta takes over half of what the first changed: the first still writes 150.
    seed(&p.src, 150, "three");
    p.src.delete("secret/metadata/app/299");
    export(&p, &[]);

    let extra = [
        ("REPLICATOR_CONCURRENCY", "2"),
        ("REPLICATOR_LEASE_TTL", "10s"),
        ("REPLICATOR_PRUNE", "true"),
    ];
    let mut import = command(&["import"], &p.env(&p.dst, &extra))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let keys: Vec<String> = (0..300).map(|i| format!("app/{i:03}")).collect();
    wait_for_value(&p.dst, &keys[150..], "two", 20);
    import.kill().unwrap(); // SIGKILL: no lease released, no records saved past the last batch
    assert_eq!(finish(import.wait_with_output().unwrap()).code, -1);

    let wait = [
        extra[0],
        extra[1],
        extra[2],
        ("REPLICATOR_LEASE_WAIT", "1m"),
    ];
    let next = p.import(&wait);
    next.assert_code(0);
    for (i, k) in keys[..299].iter().enumerate() {
        let want = if i < 150 { "three" } else { "two" };
        assert_eq!(p.dst.kv_get("secret", k).unwrap()["v"], want, "{k}");
    }
    assert!(p.dst.kv_get("secret", "app/299").is_none());
    p.assert_converged();
    let again = p.import(&[]);
    again.assert_code(0);
    assert_eq!(writes(&again), 0, "{}", again.stdout);
}

#[test]
fn a_transit_key_nobody_touched_makes_no_delta() {
    let p = Pair::with_transit();
    let body = json!({"exportable": true, "allow_plaintext_backup": true});
    p.src.write("transit/keys/app", body);
    p.src.kv_put("secret", "app/one", json!({"v": 1}));
    export(&p, &[]);
    p.import(&[]).assert_code(0);
    // The key's backup carries the time it was taken: each read of it differs.
    let idle = export(&p, &[]);
    assert!(
        idle.stdout.contains("0 changed, 0 removed"),
        "{}",
        idle.stdout
    );
    let run = p.import(&[]);
    run.assert_code(0);
    assert_eq!(writes(&run), 0, "{}", run.stdout);
    // A real change does make one.
    p.src.write("transit/keys/app/rotate", json!({}));
    let rotated = export(&p, &[]);
    assert!(
        rotated.stdout.contains("1 changed, 0 removed"),
        "{}",
        rotated.stdout
    );
    p.import(&[]).assert_code(0);
    p.assert_converged();
}

#[test]
fn on_s3_a_delta_moves_latest_and_the_chain_imports() {
    let (src, dst) = (Bao::start(), Bao::start());
    let bucket = garage().bucket();
    let store = format!("s3://{bucket}/dc");
    let env = |bao: &Bao| env_for(bao, &store, &garage().env);
    src.kv_put("secret", "app/a", json!({"v": 1}));
    replicator(&["export"], &env(&src)).assert_code(0);
    replicator(&["import"], &env(&dst)).assert_code(0);
    src.kv_put("secret", "app/a", json!({"v": 2}));
    std::thread::sleep(Duration::from_millis(1050));
    let delta = replicator(&["export"], &env(&src));
    delta.assert_code(0);
    assert!(delta.stdout.contains("chain of 2"), "{}", delta.stdout);
    let run = replicator(&["import"], &env(&dst));
    run.assert_code(0);
    assert_eq!(writes(&run), 1, "{}", run.stdout);
    assert_eq!(dst.kv_get("secret", "app/a").unwrap()["v"], 2);
}

/// Two exports that both extended the chain from the same base (a store that ignores
/// conditional writes, as Garage 2.5 does, and a schedule without `concurrencyPolicy: Forbid`):
/// the target that applied the losing delta finds its last import outside `latest.json`'s chain,
/// and takes the chain from its full snapshot; nothing is applied twice or wrongly.
#[test]
fn a_delta_that_lost_the_race_for_latest_costs_one_full_chain_never_a_wrong_one() {
    let p = Pair::new();
    seed(&p.src, 5, "one");
    export(&p, &[]);
    p.import(&[]).assert_code(0);
    let pointer = p.dir.path().join("latest.json");
    let at_full = std::fs::read(&pointer).unwrap();
    p.src.kv_put("secret", "app/001", json!({"v": "lost"}));
    export(&p, &[]);
    p.import(&[]).assert_code(0);
    assert_eq!(p.dst.kv_get("secret", "app/001").unwrap()["v"], "lost");
    // The other export read latest.json before the first moved it, and wrote after.
    std::fs::write(&pointer, at_full).unwrap();
    p.src.kv_put("secret", "app/001", json!({"v": "won"}));
    p.src.kv_put("secret", "app/002", json!({"v": "won"}));
    let won = export(&p, &[]);
    assert!(won.stdout.contains("chain of 2"), "{}", won.stdout);
    let run = p.import(&[]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("through a chain of 2"),
        "{}",
        run.stdout
    );
    assert_eq!(p.dst.kv_get("secret", "app/001").unwrap()["v"], "won");
    assert_eq!(p.dst.kv_get("secret", "app/002").unwrap()["v"], "won");
    p.assert_converged();
}

/// The exporter's index decides what a delta leaves out: one that is lost, damaged or made under
/// other settings costs a full export, never a delta against the wrong set.
#[test]
fn a_lost_damaged_or_foreign_index_means_a_full_export() {
    let p = Pair::new();
    seed(&p.src, 3, "one");
    export(&p, &[]);
    let head = || {
        let latest = super::support::sealed::latest(p.dir.path());
        p.dir
            .path()
            .join(format!("{}.index", latest["key"].as_str().unwrap()))
    };
    let full = |run: &Run| run.stdout.contains("a full snapshot");
    let delta = export(&p, &[]);
    assert!(!full(&delta), "{}", delta.stdout);

    std::fs::remove_file(head()).unwrap();
    let lost = export(&p, &[]);
    assert!(full(&lost), "lost: {}", lost.stdout);

    let mut bytes = std::fs::read(head()).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(head(), bytes).unwrap();
    let damaged = export(&p, &[]);
    assert!(full(&damaged), "damaged: {}", damaged.stdout);

    let other = export(&p, &[("REPLICATOR_KV_HISTORY", "all")]);
    assert!(full(&other), "other settings: {}", other.stdout);

    // Each full export starts a chain the importer takes whole.
    p.src.kv_put("secret", "app/000", json!({"v": "two"}));
    export(&p, &[]);
    p.import(&[]).assert_code(0);
    assert_eq!(p.dst.kv_get("secret", "app/000").unwrap()["v"], "two");
    p.assert_converged();
}

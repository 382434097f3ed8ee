//! Delta snapshots (#27) end to end against real OpenBao: an export after the first reads only what
//! changed and writes a delta; an import applies the chain from what it last applied; and a
//! missing, expired, tampered or grafted link is refused before anything is written.

use std::path::Path;

use serde_json::{Value, json};

use super::support::sealed::{self, entries, latest, repoint};
use super::support::{Bao, Pair, Run, keys, replicator, writes};

/// Exports the source (a second after the last, since snapshots are named by the second).
fn export(p: &Pair, extra: &[(&str, &str)]) -> Run {
    std::thread::sleep(std::time::Duration::from_millis(1050));
    let run = replicator(&["export"], &p.env(&p.src, extra));
    run.assert_code(0);
    run
}

/// The requests to the source an export made, from its last log line.
fn requests(run: &Run) -> u64 {
    run.stderr
        .rsplit("vault_requests=")
        .next()
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in:\n{}", run.stderr))
}

fn seed(bao: &Bao, n: usize) {
    for i in 0..n {
        bao.kv_put("secret", &format!("app/{i:02}"), json!({"v": i}));
    }
    bao.write(
        "sys/policies/acl/app",
        json!({"policy": "path \"secret/*\" { capabilities = [\"read\"] }"}),
    );
}

/// Changes two secrets, adds one, deletes one and changes the policy.
fn change(bao: &Bao) {
    bao.kv_put("secret", "app/01", json!({"v": "one"}));
    bao.kv_put("secret", "app/02", json!({"v": "two"}));
    bao.kv_put("secret", "new", json!({"v": "new"}));
    bao.delete("secret/metadata/app/03");
    bao.write(
        "sys/policies/acl/app",
        json!({"policy": "path \"secret/*\" { capabilities = [\"list\"] }"}),
    );
}

fn chain(dir: &Path) -> Vec<String> {
    let chain = latest(dir)["chain"].as_array().cloned().unwrap_or_default();
    chain
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_delta_holds_what_changed_and_an_import_applies_the_chain() {
    let p = Pair::new();
    seed(&p.src, 40);
    let full = export(&p, &[]);
    assert!(full.stdout.contains("a full snapshot"), "{}", full.stdout);
    p.import(&[]).assert_code(0);
    change(&p.src);
    let delta = export(&p, &[]);
    assert!(
        delta.stdout.contains("4 changed, 1 removed; chain of 2"),
        "{}",
        delta.stdout
    );
    // Unchanged secrets are not read: 40 data reads fewer, 3 more for what changed.
    assert!(
        requests(&delta) + 35 <= requests(&full),
        "delta {} requests, full {}",
        requests(&delta),
        requests(&full)
    );
    let idle = export(&p, &[]);
    assert!(
        idle.stdout.contains("0 changed, 0 removed; chain of 3"),
        "{}",
        idle.stdout
    );
    assert_eq!(chain(p.dir.path()).len(), 3);

    let run = p.import(&[("REPLICATOR_PRUNE", "true")]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("through a chain of 2"),
        "{}",
        run.stdout
    );
    assert_eq!(writes(&run), 5, "4 changes and 1 deletion:\n{}", run.stdout);
    assert_eq!(p.dst.kv_get("secret", "app/01").unwrap()["v"], "one");
    assert!(
        p.dst.kv_get("secret", "app/03").is_none(),
        "removed at the source"
    );
    p.assert_converged();
    // Nothing new: the next import writes nothing.
    let again = p.import(&[]);
    again.assert_code(0);
    assert_eq!(writes(&again), 0);
}

#[test]
fn a_fresh_target_takes_the_full_snapshot_and_its_deltas() {
    let p = Pair::new();
    seed(&p.src, 5);
    export(&p, &[]);
    change(&p.src);
    export(&p, &[]);
    p.src.kv_put("secret", "app/04", json!({"v": "four"}));
    export(&p, &[]);
    let run = p.import(&[]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("through a chain of 3"),
        "{}",
        run.stdout
    );
    assert_eq!(p.dst.kv_get("secret", "app/04").unwrap()["v"], "four");
    assert_eq!(p.dst.kv_get("secret", "app/01").unwrap()["v"], "one");
    p.assert_converged();
}

/// A target that applied the chain's full snapshot, and a chain of two deltas after it.
fn two_deltas() -> (Pair, Vec<String>) {
    let p = Pair::new();
    seed(&p.src, 5);
    export(&p, &[]);
    p.import(&[]).assert_code(0);
    change(&p.src);
    export(&p, &[]);
    p.src.kv_put("secret", "app/04", json!({"v": "four"}));
    export(&p, &[]);
    let keys = chain(p.dir.path());
    assert_eq!(keys.len(), 3);
    (p, keys)
}

/// Exit 4 naming `reason`, and the target exactly as it was (the full snapshot's values).
fn assert_refused_untouched(p: &Pair, run: &Run, reason: &str) {
    run.assert_code(4);
    let line = run.last_error_line();
    assert!(
        line.contains("refused") && line.contains(reason),
        "want `{reason}`: {line}"
    );
    assert_eq!(p.dst.kv_get("secret", "app/01").unwrap()["v"], 1);
    assert_eq!(p.dst.kv_get("secret", "app/04").unwrap()["v"], 4);
}

#[test]
fn a_missing_delta_is_refused_and_nothing_is_written() {
    let (p, keys) = two_deltas();
    std::fs::remove_file(p.dir.path().join(&keys[1])).unwrap();
    let run = p.import(&[]);
    assert_refused_untouched(&p, &run, "is missing from the store");
    // The next full snapshot repairs the chain.
    export(&p, &[("REPLICATOR_FULL_EVERY", "0")]);
    p.import(&[]).assert_code(0);
    assert_eq!(p.dst.kv_get("secret", "app/04").unwrap()["v"], "four");
    p.assert_converged();
}

#[test]
fn an_expired_full_snapshot_is_refused_on_a_fresh_target() {
    let p = Pair::new();
    seed(&p.src, 3);
    export(&p, &[]);
    change(&p.src);
    export(&p, &[]);
    let keys = chain(p.dir.path());
    std::fs::remove_file(p.dir.path().join(&keys[0])).unwrap();
    let run = p.import(&[]);
    run.assert_code(4);
    assert!(
        run.last_error_line().contains("is missing from the store"),
        "{}",
        run.stderr
    );
    assert!(p.dst.kv_keys("secret").is_empty(), "a secret was written");
}

#[test]
fn a_tampered_delta_is_refused() {
    let (p, keys) = two_deltas();
    let path = p.dir.path().join(&keys[2]);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    repoint(p.dir.path(), &keys[2]);
    let run = p.import(&[]);
    assert_refused_untouched(&p, &run, "signature");
}

/// Re-seals the delta `key` with its manifest edited by `edit`, signed again with the trusted
/// key: what an exporter with a wrong index, or a thief of the signing key, could publish.
fn reseal_manifest(dir: &Path, key: &str, edit: impl FnOnce(&mut Value)) {
    let plain = sealed::age_decrypt(&dir.join(key), keys());
    let mut all = entries(&plain);
    let mut manifest: Value = serde_json::from_slice(&all[0].1).unwrap();
    edit(&mut manifest);
    all[0].1 = serde_json::to_vec_pretty(&manifest).unwrap();
    sealed::reseal(dir, key, &all);
    repoint(dir, key);
}

/// A set digest (four little-endian 64-bit lanes, hex) plus one in its first lane.
fn bump(set: &str) -> String {
    let mut bytes = hex::decode(set).unwrap();
    let mut lane = [0u8; 8];
    lane.copy_from_slice(&bytes[..8]);
    bytes[..8].copy_from_slice(&u64::from_le_bytes(lane).wrapping_add(1).to_le_bytes());
    hex::encode(bytes)
}

#[test]
fn a_delta_grafted_onto_another_set_is_refused() {
    let (p, keys) = two_deltas();
    // The second delta, made on a base with another set of entries than the first delta left:
    // its own sums still add up (both digests moved alike), only the link does not hold.
    reseal_manifest(p.dir.path(), &keys[2], |m| {
        let base = bump(m["delta"]["base"]["set"].as_str().unwrap());
        m["delta"]["base"]["set"] = json!(base);
        m["set"] = json!(bump(m["set"].as_str().unwrap()));
    });
    let run = p.import(&[]);
    assert_refused_untouched(&p, &run, "another chain");
}

#[test]
fn a_delta_that_does_not_add_up_is_refused() {
    let (p, keys) = two_deltas();
    reseal_manifest(p.dir.path(), &keys[2], |m| {
        m["set"] = json!("11".repeat(32))
    });
    let run = p.import(&[]);
    assert_refused_untouched(&p, &run, "do not add up");
}

#[test]
fn latest_pointing_back_along_the_chain_is_refused() {
    let (p, keys) = two_deltas();
    p.import(&[]).assert_code(0);
    repoint(p.dir.path(), &keys[1]);
    let run = p.import(&[]);
    run.assert_code(4);
    assert!(
        run.last_error_line().contains("already imported the newer"),
        "{}",
        run.stderr
    );
    assert_eq!(p.dst.kv_get("secret", "app/04").unwrap()["v"], "four");
}

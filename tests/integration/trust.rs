//! A snapshot is never trusted blindly: its signature binds the source cluster and the store
//! prefix it was published under, a future-dated one is refused without stalling later imports,
//! and `REPLICATOR_ALLOW_UNSIGNED` does not excuse a missing signature when verify keys are set.
//! The store side (size caps, names, `latest`) is in `trust_store.rs`.

use std::path::Path;
use std::process::{Command, Stdio};

use chrono::{TimeDelta, Utc};
use serde_json::json;

use super::support::{
    Bao, Run, STAMP, VALUE, aws, env_for, file_store, garage, keys, latest_key, owned, replicator,
    repoint, run, s3_env,
};

/// The signed trusted comment of `key`'s signature in `dir`.
fn trusted_comment(dir: &Path, key: &str) -> String {
    let sig = std::fs::read_to_string(dir.join(format!("{key}.minisig"))).unwrap();
    sig.lines()
        .find_map(|l| l.strip_prefix("trusted comment: "))
        .unwrap()
        .to_string()
}

/// The comment with `field` set to `value` (appended when it is not there).
fn with_field(comment: &str, field: &str, value: &str) -> String {
    let mut parts: Vec<String> = comment.split('\t').map(String::from).collect();
    let pair = format!("{field}:{value}");
    match parts
        .iter_mut()
        .find(|p| p.split_once(':').map(|(k, _)| k) == Some(field))
    {
        Some(p) => *p = pair,
        None => parts.push(pair),
    }
    parts.join("\t")
}

/// Signs `dir/key` with the stock `minisign` and the trusted test key: what a holder of the
/// signing key (another deployment sharing it, an old exporter) can produce.
fn sign(dir: &Path, key: &str, comment: &str) {
    let out = Command::new("minisign")
        .args(["-S", "-s"])
        .arg(keys().dir.join("signing.key"))
        .arg("-m")
        .arg(dir.join(key))
        .args(["-t", comment])
        .stdin(Stdio::null())
        .output()
        .expect("minisign");
    assert!(
        out.status.success(),
        "minisign: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Exit 4, the reason on the last line, and not one write on the target (no state mount either).
fn assert_refused(run: &Run, dst: &Bao, reason: &str) {
    run.assert_code(4);
    let line = run.last_error_line();
    assert!(line.contains(reason), "want `{reason}`: {line}");
    assert!(dst.kv_keys("secret").is_empty(), "a secret was written");
    let mounts = dst.read("sys/mounts").unwrap();
    assert!(
        mounts["data"].get("vault-replicator/").is_none(),
        "state was written"
    );
}

/// The cluster's name and ID, as `sys/seal-status` reports them.
fn identity(bao: &Bao) -> (String, String) {
    let s = bao.read("sys/seal-status").unwrap();
    (
        s["cluster_name"].as_str().unwrap().to_string(),
        s["cluster_id"].as_str().unwrap().to_string(),
    )
}

// Two deployments sharing keys: a snapshot copied from one prefix to the other must not import.
#[test]
fn a_signed_snapshot_copied_to_another_prefix_of_the_bucket_is_refused() {
    let (src, dst) = (Bao::start(), Bao::start());
    src.kv_put("secret", "app", json!({"pw": VALUE}));
    let bucket = garage().bucket();
    let staging = format!("s3://{bucket}/staging");
    let prod = format!("s3://{bucket}/prod");
    replicator(&["export"], &env_for(&src, &staging, &s3_env(&[]))).assert_code(0);
    aws(&[
        "s3",
        "sync",
        &format!("s3://{bucket}/staging/"),
        &format!("s3://{bucket}/prod/"),
    ]);

    let into_prod = replicator(&["import"], &env_for(&dst, &prod, &s3_env(&[])));
    assert_refused(
        &into_prod,
        &dst,
        &format!("published under store `{staging}`, not `{prod}`"),
    );
    let verify = replicator(&["verify"], &env_for(&dst, &prod, &s3_env(&[])));
    verify.assert_code(4);

    // A restore from a copy names the prefix it was published under.
    let pinned = s3_env(&[("REPLICATOR_SOURCE_PREFIX", "staging")]);
    let verified = replicator(&["verify"], &env_for(&dst, &prod, &pinned));
    verified.assert_code(0);
    let (name, _) = identity(&src);
    let signed_for = format!("for cluster {name} under store `{staging}`");
    assert!(verified.stdout.contains(&signed_for), "{}", verified.stdout);
    replicator(&["import"], &env_for(&dst, &staging, &s3_env(&[]))).assert_code(0);
    assert_eq!(dst.kv_get("secret", "app"), Some(json!({"pw": VALUE})));
}

// #25 (6): two deployments sharing keys, the same prefix in two buckets (`s3://staging/dc`,
// `s3://prod/dc`): a snapshot copied from one bucket into the other must not import.
#[test]
fn a_signed_snapshot_copied_to_another_bucket_under_the_same_prefix_is_refused() {
    let (src, dst) = (Bao::start(), Bao::start());
    src.kv_put("secret", "app", json!({"pw": VALUE}));
    let (staging, prod) = (garage().bucket(), garage().bucket());
    let published = format!("s3://{staging}/dc");
    let copy = format!("s3://{prod}/dc");
    replicator(&["export"], &env_for(&src, &published, &s3_env(&[]))).assert_code(0);
    aws(&["s3", "sync", &format!("{published}/"), &format!("{copy}/")]);

    let into_prod = replicator(&["import"], &env_for(&dst, &copy, &s3_env(&[])));
    assert_refused(
        &into_prod,
        &dst,
        &format!("published under store `{published}`, not `{copy}`"),
    );
    replicator(&["verify"], &env_for(&dst, &copy, &s3_env(&[]))).assert_code(4);
    // The prefix alone does not vouch for the bucket.
    let by_prefix = s3_env(&[("REPLICATOR_SOURCE_PREFIX", "dc")]);
    replicator(&["import"], &env_for(&dst, &copy, &by_prefix)).assert_code(4);

    // A bucket migrated to a new one: the operator names the store they were published under.
    let migrated = s3_env(&[("REPLICATOR_SOURCE_STORE", published.as_str())]);
    let verified = replicator(&["verify"], &env_for(&dst, &copy, &migrated));
    verified.assert_code(0);
    let signed_for = format!("under store `{published}`");
    assert!(verified.stdout.contains(&signed_for), "{}", verified.stdout);
    replicator(&["import"], &env_for(&dst, &copy, &migrated)).assert_code(0);
    assert_eq!(dst.kv_get("secret", "app"), Some(json!({"pw": VALUE})));
}

#[test]
fn a_pinned_source_cluster_refuses_a_snapshot_of_another_cluster() {
    let (src, other, dst) = (Bao::start(), Bao::start(), Bao::start());
    other.kv_put("secret", "app", json!({"pw": VALUE}));
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path());
    run(&["export"], &other, &store, &[]).assert_code(0);
    let (name, id) = identity(&src);
    let (other_name, other_id) = identity(&other);

    for pin in [name.as_str(), id.as_str()] {
        let r = run(
            &["import"],
            &dst,
            &store,
            &[("REPLICATOR_SOURCE_CLUSTER", pin)],
        );
        assert_refused(&r, &dst, "REPLICATOR_SOURCE_CLUSTER");
        assert!(r.last_error_line().contains(&other_name), "{}", r.stderr);
    }
    run(
        &["verify"],
        &dst,
        &store,
        &[("REPLICATOR_SOURCE_CLUSTER", id.as_str())],
    )
    .assert_code(4);
    run(
        &["import"],
        &dst,
        &store,
        &[("REPLICATOR_SOURCE_CLUSTER", other_id.as_str())],
    )
    .assert_code(0);
    run(
        &["import"],
        &dst,
        &store,
        &[("REPLICATOR_SOURCE_CLUSTER", other_name.as_str())],
    )
    .assert_code(0);
    assert_eq!(dst.kv_get("secret", "app"), Some(json!({"pw": VALUE})));
}

// An exporter that predates the source and prefix claims signs only the four old ones.
#[test]
fn a_snapshot_signed_without_source_and_prefix_claims_is_refused_with_an_upgrade_hint() {
    let (src, dst) = (Bao::start(), Bao::start());
    src.kv_put("secret", "app", json!({"pw": VALUE}));
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path());
    run(&["export"], &src, &store, &[]).assert_code(0);
    let key = latest_key(dir.path());
    let old: Vec<&str> = ["timestamp", "file", "archive_sha256", "manifest_sha256"].to_vec();
    let comment = trusted_comment(dir.path(), &key);
    let old_comment: Vec<&str> = comment
        .split('\t')
        .filter(|p| old.iter().any(|f| p.starts_with(&format!("{f}:"))))
        .collect();
    sign(dir.path(), &key, &old_comment.join("\t"));
    let r = run(&["import"], &dst, &store, &[]);
    assert_refused(&r, &dst, "upgrade the exporter");
}

// #25 (6): snapshots of the exporters before the store claim name the prefix alone. They still
// import, until the target has imported one that names its store: from then on, one without is
// what another deployment's snapshot under the same prefix of another bucket looks like.
#[test]
fn a_snapshot_signed_without_the_store_imports_until_one_with_it_has() {
    let (src, dst, fresh) = (Bao::start(), Bao::start(), Bao::start());
    src.kv_put("secret", "app", json!({"pw": VALUE}));
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path());
    run(&["export"], &src, &store, &[]).assert_code(0);
    let bound = trusted_comment(dir.path(), &latest_key(dir.path()));
    assert!(bound.contains(&format!("\tstore:{store}")), "{bound}");
    run(&["import"], &dst, &store, &[]).assert_code(0);

    std::thread::sleep(std::time::Duration::from_millis(1100));
    src.kv_put("secret", "app", json!({"pw": "later"}));
    run(&["export"], &src, &store, &[]).assert_code(0);
    let key = latest_key(dir.path());
    let comment = trusted_comment(dir.path(), &key);
    let unbound: Vec<&str> = comment
        .split('\t')
        .filter(|f| !f.starts_with("store:"))
        .collect();
    sign(dir.path(), &key, &unbound.join("\t"));

    // A target that never imported a snapshot naming its store takes it, with a warning.
    let first = run(&["import"], &fresh, &store, &[]);
    first.assert_code(0);
    assert!(first.stderr.contains("not the bucket"), "{}", first.stderr);
    assert_eq!(fresh.kv_get("secret", "app"), Some(json!({"pw": "later"})));

    let r = run(&["import"], &dst, &store, &[]);
    r.assert_code(4);
    assert!(
        r.last_error_line()
            .contains("already imported snapshots signed with both"),
        "{}",
        r.stderr
    );
    assert_eq!(dst.kv_get("secret", "app"), Some(json!({"pw": VALUE})));
    // Named, it is the operator's choice.
    let id = key.trim_end_matches(".tar.gz.age");
    run(&["import", "--snapshot", id], &dst, &store, &[]).assert_code(0);
    assert_eq!(dst.kv_get("secret", "app"), Some(json!({"pw": "later"})));
}

// A snapshot dated ahead of the clock would otherwise become "the newest ever imported" and make
// every later snapshot look like a rollback.
#[test]
fn a_future_dated_snapshot_is_refused_and_does_not_stall_later_imports() {
    let (src, dst) = (Bao::start(), Bao::start());
    src.kv_put("secret", "app", json!({"pw": VALUE}));
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path());
    run(&["export"], &src, &store, &[]).assert_code(0);
    let key = latest_key(dir.path());
    let comment = trusted_comment(dir.path(), &key);
    let ahead = Utc::now() + TimeDelta::days(1);

    // Named as it is, but with a signed time a day ahead.
    sign(
        dir.path(),
        &key,
        &with_field(&comment, "timestamp", &ahead.timestamp().to_string()),
    );
    assert_refused(&run(&["import"], &dst, &store, &[]), &dst, "ahead of");

    // The same bytes under a name a day ahead, signed for that name and time.
    let future = format!("{}.tar.gz.age", ahead.format(STAMP));
    std::fs::copy(dir.path().join(&key), dir.path().join(&future)).unwrap();
    let signed = with_field(&comment, "file", &future);
    sign(
        dir.path(),
        &future,
        &with_field(&signed, "timestamp", &ahead.timestamp().to_string()),
    );
    repoint(dir.path(), &future);
    assert_refused(&run(&["import"], &dst, &store, &[]), &dst, "ahead of");
    let status = replicator(&["status"], &[("REPLICATOR_STORE", store.as_str())]);
    status.assert_code(4);
    assert!(status.all().contains("future"), "{}", status.all());

    // A normal export afterwards moves latest past it, and imports.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    src.kv_put("secret", "app", json!({"pw": "later"}));
    run(&["export"], &src, &store, &[]).assert_code(0);
    run(&["import"], &dst, &store, &[]).assert_code(0);
    assert_eq!(dst.kv_get("secret", "app"), Some(json!({"pw": "later"})));
    let status = replicator(&["status"], &env_for(&dst, &store, &[]));
    status.assert_code(0);
}

// A cluster that an older release let import a future-dated snapshot is not stuck on it.
#[test]
fn a_target_that_recorded_a_future_dated_import_is_not_stalled() {
    let (src, dst) = (Bao::start(), Bao::start());
    src.kv_put("secret", "app", json!({"pw": VALUE}));
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path());
    run(&["export"], &src, &store, &[]).assert_code(0);
    run(&["import"], &dst, &store, &[]).assert_code(0);
    let meta = dst.read("vault-replicator/data/meta").unwrap()["data"]["data"].clone();
    let mut poisoned = meta.clone();
    poisoned["last_snapshot"] = json!("29991231T235959Z.tar.gz.age");
    dst.write("vault-replicator/data/meta", json!({ "data": poisoned }));

    let status = replicator(&["status"], &env_for(&dst, &store, &[]));
    status.assert_code(4);
    assert!(status.all().contains("future"), "{}", status.all());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    src.kv_put("secret", "app", json!({"pw": "later"}));
    run(&["export"], &src, &store, &[]).assert_code(0);
    run(&["import"], &dst, &store, &[]).assert_code(0);
    assert_eq!(dst.kv_get("secret", "app"), Some(json!({"pw": "later"})));
}

#[test]
fn allow_unsigned_does_not_excuse_a_missing_signature_when_verify_keys_are_set() {
    let (src, dst) = (Bao::start(), Bao::start());
    src.kv_put("secret", "app", json!({"pw": VALUE}));
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path());
    let mut env = env_for(
        &src,
        &store,
        &owned(&[("REPLICATOR_ALLOW_UNSIGNED", "true")]),
    );
    env.retain(|(k, _)| k != "REPLICATOR_SIGNING_KEY_FILE");
    replicator(&["export"], &env).assert_code(0);

    let allow = [("REPLICATOR_ALLOW_UNSIGNED", "true")];
    let r = run(&["import"], &dst, &store, &allow);
    assert_refused(&r, &dst, "not signed");
    let mut env = env_for(&dst, &store, &owned(&allow));
    env.retain(|(k, _)| k != "REPLICATOR_VERIFY_KEY");
    replicator(&["import"], &env).assert_code(0);
    assert_eq!(dst.kv_get("secret", "app"), Some(json!({"pw": VALUE})));
}

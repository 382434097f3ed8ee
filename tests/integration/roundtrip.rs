//! Export from one real OpenBao through real Garage into another real OpenBao.

use serde_json::json;

use super::support::{Bao, Run, env_for, garage, replicator, words};

/// Keys that trip naive path handling: spaces, unicode, URL metacharacters, quotes,
/// a key that is also a folder, and deep nesting.
const AWKWARD: &[&str] = &[
    "plain",
    "with space",
    "ünïcødé/日本語",
    "q?mark",
    "hash#tag",
    "per%cent",
    "plus+amp&eq=colon:semi;",
    "quote'double\"",
    "a",
    "a/b",
    "a/b/c",
    "deep/1/2/3/4/5/6/7/8/9/10/11/12/leaf",
];

fn seed(src: &Bao) {
    for (i, key) in AWKWARD.iter().enumerate() {
        src.kv_put(
            "secret",
            key,
            json!({"value": format!("sekrit-value-{i}"), "n": i, "nested": {"list": [1, "x"]}}),
        );
    }
    src.mount_kv2("team/apps");
    src.kv_put(
        "team/apps",
        "payments/db",
        json!({"password": "sekrit-pay"}),
    );
    src.write(
        "sys/policies/acl/app-read",
        json!({"policy": "path \"secret/data/*\" {\n  capabilities = [\"read\"]\n}\n"}),
    );
    src.write(
        "sys/policies/acl/ops.admin",
        json!({"policy": "path \"team/apps/*\" { capabilities = [\"create\", \"update\"] }"}),
    );
}

fn s3_env(bao: &Bao, bucket: &str) -> Vec<(String, String)> {
    env_for(bao, &format!("s3://{bucket}/dc"), &garage().env)
}

fn assert_same_data(src: &Bao, dst: &Bao) {
    for mount in ["secret", "team/apps"] {
        let keys = src.kv_keys(mount);
        assert_eq!(keys, dst.kv_keys(mount), "keys of {mount}");
        for key in keys {
            assert_eq!(
                src.kv_get(mount, &key),
                dst.kv_get(mount, &key),
                "{mount}/{key}"
            );
        }
    }
    assert_eq!(src.policies(), dst.policies());
}

fn assert_no_secrets_in(run: &Run, extra: &[&str]) {
    let all = run.all();
    for i in 0..AWKWARD.len() {
        let v = format!("sekrit-value-{i}");
        assert!(!all.contains(&v), "secret value {v} leaked into output");
    }
    for s in extra {
        assert!(!all.contains(s), "{s} leaked into output");
    }
}

#[test]
fn full_round_trip_with_awkward_names_then_a_zero_write_reimport() {
    let (src, dst) = (Bao::start(), Bao::start());
    seed(&src);
    let bucket = garage().bucket();
    let aws_secret = garage()
        .env
        .iter()
        .find(|(k, _)| k == "AWS_SECRET_ACCESS_KEY")
        .map(|(_, v)| v.clone())
        .unwrap();

    let debug = [("RUST_LOG".to_string(), "debug".to_string())];
    let mut src_env = s3_env(&src, &bucket);
    src_env.extend(debug.iter().cloned());
    let export = replicator(&["export"], &src_env);
    export.assert_code(0);
    assert!(
        export.stdout.contains("latest now points at it"),
        "{}",
        export.stdout
    );
    assert_no_secrets_in(&export, &[&src.token, &aws_secret, "sekrit-pay"]);

    let list = replicator(&["list"], &s3_env(&src, &bucket));
    list.assert_code(0);
    assert!(
        list.stdout
            .lines()
            .nth(1)
            .is_some_and(|l| l.split_whitespace().any(|w| w == "latest")),
        "{}",
        list.stdout
    );

    let mut dst_env = s3_env(&dst, &bucket);
    dst_env.extend(debug.iter().cloned());
    let import = replicator(&["import"], &dst_env);
    import.assert_code(0);
    assert_no_secrets_in(&import, &[&dst.token, &aws_secret, "sekrit-pay"]);
    assert_same_data(&src, &dst);
    // The target had `secret/` already; `team/apps/` was created.
    assert!(import.stdout.contains("mount"), "{}", import.stdout);

    let versions: Vec<u64> = AWKWARD
        .iter()
        .map(|k| dst.kv_version("secret", k))
        .collect();
    assert!(versions.iter().all(|v| *v == 1), "{versions:?}");
    let again = replicator(&["import"], &s3_env(&dst, &bucket));
    again.assert_code(0);
    assert!(again.stdout.contains("(0 writes)"), "{}", again.stdout);
    let after: Vec<u64> = AWKWARD
        .iter()
        .map(|k| dst.kv_version("secret", k))
        .collect();
    assert_eq!(versions, after, "a re-import must not add KV versions");
}

#[test]
fn only_changed_objects_are_written_on_the_next_import() {
    let (src, dst) = (Bao::start(), Bao::start());
    seed(&src);
    let bucket = garage().bucket();
    replicator(&["export"], &s3_env(&src, &bucket)).assert_code(0);
    replicator(&["import"], &s3_env(&dst, &bucket)).assert_code(0);

    src.kv_put("secret", "with space", json!({"value": "rotated"}));
    src.write(
        "sys/policies/acl/app-read",
        json!({"policy": "path \"secret/data/app/*\" { capabilities = [\"read\"] }"}),
    );
    // Exports are named by the second; make sure the new one gets its own name.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    replicator(&["export"], &s3_env(&src, &bucket)).assert_code(0);
    let import = replicator(&["import"], &s3_env(&dst, &bucket));
    import.assert_code(0);
    assert!(import.stdout.contains("(2 writes)"), "{}", import.stdout);
    assert_same_data(&src, &dst);
    assert_eq!(dst.kv_version("secret", "with space"), 2);
    assert_eq!(dst.kv_version("secret", "plain"), 1);
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let (src, dst) = (Bao::start(), Bao::start());
    seed(&src);
    let bucket = garage().bucket();
    replicator(&["export"], &s3_env(&src, &bucket)).assert_code(0);

    let before = dst.policies();
    let run = replicator(&["import", "--dry-run"], &s3_env(&dst, &bucket));
    run.assert_code(0);
    let plan = words(&run.stdout);
    assert!(plan.contains("nothing was written"), "{plan}");
    assert!(plan.contains("+ create mount team/apps/"), "{plan}");
    assert!(
        plan.contains("+ create kv_secret secret/hash#tag"),
        "{plan}"
    );
    assert!(
        plan.contains("+ create policy sys/policies/acl/app-read"),
        "{plan}"
    );
    assert_no_secrets_in(&run, &[]);
    assert!(dst.kv_keys("secret").is_empty());
    let table = dst.read("sys/mounts").unwrap();
    assert!(
        table["data"].get("team/apps/").is_none(),
        "no mount created"
    );
    assert_eq!(before, dst.policies());
}

#[test]
fn a_deleted_latest_version_is_not_revived_on_the_target() {
    let (src, dst) = (Bao::start(), Bao::start());
    src.kv_put("secret", "live", json!({"v": "1"}));
    src.kv_put("secret", "gone", json!({"v": "1"}));
    src.delete("secret/data/gone");
    // DR still has the secret live from an earlier import.
    dst.kv_put("secret", "gone", json!({"v": "1"}));
    let bucket = garage().bucket();
    replicator(&["export"], &s3_env(&src, &bucket)).assert_code(0);
    replicator(&["verify"], &s3_env(&src, &bucket)).assert_code(0);
    let run = replicator(&["import"], &s3_env(&dst, &bucket));
    run.assert_code(0);
    assert_eq!(dst.kv_get("secret", "live"), Some(json!({"v": "1"})));
    assert_eq!(
        dst.kv_get("secret", "gone"),
        None,
        "deleted on the source, so deleted on DR"
    );
    let again = replicator(&["import"], &s3_env(&dst, &bucket));
    assert!(again.stdout.contains("(0 writes)"), "{}", again.stdout);
}

#[test]
fn the_stock_bao_cli_sees_awkward_keys_as_written() {
    // An independent client confirms the replicated keys are the real names, not encodings.
    let (src, dst) = (Bao::start(), Bao::start());
    let out = src.cli(&["kv", "put", "-mount=secret", "x y/q?#%+&=:;'\"", "k=v"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bucket = garage().bucket();
    replicator(&["export"], &s3_env(&src, &bucket)).assert_code(0);
    replicator(&["import"], &s3_env(&dst, &bucket)).assert_code(0);
    let got = dst.cli(&["kv", "get", "-mount=secret", "-field=k", "x y/q?#%+&=:;'\""]);
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&got.stdout).trim(), "v");
}

#[test]
fn json_logs_are_one_object_per_line_with_a_summary_line() {
    let (src, dst) = (Bao::start(), Bao::start());
    src.kv_put("secret", "a", json!({"v": "1"}));
    let bucket = garage().bucket();
    replicator(&["export"], &s3_env(&src, &bucket)).assert_code(0);
    let mut env = s3_env(&dst, &bucket);
    env.push(("REPLICATOR_LOG_FORMAT".into(), "json".into()));
    let run = replicator(&["import"], &env);
    run.assert_code(0);
    let lines: Vec<serde_json::Value> = run
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let finished = lines
        .iter()
        .find(|l| l["message"] == "import finished")
        .expect("a summary line");
    let summary: serde_json::Value =
        serde_json::from_str(finished["summary"].as_str().unwrap()).unwrap();
    assert_eq!(summary["kinds"]["kv_secret"]["created"], json!(1));
    assert_eq!(finished["writes"], json!(1));
}

/// Values that gzip cannot shrink much: the hex of a sha256 chain.
fn bulky(seed: u32, bytes: usize) -> String {
    use sha2::{Digest, Sha256};
    let mut out = String::with_capacity(bytes);
    let mut block: Vec<u8> = seed.to_le_bytes().to_vec();
    while out.len() < bytes {
        block = Sha256::digest(&block).to_vec();
        out.push_str(&hex::encode(&block));
    }
    out
}

#[test]
fn a_snapshot_larger_than_one_upload_part_goes_up_in_parts_and_imports_whole() {
    let (src, dst) = (Bao::start(), Bao::start());
    for i in 0..10 {
        src.kv_put(
            "secret",
            &format!("big/{i}"),
            json!({"v": bulky(i, 2 << 20)}),
        );
    }
    let bucket = garage().bucket();
    let export = replicator(&["export"], &s3_env(&src, &bucket));
    export.assert_code(0);
    let size: u64 = export
        .stdout
        .split(" bytes")
        .next()
        .and_then(|s| s.rsplit([' ', '(']).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    // More than one 8 MiB part: the multipart path, not the single put.
    assert!(size > 8 << 20, "{}", export.stdout);
    let verify = replicator(&["verify"], &s3_env(&dst, &bucket));
    verify.assert_code(0);
    replicator(&["import"], &s3_env(&dst, &bucket)).assert_code(0);
    for i in [0, 9] {
        let key = format!("big/{i}");
        assert_eq!(dst.kv_get("secret", &key), src.kv_get("secret", &key));
    }
}

//! Bad input and broken surroundings: one clear error line, the documented exit code, no panic,
//! no token in the output, and nothing written to the target.

use serde_json::json;

use super::support::{Bao, env_for, file_store, free_port, garage, keys, replicator};

fn no_vault_env() -> Vec<(String, String)> {
    vec![]
}

#[test]
fn a_missing_setting_names_the_variable_and_exits_2() {
    let run = replicator(&["export"], &no_vault_env());
    run.assert_code(2);
    assert!(
        run.last_error_line().contains("VAULT_ADDR"),
        "{}",
        run.stderr
    );

    let run = replicator(&["export"], &[("VAULT_ADDR", "http://127.0.0.1:1")]);
    run.assert_code(2);
    assert!(
        run.last_error_line().contains("VAULT_TOKEN"),
        "{}",
        run.stderr
    );

    let env = [("VAULT_ADDR", "http://127.0.0.1:1"), ("VAULT_TOKEN", "t")];
    let run = replicator(&["export"], &env);
    run.assert_code(2);
    assert!(
        run.last_error_line().contains("REPLICATOR_STORE"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_malformed_setting_names_the_variable_and_exits_2() {
    let cases = [
        ("REPLICATOR_STORE", "ftp://x", "REPLICATOR_STORE"),
        ("REPLICATOR_CONCURRENCY", "lots", "REPLICATOR_CONCURRENCY"),
        ("VAULT_SKIP_VERIFY", "maybe", "VAULT_SKIP_VERIFY"),
        ("VAULT_ADDR", "127.0.0.1:8200", "VAULT_ADDR"),
    ];
    for (var, value, named) in cases {
        let mut env = vec![
            ("VAULT_ADDR", "http://127.0.0.1:1"),
            ("VAULT_TOKEN", "t"),
            ("REPLICATOR_STORE", "file:///tmp/x"),
        ];
        env.retain(|(k, _)| *k != var);
        env.push((var, value));
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.extend(keys().env());
        let run = replicator(&["export"], &env);
        run.assert_code(2);
        assert!(
            run.last_error_line().contains(named),
            "{var}: {}",
            run.stderr
        );
    }
    let run = replicator(
        &["import", "--snapshot", "yesterday"],
        &[
            ("VAULT_ADDR", "http://127.0.0.1:1"),
            ("VAULT_TOKEN", "t"),
            ("REPLICATOR_STORE", "file:///tmp"),
        ],
    );
    run.assert_code(2);
    assert!(
        run.last_error_line().contains("--snapshot"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unreachable_vault_is_one_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("http://127.0.0.1:{}", free_port());
    let env = [
        ("VAULT_ADDR", addr.as_str()),
        ("VAULT_TOKEN", "s.not-a-real-token"),
        ("REPLICATOR_STORE", &file_store(dir.path())),
    ];
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.extend(keys().env());
    let run = replicator(&["export"], &env);
    run.assert_code(1);
    let line = run.last_error_line();
    assert!(line.starts_with("error: cannot reach Vault at"), "{line}");
    assert!(line.contains(&addr), "{line}");
    assert!(!run.all().contains("s.not-a-real-token"));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing stored"
    );
}

#[test]
fn a_rejected_token_is_a_403_naming_the_path_and_never_the_token() {
    let bao = Bao::start();
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("VAULT_ADDR", bao.addr.as_str()),
        ("VAULT_TOKEN", "s.wrong-token-value"),
        ("REPLICATOR_STORE", &file_store(dir.path())),
    ];
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.extend(keys().env());
    let run = replicator(&["export"], &env);
    run.assert_code(1);
    let line = run.last_error_line();
    assert!(
        line.contains("permission denied") && line.contains("HTTP 403"),
        "{line}"
    );
    assert!(line.starts_with("error: Vault "), "{line}");
    assert!(!run.all().contains("s.wrong-token-value"));
}

#[test]
fn an_unreachable_s3_endpoint_is_one_line_and_exit_1() {
    let bao = Bao::start();
    let mut env = env_for(&bao, "s3://bucket/dc", &garage().env);
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push((
        "AWS_ENDPOINT_URL".into(),
        format!("http://127.0.0.1:{}", free_port()),
    ));
    let run = replicator(&["list"], &env);
    run.assert_code(1);
    assert!(
        run.last_error_line().contains("cannot reach S3"),
        "{}",
        run.stderr
    );
    let run = replicator(&["export"], &env);
    run.assert_code(1);
    assert!(
        run.last_error_line().contains("cannot reach S3"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_missing_bucket_is_named() {
    let bao = Bao::start();
    let env = env_for(&bao, "s3://no-such-bucket-here/dc", &garage().env);
    let run = replicator(&["export"], &env);
    run.assert_code(1);
    let line = run.last_error_line();
    assert!(
        line.contains("bucket `no-such-bucket-here` does not exist"),
        "{line}"
    );
}

#[test]
fn an_empty_prefix_has_no_snapshot() {
    let bao = Bao::start();
    let bucket = garage().bucket();
    let env = env_for(&bao, &format!("s3://{bucket}/nothing-here"), &garage().env);
    let run = replicator(&["import"], &env);
    run.assert_code(1);
    let line = run.last_error_line();
    assert!(
        line.contains("latest.json") && line.contains("not found"),
        "{line}"
    );
    let run = replicator(&["list"], &env);
    run.assert_code(1);
}

/// Exports `src` into a file store and returns the store directory and the snapshot's path.
fn exported(src: &Bao) -> (tempfile::TempDir, std::path::PathBuf) {
    src.kv_put("secret", "app", json!({"pw": "value-1"}));
    let dir = tempfile::tempdir().unwrap();
    replicator(&["export"], &env_for(src, &file_store(dir.path()), &[])).assert_code(0);
    let snap = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with(".tar.gz.age"))
        .unwrap();
    (dir, snap)
}

#[test]
fn a_corrupt_archive_is_refused_with_exit_4_and_nothing_written() {
    let (src, dst) = (Bao::start(), Bao::start());
    let (dir, snap) = exported(&src);
    let mut bytes = std::fs::read(&snap).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&snap, &bytes).unwrap();

    let env = env_for(&dst, &file_store(dir.path()), &[]);
    // Through latest.json: the digest no longer matches the pointer.
    let run = replicator(&["import"], &env);
    run.assert_code(4);
    assert!(
        run.last_error_line().contains("does not match latest.json"),
        "{}",
        run.stderr
    );
    // By ID, skipping the pointer: the archive itself is refused.
    let id = snap
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replace(".tar.gz.age", "");
    let run = replicator(&["import", "--snapshot", &id], &env);
    run.assert_code(4);
    assert!(run.last_error_line().contains("refused"), "{}", run.stderr);
    let run = replicator(&["verify", "--snapshot", &id], &env);
    run.assert_code(4);
    assert!(dst.kv_keys("secret").is_empty(), "nothing may be written");
}

#[test]
fn a_pointer_to_a_missing_snapshot_is_refused() {
    let (src, dst) = (Bao::start(), Bao::start());
    let (dir, snap) = exported(&src);
    std::fs::remove_file(&snap).unwrap();
    let run = replicator(&["import"], &env_for(&dst, &file_store(dir.path()), &[]));
    run.assert_code(4);
    assert!(run.last_error_line().contains("missing"), "{}", run.stderr);
}

#[test]
fn a_kv_v1_mount_in_the_way_is_refused_and_the_rest_applied() {
    let (src, dst) = (Bao::start(), Bao::start());
    src.mount_kv2("team");
    src.kv_put("team", "x", json!({"v": "1"}));
    src.kv_put("secret", "ok", json!({"v": "1"}));
    dst.write(
        "sys/mounts/team",
        json!({"type": "kv", "options": {"version": "1"}}),
    );
    let dir = tempfile::tempdir().unwrap();
    replicator(&["export"], &env_for(&src, &file_store(dir.path()), &[])).assert_code(0);
    let run = replicator(&["import"], &env_for(&dst, &file_store(dir.path()), &[]));
    run.assert_code(3);
    assert!(run.stdout.contains("team/"), "{}", run.stdout);
    assert_eq!(dst.kv_get("secret", "ok"), Some(json!({"v": "1"})));
    assert!(dst.read("team/x").is_none(), "kv-v1 mount left alone");
}

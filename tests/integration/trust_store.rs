//! The store side of "never trusted blindly": `latest.json` and signatures are read under a size
//! cap, `--snapshot NAME` is exactly the object named, and an export never moves `latest` back.

use std::os::unix::process::CommandExt;
use std::path::Path;

use chrono::{TimeDelta, Utc};
use serde_json::json;

use super::support::{
    Bao, Run, STAMP, VALUE, aws, command, env_for, file_store, finish, garage, latest, latest_key,
    replicator, repoint, run, s3_env,
};

/// Runs the binary with at most `limit` bytes of data memory.
fn run_capped(args: &[&str], env: &[(String, String)], limit: u64) -> Run {
    let mut cmd = command(args, env);
    // SAFETY: setrlimit is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_DATA, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    finish(cmd.output().expect("run vault-replicator"))
}

/// Grows `path` to `size` bytes without writing them (a sparse file).
fn inflate(path: &Path, size: u64) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_len(size).unwrap();
}

#[test]
fn a_huge_latest_json_or_signature_is_refused_before_it_is_read_into_memory() {
    let src = Bao::start();
    src.kv_put("secret", "app", json!({"pw": VALUE}));
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path());
    run(&["export"], &src, &store, &[]).assert_code(0);
    let key = latest_key(dir.path());
    let env = env_for(&src, &store, &[]);
    const GIB: u64 = 1 << 30;
    const CAP: u64 = 256 << 20;

    let pointer = std::fs::read(dir.path().join("latest.json")).unwrap();
    inflate(&dir.path().join("latest.json"), GIB);
    for cmd in ["verify", "status"] {
        let r = run_capped(&[cmd], &env, CAP);
        let line = r.last_error_line();
        r.assert_code(4);
        assert!(
            line.contains("latest.json") && line.contains("over"),
            "{cmd:?}: {line}"
        );
    }
    std::fs::write(dir.path().join("latest.json"), &pointer).unwrap();

    inflate(&dir.path().join(format!("{key}.minisig")), GIB);
    let r = run_capped(&["verify"], &env, CAP);
    r.assert_code(4);
    let line = r.last_error_line();
    assert!(line.contains(".minisig") && line.contains("over"), "{line}");
}

// On S3 the cap holds too: a pointer padded past 64 KiB is refused, valid as its JSON may be.
#[test]
fn a_padded_latest_json_on_s3_is_refused_unread() {
    let src = Bao::start();
    src.kv_put("secret", "app", json!({"pw": VALUE}));
    let bucket = garage().bucket();
    let store = format!("s3://{bucket}/dc");
    let env = env_for(&src, &store, &s3_env(&[]));
    replicator(&["export"], &env).assert_code(0);
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("latest.json").display().to_string();
    let remote = format!("s3://{bucket}/dc/latest.json");
    aws(&[
        "s3api",
        "get-object",
        "--bucket",
        &bucket,
        "--key",
        "dc/latest.json",
        &local,
    ]);
    let mut padded = std::fs::read(&local).unwrap();
    padded.resize(100 << 10, b' ');
    std::fs::write(&local, &padded).unwrap();
    aws(&["s3", "cp", &local, &remote]);
    let r = replicator(&["verify"], &env);
    r.assert_code(4);
    let line = r.last_error_line();
    assert!(
        line.contains("latest.json") && line.contains("over"),
        "{line}"
    );
}

// With both `X.tar.gz` and `X.tar.gz.age` in the store, each name means that object only.
#[test]
fn snapshot_names_resolve_to_exactly_the_object_named() {
    let src = Bao::start();
    src.kv_put("secret", "app", json!({"pw": VALUE}));
    let bucket = garage().bucket();
    let store = format!("s3://{bucket}/dc");
    let env = env_for(&src, &store, &s3_env(&[]));
    let export = replicator(&["export"], &env);
    export.assert_code(0);
    let key = export.stdout.split_whitespace().nth(1).unwrap().to_string();
    assert!(key.ends_with(".tar.gz.age"), "{}", export.stdout);
    let dir = tempfile::tempdir().unwrap();
    let id = key.trim_end_matches(".tar.gz.age").to_string();
    // A plaintext object planted under the same time stamp; S3 lists it first.
    let planted = dir.path().join("planted");
    std::fs::write(&planted, b"not a snapshot").unwrap();
    aws(&[
        "s3",
        "cp",
        &planted.display().to_string(),
        &format!("s3://{bucket}/dc/{id}.tar.gz"),
    ]);

    for name in [key.as_str(), id.as_str()] {
        let r = replicator(&["verify", "--snapshot", name], &env);
        r.assert_code(0);
        assert!(r.stdout.starts_with(&format!("{key} OK")), "{}", r.stdout);
    }
    let r = replicator(&["verify", "--snapshot", &format!("{id}.tar.gz")], &env);
    r.assert_code(4);
    assert!(
        r.last_error_line().contains("not encrypted"),
        "{}",
        r.stderr
    );
}

// Two exports at once: the one that started first (older name) finishes last.
#[test]
fn export_does_not_move_latest_back_over_a_newer_snapshot() {
    let src = Bao::start();
    src.kv_put("secret", "app", json!({"pw": VALUE}));
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path());
    run(&["export"], &src, &store, &[]).assert_code(0);
    let first = latest_key(dir.path());
    // What a concurrent export that started two minutes later left behind.
    let at = Utc::now() + TimeDelta::minutes(2);
    let newer = format!("{}.tar.gz.age", at.format(STAMP));
    std::fs::copy(dir.path().join(&first), dir.path().join(&newer)).unwrap();
    repoint(dir.path(), &newer);
    let mut pointer = latest(dir.path());
    pointer["created_at"] = json!(at.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    std::fs::write(
        dir.path().join("latest.json"),
        serde_json::to_vec(&pointer).unwrap(),
    )
    .unwrap();

    std::thread::sleep(std::time::Duration::from_millis(1100));
    let r = run(&["export"], &src, &store, &[]);
    r.assert_code(0);
    assert_eq!(latest_key(dir.path()), newer, "latest moved backwards");
    assert!(
        r.stdout.contains(&format!("latest stays at {newer}")),
        "{}",
        r.stdout
    );
    let written = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".tar.gz.age") && *n != first && *n != newer)
        .count();
    assert_eq!(written, 1, "the export's own snapshot is kept");
}

//! A snapshot is never trusted blindly: `latest.json` and signatures are read under a size cap,
//! and `REPLICATOR_ALLOW_UNSIGNED` does not excuse a missing signature when verify keys are set.

use std::os::unix::process::CommandExt;
use std::path::Path;

use super::support::{Bao, Run, command, env_for, file_store, finish, replicator};

const VALUE: &str = "trusted-value-0451";

fn owned(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn run(args: &[&str], bao: &Bao, store: &str, extra: &[(&str, &str)]) -> Run {
    replicator(args, &env_for(bao, store, &owned(extra)))
}

fn latest(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("latest.json")).unwrap()).unwrap()
}

fn latest_key(dir: &Path) -> String {
    latest(dir)["key"].as_str().unwrap().to_string()
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

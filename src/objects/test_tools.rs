//! The stock `openssl` and `ssh-keygen`, run for the unit tests that need real keys and
//! certificates (what the tool derives must be what those tools say).

#![cfg(test)]

use std::path::Path;
use std::process::Command;

/// Runs `program` with `args` in `dir`; a failure fails the test with what it printed.
pub fn tool(dir: &Path, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A key pair `ssh-keygen` makes in `dir` as `name` (with `args`, such as `-t ed25519` or
/// `-m PEM`), unencrypted: (private, public).
pub fn ssh_keypair(dir: &Path, name: &str, args: &[&str]) -> (String, String) {
    let mut all = vec!["-q", "-N", "", "-f", name];
    all.extend_from_slice(args);
    tool(dir, "ssh-keygen", &all);
    let read =
        |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("read {f}: {e}"));
    (read(name), read(&format!("{name}.pub")))
}

//! What the unit tests of the kinds share about keys: the stock `openssl` and `ssh-keygen`, run for
//! the tests that need real keys and certificates (what the tool derives must be what those tools
//! say), and two fixed SSH public keys.

#![cfg(test)]

use std::path::Path;
use std::process::Command;

/// Two distinct OpenSSH Ed25519 public keys, for tests that tell one key from another.
pub const SSH_PUBLIC: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHliyoBttRIkrqyDuCTRAb/BwiNOLtyXf066TEOQpfp";
pub const SSH_OTHER: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIITFHdXDOIfdYmLbfNAMfWOGwSnT1snEsVgsq5uN5NuA";

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

/// The `openssl genpkey` arguments of a P-256 EC key.
pub const P256: &[&str] = &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];

/// A private key `openssl genpkey` writes to `file` in `dir`, with `args` (its algorithm, and a
/// cipher when it is to be encrypted).
pub fn genpkey(dir: &Path, file: &str, args: &[&str]) {
    let mut all = vec!["genpkey", "-out", file];
    all.extend_from_slice(args);
    tool(dir, "openssl", &all);
}

/// A new key `<name>.key` (`openssl genpkey` with `args`) and its self-signed certificate
/// `<name>.crt` (subject `CN=<name>`), in `dir`.
pub fn self_signed(dir: &Path, name: &str, args: &[&str]) {
    let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
    genpkey(dir, &key, args);
    let subj = format!("/CN={name}");
    let req = [
        "req", "-x509", "-key", &key, "-subj", &subj, "-days", "1", "-out", &crt,
    ];
    tool(dir, "openssl", &req);
}

/// The key `key` in `dir` written again to `out` in its traditional format (PKCS#1, SEC1).
pub fn traditional(dir: &Path, key: &str, out: &str) {
    tool(
        dir,
        "openssl",
        &["pkey", "-in", key, "-traditional", "-out", out],
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

//! The SSH secrets engine: its CA crosses with its private key only through the escrow, and DR
//! then signs user keys that verify against DC's CA (checked with the stock `ssh-keygen`); a CA
//! DR already has is never replaced; roles cross field by field. Against real OpenBao.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use super::support::{Bao, Pair, data, writes};

const ESCROW: &[(&str, &str)] = &[("REPLICATOR_ESCROW_MOUNT", "replicator-escrow")];

/// A fresh ed25519 key pair made by `ssh-keygen` in `dir`: (private key, public key).
fn keypair(dir: &Path, name: &str) -> (String, String) {
    keypair_of(dir, name, &["-t", "ed25519"])
}

/// A fresh key pair made by `ssh-keygen` in `dir` with `args` (type, format).
fn keypair_of(dir: &Path, name: &str, args: &[&str]) -> (String, String) {
    let file = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-C", name])
        .args(args)
        .arg("-f")
        .arg(&file)
        .output()
        .expect("ssh-keygen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    (read(&file), read(&file.with_extension("pub")))
}

/// What `ssh-keygen` says of a file: `-l` a key's fingerprint, `-L` a certificate (which it
/// loads only when its signature verifies against the CA key it names).
fn keygen(args: &[&str], file: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .args(args)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An SSH engine at `ssh/` with a user-certificate role `user`.
fn ssh_mount(b: &Bao) {
    b.write("sys/mounts/ssh", json!({"type": "ssh"}));
    b.write(
        "ssh/roles/user",
        json!({"key_type": "ca", "allow_user_certificates": true, "allowed_users": "*",
               "default_user": "alice", "ttl": "1h"}),
    );
}

/// Sets `b`'s CA to the key pair, and escrows it there when asked.
fn set_ca(b: &Bao, (private, public): &(String, String), escrow: bool) {
    b.write(
        "ssh/config/ca",
        json!({"private_key": private, "public_key": public}),
    );
    if escrow {
        b.mount_kv2("replicator-escrow");
        b.kv_put(
            "replicator-escrow",
            "ssh/config/ca",
            json!({"private_key": private, "public_key": public}),
        );
    }
}

fn ca_public_key(b: &Bao) -> Option<String> {
    let issuers = b.list("ssh/issuers");
    (!issuers.is_empty()).then(|| {
        data(b, "ssh/config/ca")["public_key"]
            .as_str()
            .unwrap()
            .into()
    })
}

/// Has `b` sign a fresh user key with role `user` and returns the `Signing CA:` line
/// `ssh-keygen -L` shows for the certificate.
fn dr_signing_ca(b: &Bao, dir: &Path) -> String {
    let user = keypair(dir, &super::support::unique("user"));
    let signed = b.write(
        "ssh/sign/user",
        json!({"public_key": user.1, "valid_principals": "alice"}),
    )["data"]["signed_key"]
        .as_str()
        .unwrap()
        .to_string();
    let cert = dir.join(super::support::unique("cert"));
    std::fs::write(&cert, signed).unwrap();
    let shown = keygen(&["-L", "-f"], &cert);
    shown
        .lines()
        .find(|l| l.trim_start().starts_with("Signing CA:"))
        .unwrap_or_else(|| panic!("{shown}"))
        .to_string()
}

/// The SHA256 fingerprint of the public key in `dir`/`name`.pub.
fn fingerprint(dir: &Path, name: &str) -> String {
    let out = keygen(&["-l", "-f"], &dir.join(format!("{name}.pub")));
    out.split_whitespace().nth(1).unwrap().to_string()
}

fn same_key(a: &str, b: &str) -> bool {
    fn two(k: &str) -> Vec<&str> {
        k.split_whitespace().take(2).collect()
    }
    two(a) == two(b)
}

#[test]
fn an_escrowed_ssh_ca_signs_on_dr_with_dcs_key_and_the_certificate_verifies_against_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = Pair::new();
    ssh_mount(&p.src);
    let ca = keypair(dir.path(), "dc-ca");
    set_ca(&p.src, &ca, true);
    // DR has the engine already, without a CA (the CA is planned against it, not created with it).
    p.dst.write("sys/mounts/ssh", json!({"type": "ssh"}));

    let run = p.sync(&[ESCROW[0], ("RUST_LOG", "debug")], 0);
    assert!(
        run.stderr.contains("DEBUG"),
        "the run must log at debug level"
    );
    let secret_line = ca.0.lines().nth(1).unwrap();
    assert!(
        !run.all().contains(secret_line),
        "the private key was printed"
    );
    assert!(!run.stdout.contains("not copied: ssh_ca"), "{}", run.stdout);
    assert!(same_key(&ca_public_key(&p.dst).unwrap(), &ca.1));

    // DR signs a user's key as an application would after promotion.
    let user = keypair(dir.path(), "user");
    let signed = p.dst.write(
        "ssh/sign/user",
        json!({"public_key": user.1, "valid_principals": "alice"}),
    )["data"]["signed_key"]
        .as_str()
        .unwrap()
        .to_string();
    let cert = dir.path().join("user-cert.pub");
    std::fs::write(&cert, signed).unwrap();
    let shown = keygen(&["-L", "-f"], &cert);
    let dc_fingerprint = keygen(&["-l", "-f"], &dir.path().join("dc-ca.pub"));
    let dc_fingerprint = dc_fingerprint.split_whitespace().nth(1).unwrap();
    let signing_ca = shown
        .lines()
        .find(|l| l.trim_start().starts_with("Signing CA:"))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(
        signing_ca.contains(dc_fingerprint),
        "{signing_ca} / {dc_fingerprint}"
    );
    assert!(shown.contains("alice"), "{shown}");
    // The proof that DR signs with the CA's key left no role behind.
    assert_eq!(p.dst.list("ssh/roles"), ["user"]);

    p.assert_converged();
}

// The CA's key pair in PEM (as `bao write ssh/config/ca generate_signing_key=true` makes an RSA
// or ECDSA CA, and as many operators keep theirs) crosses like an OpenSSH one.
#[test]
fn an_escrowed_pem_ca_key_crosses_and_dr_signs_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = Pair::new();
    ssh_mount(&p.src);
    let ca = keypair_of(
        dir.path(),
        "dc-ca",
        &["-t", "ecdsa", "-b", "384", "-m", "PEM"],
    );
    assert!(ca.0.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    set_ca(&p.src, &ca, true);
    let run = p.sync(ESCROW, 0);
    assert!(!run.stdout.contains("not copied: ssh_ca"), "{}", run.stdout);
    let signing = dr_signing_ca(&p.dst, dir.path());
    assert!(
        signing.contains(&fingerprint(dir.path(), "dc-ca")),
        "{signing}"
    );
    p.assert_converged();
}

// Issue 25: a stale PEM private key escrowed next to the CA's current public key was taken
// ("0 not copied"): DR advertised DC's CA but signed with the stale key, so after a failover
// hosts rejected every certificate DR issued. The key now has to derive the CA's public key.
#[test]
fn an_escrowed_key_that_is_not_the_cas_is_refused_at_export_though_its_public_key_is() {
    let dir = tempfile::tempdir().unwrap();
    let p = Pair::new();
    ssh_mount(&p.src);
    let ca = keypair_of(dir.path(), "dc-ca", &["-t", "ecdsa", "-m", "PEM"]);
    set_ca(&p.src, &ca, false);
    let stale = keypair_of(dir.path(), "stale", &["-t", "ecdsa", "-m", "PEM"]);
    p.src.mount_kv2("replicator-escrow");
    let entry = json!({"private_key": stale.0, "public_key": ca.1});
    p.src.kv_put("replicator-escrow", "ssh/config/ca", entry);
    p.dst.write("sys/mounts/ssh", json!({"type": "ssh"}));

    let run = p.sync(ESCROW, 0);
    assert!(
        !run.all().contains(stale.0.lines().nth(1).unwrap()),
        "the key was printed"
    );
    if ca_public_key(&p.dst).is_some() {
        let signing = dr_signing_ca(&p.dst, dir.path());
        let (dc, stale) = (
            fingerprint(dir.path(), "dc-ca"),
            fingerprint(dir.path(), "stale"),
        );
        panic!("DR got DC's CA ({dc}) but signs with: {signing} (the stale key is {stale})");
    }
    let line = "not copied: ssh_ca ssh/config/ca: SSH CA private key not escrowed: DR cannot sign \
                with the DC's CA (the escrowed `private_key` is not the CA's key (the public key \
                it derives differs)";
    assert!(run.stdout.contains(line), "{}", run.stdout);
    p.assert_converged();
}

#[test]
fn without_escrow_the_ca_is_reported_as_not_copied_and_dr_gets_none() {
    let dir = tempfile::tempdir().unwrap();
    let p = Pair::new();
    ssh_mount(&p.src);
    set_ca(&p.src, &keypair(dir.path(), "dc-ca"), false);
    let run = p.sync(&[], 0);
    let line = "not copied: ssh_ca ssh/config/ca: SSH CA private key not escrowed: DR cannot sign \
                with the DC's CA";
    assert!(run.stdout.contains(line), "{}", run.stdout);
    assert_eq!(ca_public_key(&p.dst), None);
    assert!(p.dst.read("ssh/roles/user").is_some());
    p.assert_converged();

    // An escrow entry that is not the CA's key pair (a CA set since it was escrowed) is no escrow.
    p.src.mount_kv2("replicator-escrow");
    let stale = keypair(dir.path(), "stale");
    let body = json!({"private_key": stale.0, "public_key": stale.1});
    p.src.kv_put("replicator-escrow", "ssh/config/ca", body);
    let run = p.sync(ESCROW, 0);
    assert!(run.stdout.contains(line), "{}", run.stdout);
    assert!(run.stdout.contains("is not the CA's"), "{}", run.stdout);
    assert_eq!(ca_public_key(&p.dst), None);
}

// A CA key cannot be got back: one DR already holds is never replaced, whatever ON_DRIFT says,
// and REPLICATOR_ON_DRIFT=fail refuses the import.
#[test]
fn a_ca_dr_already_has_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let p = Pair::new();
    ssh_mount(&p.src);
    set_ca(&p.src, &keypair(dir.path(), "dc-ca"), true);
    p.dst.write("sys/mounts/ssh", json!({"type": "ssh"}));
    let dr = keypair(dir.path(), "dr-ca");
    set_ca(&p.dst, &dr, false);

    let run = p.sync(ESCROW, 0);
    assert!(
        run.stdout
            .contains("drift: ssh_ca ssh/config/ca: the target has another SSH CA"),
        "{}",
        run.stdout
    );
    assert!(same_key(&ca_public_key(&p.dst).unwrap(), &dr.1));

    let refused = p.import(&[("REPLICATOR_ON_DRIFT", "fail")]);
    refused.assert_code(4);
    assert!(same_key(&ca_public_key(&p.dst).unwrap(), &dr.1));
}

/// Every role of the engine, as each side reads it.
fn roles(b: &Bao) -> Value {
    let mut names = b.list("ssh/roles");
    names.sort();
    let all = names
        .iter()
        .map(|n| (n.clone(), data(b, &format!("ssh/roles/{n}"))));
    Value::Object(all.collect())
}

#[test]
fn ssh_roles_cross_at_defaults_tuned_and_changed_and_a_second_import_writes_nothing() {
    let p = Pair::new();
    p.src.write("sys/mounts/ssh", json!({"type": "ssh"}));
    for (name, body) in [
        (
            "ca-default",
            json!({"key_type": "ca", "allow_user_certificates": true}),
        ),
        (
            "otp-default",
            json!({"key_type": "otp", "default_user": "u"}),
        ),
        ("ca-tuned", super::support::ssh_ca_role_tuned()),
        (
            "otp-tuned",
            json!({"key_type": "otp", "default_user": "u", "allowed_users": "u,v",
                   "cidr_list": "10.0.0.0/8", "exclude_cidr_list": "10.1.0.0/16", "port": 2222}),
        ),
    ] {
        p.src.write(&format!("ssh/roles/{name}"), body);
    }
    let run = p.sync(&[], 0);
    assert!(
        !run.stdout.contains("not copied: mount ssh/"),
        "{}",
        run.stdout
    );
    assert_eq!(roles(&p.src), roles(&p.dst));
    assert_eq!(roles(&p.dst).as_object().unwrap().len(), 4);
    p.assert_converged();

    p.src.write(
        "ssh/roles/ca-default",
        json!({"key_type": "ca", "allow_user_certificates": true, "allowed_users": "bob",
               "max_ttl": "2h", "default_extensions": {"permit-pty": ""}}),
    );
    p.src.delete("ssh/roles/otp-default");
    let run = p.sync(
        &[
            ("REPLICATOR_PRUNE", "true"),
            ("REPLICATOR_MAX_DELETE", "100%"),
        ],
        0,
    );
    assert_eq!(writes(&run), 2, "{}", run.stdout);
    assert_eq!(roles(&p.src), roles(&p.dst));
    p.assert_converged();
}

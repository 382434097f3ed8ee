//! Key derivation against keys and certificates made by the stock `openssl` and `ssh-keygen`, in
//! every format OpenBao takes: what this module derives must be what those tools say.

use std::path::Path;

use super::*;
use crate::objects::test_tools::{P256, genpkey, self_signed, tool, traditional};

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// A certificate's DER from its PEM file.
fn cert_der(dir: &Path, name: &str) -> Vec<u8> {
    let pem = read(dir, name);
    let (label, der) = der::pem::decode_vec(pem.as_bytes()).unwrap();
    assert_eq!(label, "CERTIFICATE");
    der
}

/// `openssl genpkey` arguments for each key type a PKI issuer may have.
const OPENSSL_KEYS: &[(&str, &[&str])] = &[
    (
        "rsa",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    ),
    ("p256", P256),
    (
        "p384",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    ),
    (
        "p521",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
    ),
    ("ed25519", &["-algorithm", "ED25519"]),
];

// The key a certificate was made with derives the certificate's public key, in PKCS#8 and in the
// traditional format (PKCS#1, SEC1); another key of the same type does not.
#[test]
fn a_private_key_derives_its_certificates_public_key_in_every_pem_format() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, args) in OPENSSL_KEYS {
        let (key, cert) = (format!("{name}.key"), format!("{name}.crt"));
        let other = format!("{name}-other.key");
        self_signed(d, name, args);
        genpkey(d, &other, args);
        let want = of_certificate(&cert_der(d, &cert)).unwrap();
        assert_eq!(of_private_key(&read(d, &key)).unwrap(), want, "{name}");
        // Ed25519 has no traditional format.
        if *name != "ed25519" {
            let trad = format!("{name}.trad");
            traditional(d, &key, &trad);
            assert_eq!(of_private_key(&read(d, &trad)).unwrap(), want, "{name}");
        }
        assert_ne!(of_private_key(&read(d, &other)).unwrap(), want, "{name}");
    }
    let pkcs1 = read(d, "rsa.trad");
    assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let sec1 = read(d, "p384.trad");
    assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"));
}

/// `ssh-keygen` arguments for each SSH CA key type.
const SSH_KEYS: &[(&str, &[&str])] = &[
    ("rsa", &["-t", "rsa", "-b", "2048"]),
    ("p256", &["-t", "ecdsa", "-b", "256"]),
    ("p384", &["-t", "ecdsa", "-b", "384"]),
    ("p521", &["-t", "ecdsa", "-b", "521"]),
    ("ed25519", &["-t", "ed25519"]),
];

fn ssh_keygen(d: &Path, file: &str, args: &[&str], extra: &[&str]) {
    let mut all = vec!["-q", "-N", "", "-C", "c", "-f", file];
    all.extend_from_slice(args);
    all.extend_from_slice(extra);
    tool(d, "ssh-keygen", &all);
}

// An SSH key derives the public key `ssh-keygen` wrote beside it, in OpenSSH's format and in
// PEM (`-m PEM`: PKCS#1 for RSA, SEC1 for ECDSA); a certificate names the CA that signed it.
#[test]
fn an_ssh_private_key_derives_its_public_key_and_a_certificate_names_its_signer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, args) in SSH_KEYS {
        ssh_keygen(d, name, args, &[]);
        let want = of_ssh_public(&read(d, &format!("{name}.pub"))).unwrap();
        assert_eq!(
            of_private_key(&read(d, name)).unwrap_or_else(|e| panic!("{name}: {e}")),
            want,
            "{name}"
        );
        if *name != "ed25519" {
            let pem = format!("{name}-pem");
            ssh_keygen(d, &pem, args, &["-m", "PEM"]);
            let want = of_ssh_public(&read(d, &format!("{pem}.pub"))).unwrap();
            assert_eq!(of_private_key(&read(d, &pem)).unwrap(), want, "{name} PEM");
        }
    }
    ssh_keygen(d, "user", &["-t", "ed25519"], &[]);
    // A certificate valid for a while, as OpenBao signs them (ssh-key reads no "forever").
    tool(
        d,
        "ssh-keygen",
        &[
            "-q", "-s", "p384", "-I", "id", "-n", "u", "-V", "+5m", "user.pub",
        ],
    );
    let signer = ssh_certificate_signer(&read(d, "user-cert.pub")).unwrap();
    assert_eq!(signer, of_ssh_public(&read(d, "p384.pub")).unwrap());
    assert_ne!(signer, of_ssh_public(&read(d, "user.pub")).unwrap());
}

// OpenBao cannot use an encrypted key; none is taken, and no error shows key material.
#[test]
fn encrypted_and_unreadable_keys_are_refused_without_showing_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ssh_keygen(d, "plain", &["-t", "ed25519"], &[]);
    tool(
        d,
        "ssh-keygen",
        &["-q", "-t", "ed25519", "-N", "pass", "-f", "locked"],
    );
    let why = of_private_key(&read(d, "locked")).unwrap_err();
    assert!(why.contains("encrypted"), "{why}");
    genpkey(
        d,
        "enc.key",
        &[P256, &["-aes-128-cbc", "-pass", "pass:x"]].concat(),
    );
    let why = of_private_key(&read(d, "enc.key")).unwrap_err();
    assert!(why.contains("encrypted"), "{why}");
    genpkey(d, "ec.key", P256);
    tool(
        d,
        "openssl",
        &[
            "pkey",
            "-in",
            "ec.key",
            "-traditional",
            "-aes128",
            "-passout",
            "pass:x",
            "-out",
            "legacy.key",
        ],
    );
    assert!(read(d, "legacy.key").contains("Proc-Type"));
    let why = of_private_key(&read(d, "legacy.key")).unwrap_err();
    assert!(why.contains("encrypted"), "{why}");

    let plain = read(d, "plain");
    let body = plain.lines().nth(1).unwrap();
    let cut: String = plain.lines().take(3).collect::<Vec<_>>().join("\n");
    for text in [
        cut.as_str(),
        body,
        "",
        "-----BEGIN DSA PRIVATE KEY-----\nAAAA\n-----END DSA PRIVATE KEY-----",
    ] {
        let why = of_private_key(text).unwrap_err();
        assert!(!why.contains(&body[..20]), "{why}");
    }
    let why = of_private_der("CERTIFICATE", b"").unwrap_err();
    assert!(why.contains("`CERTIFICATE`"), "{why}");
    assert!(!is_private_key("CERTIFICATE") && is_private_key("EC PRIVATE KEY"));
}

#[test]
fn a_throwaway_ed25519_key_is_a_valid_ssh_public_key() {
    let public = ed25519_public(&[7u8; 32]);
    let line = ssh_ed25519_line(public).unwrap();
    assert!(line.starts_with("ssh-ed25519 AAAA"), "{line}");
    assert_eq!(of_ssh_public(&line).unwrap(), PublicKey::Ed25519(public));
    assert_eq!(format!("{:?}", PublicKey::Ed25519(public)), "Ed25519");
}

// ssh-key 0.6 alone refuses one P-521 key in four (a private scalar below 2^520, whose `mpint`
// is 65 bytes): every one of 40 keys derives the public key ssh-keygen wrote beside it.
#[test]
fn every_p521_openssh_key_derives_its_public_key_whatever_its_scalar() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for i in 0..40 {
        let name = format!("p521-{i}");
        ssh_keygen(d, &name, &["-t", "ecdsa", "-b", "521"], &[]);
        let want = of_ssh_public(&read(d, &format!("{name}.pub"))).unwrap();
        let got = of_private_key(&read(d, &name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, want, "{name}");
    }
}

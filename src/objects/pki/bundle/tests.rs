//! Issuer bundles as operators make them with the stock `openssl`: a certificate and its key, a
//! chain file, a root key left in it, a key that is not the issuer's.

use std::path::Path;

use serde_json::json;

use super::*;
use crate::objects::test_tools::{P256, self_signed, traditional};

/// A self-signed CA `name` in `dir`: (certificate, PKCS#8 key, traditional SEC1 key), PEM.
fn ca(dir: &Path, name: &str) -> (String, String, String) {
    let (key, crt, sec1) = (
        format!("{name}.key"),
        format!("{name}.crt"),
        format!("{name}.sec1"),
    );
    self_signed(dir, name, P256);
    traditional(dir, &key, &sec1);
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    (read(&crt), read(&key), read(&sec1))
}

fn body(pem: &str) -> &str {
    pem.lines().nth(1).unwrap()
}

#[test]
fn only_the_issuers_certificate_and_its_own_key_cross() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, sec1) = ca(dir.path(), "issuer");
    let (root, _, _) = ca(dir.path(), "root");

    let pair = issuer_pair(&format!("{cert}{key}"), &cert).unwrap();
    assert!(
        pair.contains(body(&cert)) && pair.contains(body(&key)),
        "{pair}"
    );
    assert_eq!(pair.matches("-----BEGIN").count(), 2);

    // A chain file: the other certificates are left out (each would become an issuer on DR).
    let chain = issuer_pair(&format!("{root}{sec1}\n{cert}{root}"), &cert).unwrap();
    assert!(!chain.contains(body(&root)), "{chain}");
    assert!(chain.contains("-----BEGIN EC PRIVATE KEY-----") && chain.contains(body(&sec1)));
    assert_eq!(chain.matches("-----BEGIN").count(), 2);
    assert!(chain.starts_with("-----BEGIN CERTIFICATE-----"));

    // `openssl ecparam -genkey` writes the curve's parameters before the key.
    let params = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n";
    assert!(issuer_pair(&format!("{cert}{params}{sec1}"), &cert).is_ok());
}

// Issue 25: the whole escrowed bundle was imported, so a root key left in a chain file became a
// key on DR that is never pruned, and a key that is not the issuer's passed the export and left
// a stray key in `pki/keys` at every import.
#[test]
fn another_key_or_a_key_that_is_not_the_issuers_refuses_the_bundle_without_showing_it() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = ca(dir.path(), "issuer");
    let (root, root_key, _) = ca(dir.path(), "root");
    let cases = [
        (
            format!("{cert}{key}{root}{root_key}"),
            "block 4 is a private key (`PRIVATE KEY`) that is not this issuer's",
        ),
        (
            format!("{cert}{root_key}"),
            "block 2 is a private key (`PRIVATE KEY`) that is not this issuer's",
        ),
        (format!("{root_key}{cert}{key}"), "block 1 is a private key"),
        (
            format!("{key}{root}"),
            "it does not hold this issuer's certificate",
        ),
        (cert.clone(), "it holds no private key"),
        (
            format!("{cert}-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n{key}"),
            "block 2 is a `PUBLIC KEY`",
        ),
        (
            format!("{cert}{}", key.replace("-----END PRIVATE KEY-----", "")),
            "block 2 has no end line",
        ),
    ];
    for (bundle, want) in cases {
        let why = issuer_pair(&bundle, &cert).unwrap_err();
        assert!(why.contains(want), "{why} / {want}");
        for secret in [&key, &root_key] {
            assert!(!why.contains(body(secret)), "{why}");
        }
    }
}

#[test]
fn an_entry_holds_only_its_bundle_and_crosses_cut_down() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = ca(dir.path(), "issuer");
    let (root, _, _) = ca(dir.path(), "root");
    let entry = |v: serde_json::Value| Escrowed(v.as_object().cloned().unwrap());
    let kept = escrowed_for(&entry(json!({BUNDLE: format!("{cert}{key}{root}")})), &cert).unwrap();
    let pair = kept.0[BUNDLE].as_str().unwrap();
    assert!(!pair.contains(body(&root)));
    let extra = entry(json!({BUNDLE: format!("{cert}{key}"), "private_key": key}));
    let why = escrowed_for(&extra, &cert).unwrap_err();
    assert!(
        why.contains("`private_key`") && !why.contains(body(&key)),
        "{why}"
    );
    let why = escrowed_for(&entry(json!({BUNDLE: 1})), &cert).unwrap_err();
    assert!(why.contains("not text"), "{why}");
}

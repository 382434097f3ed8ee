//! Old snapshots still import: a snapshot made by an earlier build, committed under
//! tests/fixtures/snapshot-v1/ (encrypted and signed with the throwaway keys in
//! tests/fixtures/keys/), is verified and imported into a fresh OpenBao from a copy of those
//! bytes; a second import writes nothing. `make_fixture` (ignored) regenerates it.
//!
//! What in the fixture depends on when and where it was made, and how the test handles it:
//! - the signature names the store prefix it was published under (`FIXTURE_PREFIX`, not the
//!   temporary copy's directory): the test pins it with `REPLICATOR_SOURCE_PREFIX`, as an
//!   operator restoring from a copy does;
//! - its dates (name, signature, manifest) lie in the past, which no check refuses (only dates
//!   in the future are); `REPLICATOR_MAX_AGE` bounds `status` only, and is left unset here;
//! - a fresh target has no importer's state, so the no-going-back rule has nothing to compare.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::support::{Bao, Run, file_store, replicator, repo_root};

/// The store directory the fixture was exported to, as its signature names it.
const FIXTURE_PREFIX: &str = "/tmp/vault-replicator-fixture/store";

fn fixtures() -> PathBuf {
    repo_root().join("tests/fixtures")
}

fn keys() -> PathBuf {
    fixtures().join("keys")
}

/// The minisign public key line of the fixture's verify key.
fn verify_key() -> String {
    let text = std::fs::read_to_string(keys().join("signing.pub")).expect("signing.pub");
    text.lines().nth(1).expect("key line").to_string()
}

/// A copy of the committed store, so that nothing the test does can change the fixture.
fn copy_of_store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(fixtures().join("snapshot-v1")).expect("fixture dir") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, dir.path().join(path.file_name().expect("name"))).expect("copy");
    }
    dir
}

fn import_env(bao: &Bao, store: &Path) -> Vec<(String, String)> {
    let mut env = bao.env();
    env.extend([
        ("REPLICATOR_STORE".to_string(), file_store(store)),
        (
            "REPLICATOR_AGE_IDENTITY_FILE".to_string(),
            keys().join("age.key").display().to_string(),
        ),
        ("REPLICATOR_VERIFY_KEY".to_string(), verify_key()),
        (
            "REPLICATOR_SOURCE_PREFIX".to_string(),
            FIXTURE_PREFIX.to_string(),
        ),
    ]);
    env
}

fn import(env: &[(String, String)]) -> Run {
    let run = replicator(&["import", "--snapshot", "latest"], env);
    run.assert_code(0);
    run
}

#[test]
fn a_committed_snapshot_still_verifies_and_imports() {
    let store = copy_of_store();
    let dst = Bao::start();
    let env = import_env(&dst, store.path());

    let verified = replicator(&["verify", "--snapshot", "latest"], &env);
    verified.assert_code(0);
    assert!(
        verified.stdout.contains(" OK: signed by key ")
            && verified.stdout.contains(", encrypted; format v1, "),
        "{}",
        verified.stdout
    );

    let first = import(&env);
    assert!(first.stdout.starts_with("Imported "), "{}", first.stdout);

    // A policy, a KV-v2 secret with both its versions, a KV-v1 item in its mount, an AppRole role
    // in its auth mount, and a transit key that decrypts what the source encrypted.
    let policy = dst.read("sys/policies/acl/fixture-read").expect("policy");
    assert!(
        policy["data"]["policy"]
            .as_str()
            .is_some_and(|p| p.contains("secret/data/app/*")),
        "{policy}"
    );
    assert_eq!(dst.kv_version("secret", "app/db"), 2);
    assert_eq!(
        dst.kv_get("secret", "app/db"),
        Some(json!({"password": "fixture-v2"}))
    );
    let v1 = dst.cli(&["kv", "get", "-format=json", "-version=1", "secret/app/db"]);
    let v1: serde_json::Value = serde_json::from_slice(&v1.stdout).expect("kv get -version=1");
    assert_eq!(
        v1["data"]["data"],
        json!({"password": "fixture-v1"}),
        "{v1}"
    );
    let mounts = dst.read("sys/mounts").expect("mounts");
    assert_eq!(mounts["data"]["legacy/"]["type"], "kv", "{mounts}");
    assert_eq!(
        dst.read("legacy/old/item").expect("kv-v1 item")["data"],
        json!({"k": "fixture-kv1"})
    );
    let role = dst.read("auth/approle/role/ci").expect("approle role");
    assert_eq!(role["data"]["token_policies"], json!(["fixture-read"]));
    let ciphertext = std::fs::read_to_string(fixtures().join("transit-ciphertext.txt"))
        .expect("transit-ciphertext.txt");
    let plain = dst.write(
        "transit/decrypt/fixture",
        json!({"ciphertext": ciphertext.trim()}),
    );
    assert_eq!(plain["data"]["plaintext"], "Zml4dHVyZQ==", "{plain}");

    let second = import(&env);
    assert!(
        second.stdout.contains(" (0 writes)."),
        "a second import writes nothing:\n{}",
        second.stdout
    );
}

/// Regenerates tests/fixtures/snapshot-v1/ with this build:
/// `cargo test --test integration fixture::make_fixture -- --ignored`, then commit the result.
/// The keys in tests/fixtures/keys/ are reused (made with `keygen` when missing).
#[test]
#[ignore = "regenerates the committed fixture"]
fn make_fixture() {
    let src = Bao::start();
    seed(&src);
    let keys = keys();
    if !keys.join("age.key").exists() {
        replicator(
            &["keygen", "--dir", keys.to_str().expect("utf-8")],
            &[] as &[(&str, &str)],
        )
        .assert_code(0);
    }
    let store = Path::new(FIXTURE_PREFIX);
    let _ = std::fs::remove_dir_all(store);
    std::fs::create_dir_all(store).expect("store dir");
    let recipient = std::fs::read_to_string(keys.join("age.pub")).expect("age.pub");
    let mut env = src.env();
    env.extend([
        ("REPLICATOR_STORE".to_string(), file_store(store)),
        (
            "REPLICATOR_AGE_RECIPIENTS".to_string(),
            recipient.trim().to_string(),
        ),
        (
            "REPLICATOR_SIGNING_KEY_FILE".to_string(),
            keys.join("signing.key").display().to_string(),
        ),
        ("REPLICATOR_KV_HISTORY".to_string(), "all".to_string()),
    ]);
    replicator(&["export"], &env).assert_code(0);
    let out = fixtures().join("snapshot-v1");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("fixture dir");
    for entry in std::fs::read_dir(store).expect("store") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, out.join(path.file_name().expect("name"))).expect("copy");
    }
    let sealed = src.write(
        "transit/encrypt/fixture",
        json!({"plaintext": "Zml4dHVyZQ=="}),
    );
    let ciphertext = sealed["data"]["ciphertext"].as_str().expect("ciphertext");
    std::fs::write(
        fixtures().join("transit-ciphertext.txt"),
        format!("{ciphertext}\n"),
    )
    .expect("write ciphertext");
}

/// A few objects of several kinds; every value is a made-up test value.
fn seed(src: &Bao) {
    src.write(
        "sys/policies/acl/fixture-read",
        json!({"policy": "path \"secret/data/app/*\" { capabilities = [\"read\"] }"}),
    );
    src.kv_put("secret", "app/db", json!({"password": "fixture-v1"}));
    src.kv_put("secret", "app/db", json!({"password": "fixture-v2"}));
    src.write(
        "sys/mounts/legacy",
        json!({"type": "kv", "options": {"version": "1"}}),
    );
    src.write("legacy/old/item", json!({"k": "fixture-kv1"}));
    src.write("sys/auth/approle", json!({"type": "approle"}));
    src.write(
        "auth/approle/role/ci",
        json!({"token_policies": ["fixture-read"], "secret_id_ttl": "10m"}),
    );
    src.write("sys/mounts/transit", json!({"type": "transit"}));
    src.write(
        "transit/keys/fixture",
        json!({"exportable": true, "allow_plaintext_backup": true}),
    );
}

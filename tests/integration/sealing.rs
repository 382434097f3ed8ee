//! Snapshots at rest: unreadable without the DR identity, checkable with the stock `age` and
//! `minisign` tools, and every planted, altered or hostile object refused with exit 4 before
//! anything is written to the target.

use std::process::Command;

use serde_json::{Value, json};

use super::support::sealed::{
    Exported, VALUE, age_decrypt, assert_refused, entries, import, list_in_manifest, repoint,
    reseal, sign_with, tool,
};
use super::support::{Bao, Keys, env_for, file_store, keys, replicator};

#[test]
fn a_snapshot_is_unreadable_without_the_identity_and_the_stock_tools_open_it() {
    let src = Bao::start();
    let exp = Exported::new(&src);
    assert!(exp.key.ends_with(".tar.gz.age"), "{}", exp.key);
    let raw = std::fs::read(exp.path()).unwrap();
    assert!(raw.starts_with(b"age-encryption.org/v1\n"));
    assert!(!String::from_utf8_lossy(&raw).contains(VALUE));

    let k = keys();
    let out = tool(
        Command::new("minisign")
            .args(["-V", "-p"])
            .arg(k.dir.join("signing.pub"))
            .arg("-m")
            .arg(exp.path()),
        b"",
    );
    let out = String::from_utf8_lossy(&out);
    assert!(out.contains(&format!("file:{}", exp.key)), "{out}");

    let plain = entries(&age_decrypt(&exp.path(), k));
    assert_eq!(plain[0].0, "manifest.json");
    let secret = plain
        .iter()
        .find(|(n, _)| n == "kv/secret/app.json")
        .unwrap();
    assert!(String::from_utf8_lossy(&secret.1).contains(VALUE));

    let other = Keys::generate();
    let run = Command::new("age")
        .args(["-d", "-i"])
        .arg(other.dir.join("age.key"))
        .arg(exp.path())
        .output()
        .unwrap();
    assert!(!run.status.success(), "another identity must not decrypt");
}

#[test]
fn keys_made_by_the_stock_tools_work_as_they_are() {
    let (src, dst) = (Bao::start(), Bao::start());
    src.kv_put("secret", "app", json!({"pw": VALUE}));
    let d = tempfile::tempdir().unwrap();
    let p = |n: &str| d.path().join(n).display().to_string();
    tool(Command::new("age-keygen").args(["-o", &p("id.key")]), b"");
    let recipient = tool(Command::new("age-keygen").args(["-y", &p("id.key")]), b"");
    let recipient = String::from_utf8(recipient).unwrap().trim().to_string();
    tool(
        Command::new("minisign").args(["-G", "-p", &p("enc.pub"), "-s", &p("enc.key")]),
        b"pass-0451\npass-0451\n",
    );
    tool(
        Command::new("minisign").args(["-G", "-W", "-p", &p("plain.pub"), "-s", &p("plain.key")]),
        b"",
    );
    let store = tempfile::tempdir().unwrap();
    for (secret, public, password) in [
        ("enc.key", "enc.pub", "pass-0451"),
        ("plain.key", "plain.pub", ""),
    ] {
        let env = [
            ("REPLICATOR_AGE_RECIPIENTS", recipient.clone()),
            ("REPLICATOR_AGE_IDENTITY_FILE", p("id.key")),
            ("REPLICATOR_SIGNING_KEY_FILE", p(secret)),
            ("REPLICATOR_SIGNING_KEY_PASSWORD", password.to_string()),
            ("REPLICATOR_VERIFY_KEY", p(public)),
        ]
        .map(|(k, v)| (k.to_string(), v));
        replicator(&["export"], &env_for(&src, &file_store(store.path()), &env)).assert_code(0);
        let run = replicator(&["import"], &env_for(&dst, &file_store(store.path()), &env));
        run.assert_code(0);
        assert_eq!(dst.kv_get("secret", "app"), Some(json!({"pw": VALUE})));
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    let env = [
        ("REPLICATOR_SIGNING_KEY_FILE", p("enc.key")),
        ("REPLICATOR_SIGNING_KEY_PASSWORD", "wrong".into()),
    ]
    .map(|(k, v)| (k.to_string(), v));
    let run = replicator(&["export"], &env_for(&src, &file_store(store.path()), &env));
    run.assert_code(2);
    assert!(
        run.last_error_line()
            .contains("REPLICATOR_SIGNING_KEY_FILE"),
        "{}",
        run.stderr
    );
    assert!(
        !run.all().contains("wrong"),
        "the password must not be echoed"
    );
}

#[test]
fn plaintext_and_unsigned_snapshots_need_an_explicit_yes_on_both_sides() {
    let (src, dst) = (Bao::start(), Bao::start());
    src.kv_put("secret", "app", json!({"pw": VALUE}));
    for (dropped, allow, refusal) in [
        (
            "REPLICATOR_AGE_RECIPIENTS",
            "REPLICATOR_ALLOW_PLAINTEXT",
            "not encrypted",
        ),
        (
            "REPLICATOR_SIGNING_KEY_FILE",
            "REPLICATOR_ALLOW_UNSIGNED",
            "not signed",
        ),
    ] {
        let store = tempfile::tempdir().unwrap();
        let mut env = env_for(&src, &file_store(store.path()), &[]);
        env.retain(|(k, _)| k != dropped);
        let run = replicator(&["export"], &env);
        run.assert_code(2);
        assert!(run.last_error_line().contains(dropped), "{}", run.stderr);
        assert_eq!(std::fs::read_dir(store.path()).unwrap().count(), 0);

        env.push((allow.into(), "true".into()));
        replicator(&["export"], &env).assert_code(0);
        assert_refused(&import(&dst, store.path(), &[]), &dst, refusal);
        // With verify keys set a signature is required whatever REPLICATOR_ALLOW_UNSIGNED says.
        let keys = match allow {
            "REPLICATOR_ALLOW_UNSIGNED" => "",
            _ => keys().verify_key.as_str(),
        };
        let yes = [(allow, "true"), ("REPLICATOR_VERIFY_KEY", keys)];
        import(&dst, store.path(), &yes).assert_code(0);
        assert_eq!(dst.kv_get("secret", "app"), Some(json!({"pw": VALUE})));
        dst.delete("secret/metadata/app");
        dst.delete("sys/mounts/vault-replicator");
    }
}

#[test]
fn an_altered_or_planted_object_in_the_bucket_is_refused_before_any_write() {
    let (src, dst) = (Bao::start(), Bao::start());
    let exp = Exported::new(&src);
    let obj = |d: &tempfile::TempDir| d.path().join(&exp.key);

    // A bit flip, with latest.json updated so that only the signature can notice.
    let d = exp.copy();
    let mut bytes = std::fs::read(obj(&d)).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(obj(&d), &bytes).unwrap();
    repoint(d.path(), &exp.key);
    assert_refused(&import(&dst, d.path(), &[]), &dst, "does not verify");

    // Truncated, likewise.
    let d = exp.copy();
    let bytes = std::fs::read(obj(&d)).unwrap();
    std::fs::write(obj(&d), &bytes[..bytes.len() - 100]).unwrap();
    repoint(d.path(), &exp.key);
    assert_refused(&import(&dst, d.path(), &[]), &dst, "does not verify");

    // The signature deleted.
    let d = exp.copy();
    std::fs::remove_file(d.path().join(format!("{}.minisig", exp.key))).unwrap();
    assert_refused(&import(&dst, d.path(), &[]), &dst, "not signed");

    // Signed again by someone else's key, with the same trusted comment.
    let d = exp.copy();
    let foreign = Keys::generate();
    let sig = std::fs::read_to_string(d.path().join(format!("{}.minisig", exp.key))).unwrap();
    let comment = sig
        .lines()
        .nth(2)
        .unwrap()
        .trim_start_matches("trusted comment: ");
    sign_with(&foreign.dir.join("signing.key"), &obj(&d), comment);
    assert_refused(&import(&dst, d.path(), &[]), &dst, "not a trusted key");

    // The importer holds another age identity.
    let other = Keys::generate();
    let id = other.dir.join("age.key").display().to_string();
    let run = import(
        &dst,
        exp.dir.path(),
        &[("REPLICATOR_AGE_IDENTITY_FILE", &id)],
    );
    assert_refused(&run, &dst, "cannot decrypt");

    // latest.json pointing at a missing object, and at an object that is not the one it names.
    let d = exp.copy();
    std::fs::remove_file(obj(&d)).unwrap();
    assert_refused(&import(&dst, d.path(), &[]), &dst, "missing");
    let d = exp.copy();
    std::fs::write(obj(&d), b"age-encryption.org/v1\nplanted").unwrap();
    assert_refused(
        &import(&dst, d.path(), &[]),
        &dst,
        "does not match latest.json",
    );

    // A valid snapshot and signature copied under a newer name.
    let d = exp.copy();
    let newer = "29991231T235959Z.tar.gz.age";
    std::fs::copy(obj(&d), d.path().join(newer)).unwrap();
    std::fs::copy(
        d.path().join(format!("{}.minisig", exp.key)),
        d.path().join(format!("{newer}.minisig")),
    )
    .unwrap();
    repoint(d.path(), newer);
    assert_refused(&import(&dst, d.path(), &[]), &dst, "was made for");
}

#[test]
fn latest_json_cannot_roll_the_target_back() {
    let (src, dst) = (Bao::start(), Bao::start());
    let exp = Exported::new(&src);
    let older = exp.key.clone();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    src.kv_put("secret", "app", json!({"pw": "newer"}));
    replicator(
        &["export"],
        &env_for(&src, &file_store(exp.dir.path()), &[]),
    )
    .assert_code(0);
    import(&dst, exp.dir.path(), &[]).assert_code(0);

    repoint(exp.dir.path(), &older);
    let run = import(&dst, exp.dir.path(), &[]);
    run.assert_code(4);
    assert!(
        run.last_error_line().contains("already imported the newer"),
        "{}",
        run.stderr
    );
    assert_eq!(dst.kv_get("secret", "app"), Some(json!({"pw": "newer"})));
    assert_eq!(dst.kv_version("secret", "app"), 1);

    let id = older.trim_end_matches(".tar.gz.age");
    let env = env_for(&dst, &file_store(exp.dir.path()), &[]);
    replicator(&["import", "--snapshot", id], &env).assert_code(0);
    assert_eq!(dst.kv_get("secret", "app"), Some(json!({"pw": VALUE})));
}

/// Issue #25 item 9: the rule above needed a `meta` record, so a fresh DR (the migration
/// recipe) followed `latest.json` back to any retained signed snapshot.
#[test]
fn latest_json_cannot_roll_a_fresh_target_back() {
    let (src, dst) = (Bao::start(), Bao::start());
    let exp = Exported::new(&src);
    let older = exp.key.clone();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    src.kv_put("secret", "app", json!({"pw": "newer"}));
    let store = file_store(exp.dir.path());
    replicator(&["export"], &env_for(&src, &store, &[])).assert_code(0);

    repoint(exp.dir.path(), &older);
    for args in [&["import"][..], &["import", "--dry-run"][..]] {
        let run = replicator(args, &env_for(&dst, &store, &[]));
        run.assert_code(4);
        assert!(
            run.last_error_line()
                .contains("the store holds the newer, signed"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(dst.kv_get("secret", "app"), None);

    // Named, the older one is imported; the pointer at the newest is followed.
    let id = older.trim_end_matches(".tar.gz.age");
    let env = env_for(&dst, &store, &[]);
    replicator(&["import", "--snapshot", id], &env).assert_code(0);
    assert_eq!(dst.kv_get("secret", "app"), Some(json!({"pw": VALUE})));
    let fresh = Bao::start();
    replicator(&["export"], &env_for(&src, &store, &[])).assert_code(0);
    replicator(&["import"], &env_for(&fresh, &store, &[])).assert_code(0);
    assert_eq!(fresh.kv_get("secret", "app"), Some(json!({"pw": "newer"})));
}

#[test]
fn hostile_archives_signed_by_the_trusted_key_are_refused_before_any_write() {
    let (src, dst) = (Bao::start(), Bao::start());
    let exp = Exported::new(&src);
    let good = entries(&age_decrypt(&exp.path(), keys()));
    let kv = good
        .iter()
        .position(|(n, _)| n == "kv/secret/app.json")
        .unwrap();

    let with_extra = |name: &str, data: Vec<u8>| {
        let mut e = good.clone();
        list_in_manifest(&mut e, name, &data);
        e.push((name.to_string(), data));
        e
    };
    let mut into_sys: Value = serde_json::from_slice(&good[kv].1).unwrap();
    into_sys["mount"] = json!("sys/");
    let into_sys = serde_json::to_vec_pretty(&into_sys).unwrap();
    let mut duplicated = good.clone();
    duplicated.push(good[kv].clone());
    let mut mismatched = good.clone();
    let tampered = String::from_utf8(good[kv].1.clone()).unwrap();
    mismatched[kv].1 = tampered
        .replace(VALUE, &"X".repeat(VALUE.len()))
        .into_bytes();
    let bomb = vec![0u8; 40 << 20];

    type Case<'a> = (&'a str, Vec<(String, Vec<u8>)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "dot-dot",
            with_extra("kv/secret/../../escape.json", b"{}".to_vec()),
            "not allowed",
        ),
        (
            "absolute",
            with_extra("/etc/vault-replicator.json", b"{}".to_vec()),
            "not allowed",
        ),
        (
            "kv into sys/",
            with_extra("kv/sys/app.json", into_sys),
            "sys/",
        ),
        ("duplicate", duplicated, "appears twice"),
        ("manifest mismatch", mismatched, "does not match its sha256"),
        (
            "gzip bomb",
            with_extra("kv/secret/bomb.json", bomb),
            "over the limit",
        ),
    ];
    for (case, entries, reason) in cases {
        let d = exp.copy();
        reseal(d.path(), &exp.key, &entries);
        let run = import(&dst, d.path(), &[]);
        assert!(run.code == 4, "{case}: {}", run.stderr);
        assert_refused(&run, &dst, reason);
    }

    // The limits are settings: the genuine snapshot is refused under tighter ones.
    let run = import(&dst, exp.dir.path(), &[("REPLICATOR_MAX_ENTRY_SIZE", "16")]);
    assert_refused(&run, &dst, "over the limit of 16");
    let run = import(
        &dst,
        exp.dir.path(),
        &[("REPLICATOR_MAX_ARCHIVE_SIZE", "100")],
    );
    assert_refused(&run, &dst, "over the limit of 100");
    import(&dst, exp.dir.path(), &[]).assert_code(0);
}

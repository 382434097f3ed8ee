//! What DR holds of its own survives an import: a transit key rotated on DR is never rolled back
//! and a key of the same name made on DR is never replaced; source rotations and config changes
//! arrive. (Identity aliases: `dr_owned_aliases`.)

use serde_json::{Value, json};

use super::support::{Bao, Pair, words, writes};

fn new_key(bao: &Bao, name: &str, extra: Value) {
    let mut body = json!({"exportable": true, "allow_plaintext_backup": true});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    bao.write(&format!("transit/keys/{name}"), body);
}

fn encrypt(bao: &Bao, key: &str, plain: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(plain);
    bao.write(
        &format!("transit/encrypt/{key}"),
        json!({ "plaintext": b64 }),
    )["data"]["ciphertext"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The plaintext `ciphertext` decrypts to on `bao`, or `None` when it does not decrypt.
fn decrypt(bao: &Bao, key: &str, ciphertext: &str) -> Option<String> {
    use base64::Engine as _;
    let out = bao.cli(&[
        "write",
        "-format=json",
        &format!("transit/decrypt/{key}"),
        &format!("ciphertext={ciphertext}"),
    ]);
    if !out.status.success() {
        return None;
    }
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    let plain = base64::engine::general_purpose::STANDARD
        .decode(v["data"]["plaintext"].as_str()?)
        .ok()?;
    String::from_utf8(plain).ok()
}

/// What an operator configures on a key, as `keys/<name>` shows it.
/// A key's read-back, less what differs by design: backup/restore times, and the auto-rotation
/// DR holds off for replicated keys (see `auto_rotation_is_held_off_on_dr_and_reported`).
fn key_view(bao: &Bao, name: &str) -> Value {
    let mut d = bao.read(&format!("transit/keys/{name}")).unwrap()["data"].clone();
    let o = d.as_object_mut().unwrap();
    for volatile in ["backup_info", "restore_info", "auto_rotate_period"] {
        o.remove(volatile);
    }
    d
}

fn rotate_period(bao: &Bao, name: &str) -> u64 {
    let d = bao.read(&format!("transit/keys/{name}")).unwrap()["data"].clone();
    d["auto_rotate_period"].as_u64().unwrap()
}

/// DR rotating a replicated key on its own (auto_rotate_period copied from DC) forks the key:
/// DC's later versions could never arrive. DR holds auto-rotation off, converges, and the period
/// is reported (to set after promotion); DC's rotations still arrive.
#[test]
fn auto_rotation_is_held_off_on_dr_and_reported() {
    let p = Pair::with_transit();
    new_key(&p.src, "k", json!({"auto_rotate_period": "24h"}));
    p.export();
    let run = p.import(&[]);
    run.assert_code(0);
    assert_eq!(rotate_period(&p.src, "k"), 86400);
    assert_eq!(rotate_period(&p.dst, "k"), 0, "DR would rotate its copy");
    assert!(
        words(&run.stdout).contains("auto_rotate_period"),
        "{}",
        run.stdout
    );
    let run = p.import_args(&["import", "--full-check", "--snapshot", "latest"], &[]);
    run.assert_code(0);
    assert_eq!(writes(&run), 0, "{}", run.stdout);

    p.src.write("transit/keys/k/rotate", json!({}));
    p.src.write(
        "transit/keys/k/config",
        json!({"auto_rotate_period": "48h"}),
    );
    p.export();
    p.import(&[]).assert_code(0);
    assert_eq!(latest(&p.dst, "k"), 2);
    assert_eq!(rotate_period(&p.dst, "k"), 0);
    p.export();
    let run = p.import(&[]);
    run.assert_code(0);
    assert_eq!(writes(&run), 0, "{}", run.stdout);
}

fn latest(bao: &Bao, name: &str) -> u64 {
    key_view(bao, name)["latest_version"].as_u64().unwrap()
}

/// A DR key rotated after the import is never force-restored to the snapshot's older version.
#[test]
fn a_transit_key_rotated_on_dr_is_reported_as_drift_and_never_rolled_back() {
    let p = Pair::with_transit();
    new_key(&p.src, "k", json!({}));
    let from_dc = encrypt(&p.src, "k", "from dc");
    p.export();
    p.import(&[]).assert_code(0);
    p.dst.write("transit/keys/k/rotate", json!({}));
    let from_dr = encrypt(&p.dst, "k", "from dr v2");
    assert!(from_dr.starts_with("vault:v2:"), "{from_dr}");
    p.export();

    // ON_DRIFT=fail: refused as a whole, nothing written.
    let run = p.import(&[("REPLICATOR_ON_DRIFT", "fail")]);
    run.assert_code(4);
    assert!(
        run.last_error_line().contains("nothing was written"),
        "{}",
        run.stderr
    );
    assert_eq!(latest(&p.dst, "k"), 2);

    // The plan names the key and why it is left alone.
    let run = p.import_args(&["import", "--dry-run"], &[]);
    run.assert_code(0);
    let out = words(&run.stdout);
    assert!(
        out.contains("= skip transit_key transit/keys/k (drift:") && out.contains("v2"),
        "{out}"
    );

    // Whatever REPLICATOR_ON_DRIFT says, the key is left as DR has it, and reported.
    for mode in ["overwrite", "skip"] {
        let run = p.import(&[("REPLICATOR_ON_DRIFT", mode)]);
        run.assert_code(0);
        assert!(run.stdout.contains("drift: 1 objects"), "{}", run.stdout);
        assert!(
            run.stdout
                .contains("drift: transit_key transit/keys/k: the target's key is at v2"),
            "{}",
            run.stdout
        );
        assert_eq!(writes(&run), 0, "{}", run.stdout);
        assert_eq!(latest(&p.dst, "k"), 2);
        assert_eq!(
            decrypt(&p.dst, "k", &from_dr).as_deref(),
            Some("from dr v2")
        );
        assert_eq!(decrypt(&p.dst, "k", &from_dc).as_deref(), Some("from dc"));
    }
}

/// A key config change on the source without a rotation used to never reach DR.
#[test]
fn a_transit_key_config_change_on_dc_replicates_without_a_rotation() {
    let p = Pair::with_transit();
    new_key(&p.src, "k", json!({}));
    p.export();
    p.import(&[]).assert_code(0);

    p.src.write(
        "transit/keys/k/config",
        json!({"deletion_allowed": true, "auto_rotate_period": "48h",
               "min_encryption_version": 1}),
    );
    p.export();
    let run = p.import(&[]);
    run.assert_code(0);
    assert_eq!(key_view(&p.dst, "k"), key_view(&p.src, "k"));
    assert_eq!(latest(&p.dst, "k"), 1);
    assert_eq!(writes(&run), 1, "{}", run.stdout);

    // Converged: the same snapshot compared in full, and a fresh one, write nothing.
    let run = p.import_args(&["import", "--full-check", "--snapshot", "latest"], &[]);
    run.assert_code(0);
    assert_eq!(writes(&run), 0, "{}", run.stdout);
    p.export();
    let run = p.import(&[]);
    run.assert_code(0);
    assert_eq!(writes(&run), 0, "{}", run.stdout);
}

/// The source rotates (and changes its config with it): DR gets the new versions, and every
/// ciphertext made before on either side still decrypts there.
#[test]
fn a_transit_key_rotated_on_dc_arrives_and_old_ciphertexts_still_decrypt() {
    let p = Pair::with_transit();
    new_key(&p.src, "k", json!({}));
    let dc_v1 = encrypt(&p.src, "k", "dc v1");
    p.export();
    p.import(&[]).assert_code(0);
    let dr_v1 = encrypt(&p.dst, "k", "dr v1");

    p.src.write("transit/keys/k/rotate", json!({}));
    p.src.write("transit/keys/k/rotate", json!({}));
    p.src.write(
        "transit/keys/k/config",
        json!({"min_encryption_version": 3}),
    );
    let dc_v3 = encrypt(&p.src, "k", "dc v3");
    p.export();
    let run = p.import(&[]);
    run.assert_code(0);
    assert!(!run.stdout.contains("drift"), "{}", run.stdout);
    assert_eq!(key_view(&p.dst, "k"), key_view(&p.src, "k"));
    for (ct, plain) in [(&dc_v1, "dc v1"), (&dr_v1, "dr v1"), (&dc_v3, "dc v3")] {
        assert_eq!(decrypt(&p.dst, "k", ct).as_deref(), Some(plain), "{ct}");
    }
    assert!(encrypt(&p.dst, "k", "x").starts_with("vault:v3:"));
}

/// A key DR made itself under a name the source also uses is another key: replacing it would
/// make everything DR encrypted with it unreadable. It is reported and left alone, and a key that
/// exists only on DR is never touched.
#[test]
fn a_dr_key_of_the_same_name_is_reported_and_never_replaced() {
    let p = Pair::with_transit();
    new_key(&p.src, "shared", json!({}));
    new_key(&p.dst, "shared", json!({}));
    p.dst.write("transit/keys/dr-only", json!({}));
    let on_dr = encrypt(&p.dst, "shared", "dr's own");
    let only = encrypt(&p.dst, "dr-only", "only here");
    // The source rotates its key past DR's: a force restore would destroy DR's v1.
    p.src.write("transit/keys/shared/rotate", json!({}));
    p.export();
    let run = p.import(&[]);
    run.assert_code(3);
    let out = words(&run.stdout);
    assert!(
        out.contains("failed: transit_key transit/keys/shared:") && out.contains("another key"),
        "{out}"
    );
    assert_eq!(latest(&p.dst, "shared"), 1);
    assert_eq!(
        decrypt(&p.dst, "shared", &on_dr).as_deref(),
        Some("dr's own")
    );
    assert_eq!(
        decrypt(&p.dst, "dr-only", &only).as_deref(),
        Some("only here")
    );
    // A DR key of the same name that cannot be backed up is reported the same way.
    new_key(&p.src, "sealed", json!({}));
    p.dst.write("transit/keys/sealed", json!({}));
    p.export();
    let run = p.import(&[]);
    run.assert_code(3);
    assert!(
        words(&run.stdout).contains("failed: transit_key transit/keys/sealed:"),
        "{}",
        run.stdout
    );
}

/// A key at its defaults and keys fully tuned (derived and convergent, rotated, minimum versions,
/// deletion allowed, auto-rotation; an asymmetric one) arrive exactly as the source has them.
#[test]
fn transit_keys_at_defaults_and_fully_tuned_arrive_as_the_source_has_them() {
    let p = Pair::with_transit();
    new_key(&p.src, "plain", json!({}));
    new_key(
        &p.src,
        "tuned",
        json!({"derived": true, "convergent_encryption": true, "auto_rotate_period": "24h"}),
    );
    for _ in 0..3 {
        p.src.write("transit/keys/tuned/rotate", json!({}));
    }
    p.src.write(
        "transit/keys/tuned/config",
        json!({"min_decryption_version": 2, "min_encryption_version": 3,
               "deletion_allowed": true}),
    );
    new_key(&p.src, "signer", json!({"type": "ed25519"}));
    p.src.write("transit/keys/signer/rotate", json!({}));
    let signed = p
        .src
        .write("transit/sign/signer", json!({"input": "aGVsbG8="}))["data"]["signature"]
        .clone();
    p.export();
    p.import(&[]).assert_code(0);
    for k in ["plain", "tuned", "signer"] {
        assert_eq!(key_view(&p.dst, k), key_view(&p.src, k), "{k}");
    }
    let valid = p.dst.write(
        "transit/verify/signer",
        json!({"input": "aGVsbG8=", "signature": signed}),
    );
    assert_eq!(valid["data"]["valid"], json!(true));
    // A second import of a fresh snapshot writes nothing.
    p.export();
    let run = p.import(&[]);
    run.assert_code(0);
    assert_eq!(writes(&run), 0, "{}", run.stdout);
}

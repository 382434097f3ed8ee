//! Every object kind an operator configures, seeded in a real OpenBao, exported through Garage,
//! imported into a second real OpenBao, and compared object by object through the API.

use serde_json::{Value, json};

use super::support::{Bao, accessor, data, env_for, garage, group_view, replicator, seed, words};

fn mount_view(bao: &Bao, table: &str, path: &str) -> Value {
    let m = bao.read(table).unwrap()["data"][path].clone();
    let c = &m["config"];
    json!({
        "type": m["type"], "description": m["description"], "options": m["options"],
        "seal_wrap": m["seal_wrap"], "default_lease_ttl": c["default_lease_ttl"],
        "max_lease_ttl": c["max_lease_ttl"], "listing_visibility": c["listing_visibility"],
        "audit_non_hmac_request_keys": c["audit_non_hmac_request_keys"],
    })
}

#[test]
fn every_kind_is_equal_on_the_target_or_reported_and_a_reimport_writes_nothing() {
    let (src, dst) = (Bao::start(), Bao::start());
    let ciphertext = seed(&src, true);
    let bucket = garage().bucket();
    let env = |b: &Bao| env_for(b, &format!("s3://{bucket}/dc"), &garage().env);
    replicator(&["export"], &env(&src)).assert_code(0);
    let import = replicator(&["import"], &env(&dst));
    import.assert_code(0);
    let out = words(&import.stdout);

    // Mounts and their settings.
    for m in ["kvc/", "kv1/", "transit/", "totp/"] {
        assert_eq!(
            mount_view(&src, "sys/mounts", m),
            mount_view(&dst, "sys/mounts", m),
            "{m}"
        );
    }
    for m in ["userpass/", "approle/"] {
        assert_eq!(
            mount_view(&src, "sys/auth", m),
            mount_view(&dst, "sys/auth", m),
            "{m}"
        );
    }
    assert_eq!(data(&src, "kvc/config"), data(&dst, "kvc/config"));
    assert!(
        dst.read("sys/mounts").unwrap()["data"]
            .get("localkv/")
            .is_none()
    );
    assert!(
        out.contains("not copied: mount localkv/: local mount"),
        "{out}"
    );
    // A totp mount's contents are its keys, each listed as not copied (none here: totp.rs).
    assert!(!out.contains("not copied: mount totp/"), "{out}");

    // KV data, metadata and state.
    assert_eq!(dst.kv_get("kvc", "app"), Some(json!({"pw": "cas-v1"})));
    assert_eq!(data(&dst, "kv1/legacy/item"), json!({"k": "v1-data"}));
    assert_eq!(dst.kv_get("secret", "three"), Some(json!({"v": 3})));
    let meta = data(&dst, "secret/metadata/three");
    assert_eq!(meta["custom_metadata"], json!({"owner": "ops"}));
    assert_eq!(meta["max_versions"], json!(7));
    assert_eq!(dst.kv_get("secret", "gone"), None);

    // Transit: the exportable key decrypts what the source encrypted.
    let plain = dst.write("transit/decrypt/exp", json!({"ciphertext": ciphertext}));
    assert_eq!(plain["data"]["plaintext"], json!("aGVsbG8="));
    assert!(dst.read("transit/keys/noexp").is_none());
    assert!(
        out.contains("transit/keys/noexp: transit key is not exportable"),
        "{out}"
    );

    // Auth items: userpass user (not its password), approle role_id, token role.
    assert_eq!(
        data(&src, "auth/userpass/users/alice"),
        data(&dst, "auth/userpass/users/alice")
    );
    assert!(out.contains("`password` is write-only"), "{out}");
    assert_eq!(
        data(&src, "auth/approle/role/ci/role-id"),
        data(&dst, "auth/approle/role/ci/role-id")
    );
    assert_eq!(
        data(&src, "auth/approle/role/ci"),
        data(&dst, "auth/approle/role/ci")
    );
    assert_eq!(
        data(&src, "auth/token/roles/r1"),
        data(&dst, "auth/token/roles/r1")
    );

    // Policies.
    assert_eq!(src.policies(), dst.policies());
    assert_eq!(
        data(&src, "sys/policies/password/strong"),
        data(&dst, "sys/policies/password/strong")
    );

    // Identity, matched by name, aliases re-pointed at DR's own accessor.
    let entity = |b: &Bao| {
        let e = data(b, "identity/entity/name/alice-e");
        json!({"policies": e["policies"], "metadata": e["metadata"], "disabled": e["disabled"],
               "alias": e["aliases"][0]["name"], "alias_mount": e["aliases"][0]["mount_path"]})
    };
    assert_eq!(entity(&src), entity(&dst));
    let dst_alias =
        data(&dst, "identity/entity/name/alice-e")["aliases"][0]["mount_accessor"].clone();
    assert_eq!(dst_alias, json!(accessor(&dst, "userpass/")));
    for g in ["g1", "g2", "ext"] {
        assert_eq!(group_view(&src, g), group_view(&dst, g), "group {g}");
    }

    // Namespaces and what is inside them.
    assert!(dst.read("team1/sys/namespaces/sub").is_some());
    assert_eq!(
        data(&dst, "team1/sub/nskv/data/s")["data"],
        json!({"k": "in-namespace"})
    );
    assert_eq!(
        data(&src, "team1/sub/sys/policies/acl/nspol")["policy"],
        data(&dst, "team1/sub/sys/policies/acl/nspol")["policy"]
    );

    let again = replicator(&["import"], &env(&dst));
    again.assert_code(0);
    assert!(again.stdout.contains("(0 writes)"), "{}", again.stdout);
}

#[test]
fn history_mode_replays_every_version_with_its_state() {
    let (src, dst) = (Bao::start(), Bao::start());
    for i in 1..=3 {
        src.kv_put("secret", "h", json!({"v": i}));
    }
    src.write("secret/delete/h", json!({"versions": [2]}));
    src.write("secret/destroy/h", json!({"versions": [1]}));
    let bucket = garage().bucket();
    let env = |b: &Bao| env_for(b, &format!("s3://{bucket}/dc"), &garage().env);
    let mut export_env = env(&src);
    export_env.push(("REPLICATOR_KV_HISTORY".into(), "all".into()));
    replicator(&["export"], &export_env).assert_code(0);
    replicator(&["import"], &env(&dst)).assert_code(0);

    let versions = |b: &Bao| {
        let m = data(b, "secret/metadata/h");
        let v = &m["versions"];
        (
            m["current_version"].clone(),
            v["1"]["destroyed"].clone(),
            v["2"]["deletion_time"]
                .as_str()
                .is_some_and(|t| !t.is_empty()),
            v["3"]["deletion_time"].clone(),
        )
    };
    assert_eq!(versions(&src), versions(&dst));
    assert_eq!(dst.kv_get("secret", "h"), Some(json!({"v": 3})));
    let again = replicator(&["import"], &env(&dst));
    assert!(again.stdout.contains("(0 writes)"), "{}", again.stdout);
}

#[test]
fn userpass_skip_mode_does_not_create_users_and_is_not_a_failure() {
    let (src, dst) = (Bao::start(), Bao::start());
    src.write("sys/auth/userpass", json!({"type": "userpass"}));
    src.write(
        "auth/userpass/users/bob",
        json!({"password": "x", "token_policies": ["default"]}),
    );
    let bucket = garage().bucket();
    let env = |b: &Bao| env_for(b, &format!("s3://{bucket}/dc"), &garage().env);
    replicator(&["export"], &env(&src)).assert_code(0);
    let mut skip = env(&dst);
    skip.push(("REPLICATOR_USERPASS_PASSWORD".into(), "skip".into()));
    let run = replicator(&["import"], &skip);
    run.assert_code(0);
    assert!(dst.read("auth/userpass/users/bob").is_none());
    assert!(
        words(&run.stdout).contains("auth_item 0 0 0 0 0 1 0"),
        "{}",
        run.stdout
    );
}

#[test]
fn filters_keep_excluded_mounts_out_of_the_snapshot() {
    let (src, dst) = (Bao::start(), Bao::start());
    src.mount_kv2("keep");
    src.mount_kv2("scratch");
    src.kv_put("keep", "a", json!({"k": "1"}));
    src.kv_put("scratch", "b", json!({"k": "2"}));
    let bucket = garage().bucket();
    let env = |b: &Bao| env_for(b, &format!("s3://{bucket}/dc"), &garage().env);
    let mut export_env = env(&src);
    export_env.push(("REPLICATOR_EXCLUDE".into(), "scratch".into()));
    replicator(&["export"], &export_env).assert_code(0);
    replicator(&["import"], &env(&dst)).assert_code(0);
    assert_eq!(dst.kv_get("keep", "a"), Some(json!({"k": "1"})));
    assert!(
        dst.read("sys/mounts").unwrap()["data"]
            .get("scratch/")
            .is_none()
    );
}

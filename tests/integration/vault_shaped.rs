//! Round trips between servers that answer as HashiCorp Vault Community does (through
//! `support::VaultProxy`) and directly against OpenBao must come out the same; Vault-only fields
//! in read-backs never reach DR.

use serde_json::{Value, json};

use super::support::{
    Bao, Pair, accessor, assert_same_auth, auth_defaults, auth_tuned, data, group_view, seed,
};

/// Fields HashiCorp Vault reports and OpenBao does not (or reports too): never written to DR.
const VAULT_ONLY: &[&str] = &[
    "token_reviewer_jwt_set",
    "rotation_period",
    "rotation_schedule",
    "rotation_window",
    "disable_automated_rotation",
];

/// Vault Enterprise 1.19's automated root rotation settings, as an auth config reads them back.
fn rotation(period: u64) -> Value {
    json!({"rotation_period": period, "rotation_schedule": "", "rotation_window": 0,
           "disable_automated_rotation": false})
}

fn rotation_on_configs(period: u64) -> Value {
    json!({"auth/kubernetes/config": rotation(period), "auth/jwt/config": rotation(period),
           "auth/oidc/config": rotation(period)})
}

#[track_caller]
fn assert_vault_only_fields_never_written(p: &Pair) {
    let (src, dst) = p.proxies.as_ref().unwrap();
    assert!(src.recorded("write").is_empty(), "the export wrote");
    let writes = dst.recorded("write");
    assert!(!writes.is_empty(), "no write went through the proxy");
    for w in &writes {
        for field in VAULT_ONLY {
            assert!(w["body"].get(field).is_none(), "{field} written: {w}");
        }
    }
    for proxy in [src, dst] {
        let ns = proxy.recorded("namespace");
        assert!(ns.is_empty(), "requests meant for a namespace: {ns:?}");
    }
}

fn kv_view(bao: &Bao, mount: &str) -> Vec<(String, Value, Value)> {
    // A secret whose latest version is deleted is not created on DR.
    bao.kv_keys(mount)
        .into_iter()
        .filter_map(|k| {
            let value = bao.kv_get(mount, &k)?;
            let m = data(bao, &format!("{mount}/metadata/{k}"));
            let meta = json!([m["max_versions"], m["cas_required"], m["custom_metadata"]]);
            Some((k, value, meta))
        })
        .collect()
}

#[track_caller]
fn assert_same_kinds(p: &Pair) {
    for mount in ["secret", "kvc"] {
        assert_eq!(kv_view(&p.src, mount), kv_view(&p.dst, mount), "{mount}");
    }
    let same = |path: &str| assert_eq!(data(&p.src, path), data(&p.dst, path), "{path}");
    for path in [
        "kv1/legacy/item",
        "kvc/config",
        "sys/policies/password/strong",
        "auth/userpass/users/alice",
        "auth/approle/role/ci",
        "auth/approle/role/ci/role-id",
        "auth/token/roles/r1",
    ] {
        same(path);
    }
    assert_eq!(p.src.policies(), p.dst.policies());
    let entity = |b: &Bao| {
        let e = data(b, "identity/entity/name/alice-e");
        json!([e["policies"], e["metadata"], e["aliases"][0]["name"]])
    };
    assert_eq!(entity(&p.src), entity(&p.dst));
    let alias =
        data(&p.dst, "identity/entity/name/alice-e")["aliases"][0]["mount_accessor"].clone();
    assert_eq!(alias, json!(accessor(&p.dst, "userpass/")));
    for g in ["g1", "g2", "ext"] {
        assert_eq!(group_view(&p.src, g), group_view(&p.dst, g), "group {g}");
    }
}

/// Every kind the tool copies, in folders and with per-secret metadata; equal on DR, a
/// full-check re-import writes nothing, and changes made after the first copy arrive.
fn every_kind_round_trip(p: &Pair) {
    let ciphertext = seed(&p.src, false);
    for i in 0..6 {
        let key = format!("f{}/sub{}/k{i}", i % 2, i % 3);
        p.src.kv_put("secret", &key, json!({"v": i}));
    }
    p.src.write(
        "secret/metadata/f1/sub1/k1",
        json!({"max_versions": 4, "custom_metadata": {"owner": "payments"}}),
    );
    let run = p.sync(&[], 0);
    assert!(!run.all().contains("dc-only-password"));
    assert_same_kinds(p);
    let plain = p
        .dst
        .write("transit/decrypt/exp", json!({"ciphertext": ciphertext}));
    assert_eq!(plain["data"]["plaintext"], json!("aGVsbG8="));
    p.assert_converged();

    p.src
        .kv_put("secret", "f0/sub0/k0", json!({"v": "changed"}));
    p.src.write("kv1/legacy/item", json!({"k": "v2-data"}));
    p.src.write(
        "sys/policies/acl/app-read",
        json!({"policy": "path \"secret/data/f0/*\" { capabilities = [\"read\"] }"}),
    );
    let run = p.sync(&[], 0);
    assert!(run.stdout.contains("(3 writes)"), "{}", run.stdout);
    assert_same_kinds(p);
    p.assert_converged();
}

// Reference run, straight against OpenBao.
#[test]
fn every_kind_round_trips_directly() {
    every_kind_round_trip(&Pair::new());
}

// Vault has no `detailed-metadata/` (404 with a warning) and no namespaces (404 on
// `sys/namespaces`): the export reads each secret's metadata, the import reads each secret.
#[test]
fn every_kind_round_trips_between_vault_shaped_servers() {
    let p = Pair::vault_shaped(json!({}), json!({}));
    every_kind_round_trip(&p);
    assert_vault_only_fields_never_written(&p);
    // The tool did ask, and got Vault's answers.
    let (src, dst) = p.proxies.as_ref().unwrap();
    for proxy in [src, dst] {
        let answered: Vec<String> = proxy
            .recorded("vault404")
            .iter()
            .map(|r| r["path"].to_string())
            .collect();
        assert!(
            answered
                .iter()
                .any(|p| p.contains("secret/detailed-metadata")),
            "{answered:?}"
        );
    }
    let walked = src.recorded("vault404").iter().any(|r| {
        r["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("sys/namespaces"))
    });
    assert!(walked, "the export did not look for namespaces");
}

// Vault Enterprise 1.19 reports automated root rotation settings on auth configs; copied, a
// rotation on DR would change the credential DC uses. They never reach DR, and are reported.
#[test]
fn vault_only_auth_fields_never_reach_dr_and_every_auth_item_converges() {
    let p = Pair::vault_shaped(rotation_on_configs(86400), rotation_on_configs(0));
    auth_defaults(&p.src);
    let first = p.sync(&[], 0);
    assert_same_auth(&p);
    p.assert_converged();
    auth_tuned(&p.src, false);
    p.sync(&[], 0);
    assert_same_auth(&p);
    p.assert_converged();
    assert_vault_only_fields_never_written(&p);
    let reported = "auth/kubernetes/config: automated root rotation";
    assert!(first.all().contains(reported), "{}", first.all());
}

// Vault reports mount settings the tool does not carry (`delegated_auth_accessors`,
// `identity_token_key`, Vault 1.15+); they were dropped without a word. Each is reported.
#[test]
fn mount_settings_only_vault_reports_are_reported_as_not_copied() {
    let row = json!({"config": {"delegated_auth_accessors": ["auth_userpass_0000"],
                                "identity_token_key": "dc-key", "trim_request_trailing_slashes": false}});
    let p = Pair::vault_shaped(json!({"sys/mounts": {"vkv/": row}}), json!({}));
    p.src.mount_kv2("vkv");
    p.src.kv_put("vkv", "app", json!({"pw": "v1"}));
    let run = p.sync(&[], 0);
    for field in ["delegated_auth_accessors", "identity_token_key"] {
        let line =
            format!("not copied: mount vkv/ {field}: a mount setting this tool does not carry");
        assert!(run.stdout.contains(&line), "{}", run.stdout);
    }
    assert!(
        !run.stdout.contains("trim_request_trailing_slashes"),
        "{}",
        run.stdout
    );
    assert_eq!(p.dst.kv_get("vkv", "app"), Some(json!({"pw": "v1"})));
    assert_vault_only_fields_never_written(&p);
    p.assert_converged();
}

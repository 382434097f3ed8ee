//! Auth configs' write-only secrets through the escrow (`REPLICATOR_ESCROW_MOUNT`): an OIDC
//! client secret, so that DR logs in with DC's client (proved at a stand-in OpenID provider), and
//! a kubernetes reviewer JWT. Against real OpenBao; LDAP, not in OpenBao's catalog, is unit-tested.

use serde_json::{Value, json};

use super::support::{Bao, Pair, Provider, data, oidc_config, oidc_mount, some_cert};

const ESCROW: &[(&str, &str)] = &[("REPLICATOR_ESCROW_MOUNT", "replicator-escrow")];

fn escrow(b: &Bao, api_path: &str, fields: Value) {
    if data(b, "sys/mounts")["replicator-escrow/"].is_null() {
        b.mount_kv2("replicator-escrow");
    }
    b.kv_put("replicator-escrow", api_path, fields);
}

#[test]
fn an_escrowed_oidc_client_secret_crosses_and_dr_logs_in_with_dcs_client() {
    let provider = Provider::start();
    let p = Pair::new();
    for mount in ["jwt", "oidc"] {
        oidc_mount(&p.src, &provider, mount, Some(("dc-client", "dc-secret")));
        let secret = json!({"oidc_client_secret": "dc-secret"});
        escrow(&p.src, &format!("auth/{mount}/config"), secret);
    }
    let run = p.sync(ESCROW, 0);
    assert!(!run.all().contains("dc-secret"), "{}", run.all());
    for mount in ["jwt", "oidc"] {
        let at = format!("not copied: auth_item auth/{mount}/config");
        assert!(!run.stdout.contains(&at), "{}", run.stdout);
        let dr = data(&p.dst, &format!("auth/{mount}/config"));
        assert_eq!(dr["oidc_client_id"], json!("dc-client"));
        assert_eq!(
            provider.client_in_use(&p.dst, mount, "r"),
            "dc-client dc-secret"
        );
    }
    p.assert_converged();

    // The secret rotated on DC (readable fields the same) and escrowed again: DR follows.
    p.src.write(
        "auth/oidc/config",
        oidc_config(&provider, "r", Some(("dc-client", "dc-secret-2"))),
    );
    escrow(
        &p.src,
        "auth/oidc/config",
        json!({"oidc_client_secret": "dc-secret-2"}),
    );
    p.sync(ESCROW, 0);
    assert_eq!(
        provider.client_in_use(&p.dst, "oidc", "r"),
        "dc-client dc-secret-2"
    );
    assert_eq!(
        provider.client_in_use(&p.dst, "jwt", "r"),
        "dc-client dc-secret"
    );
    p.assert_converged();
}

#[test]
fn an_escrowed_reviewer_jwt_crosses_and_config_updates_are_no_longer_refused() {
    let p = Pair::new();
    let kube = |host: &str| {
        json!({"kubernetes_host": host, "kubernetes_ca_cert": some_cert(),
               "token_reviewer_jwt": "dc-reviewer-jwt"})
    };
    p.src
        .write("sys/auth/kubernetes", json!({"type": "kubernetes"}));
    p.src
        .write("auth/kubernetes/config", kube("https://k8s.example:6443"));
    let jwt_set = |b: &Bao| data(b, "auth/kubernetes/config")["token_reviewer_jwt_set"].clone();

    // Before the escrow: not copied, as ever.
    let run = p.sync(&[], 0);
    assert!(
        run.stdout
            .contains("not copied: auth_item auth/kubernetes/config: `token_reviewer_jwt`"),
        "{}",
        run.stdout
    );
    assert_eq!(jwt_set(&p.dst), json!(false));

    escrow(
        &p.src,
        "auth/kubernetes/config",
        json!({"token_reviewer_jwt": "dc-reviewer-jwt"}),
    );
    let run = p.sync(ESCROW, 0);
    assert!(!run.all().contains("dc-reviewer-jwt"), "{}", run.all());
    assert!(
        !run.stdout.contains("not copied: auth_item"),
        "{}",
        run.stdout
    );
    assert_eq!(jwt_set(&p.dst), json!(true));
    // The escrow mount is replicated like any KV mount.
    assert!(
        p.dst
            .kv_get("replicator-escrow", "auth/kubernetes/config")
            .is_some()
    );
    p.assert_converged();

    // DR holds a reviewer JWT: without escrow a config change was refused (it would clear it).
    p.src
        .write("auth/kubernetes/config", kube("https://k8s2.example:6443"));
    let run = p.sync(ESCROW, 0);
    assert!(!run.stdout.contains("refused"), "{}", run.stdout);
    let dr = data(&p.dst, "auth/kubernetes/config");
    assert_eq!(dr["kubernetes_host"], json!("https://k8s2.example:6443"));
    assert_eq!(dr["token_reviewer_jwt_set"], json!(true));
    p.assert_converged();
}

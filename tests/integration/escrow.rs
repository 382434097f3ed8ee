//! Auth configs' write-only secrets through the escrow (`REPLICATOR_ESCROW_MOUNT`): an OIDC
//! client secret, so that DR logs in with DC's client (proved at a stand-in OpenID provider), and
//! a kubernetes reviewer JWT; and the entries of the database, kubernetes and rabbitmq engines,
//! which may hold write-only fields only. Against real OpenBao; LDAP, not in OpenBao's catalog, is
//! unit-tested.

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

/// The escrow mount `escrow/` of `b` holds `fields` for the object at `api_path`.
fn escrow_at(b: &Bao, api_path: &str, fields: Value) {
    if data(b, "sys/mounts")["escrow/"].is_null() {
        b.mount_kv2("escrow");
    }
    b.kv_put("escrow", api_path, fields);
}

const ESCROW_MOUNT: &[(&str, &str)] = &[("REPLICATOR_ESCROW_MOUNT", "escrow")];

// Issue 25: an escrow entry could set any field of a database or kubernetes config; DR then held
// the escrow's `allowed_roles` / `kubernetes_host`, not DC's, and every plan showed the config as
// differing, without naming the escrow. Only write-only fields may come from an entry.
#[test]
fn an_escrow_entry_that_sets_a_readable_field_is_refused_naming_the_field() {
    let p = Pair::new();
    p.src
        .write("sys/mounts/database", json!({"type": "database"}));
    p.src.write(
        "database/config/pg",
        json!({"plugin_name": "postgresql-database-plugin", "verify_connection": false,
               "connection_url": "postgresql://{{username}}:{{password}}@127.0.0.1:1/db",
               "username": "admin", "allowed_roles": ["app"]}),
    );
    escrow_at(
        &p.src,
        "database/config/pg",
        json!({"password": "dc-db-secret", "allowed_roles": ["*"],
               "connection_url": "postgresql://{{username}}:{{password}}@evil.example:5432/db"}),
    );
    p.src.write("sys/mounts/k8s", json!({"type": "kubernetes"}));
    p.src.write(
        "k8s/config",
        json!({"kubernetes_host": "https://k8s.dc.example:6443", "disable_local_ca_jwt": true,
               "service_account_jwt": "dc-jwt"}),
    );
    escrow_at(
        &p.src,
        "k8s/config",
        json!({"service_account_jwt": "dc-jwt", "kubernetes_host": "https://evil.example"}),
    );

    let run = p.sync(ESCROW_MOUNT, 0);
    let out = run.all();
    for secret in ["dc-db-secret", "dc-jwt", "evil.example", "\"*\""] {
        assert!(!out.contains(secret), "{secret} printed:\n{out}");
    }
    let db = "not copied: database_config database/config/pg: escrow entry not taken: the escrow \
              entry holds `allowed_roles`, which is not a write-only field of this object";
    assert!(run.stdout.contains(db), "{}", run.stdout);
    let kube = "not copied: kubernetes_config k8s/config: escrow entry not taken: the escrow \
                entry holds `kubernetes_host`";
    assert!(run.stdout.contains(kube), "{}", run.stdout);
    assert_eq!(
        data(&p.dst, "database/config/pg")["allowed_roles"],
        json!(["app"])
    );
    let url = data(&p.dst, "database/config/pg")["connection_details"]["connection_url"].clone();
    assert_eq!(
        url,
        json!("postgresql://{{username}}:{{password}}@127.0.0.1:1/db")
    );
    let host = data(&p.dst, "k8s/config")["kubernetes_host"].clone();
    assert_eq!(host, json!("https://k8s.dc.example:6443"));
    p.assert_converged();

    // The entry put right: its write-only fields cross, and nothing is reported.
    escrow_at(
        &p.src,
        "database/config/pg",
        json!({"password": "dc-db-secret"}),
    );
    escrow_at(
        &p.src,
        "k8s/config",
        json!({"service_account_jwt": "dc-jwt"}),
    );
    let run = p.sync(ESCROW_MOUNT, 0);
    assert!(
        !run.stdout.contains("not copied: database_config"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("not copied: kubernetes_config"),
        "{}",
        run.stdout
    );
    p.assert_converged();
}

// The rabbitmq connection is never read back: its entry may hold the endpoint's own fields only.
#[test]
fn a_rabbitmq_connection_entry_with_a_field_the_endpoint_lacks_is_refused() {
    let p = Pair::new();
    p.src.write("sys/mounts/rmq", json!({"type": "rabbitmq"}));
    escrow_at(
        &p.src,
        "rmq/config/connection",
        json!({"connection_uri": "http://127.0.0.1:1", "username": "vault",
               "password": "dc-rmq-secret", "verify_connection": false, "max_ttl": "1h"}),
    );
    let run = p.sync(ESCROW_MOUNT, 0);
    assert!(!run.all().contains("dc-rmq-secret"), "{}", run.all());
    let line = "not copied: rabbitmq_connection rmq/config/connection: escrow entry not taken: \
                the escrow entry holds `max_ttl`";
    assert!(run.stdout.contains(line), "{}", run.stdout);
}

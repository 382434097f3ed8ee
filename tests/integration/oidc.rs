//! Auth configs holding a write-only secret that DR keeps on its own: a jwt / oidc config with an
//! OIDC client (`oidc_client_secret`) and a kubernetes config with a `token_reviewer_jwt`. Against
//! real OpenBao and a Python stand-in OpenID provider (discovery document, JWKS, and a token
//! endpoint that logs the client credentials it is sent), so a test can prove which client secret
//! DR still logs in with.

use serde_json::{Value, json};

use super::support::{Bao, Pair, Provider, Run, oidc_config, oidc_mount};

/// Exports the source and imports it into the target; the import's exit code is checked.
#[track_caller]
fn sync(p: &Pair, code: i32) -> Run {
    p.export();
    let run = p.import(&[]);
    run.assert_code(code);
    run
}

/// A full-check import of the latest snapshot: compares every object with the target.
#[track_caller]
fn full_check(p: &Pair, code: i32) -> Run {
    let run = p.import_args(&["import", "--full-check"], &[]);
    run.assert_code(code);
    run
}

fn config(bao: &Bao, mount: &str) -> Value {
    bao.read(&format!("auth/{mount}/config")).unwrap()["data"].clone()
}

// A jwt / oidc config with an OIDC client was written back with its `oidc_client_id` but without
// the secret it cannot read, which the server refuses: every import ended partial.
#[test]
fn an_oidc_client_on_the_source_is_left_out_and_said_so_the_rest_arrives() {
    let provider = Provider::start();
    let p = Pair::new();
    for mount in ["jwt", "oidc"] {
        oidc_mount(&p.src, &provider, mount, Some(("dc-client", "dc-secret")));
    }
    let run = sync(&p, 0);
    assert!(!run.all().contains("dc-secret"));
    for mount in ["jwt", "oidc"] {
        let line = format!(
            "not copied: auth_item auth/{mount}/config: `oidc_client_secret` is write-only"
        );
        assert!(run.stdout.contains(&line), "{}", run.stdout);
        let dr = config(&p.dst, mount);
        assert_eq!(dr["oidc_discovery_url"], json!(provider.url));
        assert_eq!(dr["default_role"], json!("r"));
        assert_eq!(dr["oidc_client_id"], json!(""), "sent without its secret");
        assert!(p.dst.read(&format!("auth/{mount}/role/r")).is_some());
    }
    assert!(
        run.stdout
            .contains("set `oidc_client_id` and `oidc_client_secret` on the target"),
        "{}",
        run.stdout
    );
    let again = full_check(&p, 0);
    assert!(again.stdout.contains("(0 writes)"), "{}", again.stdout);
}

// Once DR holds its own client secret, the importer writes nothing while the readable fields
// match, and refuses (with the way out) a change that would need a write, which would clear it.
#[test]
fn drs_own_oidc_client_secret_is_kept_and_never_cleared() {
    let provider = Provider::start();
    let p = Pair::new();
    oidc_mount(&p.src, &provider, "oidc", Some(("dc-client", "dc-secret")));
    sync(&p, 0);
    let own = oidc_config(&provider, "r", Some(("dc-client", "dr-secret")));
    p.dst.write("auth/oidc/config", own);
    assert_eq!(
        provider.client_in_use(&p.dst, "oidc", "r"),
        "dc-client dr-secret"
    );

    let again = full_check(&p, 0);
    assert!(again.stdout.contains("(0 writes)"), "{}", again.stdout);
    assert_eq!(config(&p.dst, "oidc")["oidc_client_id"], json!("dc-client"));
    assert_eq!(
        provider.client_in_use(&p.dst, "oidc", "r"),
        "dc-client dr-secret"
    );

    p.src.write(
        "auth/oidc/config",
        oidc_config(&provider, "r2", Some(("dc-client", "dc-secret"))),
    );
    let run = sync(&p, 3);
    assert!(
        run.all()
            .contains("default_role differ, but writing the config would clear the target's own `oidc_client_secret`"),
        "{}",
        run.all()
    );
    assert_eq!(config(&p.dst, "oidc")["default_role"], json!("r"));
    assert_eq!(
        provider.client_in_use(&p.dst, "oidc", "r"),
        "dc-client dr-secret"
    );
}

// The source's jwt config has no OIDC client, DR added its own: an import (a full check) sent the
// source's config, and the server's write, which replaces the whole config, dropped DR's client.
#[test]
fn an_oidc_client_only_dr_has_is_never_cleared() {
    let provider = Provider::start();
    let p = Pair::new();
    oidc_mount(&p.src, &provider, "jwt", None);
    sync(&p, 0);
    let own = oidc_config(&provider, "r", Some(("dr-client", "dr-secret")));
    p.dst.write("auth/jwt/config", own);

    let again = full_check(&p, 0);
    assert!(again.stdout.contains("(0 writes)"), "{}", again.stdout);
    assert_eq!(config(&p.dst, "jwt")["oidc_client_id"], json!("dr-client"));
    assert_eq!(
        provider.client_in_use(&p.dst, "jwt", "r"),
        "dr-client dr-secret"
    );

    p.src
        .write("auth/jwt/config", oidc_config(&provider, "r2", None));
    let run = sync(&p, 3);
    assert!(
        run.all()
            .contains("would clear the target's own `oidc_client_secret`"),
        "{}",
        run.all()
    );
    assert_eq!(
        provider.client_in_use(&p.dst, "jwt", "r"),
        "dr-client dr-secret"
    );
}

// Vault 1.16+ (and OpenBao) report `token_reviewer_jwt_set` and replace the whole kubernetes
// config on write: with DR holding its own reviewer JWT and the readable fields equal, whether
// the source has a JWT or not, the importer must write nothing (a write would clear DR's).
#[test]
fn drs_own_reviewer_jwt_means_no_write_when_only_write_only_fields_differ() {
    let p = Pair::new();
    let cert = {
        let bundle = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap();
        let start = bundle.find("-----BEGIN CERTIFICATE-----").unwrap();
        let end = bundle[start..].find("-----END CERTIFICATE-----").unwrap() + start;
        format!("{}-----END CERTIFICATE-----\n", &bundle[start..end])
    };
    let kube = |jwt: Option<&str>| {
        let mut body = json!({"kubernetes_host": "https://k8s.example:6443",
                              "kubernetes_ca_cert": cert, "issuer": "https://iss"});
        if let Some(jwt) = jwt {
            body["token_reviewer_jwt"] = json!(jwt);
        }
        body
    };
    p.src
        .write("sys/auth/kubernetes", json!({"type": "kubernetes"}));
    p.src
        .write("auth/kubernetes/config", kube(Some("dc-reviewer-jwt")));
    sync(&p, 0);
    p.dst
        .write("auth/kubernetes/config", kube(Some("dr-reviewer-jwt")));

    let again = full_check(&p, 0);
    assert!(again.stdout.contains("(0 writes)"), "{}", again.stdout);
    assert_eq!(
        config(&p.dst, "kubernetes")["token_reviewer_jwt_set"],
        json!(true)
    );

    p.src.write("auth/kubernetes/config", kube(None));
    let run = sync(&p, 0);
    assert!(run.stdout.contains("(0 writes)"), "{}", run.stdout);
    let again = full_check(&p, 0);
    assert!(again.stdout.contains("(0 writes)"), "{}", again.stdout);
    assert_eq!(
        config(&p.dst, "kubernetes")["token_reviewer_jwt_set"],
        json!(true)
    );
}

//! Every auth method the tool carries, with an item of each: `auth_defaults` seeds them at their
//! defaults, `auth_tuned` tunes every field an operator is likely to set, and `assert_same_auth`
//! compares source and target item by item, write-only fields aside.

use serde_json::{Value, json};

use super::{Bao, Pair};

/// A certificate from the system bundle: a CA for kubernetes, a key for jwt, a cert for `cert`.
pub fn some_cert() -> String {
    let bundle = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap();
    let start = bundle.find("-----BEGIN CERTIFICATE-----").unwrap();
    let end = bundle[start..].find("-----END CERTIFICATE-----").unwrap() + start;
    format!("{}-----END CERTIFICATE-----\n", &bundle[start..end])
}

/// The items of every auth method the tool carries (ldap is not in OpenBao's catalog).
const AUTH_ITEMS: &[&str] = &[
    "auth/userpass/users/u",
    "auth/approle/role/r",
    "auth/kubernetes/config",
    "auth/kubernetes/role/k",
    "auth/jwt/config",
    "auth/jwt/role/j",
    "auth/oidc/config",
    "auth/oidc/role/o",
    "auth/cert/config",
    "auth/cert/certs/c",
    "auth/token/roles/t",
];

/// Each method enabled with the least that gives it a config; everything else at its default.
pub fn auth_defaults(src: &Bao) {
    for method in ["userpass", "approle", "kubernetes", "jwt", "oidc", "cert"] {
        src.write(&format!("sys/auth/{method}"), json!({"type": method}));
    }
    let cert = some_cert();
    src.write("auth/userpass/users/u", json!({"password": "dc-only"}));
    src.write("auth/approle/role/r", json!({}));
    src.write(
        "auth/kubernetes/config",
        json!({"kubernetes_host": "https://k8s.example:6443", "kubernetes_ca_cert": cert}),
    );
    src.write(
        "auth/kubernetes/role/k",
        json!({"bound_service_account_names": ["a"], "bound_service_account_namespaces": ["b"]}),
    );
    for m in ["jwt", "oidc"] {
        src.write(
            &format!("auth/{m}/config"),
            json!({"jwt_validation_pubkeys": [cert]}),
        );
    }
    src.write(
        "auth/jwt/role/j",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["x"]}),
    );
    src.write(
        "auth/oidc/role/o",
        json!({"user_claim": "sub", "allowed_redirect_uris": ["http://localhost/cb"]}),
    );
    // The cert method's config exists as soon as it is enabled.
    src.write("auth/cert/certs/c", json!({"certificate": cert}));
    src.write("auth/token/roles/t", json!({}));
}

/// Every tunable an operator is likely to set, as writes onto existing items (or new ones).
pub fn auth_tuned(src: &Bao, created: bool) {
    let mut role = json!({"token_policies": ["p"], "secret_id_num_uses": 3, "secret_id_ttl": "10m",
                          "secret_id_bound_cidrs": ["10.0.0.0/8"], "token_type": "batch"});
    if created {
        role["local_secret_ids"] = json!(true); // settable only when the role is created
    }
    let tuned: [(&str, Value); 11] = [
        (
            "auth/userpass/users/u",
            json!({"token_policies": ["p"], "token_ttl": "1h", "token_bound_cidrs": ["10.0.0.0/8"],
                   "token_num_uses": 3}),
        ),
        ("auth/approle/role/r", role),
        (
            "auth/kubernetes/config",
            json!({"kubernetes_host": "https://k8s2.example:6443", "kubernetes_ca_cert": some_cert(),
                   "token_reviewer_jwt": "dc-reviewer-jwt", "issuer": "https://iss"}),
        ),
        (
            "auth/kubernetes/role/k",
            json!({"bound_service_account_names": ["a", "c"], "bound_service_account_namespaces": ["b"],
                   "audience": "aud", "token_policies": ["p"], "token_ttl": "1h"}),
        ),
        (
            "auth/jwt/config",
            json!({"jwt_validation_pubkeys": [some_cert()], "bound_issuer": "https://iss",
                   "default_role": "j", "jwt_supported_algs": ["RS256"]}),
        ),
        (
            "auth/jwt/role/j",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["x"],
                   "bound_claims": {"grp": "a"}, "claim_mappings": {"email": "mail"},
                   "groups_claim": "groups", "token_ttl": "1h"}),
        ),
        (
            "auth/oidc/config",
            json!({"jwt_validation_pubkeys": [some_cert()], "default_role": "o"}),
        ),
        (
            "auth/oidc/role/o",
            json!({"user_claim": "sub", "allowed_redirect_uris": ["http://localhost/cb", "http://x/cb"],
                   "oidc_scopes": ["email"], "max_age": "1h"}),
        ),
        (
            "auth/cert/config",
            json!({"ocsp_cache_size": 50, "disable_binding": true, "enable_identity_alias_metadata": true}),
        ),
        (
            "auth/cert/certs/c",
            json!({"certificate": some_cert(), "allowed_common_names": ["a.example"],
                   "display_name": "dn", "ocsp_enabled": true, "token_policies": ["p"]}),
        ),
        (
            "auth/token/roles/t",
            json!({"allowed_policies": ["p"], "orphan": true, "renewable": false, "path_suffix": "xyz",
                   "period": "1h", "explicit_max_ttl": "2h", "allowed_entity_aliases": ["e1"]}),
        ),
    ];
    for (path, body) in tuned {
        src.write(path, body);
    }
}

/// One auth item as compared, but for what cannot cross.
fn item_view(b: &Bao, path: &str) -> Value {
    let mut d = b.read(path).unwrap_or_else(|| panic!("{path} missing"))["data"].clone();
    if let Some(o) = d.as_object_mut() {
        o.remove("token_reviewer_jwt_set"); // write-only, reported as not copied
        // A token role echoes the deprecated `period` / `explicit_max_ttl` it was set with;
        // `token_period` / `token_explicit_max_ttl` hold the values in force.
        o.remove("period");
        o.remove("explicit_max_ttl");
    }
    d
}

/// The items `auth_defaults` seeds, each as `assert_same_auth` compares it, by path.
pub fn auth_view(b: &Bao) -> Value {
    let paths = AUTH_ITEMS.iter().chain(&["auth/approle/role/r/role-id"]);
    Value::Object(paths.map(|p| (p.to_string(), item_view(b, p))).collect())
}

/// Each item reads the same on both sides, but for what cannot cross.
#[track_caller]
pub fn assert_same_auth(p: &Pair) {
    for path in AUTH_ITEMS {
        assert_eq!(item_view(&p.src, path), item_view(&p.dst, path), "{path}");
    }
    assert_eq!(
        item_view(&p.src, "auth/approle/role/r/role-id"),
        item_view(&p.dst, "auth/approle/role/r/role-id")
    );
}

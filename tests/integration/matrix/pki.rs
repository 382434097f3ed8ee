//! The matrix's PKI kinds: issuers (imported with their key on the source, crossing as
//! certificates since the matrix keeps no escrow), roles, and a mount's configs. Each kind has a
//! mount of its own; issuers are compared by name and certificate, never by ID.

use serde_json::{Value, json};

use crate::integration::support::Bao;
use crate::integration::support::ca::{mount_pki, root};
use crate::integration::support::matrix::Shape;

fn pki_with_issuer(b: &Bao, mount: &str) -> String {
    mount_pki(b, mount);
    let ca = root(&format!("matrix {mount}"));
    let v = b.write(
        &format!("{mount}/issuers/import/bundle"),
        json!({ "pem_bundle": ca.bundle() }),
    );
    v["data"]["imported_issuers"][0]
        .as_str()
        .unwrap()
        .to_string()
}

fn issuers_view(b: &Bao, mount: &str) -> Value {
    let mut out: Vec<Value> = b
        .list(&format!("{mount}/issuers"))
        .iter()
        .map(|id| {
            let d = b.read(&format!("{mount}/issuer/{id}")).unwrap()["data"].clone();
            let fields = [
                "issuer_name",
                "usage",
                "leaf_not_after_behavior",
                "issuing_certificates",
                "crl_distribution_points",
                "ocsp_servers",
                "delta_crl_distribution_points",
                "revocation_signature_algorithm",
                "certificate",
                "revoked",
            ];
            fields
                .iter()
                .map(|f| (f.to_string(), d[*f].clone()))
                .collect()
        })
        .collect();
    out.sort_by_key(|v| v.to_string());
    Value::Array(out)
}

pub const PKI_ISSUER: Shape = Shape {
    kind: "pki issuer",
    defaults: |b| {
        pki_with_issuer(b, "m-pki-issuer");
    },
    tuned: |b| {
        let id = pki_with_issuer(b, "m-pki-issuer");
        b.write(
            &format!("m-pki-issuer/issuer/{id}"),
            json!({"issuer_name": "m-ca", "usage": "read-only,issuing-certificates",
                "leaf_not_after_behavior": "truncate",
                "issuing_certificates": ["http://m.example/ca"],
                "crl_distribution_points": ["http://m.example/crl"],
                "ocsp_servers": ["http://m.example/ocsp"]}),
        );
    },
    change: |b| {
        let id = b.list("m-pki-issuer/issuers")[0].clone();
        b.write(
            &format!("m-pki-issuer/issuer/{id}"),
            json!({"issuer_name": "m-renamed", "leaf_not_after_behavior": "permit"}),
        );
    },
    view: |b| issuers_view(b, "m-pki-issuer"),
    needs_namespaces: false,
};

pub const PKI_ROLE: Shape = Shape {
    kind: "pki role",
    defaults: |b| {
        mount_pki(b, "m-pki-role");
        b.write("m-pki-role/roles/m-role", json!({}));
    },
    tuned: |b| {
        pki_with_issuer(b, "m-pki-role");
        b.write("m-pki-role/issuer/default", json!({"issuer_name": "m-ca"}));
        b.write(
            "m-pki-role/roles/m-role",
            json!({"issuer_ref": "m-ca", "ttl": "1h", "max_ttl": "2h",
                "allowed_domains": ["example.com"], "allow_subdomains": true,
                "allow_localhost": false, "allow_ip_sans": false, "server_flag": false,
                "key_type": "ec", "key_bits": 384, "ou": ["ops"], "organization": ["acme"],
                "no_store": true, "require_cn": false, "not_before_duration": "60s",
                "ext_key_usage": ["ServerAuth"], "allowed_uri_sans": ["spiffe://x/*"]}),
        );
    },
    change: |b| {
        b.write(
            "m-pki-role/roles/m-role",
            json!({"ttl": "3h", "allowed_domains": ["example.org"]}),
        );
    },
    view: |b| {
        b.read("m-pki-role/roles/m-role")
            .map_or(Value::Null, |v| v["data"].clone())
    },
    needs_namespaces: false,
};

fn config_view(b: &Bao) -> Value {
    let read = |p: &str| {
        b.read(&format!("m-pki-config/config/{p}"))
            .map(|v| v["data"].clone())
    };
    let mut issuers = read("issuers").unwrap_or(Value::Null);
    let default = issuers["default"].as_str().unwrap_or_default().to_string();
    if !default.is_empty() {
        let d = b.read(&format!("m-pki-config/issuer/{default}")).unwrap()["data"].clone();
        issuers["default"] = d["certificate"].clone();
    }
    json!({"urls": read("urls"), "crl": read("crl"), "auto-tidy": read("auto-tidy"),
        "acme": read("acme"), "issuers": issuers})
}

pub const PKI_CONFIG: Shape = Shape {
    kind: "pki config (urls, crl, issuers, keys, auto-tidy, acme)",
    defaults: |b| {
        pki_with_issuer(b, "m-pki-config");
    },
    tuned: |b| {
        pki_with_issuer(b, "m-pki-config");
        let second = pki_issuer_again(b);
        b.write(
            "m-pki-config/config/issuers",
            json!({"default": second, "default_follows_latest_issuer": true}),
        );
        b.write(
            "m-pki-config/config/urls",
            json!({"issuing_certificates": ["http://m.example/ca"],
                "ocsp_servers": ["http://m.example/ocsp"]}),
        );
        b.write(
            "m-pki-config/config/crl",
            json!({"expiry": "48h", "auto_rebuild": true, "enable_delta": true,
                "ocsp_expiry": "6h"}),
        );
        b.write(
            "m-pki-config/config/auto-tidy",
            json!({"enabled": true, "tidy_cert_store": true, "interval_duration": "6h",
                "safety_buffer": "48h"}),
        );
        b.write(
            "m-pki-config/config/acme",
            json!({"eab_policy": "always-required", "dns_resolver": "127.0.0.1:53"}),
        );
    },
    change: |b| {
        b.write("m-pki-config/config/crl", json!({"expiry": "24h"}));
        b.write(
            "m-pki-config/config/urls",
            json!({"ocsp_servers": ["http://c.example"]}),
        );
    },
    view: config_view,
    needs_namespaces: false,
};

/// A second issuer on the config shape's mount (an intermediate would do as well); its ID.
fn pki_issuer_again(b: &Bao) -> String {
    let ca = root("matrix m-pki-config second");
    let v = b.write(
        "m-pki-config/issuers/import/bundle",
        json!({ "pem_bundle": ca.bundle() }),
    );
    v["data"]["imported_issuers"][0]
        .as_str()
        .unwrap()
        .to_string()
}

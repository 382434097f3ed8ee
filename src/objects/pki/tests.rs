//! Unit tests of the PKI kinds' pure logic: certificate identity, issuer matching by name and
//! certificate (drift, a key added, settings), references carried by name, config defaults.

use serde_json::{Map, Value, json};

use super::config::{PkiConfig, diff as config_diff};
use super::issuer::{IssuerOps, PkiIssuer, diff};
use super::{Found, IssuerRef, Issuers, cert_key, certs};
use crate::model::Action;
use crate::objects::escrow::Escrowed;

fn pem(body: &str) -> String {
    format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
}

fn map(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn found(id: &str, name: &str, cert: &str, key_id: &str, extra: Value) -> Found {
    let mut data = map(
        json!({"issuer_id": id, "issuer_name": name, "certificate": pem(cert),
        "key_id": key_id, "usage": "read-only,issuing-certificates", "manual_chain": null}),
    );
    data.extend(map(extra));
    Found {
        id: id.into(),
        name: name.into(),
        cert: cert_key(&pem(cert)),
        key_id: key_id.into(),
        data,
    }
}

fn issuer(name: &str, cert: &str, escrowed: bool) -> PkiIssuer {
    let mut e = Escrowed::default();
    if escrowed {
        e.0.insert("pem_bundle".into(), json!(pem(cert)));
    }
    PkiIssuer {
        namespace: String::new(),
        mount: "pki/".into(),
        name: name.into(),
        source_id: "src-id".into(),
        certificate: pem(cert),
        ca_chain: vec![],
        settings: map(json!({"usage": "read-only,issuing-certificates"})),
        manual_chain: vec![],
        revoked: false,
        escrowed: e,
    }
}

#[test]
fn certificates_compare_by_their_body_whatever_the_line_breaks() {
    let wrapped = "-----BEGIN CERTIFICATE-----\nAB\nCD\n-----END CERTIFICATE-----\n\
                   -----BEGIN PRIVATE KEY-----\nXX\n-----END PRIVATE KEY-----\n";
    assert_eq!(certs(wrapped), vec!["ABCD".to_string()]);
    assert_eq!(cert_key(wrapped), cert_key(&pem("ABCD")));
    assert_eq!(cert_key("no pem"), "");
}

#[test]
fn an_issuer_of_the_same_name_with_another_certificate_is_drift_and_never_written() {
    let on = Issuers(vec![found("dr1", "ca", "OTHER", "k1", json!({}))]);
    let d = diff(&issuer("ca", "MINE", true), &on);
    assert_eq!(d.action, Action::Skipped);
    assert!(d.drift);
    assert!(d.reason.unwrap().starts_with("drift: "));
}

#[test]
fn the_same_certificate_is_not_imported_again_and_a_missing_key_is_added() {
    let with_key = Issuers(vec![found("dr1", "ca", "MINE", "k1", json!({}))]);
    let d = diff(&issuer("ca", "MINE", true), &with_key);
    assert_eq!((d.action, d.drift), (Action::Unchanged, false));
    let cert_only = Issuers(vec![found("dr1", "ca", "MINE", "", json!({}))]);
    assert_eq!(
        diff(&issuer("ca", "MINE", false), &cert_only).action,
        Action::Unchanged
    );
    let d = diff(&issuer("ca", "MINE", true), &cert_only);
    assert_eq!(d.action, Action::Update);
    let want = IssuerOps {
        id: Some("dr1".into()),
        add_key: true,
        settings: false,
        revoke: false,
    };
    assert_eq!(d.ops, want);
}

#[test]
fn an_issuer_is_found_by_certificate_when_renamed_and_its_settings_compared() {
    let on = Issuers(vec![found(
        "dr1",
        "",
        "MINE",
        "",
        json!({"usage": "read-only"}),
    )]);
    let d = diff(&issuer("ca", "MINE", false), &on);
    assert_eq!(d.action, Action::Update);
    assert_eq!(d.reason.as_deref(), Some("differs: issuer_name, usage"));
    assert!(d.ops.settings && !d.ops.add_key);
    assert_eq!(
        diff(&issuer("ca", "NEW", false), &Issuers::default()).action,
        Action::Create
    );
}

#[test]
fn a_revocation_on_the_target_alone_is_drift() {
    let on = Issuers(vec![found(
        "dr1",
        "ca",
        "MINE",
        "",
        json!({"revoked": true}),
    )]);
    let d = diff(&issuer("ca", "MINE", false), &on);
    assert_eq!((d.action, d.drift), (Action::Skipped, true));
}

#[test]
fn references_are_carried_by_name_or_by_certificate_and_resolved_on_the_target() {
    let src = Issuers(vec![
        found("s1", "root", "R", "", json!({})),
        found("s2", "", "U", "", json!({})),
    ]);
    assert_eq!(src.carry("s1"), IssuerRef::Name("root".into()));
    assert_eq!(src.carry("root"), IssuerRef::Name("root".into()));
    assert_eq!(src.carry("default"), IssuerRef::Name("default".into()));
    let by_cert = src.carry("s2");
    assert_eq!(by_cert, IssuerRef::Certificate(pem("U")));
    let dr = Issuers(vec![
        found("d1", "root", "R", "", json!({})),
        found("d2", "", "U", "", json!({})),
    ]);
    assert!(dr.same(&IssuerRef::Name("root".into()), "d1"));
    assert!(dr.same(&by_cert, "d2"));
    assert!(!dr.same(&by_cert, "d1"));
}

#[test]
fn a_default_issuer_is_compared_by_the_issuer_it_names_not_by_id() {
    let cfg = PkiConfig {
        namespace: String::new(),
        mount: "pki/".into(),
        item: "issuers".into(),
        fields: map(json!({"default_follows_latest_issuer": false})),
        default: Some(IssuerRef::Name("root".into())),
    };
    let dr = Issuers(vec![
        found("d1", "root", "R", "", json!({})),
        found("d2", "other", "O", "", json!({})),
    ]);
    let theirs = |id: &str| {
        Some(map(
            json!({"default": id, "default_follows_latest_issuer": false}),
        ))
    };
    let same = config_diff(&cfg, &(theirs("d1"), dr.clone()));
    assert_eq!(same.action, Action::Unchanged);
    let other = config_diff(&cfg, &(theirs("d2"), dr.clone()));
    assert_eq!(other.action, Action::Update);
    assert_eq!(other.reason.as_deref(), Some("differs: default"));
    let keys = PkiConfig {
        item: "keys".into(),
        fields: Map::new(),
        ..cfg
    };
    // The issuer's key arrives in this import: written once it is there.
    let d = config_diff(&keys, &(Some(map(json!({"default": ""}))), dr));
    assert_eq!(d.action, Action::Update);
}

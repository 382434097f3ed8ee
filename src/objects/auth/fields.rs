//! The fields of an auth item's read-back that cannot be written back as they are, method by
//! method, each handled on purpose: what the server only reports, values that are its "unset" and
//! that it refuses on write, deprecated echoes of newer fields, fields settable only when the item
//! is created, write-only fields it never returns (reported as not copied), fields written only
//! together with such a secret, the secrets a write of the whole item would clear, and automated
//! root rotation settings, which never leave the source.

use serde_json::{Map, Value};

use crate::objects::escrow::Escrowed;
pub(super) use crate::objects::fields::is_set;
use crate::objects::fields::{self as vocabulary, ROTATION, Rule, Sentinel};

/// (method, item prefix, field, rule). An item prefix ending in `/` matches a collection.
/// `ROTATION` applies to every item.
const RULES: &[(&str, &str, &str, Rule)] = &[
    // `invalid cache size, must be >= 2`: an untouched cert config reads 0.
    (
        "cert",
        "config",
        "ocsp_cache_size",
        Rule::Unset(Sentinel::Int(0)),
    ),
    (
        "kubernetes",
        "config",
        "token_reviewer_jwt_set",
        Rule::ReadOnly,
    ),
    ("jwt", "config", "status", Rule::ReadOnly),
    ("oidc", "config", "status", Rule::ReadOnly),
    // The server refuses an `oidc_client_id` without its `oidc_client_secret`.
    (
        "jwt",
        "config",
        "oidc_client_id",
        Rule::WithSecret("oidc_client_secret"),
    ),
    (
        "oidc",
        "config",
        "oidc_client_id",
        Rule::WithSecret("oidc_client_secret"),
    ),
    ("token", "roles/", "name", Rule::ReadOnly),
    ("token", "roles/", "period", Rule::Deprecated),
    ("token", "roles/", "explicit_max_ttl", Rule::Deprecated),
    // `local_secret_ids can only be modified during role creation`, even to the same value.
    ("approle", "role/", "local_secret_ids", Rule::CreateOnly),
    // Accepted, never returned: reported as not copied (when the other field is set).
    ("userpass", "users/", "password", Rule::WriteOnly(None)),
    ("approle", "role/", "secret_id", Rule::WriteOnly(None)),
    (
        "kubernetes",
        "config",
        "token_reviewer_jwt",
        Rule::WriteOnly(Some("token_reviewer_jwt_set")),
    ),
    (
        "jwt",
        "config",
        "oidc_client_secret",
        Rule::WriteOnly(Some("oidc_client_id")),
    ),
    (
        "oidc",
        "config",
        "oidc_client_secret",
        Rule::WriteOnly(Some("oidc_client_id")),
    ),
    (
        "ldap",
        "config",
        "bindpass",
        Rule::WriteOnly(Some("binddn")),
    ),
];

/// Write-only secrets that a write of the item clears when it leaves them out (the write replaces
/// the whole config), with the read-back field that shows the target holds one: (method, item,
/// secret, shown by). LDAP's `bindpass` is not here: its config write keeps what it is not sent.
pub(super) const CLEARED_BY_A_WRITE: &[(&str, &str, &str, &str)] = &[
    (
        "kubernetes",
        "config",
        "token_reviewer_jwt",
        "token_reviewer_jwt_set",
    ),
    ("jwt", "config", "oidc_client_secret", "oidc_client_id"),
    ("oidc", "config", "oidc_client_secret", "oidc_client_id"),
];

/// Why an item's automated root rotation (Vault Enterprise 1.19, of a method's own credential:
/// the LDAP bind password, a cloud key) is not copied, when the source has it on.
pub fn rotation_not_copied(data: &Map<String, Value>) -> Option<String> {
    vocabulary::rotation_on(data).then(|| {
        "automated root rotation (`rotation_period` / `rotation_schedule`) is not copied: a \
         rotation on DR would change the credential the source uses; set it on DR after \
         promotion"
            .to_string()
    })
}

pub(super) fn applies(method: &str, item: &str, (m, prefix): (&str, &str)) -> bool {
    m == method
        && if prefix.ends_with('/') {
            item.starts_with(prefix)
        } else {
            item == prefix
        }
}

/// The rules of an item: its rows, and `ROTATION`.
fn rules(method: &str, item: &str) -> Vec<(&'static str, Rule)> {
    RULES
        .iter()
        .filter(|(m, p, _, _)| applies(method, item, (m, p)))
        .map(|(_, _, field, rule)| (*field, *rule))
        .chain(ROTATION.iter().copied())
        .collect()
}

/// The write-only fields of this item that it holds on the source (judged from its read-back).
pub fn write_only(method: &str, item: &str, data: &Map<String, Value>) -> Vec<&'static str> {
    vocabulary::write_only(&rules(method, item), data)
}

/// Why a write-only field the source holds is not copied, naming the fields that go with it.
pub fn not_copied_reason(method: &str, item: &str, field: &str) -> String {
    let with: Vec<&str> = vocabulary::with_secret(&rules(method, item), field).collect();
    let mut why = format!("`{field}` is write-only and cannot be read through the API");
    if !with.is_empty() {
        let with = with.join("` and `");
        why.push_str(&format!(
            "; `{with}` is not written without it: set `{with}` and `{field}` on the target \
             once, and imports leave them as they are"
        ));
    }
    why
}

/// A write-only secret that a write of this item would clear on the target, since the snapshot
/// cannot carry it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Held {
    /// The target's read-back shows it holds one.
    Yes(&'static str),
    /// The target's read-back lacks the field that would tell (`token_reviewer_jwt_set` came with
    /// Vault 1.16): it may hold one, so it is treated as holding one. (secret, the missing field)
    Maybe(&'static str, &'static str),
}

/// Whether the target holds a write-only secret of this item (judged from its read-back) that a
/// write would clear: one the escrow does not carry.
pub fn held_secret(
    method: &str,
    item: &str,
    target: &Map<String, Value>,
    escrowed: &Escrowed,
) -> Option<Held> {
    let (_, _, secret, shown_by) = CLEARED_BY_A_WRITE
        .iter()
        .find(|(m, p, s, _)| applies(method, item, (m, p)) && !escrowed.has(s))?;
    match target.get(*shown_by) {
        None => Some(Held::Maybe(secret, shown_by)),
        Some(v) if is_set(v) => Some(Held::Yes(secret)),
        Some(_) => None,
    }
}

/// What of a read-back is carried: without read-only fields, deprecated echoes, and values that
/// are the server's "unset". Applied on export, and again on import to older snapshots.
pub fn carried(method: &str, item: &str, data: Map<String, Value>) -> Map<String, Value> {
    vocabulary::carried(&rules(method, item), data)
}

/// What of a snapshot's item is written, and compared with the target: what is carried, less
/// the fields written only with a secret the snapshot does not carry (escrowed, it does).
pub fn written(
    method: &str,
    item: &str,
    data: Map<String, Value>,
    escrowed: &Escrowed,
) -> Map<String, Value> {
    let rules = rules(method, item);
    vocabulary::written(&rules, vocabulary::carried(&rules, data), escrowed)
}

/// The create-only fields, which an update must leave out.
pub fn create_only(method: &str, item: &str) -> impl Iterator<Item = &'static str> {
    let fields: Vec<&str> = vocabulary::create_only(&rules(method, item)).collect();
    fields.into_iter()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn none() -> Escrowed {
        Escrowed::default()
    }

    // An untouched cert config reads `ocsp_cache_size: 0`, which a write refuses.
    #[test]
    fn the_servers_unset_values_are_not_carried_but_tuned_ones_are() {
        let default = json!({"disable_binding": false, "ocsp_cache_size": 0});
        let carried_default = carried("cert", "config", map(default));
        assert_eq!(
            Value::Object(carried_default),
            json!({"disable_binding": false})
        );
        let tuned = json!({"ocsp_cache_size": 50});
        assert_eq!(carried("cert", "config", map(tuned.clone())), map(tuned));
        // Only where the rule applies.
        let cert = json!({"ocsp_cache_size": 0});
        assert_eq!(carried("cert", "certs/c", map(cert.clone())), map(cert));
    }

    #[test]
    fn read_only_fields_deprecated_echoes_and_nulls_are_not_carried() {
        let role = json!({"name": "t", "period": 3600, "token_period": 3600,
                          "explicit_max_ttl": 0, "token_explicit_max_ttl": 0,
                          "allowed_entity_aliases": null, "orphan": true});
        assert_eq!(
            Value::Object(carried("token", "roles/t", map(role))),
            json!({"token_period": 3600, "token_explicit_max_ttl": 0, "orphan": true})
        );
        let kube = json!({"kubernetes_host": "h", "token_reviewer_jwt_set": true});
        assert_eq!(
            Value::Object(carried("kubernetes", "config", map(kube))),
            json!({"kubernetes_host": "h"})
        );
    }

    // Vault Enterprise 1.19 reports automated root rotation on auth configs; copied, a rotation
    // on DR would change the credential DC uses.
    #[test]
    fn automated_root_rotation_is_never_carried_and_reported_when_on() {
        let on = map(
            json!({"binddn": "cn=x", "rotation_period": 86400, "rotation_schedule": "",
                            "rotation_window": 0, "disable_automated_rotation": false}),
        );
        assert_eq!(
            Value::Object(carried("ldap", "config", on.clone())),
            json!({"binddn": "cn=x"})
        );
        assert!(rotation_not_copied(&on).is_some());
        let cron = map(json!({"rotation_period": 0, "rotation_schedule": "0 * * * SAT"}));
        assert!(rotation_not_copied(&cron).is_some());
        let off = map(json!({"rotation_period": 0, "rotation_schedule": ""}));
        assert!(rotation_not_copied(&off).is_none());
        let disabled = map(json!({"rotation_period": 60, "disable_automated_rotation": true}));
        assert!(rotation_not_copied(&disabled).is_none());
        assert!(rotation_not_copied(&Map::new()).is_none());
    }

    #[test]
    fn create_only_fields_are_carried_and_named() {
        let role = json!({"local_secret_ids": true});
        assert_eq!(carried("approle", "role/r", map(role.clone())), map(role));
        assert_eq!(
            create_only("approle", "role/r").collect::<Vec<_>>(),
            ["local_secret_ids"]
        );
        assert_eq!(create_only("userpass", "users/u").count(), 0);
    }

    #[test]
    fn write_only_fields_are_reported_when_the_source_holds_them() {
        let set = map(json!({"token_reviewer_jwt_set": true}));
        assert_eq!(
            write_only("kubernetes", "config", &set),
            ["token_reviewer_jwt"]
        );
        let unset = map(json!({"token_reviewer_jwt_set": false}));
        assert!(write_only("kubernetes", "config", &unset).is_empty());
        assert_eq!(write_only("userpass", "users/a", &Map::new()), ["password"]);
        assert!(write_only("ldap", "config", &map(json!({"binddn": ""}))).is_empty());
    }

    #[test]
    fn an_oidc_client_id_is_carried_but_written_only_with_its_secret() {
        let config = map(json!({"oidc_discovery_url": "https://idp", "oidc_client_id": "c"}));
        assert_eq!(carried("oidc", "config", config.clone()), config);
        assert_eq!(
            Value::Object(written("jwt", "config", config.clone(), &none())),
            json!({"oidc_discovery_url": "https://idp"})
        );
        assert_eq!(written("jwt", "role/r", config.clone(), &none()), config);
        let why = not_copied_reason("oidc", "config", "oidc_client_secret");
        assert!(why.contains("set `oidc_client_id` and `oidc_client_secret` on the target"));
        let plain = not_copied_reason("userpass", "users/u", "password");
        assert_eq!(
            plain,
            "`password` is write-only and cannot be read through the API"
        );
    }

    #[test]
    fn a_secret_the_target_holds_is_judged_from_its_read_back() {
        let own = map(json!({"oidc_client_id": "dr"}));
        assert_eq!(
            held_secret("jwt", "config", &own, &none()),
            Some(Held::Yes("oidc_client_secret"))
        );
        let no_client = map(json!({"oidc_client_id": ""}));
        assert_eq!(held_secret("jwt", "config", &no_client, &none()), None);
        let jwt = map(json!({"token_reviewer_jwt_set": true}));
        assert_eq!(
            held_secret("kubernetes", "config", &jwt, &none()),
            Some(Held::Yes("token_reviewer_jwt"))
        );
        assert_eq!(held_secret("kubernetes", "role/k", &jwt, &none()), None);
        let unset = map(json!({"token_reviewer_jwt_set": false}));
        assert_eq!(held_secret("kubernetes", "config", &unset, &none()), None);
        let binddn = map(json!({"binddn": "x"}));
        assert_eq!(held_secret("ldap", "config", &binddn, &none()), None);
    }

    // A Vault before 1.16 does not report `token_reviewer_jwt_set`: an update could clear a
    // reviewer JWT DR holds without anyone being able to tell.
    #[test]
    fn a_target_that_does_not_say_whether_it_holds_a_secret_may_hold_one() {
        let old = map(json!({"kubernetes_host": "https://k"}));
        assert_eq!(
            held_secret("kubernetes", "config", &old, &none()),
            Some(Held::Maybe("token_reviewer_jwt", "token_reviewer_jwt_set"))
        );
    }
}

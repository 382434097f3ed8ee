//! Auth configs' write-only secrets through the escrow: the kubernetes `token_reviewer_jwt`, the
//! jwt / oidc `oidc_client_secret` and the ldap `bindpass`, kept at
//! `<escrow>/data/<ns>auth/<mount>config` by their write names. The export takes from the entry
//! only the secrets the source holds (so a stale entry never brings back a secret the source has
//! dropped); the import writes them with the config, which then goes whole (an OIDC client id
//! with its secret) and no longer clears anything on the target.

use serde_json::{Map, Value};

use super::fields::{self, CLEARED_BY_A_WRITE, applies, is_set};
use crate::error::Result;
use crate::objects::escrow::{Escrow, Escrowed};

/// The write-only fields an escrow entry may carry for an item: (method, item, field). The
/// escrow holds a mount's own credential, never a user's password or a secret ID.
const ESCROWABLE: &[(&str, &str, &str)] = &[
    ("kubernetes", "config", "token_reviewer_jwt"),
    ("jwt", "config", "oidc_client_secret"),
    ("oidc", "config", "oidc_client_secret"),
    ("ldap", "config", "bindpass"),
];

/// Whether the escrow may carry `field` of this item.
pub fn escrowable(method: &str, item: &str, field: &str) -> bool {
    ESCROWABLE
        .iter()
        .any(|(m, p, f)| *f == field && applies(method, item, (m, p)))
}

/// The escrowed secrets of an item whose read-back is `data` (at `auth/<mount><item>` in `ns`):
/// only those the source holds and the escrow may carry; empty without an escrow.
pub async fn read(
    escrow: Option<Escrow<'_>>,
    ns: &str,
    (mount, method, item): (&str, &str, &str),
    data: &Map<String, Value>,
) -> Result<Escrowed> {
    let wanted: Vec<&str> = fields::write_only(method, item, data)
        .into_iter()
        .filter(|f| escrowable(method, item, f))
        .collect();
    let Some(escrow) = escrow.filter(|_| !wanted.is_empty()) else {
        return Ok(Escrowed::default());
    };
    let entry = escrow.fields(ns, &format!("auth/{mount}{item}")).await?;
    Ok(Escrowed(
        entry
            .0
            .into_iter()
            .filter(|(k, v)| wanted.contains(&k.as_str()) && is_set(v))
            .collect(),
    ))
}

/// Why a snapshot's escrowed fields are not allowed for this item, if they are not.
pub fn check(method: &str, item: &str, escrowed: &Escrowed) -> std::result::Result<(), String> {
    match escrowed.0.keys().find(|f| !escrowable(method, item, f)) {
        Some(f) => Err(format!(
            "`{f}` of `{item}` is not a field the escrow carries"
        )),
        None => Ok(()),
    }
}

/// The escrowed secrets the target's read-back says it lacks (`token_reviewer_jwt_set: false`):
/// a write brings them, even when every readable field is equal. A target that does not say is
/// taken to hold them (no write).
pub fn missing<'a>(
    method: &str,
    item: &str,
    target: &Map<String, Value>,
    escrowed: &'a Escrowed,
) -> Vec<&'a str> {
    escrowed
        .0
        .keys()
        .filter(|field| {
            CLEARED_BY_A_WRITE.iter().any(|(m, p, s, shown_by)| {
                s == field
                    && applies(method, item, (m, p))
                    && target.get(*shown_by).is_some_and(|v| !is_set(v))
            })
        })
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::diff;
    use super::super::tests::{config, oidc};
    use super::*;
    use crate::model::Action;
    use crate::vault::{MemoryVault, VaultClient};
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    // With the client secret escrowed the config goes whole: the client id is written and
    // compared, and a write no longer clears anything on the target, so it is not refused.
    #[test]
    fn an_escrowed_oidc_client_is_written_whole_and_replaces_the_targets() {
        let config = config("oidc", oidc("dc", "r"), json!({"oidc_client_secret": "s"}));
        let dr = oidc;
        assert_eq!(
            diff(&config, dr("dc", "r").as_object()).0,
            Action::Unchanged
        );
        let (action, reason) = diff(&config, dr("", "r").as_object());
        assert_eq!(action, Action::Update);
        assert_eq!(
            reason.as_deref(),
            Some("oidc_client_id, oidc_client_secret differ")
        );
        assert_eq!(diff(&config, dr("dr", "x").as_object()).0, Action::Update);
    }

    #[test]
    fn an_escrowed_reviewer_jwt_is_written_when_the_target_lacks_one_or_the_config_differs() {
        let config = config(
            "kubernetes",
            json!({"kubernetes_host": "https://k"}),
            json!({"token_reviewer_jwt": "j"}),
        );
        let dr =
            |host: &str, set: bool| json!({"kubernetes_host": host, "token_reviewer_jwt_set": set});
        assert_eq!(
            diff(&config, dr("https://k", true).as_object()).0,
            Action::Unchanged
        );
        let (action, reason) = diff(&config, dr("https://k", false).as_object());
        assert_eq!(action, Action::Update);
        assert_eq!(reason.as_deref(), Some("token_reviewer_jwt differ"));
        assert_eq!(
            diff(&config, dr("https://old", true).as_object()).0,
            Action::Update
        );
        // A Vault before 1.16 does not say whether it holds one: written only for a difference.
        let older = json!({"kubernetes_host": "https://old"});
        assert_eq!(diff(&config, older.as_object()).0, Action::Update);
    }

    #[test]
    fn only_a_mounts_own_credential_is_escrowed() {
        assert!(escrowable("ldap", "config", "bindpass"));
        assert!(escrowable("oidc", "config", "oidc_client_secret"));
        assert!(escrowable("kubernetes", "config", "token_reviewer_jwt"));
        assert!(!escrowable("userpass", "users/u", "password"));
        assert!(!escrowable("ldap", "users/u", "bindpass"));
        let bad = Escrowed(map(json!({"password": "x"})));
        assert!(check("userpass", "users/u", &bad).is_err());
        let good = Escrowed(map(json!({"bindpass": "x"})));
        assert!(check("ldap", "config", &good).is_ok());
    }

    #[test]
    fn an_escrowed_secret_the_target_says_it_lacks_needs_a_write() {
        let jwt = Escrowed(map(json!({"token_reviewer_jwt": "j"})));
        let lacks = map(json!({"token_reviewer_jwt_set": false}));
        assert_eq!(
            missing("kubernetes", "config", &lacks, &jwt),
            ["token_reviewer_jwt"]
        );
        let holds = map(json!({"token_reviewer_jwt_set": true}));
        assert!(missing("kubernetes", "config", &holds, &jwt).is_empty());
        // A Vault before 1.16 does not say: no write for it alone.
        assert!(missing("kubernetes", "config", &Map::new(), &jwt).is_empty());
        let bindpass = Escrowed(map(json!({"bindpass": "b"})));
        assert!(missing("ldap", "config", &Map::new(), &bindpass).is_empty());
    }

    // LDAP is not in OpenBao's plugin catalog: the escrowed `bindpass` is proved here, from
    // the source's read-back and escrow entry to the body the target is sent.
    #[tokio::test]
    async fn an_escrowed_ldap_bindpass_travels_in_the_item_and_is_written_with_the_config() {
        let src = Arc::new(MemoryVault::new());
        let config = json!({"binddn": "cn=admin,dc=example", "url": "ldaps://ldap.example",
                            "userdn": "ou=users,dc=example", "request_timeout": 90});
        src.put("", "auth/ldap/config", json!({"data": config}));
        let entry = json!({"bindpass": "dc-bind-secret", "password": "not an ldap field"});
        src.put(
            "",
            "vault-escrow/data/auth/ldap/config",
            json!({"data": {"data": entry}}),
        );
        let client = VaultClient::with_api(src.clone());
        let escrow = Escrow {
            client: &client,
            mount: "vault-escrow/",
        };

        let bare = super::super::export(&client, None, "", ("ldap/", "ldap"))
            .await
            .unwrap();
        assert_eq!(bare.not_copied.len(), 1);
        assert!(bare.not_copied[0].1.contains("`bindpass` is write-only"));
        assert!(bare.items[0].escrowed.is_empty());

        let found = super::super::export(&client, Some(escrow), "", ("ldap/", "ldap"))
            .await
            .unwrap();
        assert!(found.not_copied.is_empty(), "{:?}", found.not_copied);
        let item = &found.items[0];
        assert_eq!(format!("{:?}", item.escrowed), "{\"bindpass\"}");
        assert!(!format!("{item:?}").contains("dc-bind-secret"));
        assert!(check("ldap", "config", &item.escrowed).is_ok());

        let dst = Arc::new(MemoryVault::new());
        let target = VaultClient::with_api(dst.clone());
        assert_eq!(diff(item, None).0, Action::Create);
        super::super::apply(&target, item, Action::Create)
            .await
            .unwrap();
        let mut sent = config.clone();
        sent["bindpass"] = json!("dc-bind-secret");
        let writes = dst.writes();
        assert_eq!(writes, [("".into(), "auth/ldap/config".into(), sent)]);
        // The target reads back everything but the bind password: nothing more to write.
        assert_eq!(diff(item, config.as_object()).0, Action::Unchanged);
    }

    // A source whose config no longer has a secret (no `binddn`): a stale escrow entry brings
    // nothing back.
    #[tokio::test]
    async fn a_stale_escrow_entry_brings_back_no_secret_the_source_has_dropped() {
        let src = Arc::new(MemoryVault::new());
        src.put(
            "",
            "auth/ldap/config",
            json!({"data": {"url": "ldap://x", "binddn": ""}}),
        );
        let entry = json!({"bindpass": "old"});
        src.put(
            "",
            "e/data/auth/ldap/config",
            json!({"data": {"data": entry}}),
        );
        let client = VaultClient::with_api(src);
        let escrow = Some(Escrow {
            client: &client,
            mount: "e/",
        });
        let found = super::super::export(&client, escrow, "", ("ldap/", "ldap"))
            .await
            .unwrap();
        assert!(found.items[0].escrowed.is_empty());
    }
}

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
        Some(f) => Err(format!("`{f}` of `{item}` is not a field the escrow carries")),
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
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
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
        assert_eq!(missing("kubernetes", "config", &lacks, &jwt), ["token_reviewer_jwt"]);
        let holds = map(json!({"token_reviewer_jwt_set": true}));
        assert!(missing("kubernetes", "config", &holds, &jwt).is_empty());
        // A Vault before 1.16 does not say: no write for it alone.
        assert!(missing("kubernetes", "config", &Map::new(), &jwt).is_empty());
        let bindpass = Escrowed(map(json!({"bindpass": "b"})));
        assert!(missing("ldap", "config", &Map::new(), &bindpass).is_empty());
    }
}

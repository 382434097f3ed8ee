//! What lives inside auth methods: userpass users, approle roles (with their `role_id`),
//! kubernetes / jwt / oidc / cert / ldap config and roles, and token roles. Each is one `AuthItem`
//! written back to the path it was read from, less the fields `fields` says cannot go back as
//! read. Write-only fields (passwords, secret IDs, reviewer JWTs, client secrets, bind passwords)
//! cannot be read: a config's secret travels when the escrow holds it (`escrowed`), and is
//! otherwise reported as not copied; then an update that would clear one the target holds is
//! refused, and an OIDC client id goes only with its secret, so the target keeps its own.

mod escrowed;
mod fields;
mod kind;

use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Result;
use crate::model::Action;
use crate::objects::escrow::{Escrow, Escrowed};
use crate::objects::redacted::redacted_debug;
use crate::vault::VaultClient;

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthItem {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// The auth mount path with its trailing slash, e.g. `userpass/`.
    pub mount: String,
    /// The auth method type, e.g. `userpass`.
    pub method: String,
    /// The item's path inside the mount, e.g. `users/alice` or `config`.
    pub item: String,
    pub data: Map<String, Value>,
    /// The write-only secrets of a config, from the escrow (never printed).
    #[serde(default, skip_serializing_if = "Escrowed::is_empty")]
    pub escrowed: Escrowed,
}

redacted_debug!(AuthItem { namespace, mount, item, data as count, escrowed });

impl AuthItem {
    pub fn api_path(&self) -> String {
        format!("auth/{}{}", self.mount, self.item)
    }
}

/// Where a method keeps its objects: singleton items and listable collections. The snapshot
/// format allows an auth item only inside this layout.
pub fn layout(method: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match method {
        "userpass" => (&[], &["users"]),
        "approle" => (&[], &["role"]),
        "kubernetes" | "jwt" | "oidc" => (&["config"], &["role"]),
        "cert" => (&["config"], &["certs"]),
        "ldap" => (&["config"], &["groups", "users"]),
        "token" => (&[], &["roles"]),
        _ => return None,
    })
}

/// What the export of one auth mount found.
pub struct Found {
    pub items: Vec<AuthItem>,
    /// (path, reason) of everything that could not be copied.
    pub not_copied: Vec<(String, String)>,
}

/// Reads every item of one auth mount, with the secrets `escrow` holds for it.
pub async fn export(
    client: &VaultClient,
    escrow: Option<Escrow<'_>>,
    namespace: &str,
    (mount, method): (&str, &str),
) -> Result<Found> {
    let mut found = Found {
        items: Vec::new(),
        not_copied: Vec::new(),
    };
    let Some((singletons, collections)) = layout(method) else {
        found.not_copied.push((
            format!("{namespace}auth/{mount}"),
            format!("roles and config of `{method}` auth methods are not supported yet"),
        ));
        return Ok(found);
    };
    let mut paths: Vec<String> = singletons.iter().map(|s| s.to_string()).collect();
    for coll in collections {
        for name in client.list(&format!("auth/{mount}{coll}")).await? {
            paths.push(format!("{coll}/{name}"));
        }
    }
    for item in paths {
        let Some(data) = current(client, mount, method, &item).await? else {
            continue;
        };
        let at = (mount, method, item.as_str());
        let escrowed = escrowed::read(escrow, namespace, at, &data).await?;
        for field in fields::write_only(method, &item, &data) {
            if escrowed.has(field) {
                continue;
            }
            found.not_copied.push((
                format!("{namespace}auth/{mount}{item}"),
                fields::not_copied_reason(method, &item, field),
            ));
        }
        if let Some(why) = fields::rotation_not_copied(&data) {
            found
                .not_copied
                .push((format!("{namespace}auth/{mount}{item}"), why));
        }
        found.items.push(AuthItem {
            namespace: namespace.to_string(),
            mount: mount.to_string(),
            method: method.to_string(),
            data: fields::carried(method, &item, data),
            item,
            escrowed,
        });
    }
    Ok(found)
}

/// An item as the target has it (nulls dropped), or `None` when it does not exist.
pub async fn current(
    client: &VaultClient,
    mount: &str,
    method: &str,
    item: &str,
) -> Result<Option<Map<String, Value>>> {
    let path = format!("auth/{mount}{item}");
    let Some(mut data) =
        client
            .read(&path)
            .await?
            .and_then(|mut v| match v.get_mut("data").map(Value::take) {
                Some(Value::Object(m)) => Some(m),
                _ => None,
            })
    else {
        return Ok(None);
    };
    data.retain(|_, v| !v.is_null());
    if method == "approle" && item.starts_with("role/") {
        // The role_id lives at its own path; the role endpoint accepts it on write.
        if let Some(id) = client
            .read(&format!("{path}/role-id"))
            .await?
            .and_then(|v| v.pointer("/data/role_id").cloned())
        {
            data.insert("role_id".into(), id);
        }
    }
    Ok(Some(data))
}

/// Equal when every field the snapshot writes is the same on the target (a newer target may
/// return more fields). An update is refused when it would need to change a create-only field, or
/// would clear a write-only secret that the target holds and the snapshot cannot carry.
pub fn diff(desired: &AuthItem, current: Option<&Map<String, Value>>) -> (Action, Option<String>) {
    let Some(cur) = current else {
        return (Action::Create, None);
    };
    let (method, item, escrow) = (&desired.method, &desired.item, &desired.escrowed);
    let want = fields::written(method, item, desired.data.clone(), escrow);
    let mut differing: Vec<&str> = want
        .iter()
        .filter(|(k, v)| cur.get(*k) != Some(v))
        .map(|(k, _)| k.as_str())
        .collect();
    differing.extend(escrowed::missing(method, item, cur, escrow));
    if differing.is_empty() {
        return (Action::Unchanged, None);
    }
    let fixed: Vec<&str> = fields::create_only(&desired.method, &desired.item)
        .filter(|f| differing.contains(f))
        .collect();
    if !fixed.is_empty() {
        let why = format!(
            "`{}` can only be set when it is created: differs on the target (delete it there to \
             have the next import create it as the source has it)",
            fixed.join("`, `")
        );
        return (Action::Refused, Some(why));
    }
    let differ = differing.join(", ");
    let why = match fields::held_secret(method, item, cur, escrow) {
        None => return (Action::Update, Some(format!("{differ} differ"))),
        Some(fields::Held::Yes(secret)) => format!(
            "{differ} differ, but writing the config would clear the target's own `{secret}`, \
             which a snapshot cannot carry: update it on the target"
        ),
        Some(fields::Held::Maybe(secret, shown_by)) => format!(
            "{differ} differ, but the target does not report `{shown_by}` (an older server), so \
             it may hold its own `{secret}`, which writing the config would clear and a snapshot \
             cannot carry: update it on the target"
        ),
    };
    (Action::Refused, Some(why))
}

/// How a new userpass user gets a password (`REPLICATOR_USERPASS_PASSWORD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NewUserPassword {
    #[default]
    Random,
    Skip,
}

/// Whether creating this item needs a password the snapshot cannot carry.
pub fn needs_password(item: &AuthItem) -> bool {
    item.method == "userpass" && item.item.starts_with("users/")
}

pub async fn apply(client: &VaultClient, desired: &AuthItem, action: Action) -> Result<()> {
    let written = fields::written(
        &desired.method,
        &desired.item,
        desired.data.clone(),
        &desired.escrowed,
    );
    let mut body = desired.escrowed.merged_into(written);
    if action != Action::Create {
        for field in fields::create_only(&desired.method, &desired.item) {
            body.remove(field);
        }
    }
    if action == Action::Create && needs_password(desired) {
        // Never logged, never stored: the user sets a real one on DR (or keeps DC's on failback).
        body.insert(
            "password".into(),
            Value::String(Alphanumeric.sample_string(&mut rand::rng(), 32)),
        );
    }
    client
        .write(&desired.api_path(), &Value::Object(body))
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(data: Value) -> AuthItem {
        AuthItem {
            namespace: String::new(),
            mount: "userpass/".into(),
            method: "userpass".into(),
            item: "users/alice".into(),
            data: data.as_object().cloned().unwrap_or_default(),
            escrowed: Escrowed::default(),
        }
    }

    /// A config of `method` with these readable fields and escrowed secrets.
    pub(super) fn config(method: &str, data: Value, secrets: Value) -> AuthItem {
        AuthItem {
            namespace: String::new(),
            mount: format!("{method}/"),
            method: method.into(),
            item: "config".into(),
            data: data.as_object().cloned().unwrap_or_default(),
            escrowed: Escrowed(secrets.as_object().cloned().unwrap_or_default()),
        }
    }

    /// An OIDC config as a server reads it back: its client (empty for none) and default role.
    pub(super) fn oidc(client: &str, role: &str) -> Value {
        json!({"oidc_discovery_url": "https://idp", "default_role": role,
               "oidc_client_id": client})
    }

    #[test]
    fn diff_ignores_extra_fields_on_the_target() {
        let want = item(json!({"token_policies": ["a"], "token_ttl": 3600}));
        let same = json!({"token_policies": ["a"], "token_ttl": 3600, "new_field": true});
        assert_eq!(diff(&want, same.as_object()).0, Action::Unchanged);
        let other = json!({"token_policies": ["b"], "token_ttl": 3600});
        let (action, reason) = diff(&want, other.as_object());
        assert_eq!(action, Action::Update);
        assert_eq!(reason.as_deref(), Some("token_policies differ"));
        assert_eq!(diff(&want, None).0, Action::Create);
    }

    #[test]
    fn a_create_only_difference_is_refused_the_same_value_is_not() {
        let mut role = item(json!({"local_secret_ids": true, "token_ttl": 60}));
        role.method = "approle".into();
        role.item = "role/ci".into();
        let same = json!({"local_secret_ids": true, "token_ttl": 30});
        assert_eq!(diff(&role, same.as_object()).0, Action::Update);
        let other = json!({"local_secret_ids": false, "token_ttl": 60});
        let (action, reason) = diff(&role, other.as_object());
        assert_eq!(action, Action::Refused);
        assert!(reason.unwrap_or_default().contains("`local_secret_ids`"));
    }

    #[test]
    fn a_kubernetes_config_update_never_clears_the_targets_reviewer_jwt() {
        let mut config = item(json!({"kubernetes_host": "https://new"}));
        config.method = "kubernetes".into();
        config.item = "config".into();
        let theirs = json!({"kubernetes_host": "https://old", "token_reviewer_jwt_set": true});
        let (action, reason) = diff(&config, theirs.as_object());
        assert_eq!(action, Action::Refused);
        assert!(reason.unwrap_or_default().contains("token_reviewer_jwt"));
        let none = json!({"kubernetes_host": "https://old", "token_reviewer_jwt_set": false});
        assert_eq!(diff(&config, none.as_object()).0, Action::Update);
        let equal = json!({"kubernetes_host": "https://new", "token_reviewer_jwt_set": true});
        assert_eq!(diff(&config, equal.as_object()).0, Action::Unchanged);
        // A Vault before 1.16 does not say whether it holds one: it may.
        let older = json!({"kubernetes_host": "https://old"});
        let (action, reason) = diff(&config, older.as_object());
        assert_eq!(action, Action::Refused);
        assert!(
            reason
                .unwrap_or_default()
                .contains("does not report `token_reviewer_jwt_set`")
        );
        let older_equal = json!({"kubernetes_host": "https://new"});
        assert_eq!(diff(&config, older_equal.as_object()).0, Action::Unchanged);
    }

    // A config with an OIDC client went back with `oidc_client_id` and no secret (refused by
    // the server); one without a client cleared the client DR had set up itself.
    #[test]
    fn an_oidc_client_id_is_never_sent_and_a_client_the_target_holds_is_never_cleared() {
        let mut config = config("oidc", oidc("dc", "r"), json!({}));
        let dr = oidc;
        assert_eq!(diff(&config, dr("", "r").as_object()).0, Action::Unchanged);
        assert_eq!(diff(&config, dr("", "x").as_object()).0, Action::Update);
        assert_eq!(
            diff(&config, dr("dr", "r").as_object()).0,
            Action::Unchanged
        );
        let (action, reason) = diff(&config, dr("dr", "x").as_object());
        assert_eq!(action, Action::Refused);
        assert!(
            reason
                .unwrap_or_default()
                .contains("would clear the target's own `oidc_client_secret`")
        );
        config.data.remove("oidc_client_id");
        config.method = "jwt".into();
        assert_eq!(diff(&config, dr("dr", "x").as_object()).0, Action::Refused);
    }

    #[test]
    fn userpass_users_need_a_password_other_items_do_not() {
        assert!(needs_password(&item(json!({}))));
        let mut role = item(json!({}));
        role.method = "approle".into();
        role.item = "role/ci".into();
        assert!(!needs_password(&role));
    }

    #[test]
    fn unknown_methods_have_no_layout() {
        assert!(layout("github").is_none());
        assert!(layout("userpass").is_some());
    }
}

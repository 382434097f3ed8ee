//! A database static role (`<mount>static-roles/<name>`) as an object kind. Creating one makes
//! the server rotate the account's password in the database at once, and DR then rotates it on
//! its own schedule: either would lock DC out of an account it still manages. So static roles are
//! written only under `REPLICATOR_DATABASE_STATIC_ROLES=true`; otherwise each is skipped with the
//! reason. One is never pruned on its own: whether DR should keep it is the operator's call.

use crate::objects::engine_item::engine_item_place;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{fields, is_database};
use crate::error::Result;
use crate::model::{Action, Decision};
use crate::objects::engine_item::{EngineItem, differ_reason, differing, export_collection, read};
use crate::objects::kind::{ObjectKind, Scope, Sink, Source, Stage};
use crate::objects::mounts::Mount;
use crate::objects::registry::{Kind, Object};
use crate::objects::target::Target;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatabaseStaticRole(pub EngineItem);

const AT: &str = "static-roles";

/// Why a static role is not written.
pub const GATED: &str = "static role not created: creating it rotates the database password, \
                         which would lock DC out (REPLICATOR_DATABASE_STATIC_ROLES=true writes it)";

/// What every import's report says of each static role.
pub const LISTED: &str = "static role: created on DR only by an import with \
                          REPLICATOR_DATABASE_STATIC_ROLES=true (creating it rotates the database \
                          password, which would lock DC out)";

/// The decision for a static role, from the target's counterpart and the setting.
pub fn decide(
    want: &Map<String, Value>,
    cur: Option<&Map<String, Value>>,
    allowed: bool,
) -> (Action, Option<String>) {
    let differ = cur.map(|c| differing(want, &fields::static_written(c.clone())));
    match (differ, allowed) {
        (Some(d), _) if d.is_empty() => (Action::Unchanged, None),
        (None, true) => (Action::Create, None),
        (Some(d), true) => (Action::Update, Some(differ_reason(&d))),
        (None, false) => (Action::Skipped, Some(GATED.into())),
        (Some(d), false) => (
            Action::Skipped,
            Some(format!(
                "{}, but static roles are not written unless \
                 REPLICATOR_DATABASE_STATIC_ROLES=true",
                differ_reason(&d)
            )),
        ),
    }
}

impl ObjectKind for DatabaseStaticRole {
    const FOLDERS: &'static [&'static str] = &["database/static-roles"];
    const STAGE: Stage = Stage::Contents;
    type Current = Option<Map<String, Value>>;
    type Ops = ();

    engine_item_place!(AT);

    fn validate(&self) -> std::result::Result<(), String> {
        self.0.check("database static role", false)
    }

    fn delete_target(&self) -> Option<(String, String)> {
        None
    }

    async fn current(&self, target: &Target) -> Result<Self::Current> {
        read(&target.client(&self.0.namespace), &self.0.api_path(AT)).await
    }

    fn diff(&self, target: &Target, cur: &Self::Current) -> Decision<()> {
        let allowed = target.database.static_roles;
        Decision::from_pair(decide(&self.0.data, cur.as_ref(), allowed))
    }

    fn under_new_parent(&self, target: &Target) -> Decision<()> {
        Decision::from_pair(decide(&self.0.data, None, target.database.static_roles))
    }

    async fn apply(&self, target: &Target, _: Action, _: &()) -> Result<()> {
        let c = target.client(&self.0.namespace);
        let body = Value::Object(self.0.data.clone());
        c.write(&self.0.api_path(AT), &body).await.map(|_| ())
    }

    fn holds(mount: &Mount) -> bool {
        is_database(mount)
    }

    async fn export(source: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Some((ns, mount)) = scope.mount_holding(Self::holds) else {
            return Ok(());
        };
        let found =
            export_collection(source.client, ns, &mount.path, AT, fields::static_written).await?;
        for item in found {
            // Listed in every import's report, since an import may skip it (see `GATED`).
            let path = format!("{ns}{}", item.api_path(AT));
            sink.not_copied(Kind::DatabaseStaticRole, path, LISTED.into());
            sink.add(Object::DatabaseStaticRole(Self(item)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Creating a static role on DR rotated the password DC uses.
    #[test]
    fn static_roles_are_written_only_when_allowed() {
        let want = json!({"username": "app", "rotation_period": 86400});
        let want = want.as_object().unwrap();
        assert_eq!(decide(want, None, false).0, Action::Skipped);
        assert_eq!(decide(want, None, false).1.as_deref(), Some(GATED));
        assert_eq!(decide(want, None, true).0, Action::Create);
        let other = json!({"username": "app", "rotation_period": 3600,
                           "last_vault_rotation": "2026-01-01T00:00:00Z"});
        let (action, reason) = decide(want, other.as_object(), false);
        assert_eq!(action, Action::Skipped);
        assert!(
            reason
                .unwrap_or_default()
                .contains("rotation_period differ")
        );
        assert_eq!(decide(want, other.as_object(), true).0, Action::Update);
        let same = json!({"username": "app", "rotation_period": 86400,
                          "last_vault_rotation": "2026-01-01T00:00:00Z"});
        assert_eq!(decide(want, same.as_object(), false).0, Action::Unchanged);
    }
}

//! A database static role (`<mount>static-roles/<name>`) as an object kind. Creating one makes
//! the server rotate the account's password in the database at once, and DR then rotates it on
//! its own schedule: either would lock DC out of an account it still manages. So static roles are
//! written only under `REPLICATOR_DATABASE_STATIC_ROLES=true`; otherwise each is skipped with the
//! reason. One is never pruned on its own: whether DR should keep it is the operator's call.

use serde_json::{Map, Value};

use super::fields::STATIC;
use crate::model::{Action, Decision};
use crate::objects::body::{BodySpec, Found, body_kind};
use crate::objects::engine_item::EngineItem;
use crate::objects::fields::{Rules, carried, differ_reason, differing};
use crate::objects::target::Target;

body_kind!(DatabaseStaticRole, engine "database", collection "static-roles", "database static role", folder "database/static-roles");

impl BodySpec for Spec {
    const RULES: &'static Rules = STATIC;
    /// Whether DR should keep one is the operator's call.
    const PRUNED: bool = false;

    /// Listed in every import's report, since an import may skip it (see `GATED`).
    fn taken(found: Found<'_>, report: &mut dyn FnMut(String)) -> Option<EngineItem> {
        report(LISTED.into());
        Some(found.item)
    }

    fn decide(
        item: &EngineItem,
        target: &Target,
        cur: Option<&Map<String, Value>>,
    ) -> Decision<Vec<String>> {
        Decision::from_pair(decide(&item.data, cur, target.database.static_roles))
    }
}

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
    let differ = cur.map(|c| differing(want, &carried(STATIC, c.clone())));
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

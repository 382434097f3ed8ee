//! An SSH engine's roles (`<mount>roles/<name>`), `ca` and `otp` alike: every field the role reads
//! back is written back as read (the engine takes its own read-back), and compared field by field
//! with the target's (a newer target may report more fields).

use crate::objects::body::{BodySpec, body_kind};

body_kind!(SshRole, engine "ssh", collection "roles", "ssh role", folder "ssh/roles");

impl BodySpec for Spec {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Action;
    use crate::objects::ObjectKind;
    use crate::objects::body::compare;
    use crate::objects::engine_item::EngineItem;
    use serde_json::json;

    // SSH roles were their own struct before `Body`: the snapshot entry is byte for byte the same.
    #[test]
    fn a_role_is_the_entry_it_always_was() {
        let data = json!({"port": 22}).as_object().cloned().unwrap();
        let role = SshRole::from(EngineItem::new("", "ssh/", "r", data));
        let text = r#"{"mount":"ssh/","name":"r","data":{"port":22}}"#;
        assert_eq!(serde_json::to_string(&role).unwrap(), text);
        assert_eq!(serde_json::from_str::<SshRole>(text).unwrap(), role);
        assert_eq!(role.entry(), "ssh/roles/ssh/r");
    }

    #[test]
    fn a_role_differs_by_the_fields_it_carries_and_a_newer_targets_extras_do_not_count() {
        let want = json!({"key_type": "otp", "port": 22, "default_user": "u"});
        let want = want.as_object().unwrap();
        let diff = |cur: Option<&serde_json::Map<_, _>>| compare(Spec::RULES, want, cur);
        assert_eq!(diff(None).action, Action::Create);
        let same = json!({"key_type": "otp", "port": 22, "default_user": "u", "new": true});
        assert_eq!(diff(same.as_object()).action, Action::Unchanged);
        let other = json!({"key_type": "otp", "port": 2222, "default_user": "v"});
        let d = diff(other.as_object());
        assert_eq!(d.action, Action::Update);
        assert_eq!(d.reason.as_deref(), Some("default_user, port differ"));
    }
}

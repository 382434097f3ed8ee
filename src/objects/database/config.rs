//! A database connection config (`<mount>config/<name>`) as an object kind: every field its read
//! returns, the plugin's own ones included, and the password through the escrow (only the
//! write-only fields, and a `connection_url` the read masks: `fields::escrow_allowed`). A config
//! write keeps what it is not sent (OpenBao 2.7 merges it into the stored config), so an update
//! without a password leaves DR's own in place, and a plugin field the source dropped cannot be
//! unset by a write: that difference is refused, with the reason.

use serde_json::{Map, Value};

use super::DatabaseOptions;
use super::fields::{self, CONFIG};
use crate::model::{Action, Decision};
use crate::objects::body::{BodySpec, Found, body_kind};
use crate::objects::engine_item::EngineItem;
use crate::objects::fields::{Rules, carried, differ_reason, differing};
use crate::objects::target::Target;

body_kind!(DatabaseConfig, engine "database", collection "config", "database config", folder "database/config");

impl BodySpec for Spec {
    const RULES: &'static Rules = CONFIG;

    fn check_escrow(item: &EngineItem) -> std::result::Result<(), String> {
        fields::escrow_allowed(&item.data, &item.escrowed)
    }

    fn taken(found: Found<'_>, report: &mut dyn FnMut(String)) -> Option<EngineItem> {
        let Found {
            mut item,
            entry,
            read,
        } = found;
        if let Some(why) = fields::rotation_not_copied(read) {
            report(why);
        }
        let (escrowed, why, copied) = fields::take_escrow(&item.data, entry);
        item.escrowed = escrowed;
        if let Some(why) = why {
            report(why);
        }
        copied.then_some(item)
    }

    fn decide(
        item: &EngineItem,
        _: &Target,
        cur: Option<&Map<String, Value>>,
    ) -> Decision<Vec<String>> {
        match cur {
            None => Decision::new(Action::Create, None),
            Some(cur) => Decision::from_pair(diff(&item.data, cur)),
        }
    }

    fn preset(body: &mut Map<String, Value>, target: &Target) {
        verify(body, target.database);
    }
}

/// `verify_connection` as configured, in every write.
fn verify(body: &mut Map<String, Value>, opts: DatabaseOptions) {
    body.insert(
        "verify_connection".into(),
        Value::Bool(opts.verify_connection),
    );
}

/// Equal when every field the snapshot carries is the same on the target; a plugin field only
/// the target has cannot be unset by a write.
pub fn diff(want: &Map<String, Value>, read: &Map<String, Value>) -> (Action, Option<String>) {
    let only_theirs: Vec<String> = fields::plugin_fields(read)
        .into_iter()
        .filter(|f| !want.contains_key(f))
        .collect();
    let differ = differing(want, &carried(CONFIG, read.clone()));
    if !only_theirs.is_empty() {
        let why = format!(
            "`{}` is set on the target but not on the source, and a config write keeps what it \
             is not sent: delete and recreate the config on the target (with its password) to \
             drop it",
            only_theirs.join("`, `")
        );
        return (Action::Refused, Some(why));
    }
    match differ.is_empty() {
        true => (Action::Unchanged, None),
        false => (Action::Update, Some(differ_reason(&differ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::escrow::Escrowed;
    use serde_json::json;

    fn body(item: &EngineItem, opts: DatabaseOptions) -> Value {
        let mut body = item.data.clone();
        verify(&mut body, opts);
        Value::Object(item.escrowed.merged_into(body))
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn read_back(max_open: Value) -> Map<String, Value> {
        map(
            json!({"allowed_roles": ["r"], "plugin_name": "postgresql-database-plugin",
                   "plugin_version": "", "root_credentials_rotate_statements": [],
                   "connection_details": {"connection_url": "u", "max_open_connections": max_open}}),
        )
    }

    #[test]
    fn a_config_is_compared_in_its_written_form() {
        let want = carried(CONFIG, read_back(json!(5)));
        assert_eq!(diff(&want, &read_back(json!(5))).0, Action::Unchanged);
        let (action, reason) = diff(&want, &read_back(json!(7)));
        assert_eq!(action, Action::Update);
        assert_eq!(reason.as_deref(), Some("max_open_connections differ"));
    }

    // A config write merges into the stored config: a field only DR has cannot be unset by it.
    #[test]
    fn a_plugin_field_only_the_target_has_is_refused_with_the_reason() {
        let mut want = carried(CONFIG, read_back(json!(5)));
        want.remove("max_open_connections");
        let (action, reason) = diff(&want, &read_back(json!(5)));
        assert_eq!(action, Action::Refused);
        assert!(
            reason
                .unwrap_or_default()
                .contains("`max_open_connections`")
        );
    }

    #[test]
    fn the_write_carries_verify_connection_as_configured_and_the_escrowed_password() {
        let mut item = EngineItem::new("", "db/", "pg", map(json!({"username": "u"})));
        let opts = DatabaseOptions::default();
        assert_eq!(
            body(&item, opts),
            json!({"username": "u", "verify_connection": false})
        );
        item.escrowed = Escrowed(map(json!({"password": "p"})));
        let opts = DatabaseOptions {
            verify_connection: true,
            ..opts
        };
        assert_eq!(
            body(&item, opts),
            json!({"username": "u", "verify_connection": true, "password": "p"})
        );
    }
}

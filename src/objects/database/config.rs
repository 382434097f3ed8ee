//! A database connection config (`<mount>config/<name>`) as an object kind: every field its read
//! returns, the plugin's own ones included, and the password through the escrow (only the
//! write-only fields, and a `connection_url` the read masks: `fields::escrow_allowed`). A config
//! write keeps what it is not sent (OpenBao 2.7 merges it into the stored config), so an update
//! without a password leaves DR's own in place, and a plugin field the source dropped cannot be
//! unset by a write: that difference is refused, with the reason.

use crate::objects::engine_item::engine_item_place;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{DatabaseOptions, fields, is_database};
use crate::error::Result;
use crate::model::{Action, Decision};
use crate::objects::engine_item::{EngineItem, differ_reason, differing, read};
use crate::objects::escrow::Escrowed;
use crate::objects::kind::{ObjectKind, Scope, Sink, Source, Stage};
use crate::objects::mounts::Mount;
use crate::objects::registry::{Kind, Object};
use crate::objects::target::Target;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatabaseConfig(pub EngineItem);

const AT: &str = "config";

/// Equal when every field the snapshot carries is the same on the target; a plugin field only
/// the target has cannot be unset by a write.
pub fn diff(want: &Map<String, Value>, read: &Map<String, Value>) -> (Action, Option<String>) {
    let only_theirs: Vec<String> = fields::plugin_fields(read)
        .into_iter()
        .filter(|f| !want.contains_key(f))
        .collect();
    let differ = differing(want, &fields::config_written(read.clone()));
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

/// The write: the carried fields, `verify_connection` as configured, and the escrowed ones.
pub fn body(item: &EngineItem, opts: DatabaseOptions) -> Value {
    let mut body = item.data.clone();
    body.insert(
        "verify_connection".into(),
        Value::Bool(opts.verify_connection),
    );
    Value::Object(item.escrowed.merged_into(body))
}

impl ObjectKind for DatabaseConfig {
    const FOLDERS: &'static [&'static str] = &["database/config"];
    const STAGE: Stage = Stage::Contents;
    type Current = Option<Map<String, Value>>;
    type Ops = ();

    engine_item_place!(AT);

    fn validate(&self) -> std::result::Result<(), String> {
        self.0.check("database config", false)?;
        fields::escrow_allowed(&self.0.data, &self.0.escrowed)
    }

    fn delete_target(&self) -> Option<(String, String)> {
        Some((self.0.namespace.clone(), self.0.api_path(AT)))
    }

    async fn current(&self, target: &Target) -> Result<Self::Current> {
        read(&target.client(&self.0.namespace), &self.0.api_path(AT)).await
    }

    fn diff(&self, _: &Target, cur: &Self::Current) -> Decision<()> {
        match cur {
            None => Decision::new(Action::Create, None),
            Some(read) => Decision::from_pair(diff(&self.0.data, read)),
        }
    }

    fn carries_write_only(&self) -> bool {
        !self.0.escrowed.is_empty()
    }

    async fn apply(&self, target: &Target, _: Action, _: &()) -> Result<()> {
        let c = target.client(&self.0.namespace);
        c.write(&self.0.api_path(AT), &body(&self.0, target.database))
            .await
            .map(|_| ())
    }

    fn holds(mount: &Mount) -> bool {
        is_database(mount)
    }

    async fn export(source: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Some((ns, mount)) = scope.mount_holding(Self::holds) else {
            return Ok(());
        };
        let c = source.client;
        for name in c.list(&format!("{}{AT}", mount.path)).await? {
            let mut item = EngineItem::new(ns, &mount.path, &name, Map::new());
            let api = item.api_path(AT);
            let Some(data) = read(c, &api).await? else {
                continue;
            };
            let shown = format!("{ns}{api}");
            if let Some(why) = fields::rotation_not_copied(&data) {
                sink.not_copied(Kind::DatabaseConfig, shown.clone(), why);
            }
            item.data = fields::config_written(data);
            let entry = match &source.escrow {
                Some(escrow) => escrow.fields(ns, &api).await?,
                None => Escrowed::default(),
            };
            let (escrowed, why, copied) = fields::take_escrow(&item.data, entry);
            item.escrowed = escrowed;
            if let Some(why) = why {
                sink.not_copied(Kind::DatabaseConfig, shown, why);
            }
            if !copied {
                continue;
            }
            sink.add(Object::DatabaseConfig(Self(item)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        let want = fields::config_written(read_back(json!(5)));
        assert_eq!(diff(&want, &read_back(json!(5))).0, Action::Unchanged);
        let (action, reason) = diff(&want, &read_back(json!(7)));
        assert_eq!(action, Action::Update);
        assert_eq!(reason.as_deref(), Some("max_open_connections differ"));
    }

    // A config write merges into the stored config: a field only DR has cannot be unset by it.
    #[test]
    fn a_plugin_field_only_the_target_has_is_refused_with_the_reason() {
        let mut want = fields::config_written(read_back(json!(5)));
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

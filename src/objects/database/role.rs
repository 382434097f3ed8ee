//! A database dynamic role (`<mount>roles/<name>`) as an object kind: every field its read
//! returns, written back whole. Creating one touches no database.

use crate::objects::engine_item::engine_item_place;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::is_database;
use crate::error::Result;
use crate::model::{Action, Decision};
use crate::objects::engine_item::{EngineItem, compare, export_collection, read};
use crate::objects::kind::{ObjectKind, Scope, Sink, Source, Stage};
use crate::objects::mounts::Mount;
use crate::objects::registry::Object;
use crate::objects::target::Target;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatabaseRole(pub EngineItem);

const AT: &str = "roles";

impl ObjectKind for DatabaseRole {
    const FOLDERS: &'static [&'static str] = &["database/roles"];
    const STAGE: Stage = Stage::Contents;
    type Current = Option<Map<String, Value>>;
    type Ops = ();

    engine_item_place!(AT);

    fn validate(&self) -> std::result::Result<(), String> {
        self.0.check("database role", false)
    }

    fn delete_target(&self) -> Option<(String, String)> {
        Some((self.0.namespace.clone(), self.0.api_path(AT)))
    }

    async fn current(&self, target: &Target) -> Result<Self::Current> {
        read(&target.client(&self.0.namespace), &self.0.api_path(AT)).await
    }

    fn diff(&self, _: &Target, cur: &Self::Current) -> Decision<()> {
        compare(&self.0.data, cur.as_ref())
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
        for item in export_collection(source.client, ns, &mount.path, AT, |m| m).await? {
            sink.add(Object::DatabaseRole(Self(item)))?;
        }
        Ok(())
    }
}

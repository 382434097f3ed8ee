//! A rabbitmq role (`<mount>roles/<name>`) as an object kind. Its read returns `vhosts` and
//! `vhost_topics` as JSON objects, while a write takes them as JSON text: the snapshot keeps the
//! read form (which is what is compared) and the write encodes them. A write replaces the role.

use crate::objects::engine_item::engine_item_place;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::is_rabbitmq;
use crate::error::{Error, Result};
use crate::model::{Action, Decision};
use crate::objects::engine_item::{EngineItem, compare, export_collection, read};
use crate::objects::kind::{ObjectKind, Scope, Sink, Source, Stage};
use crate::objects::mounts::Mount;
use crate::objects::registry::Object;
use crate::objects::target::Target;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RabbitmqRole(pub EngineItem);

const AT: &str = "roles";
/// Read as JSON objects, written as JSON text.
const AS_TEXT: &[&str] = &["vhosts", "vhost_topics"];

/// The write body of a role kept in its read form.
pub fn body(data: &Map<String, Value>) -> std::result::Result<Value, serde_json::Error> {
    let mut body = data.clone();
    for field in AS_TEXT {
        if let Some(v) = body.get_mut(*field).filter(|v| v.is_object()) {
            *v = Value::String(serde_json::to_string(v)?);
        }
    }
    Ok(Value::Object(body))
}

impl ObjectKind for RabbitmqRole {
    const FOLDERS: &'static [&'static str] = &["rabbitmq/roles"];
    const STAGE: Stage = Stage::Contents;
    type Current = Option<Map<String, Value>>;
    type Ops = ();

    engine_item_place!(AT);

    fn validate(&self) -> std::result::Result<(), String> {
        self.0.check("rabbitmq role", false)
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
        let path = self.0.api_path(AT);
        let body = body(&self.0.data).map_err(|e| Error::Object {
            kind: "rabbitmq_role",
            path: self.path(),
            reason: format!("its vhosts cannot be encoded: {e}"),
        })?;
        let c = target.client(&self.0.namespace);
        c.write(&path, &body).await.map(|_| ())
    }

    fn holds(mount: &Mount) -> bool {
        is_rabbitmq(mount)
    }

    async fn export(source: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Some((ns, mount)) = scope.mount_holding(Self::holds) else {
            return Ok(());
        };
        for item in export_collection(source.client, ns, &mount.path, AT, |m| m).await? {
            sink.add(Object::RabbitmqRole(Self(item)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // OpenBao refuses a vhosts object on write ("expected type 'string'").
    #[test]
    fn vhosts_are_written_as_json_text() {
        let read = json!({"tags": "a", "vhosts": {"/": {"write": ".*"}}, "vhost_topics": {}});
        let body = body(read.as_object().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"tags": "a", "vhosts": "{\"/\":{\"write\":\".*\"}}", "vhost_topics": "{}"})
        );
    }
}

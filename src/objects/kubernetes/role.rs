//! A kubernetes secrets engine role (`<mount>roles/<name>`) as an object kind: the fields its
//! read returns (less its echoed `name`), written back whole. A write keeps what it is not sent,
//! and an unset label, annotation or audience list reads as null (which the snapshot does not
//! carry): one the target has and the source does not is cleared with an explicit null.

use crate::objects::engine_item::engine_item_place;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::is_kubernetes;
use crate::error::Result;
use crate::model::{Action, Decision};
use crate::objects::engine_item::{EngineItem, differ_reason, differing, export_collection, read};
use crate::objects::kind::{ObjectKind, Scope, Sink, Source, Stage};
use crate::objects::mounts::Mount;
use crate::objects::registry::Object;
use crate::objects::target::Target;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KubernetesRole(pub EngineItem);

const AT: &str = "roles";

/// Fields that read as null when unset, and that a write clears only when sent null.
const NULLABLE: &[&str] = &[
    "extra_labels",
    "extra_annotations",
    "token_default_audiences",
];

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// What differs, and the nullable fields the target holds that the source leaves unset.
pub fn diff(want: &Map<String, Value>, cur: &Map<String, Value>) -> Decision<Vec<String>> {
    let clear: Vec<String> = NULLABLE
        .iter()
        .filter(|f| !want.contains_key(**f) && cur.get(**f).is_some_and(|v| !is_empty(v)))
        .map(|f| f.to_string())
        .collect();
    let mut fields = differing(want, cur);
    fields.extend(clear.iter().cloned());
    match fields.is_empty() {
        true => Decision::new(Action::Unchanged, None),
        false => Decision::with_ops(Action::Update, Some(differ_reason(&fields)), clear),
    }
}

/// A role's read-back as a write body: the echoed `name` is the path's.
fn written(mut read: Map<String, Value>) -> Map<String, Value> {
    read.remove("name");
    read
}

impl ObjectKind for KubernetesRole {
    const FOLDERS: &'static [&'static str] = &["kubernetes/roles"];
    const STAGE: Stage = Stage::Contents;
    type Current = Option<Map<String, Value>>;
    /// The fields to clear (see `NULLABLE`).
    type Ops = Vec<String>;

    engine_item_place!(AT);

    fn validate(&self) -> std::result::Result<(), String> {
        self.0.check("kubernetes role", false)
    }

    fn delete_target(&self) -> Option<(String, String)> {
        Some((self.0.namespace.clone(), self.0.api_path(AT)))
    }

    async fn current(&self, target: &Target) -> Result<Self::Current> {
        read(&target.client(&self.0.namespace), &self.0.api_path(AT)).await
    }

    fn diff(&self, _: &Target, cur: &Self::Current) -> Decision<Vec<String>> {
        match cur {
            None => Decision::new(Action::Create, None),
            Some(cur) => diff(&self.0.data, cur),
        }
    }

    async fn apply(&self, target: &Target, _: Action, clear: &Vec<String>) -> Result<()> {
        let c = target.client(&self.0.namespace);
        let mut body = self.0.data.clone();
        body.extend(clear.iter().map(|f| (f.clone(), Value::Null)));
        let body = Value::Object(body);
        c.write(&self.0.api_path(AT), &body).await.map(|_| ())
    }

    fn holds(mount: &Mount) -> bool {
        is_kubernetes(mount)
    }

    async fn export(source: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Some((ns, mount)) = scope.mount_holding(Self::holds) else {
            return Ok(());
        };
        for item in export_collection(source.client, ns, &mount.path, AT, written).await? {
            sink.add(Object::KubernetesRole(Self(item)))?;
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

    // A label dropped on the source stayed on DR: a role write keeps what it is not sent.
    #[test]
    fn labels_the_source_dropped_are_cleared_on_the_target() {
        let want = map(json!({"service_account_name": "sa"}));
        let dr = map(
            json!({"service_account_name": "sa", "extra_labels": {"team": "x"},
                            "token_default_audiences": []}),
        );
        let d = diff(&want, &dr);
        assert_eq!(d.action, Action::Update);
        assert_eq!(d.ops, ["extra_labels"]);
        let same = map(json!({"service_account_name": "sa", "extra_labels": {},
                              "token_default_audiences": []}));
        assert_eq!(diff(&want, &same).action, Action::Unchanged);
    }
}

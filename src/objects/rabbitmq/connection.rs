//! A rabbitmq engine's connection config (`<mount>config/connection`) as an object kind. The API
//! never reads it back, so it travels only when the escrow keeps its whole body, and is otherwise
//! reported as not copied. Nothing on the target can be compared with it: an import writes it
//! unless the last one applied this very body (`carries_write_only`). The
//! target is written with `verify_connection=false` unless the escrowed body says otherwise (DR
//! may not reach the broker while DC is alive).

use crate::objects::engine_item::engine_item_place;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::is_rabbitmq;
use crate::error::Result;
use crate::model::{Action, Decision};
use crate::objects::engine_item::EngineItem;
use crate::objects::kind::{ObjectKind, Scope, Sink, Source, Stage};
use crate::objects::mounts::Mount;
use crate::objects::registry::{Kind, Object};
use crate::objects::target::Target;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RabbitmqConnection(pub EngineItem);

const AT: &str = "config/connection";

impl ObjectKind for RabbitmqConnection {
    const FOLDERS: &'static [&'static str] = &["rabbitmq/connection"];
    const STAGE: Stage = Stage::Contents;
    type Current = ();
    type Ops = ();

    engine_item_place!(AT);

    fn validate(&self) -> std::result::Result<(), String> {
        self.0.check("rabbitmq connection", true)
    }

    /// It cannot be deleted on its own: the engine has no such endpoint.
    fn delete_target(&self) -> Option<(String, String)> {
        None
    }

    async fn current(&self, _: &Target) -> Result<()> {
        Ok(())
    }

    /// Nothing to compare: the import writes it unless the last one applied this very body.
    fn diff(&self, _: &Target, _: &()) -> Decision<()> {
        Decision::new(Action::Unchanged, None)
    }

    fn carries_write_only(&self) -> bool {
        true
    }

    async fn apply(&self, target: &Target, _: Action, _: &()) -> Result<()> {
        let mut body = Map::new();
        body.insert("verify_connection".into(), Value::Bool(false));
        let body = Value::Object(self.0.escrowed.merged_into(body));
        let c = target.client(&self.0.namespace);
        c.write(&self.0.api_path(AT), &body).await.map(|_| ())
    }

    fn holds(mount: &Mount) -> bool {
        is_rabbitmq(mount)
    }

    async fn export(source: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Some((ns, mount)) = scope.mount_holding(Self::holds) else {
            return Ok(());
        };
        let mut item = EngineItem::new(ns, &mount.path, "", Map::new());
        let api = item.api_path(AT);
        if let Some(escrow) = &source.escrow {
            item.escrowed = escrow.fields(ns, &api).await?;
        }
        if item.escrowed.is_empty() {
            let why = "the connection config is write-only and not escrowed: not copied, DR \
                       cannot issue credentials until it is set";
            sink.not_copied(Kind::RabbitmqConnection, format!("{ns}{api}"), why.into());
            return Ok(());
        }
        sink.add(Object::RabbitmqConnection(Self(item)))
    }
}

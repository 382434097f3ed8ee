//! A rabbitmq engine's connection config (`<mount>config/connection`) as an object kind. The API
//! never reads it back, so it travels only when the escrow keeps its whole body (the endpoint's
//! own fields, nothing else), and is otherwise reported as not copied. Nothing on the target can
//! be compared with it: an import writes it unless the last one applied this very body
//! (`carries_write_only`). The target is written with `verify_connection=false` unless the
//! escrowed body says otherwise (DR may not reach the broker while DC is alive).

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

/// The fields of `config/connection` (all write-only: the engine has no read of it), the only
/// ones its escrow entry may hold.
const ESCROWED: &[&str] = &[
    "connection_uri",
    "username",
    "password",
    "verify_connection",
    "password_policy",
    "username_template",
];

impl ObjectKind for RabbitmqConnection {
    const FOLDERS: &'static [&'static str] = &["rabbitmq/connection"];
    const STAGE: Stage = Stage::Contents;
    type Current = ();
    type Ops = ();

    engine_item_place!(AT);

    fn validate(&self) -> std::result::Result<(), String> {
        self.0.check("rabbitmq connection", true)?;
        self.0.escrowed.only(ESCROWED)
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
        let why = match item.escrowed.only(ESCROWED) {
            _ if item.escrowed.is_empty() => Some(
                "the connection config is write-only and not escrowed: not copied, DR cannot \
                 issue credentials until it is set"
                    .to_string(),
            ),
            Err(why) => Some(format!("escrow entry not taken: {why}; not copied")),
            Ok(()) => None,
        };
        if let Some(why) = why {
            sink.not_copied(Kind::RabbitmqConnection, format!("{ns}{api}"), why);
            return Ok(());
        }
        sink.add(Object::RabbitmqConnection(Self(item)))
    }
}

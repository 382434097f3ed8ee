//! A kubernetes secrets engine's config (`<mount>config`) as an object kind: the fields its read
//! returns, and `service_account_jwt` through the escrow (nothing else: an entry with another
//! field is not taken). The write sets only the fields it is sent (the plugin keeps the rest), so
//! an update never clears the JWT DR holds.

use crate::objects::engine_item::engine_item_place;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::is_kubernetes;
use crate::error::Result;
use crate::model::{Action, Decision};
use crate::objects::engine_item::{EngineItem, compare, read};
use crate::objects::escrow::Escrowed;
use crate::objects::kind::{ObjectKind, Scope, Sink, Source, Stage};
use crate::objects::mounts::Mount;
use crate::objects::registry::{Kind, Object};
use crate::objects::target::Target;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KubernetesConfig(pub EngineItem);

const AT: &str = "config";
const JWT: &str = "service_account_jwt";

/// The fields an escrow entry may hold for the config: the write-only one (the others are
/// readable and cross as read; `kubernetes_host` from an escrow would differ from it forever).
const ESCROWED: &[&str] = &[JWT];

impl ObjectKind for KubernetesConfig {
    const FOLDERS: &'static [&'static str] = &["kubernetes/config"];
    const STAGE: Stage = Stage::Contents;
    type Current = Option<Map<String, Value>>;
    type Ops = ();

    engine_item_place!(AT);

    fn validate(&self) -> std::result::Result<(), String> {
        self.0.check("kubernetes config", true)?;
        self.0.escrowed.only(ESCROWED)
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

    fn carries_write_only(&self) -> bool {
        !self.0.escrowed.is_empty()
    }

    async fn apply(&self, target: &Target, _: Action, _: &()) -> Result<()> {
        let c = target.client(&self.0.namespace);
        let body = Value::Object(self.0.escrowed.merged_into(self.0.data.clone()));
        c.write(&self.0.api_path(AT), &body).await.map(|_| ())
    }

    fn holds(mount: &Mount) -> bool {
        is_kubernetes(mount)
    }

    async fn export(source: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Some((ns, mount)) = scope.mount_holding(Self::holds) else {
            return Ok(());
        };
        let mut item = EngineItem::new(ns, &mount.path, "", Map::new());
        let api = item.api_path(AT);
        let Some(data) = read(source.client, &api).await? else {
            return Ok(());
        };
        item.data = data;
        let entry = match &source.escrow {
            Some(escrow) => escrow.fields(ns, &api).await?,
            None => Escrowed::default(),
        };
        let refused = entry.only(ESCROWED).err();
        if refused.is_none() {
            item.escrowed = entry;
        }
        if !item.escrowed.has(JWT) {
            let why = "`service_account_jwt` is write-only and not escrowed: copied without it \
                       (DR uses its own, or its local service account token)";
            let why = match refused {
                Some(r) => format!("escrow entry not taken: {r}; {why}"),
                None => why.to_string(),
            };
            sink.not_copied(Kind::KubernetesConfig, format!("{ns}{api}"), why);
        }
        sink.add(Object::KubernetesConfig(Self(item)))
    }
}

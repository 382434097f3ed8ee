//! "One JSON body at one path" kinds: an object of a secrets engine mount read and written whole
//! at `<mount><AT>/<name>` (or a singleton such as `<mount>config`). Such a kind is a `BodySpec`
//! (its folder, API path, stage, engine, field rules, and a hook for what it does differently);
//! `Body<S>` is the one `ObjectKind` implementation over them all, serialized as its `EngineItem`.

use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::engine_item::{EngineItem, read};
use super::escrow::Escrowed;
use super::fields::{self, Rules, differ_reason, differing};
use super::kind::{self, ObjectKind, Parent, Scope, Sink, Source, Stage};
use super::mounts::Mount;
use super::registry::{KindOf, Object};
use super::target::Target;
use crate::error::{Error, Result};
use crate::model::{Action, Decision};
use crate::vault::Table;

/// What the export found of one object: its carried body, the escrow entry kept for it (empty
/// unless the spec has write-only fields), and the source's read as it came.
pub struct Found<'a> {
    pub item: EngineItem,
    pub entry: Escrowed,
    pub read: &'a Map<String, Value>,
}

/// Where a "one body at one path" kind sits: `body_kind!` declares it in one line.
pub trait Place {
    /// The type of the secrets engine mount that holds it (`database`).
    const ENGINE: &'static str;
    /// Whether it is a singleton (no name), rather than one of a collection.
    const SINGLETON: bool;
    /// Its API collection (`roles`) or, for a singleton, its path (`config`) below the mount.
    const AT: &'static str;
    /// What it is called in errors (`database role`).
    const WHAT: &'static str;
    /// Its folders in a snapshot (the first is where it is written).
    const FOLDERS: &'static [&'static str];
}

/// Declares a "one body at one path" kind: the type `$name` (a `Body` over the spec `Spec` this
/// declares) and where it sits (`Place`). Its `BodySpec` impl (rules and hooks) follows by hand.
macro_rules! body_kind {
    ($name:ident, engine $engine:literal, $shape:ident $at:literal, $what:literal, folder $folder:literal) => {
        pub type $name = $crate::objects::body::Body<Spec>;

        /// The kind's spec: where it sits, its field rules and hooks.
        pub struct Spec;

        impl $crate::objects::body::Place for Spec {
            const ENGINE: &'static str = $engine;
            const SINGLETON: bool = $crate::objects::body::body_kind!(@singleton $shape);
            const AT: &'static str = $at;
            const WHAT: &'static str = $what;
            const FOLDERS: &'static [&'static str] = &[$folder];
        }
    };
    (@singleton singleton) => {
        true
    };
    (@singleton collection) => {
        false
    };
}
pub(crate) use body_kind;

/// One "one body at one path" kind. Only its `Place` is required; the rules and hooks default to
/// what most such kinds do.
pub trait BodySpec: Place + Send + Sync + 'static {
    /// When an import applies it.
    const STAGE: Stage = Stage::Contents;
    /// Its field rules; its `WriteOnly` fields are what its escrow entry may hold.
    const RULES: &'static Rules = &[];
    /// Whether a read shows it (when not, it is written at every import unless the last one
    /// applied this very entry).
    const READABLE: bool = true;
    /// Whether a prune deletes it on its own.
    const PRUNED: bool = true;

    /// What the snapshot format allows of its escrowed fields.
    fn check_escrow(item: &EngineItem) -> std::result::Result<(), String> {
        item.escrowed.only(&fields::write_only_fields(Self::RULES))
    }

    /// Takes what it found at export (reporting through `report`): the object, or `None` when it
    /// does not cross. By default the escrow entry (when it may hold one) is taken when it holds
    /// only write-only fields.
    fn taken(found: Found<'_>, report: &mut dyn FnMut(String)) -> Option<EngineItem> {
        let mut item = found.item;
        item.escrowed = found.entry;
        if let Err(why) = Self::check_escrow(&item) {
            report(format!("escrow entry not taken: {why}"));
            item.escrowed = Escrowed::default();
        }
        Some(item)
    }

    /// Decides from the target's read (`None`: it has none), compared in its carried form.
    fn decide(
        item: &EngineItem,
        _target: &Target,
        cur: Option<&Map<String, Value>>,
    ) -> Decision<Vec<String>> {
        let cur = cur.map(|c| fields::carried(Self::RULES, c.clone()));
        compare(Self::RULES, &item.data, cur.as_ref())
    }

    /// Fields every write sets before the escrowed ones are merged in (`verify_connection`).
    fn preset(_body: &mut Map<String, Value>, _target: &Target) {}
}

/// The decision for a body written whole: created when the target has none, updated (with the
/// `Nullable` fields to clear) when a carried field differs or one of those is set on the target.
pub fn compare(
    rules: &Rules,
    want: &Map<String, Value>,
    cur: Option<&Map<String, Value>>,
) -> Decision<Vec<String>> {
    let Some(cur) = cur else {
        return Decision::new(Action::Create, None);
    };
    let clear = fields::to_clear(rules, want, cur);
    let mut differ = differing(want, cur);
    differ.extend(clear.iter().cloned());
    match differ.is_empty() {
        true => Decision::new(Action::Unchanged, None),
        false => Decision::with_ops(Action::Update, Some(differ_reason(&differ)), clear),
    }
}

/// An object of the kind `S`: its `EngineItem`, serialized as it is.
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
pub struct Body<S> {
    pub item: EngineItem,
    #[serde(skip)]
    spec: PhantomData<fn() -> S>,
}

impl<S> From<EngineItem> for Body<S> {
    fn from(item: EngineItem) -> Self {
        Body {
            item,
            spec: PhantomData,
        }
    }
}

impl<S> Clone for Body<S> {
    fn clone(&self) -> Self {
        self.item.clone().into()
    }
}

impl<S> PartialEq for Body<S> {
    fn eq(&self, other: &Self) -> bool {
        self.item == other.item
    }
}

impl<S> fmt::Debug for Body<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.item, f)
    }
}

impl<S: BodySpec> Body<S> {
    fn api_path(&self) -> String {
        self.item.api_path(S::AT)
    }

    /// The write: the carried body in write form, the fields to clear sent null, the spec's
    /// presets, and the escrowed fields.
    fn body(&self, target: &Target, clear: &[String]) -> Result<Value>
    where
        Self: KindOf,
    {
        let path = format!("{}{}", self.item.namespace, self.api_path());
        let mut body =
            fields::encoded(S::RULES, &self.item.data).map_err(|reason| Error::Object {
                kind: Self::KIND.as_str(),
                path,
                reason,
            })?;
        body.extend(clear.iter().map(|f| (f.clone(), Value::Null)));
        S::preset(&mut body, target);
        Ok(Value::Object(self.item.escrowed.merged_into(body)))
    }
}

impl<S: BodySpec> ObjectKind for Body<S>
where
    Self: KindOf + Into<Object>,
{
    const FOLDERS: &'static [&'static str] = S::FOLDERS;
    const STAGE: Stage = S::STAGE;
    /// The target's read, nulls dropped.
    type Current = Option<Map<String, Value>>;
    /// The `Nullable` fields to clear.
    type Ops = Vec<String>;

    fn namespace(&self) -> &str {
        &self.item.namespace
    }

    fn path(&self) -> String {
        format!("{}{}", self.item.namespace, self.api_path())
    }

    fn entry(&self) -> String {
        self.item.entry(S::FOLDERS[0])
    }

    fn validate(&self) -> std::result::Result<(), String> {
        self.item.check(S::WHAT, S::SINGLETON)?;
        S::check_escrow(&self.item)
    }

    fn parent(&self) -> Option<Parent> {
        Some(Parent::secret_mount(&self.item.namespace, &self.item.mount))
    }

    fn place(&mut self) -> kind::Place<'_> {
        let item = &mut self.item;
        kind::Place::InMount(&mut item.namespace, Table::Secret, &mut item.mount)
    }

    fn delete_target(&self) -> Option<(String, String)> {
        S::PRUNED.then(|| (self.item.namespace.clone(), self.api_path()))
    }

    async fn current(&self, target: &Target) -> Result<Self::Current> {
        if !S::READABLE {
            return Ok(None);
        }
        read(&target.client(&self.item.namespace), &self.api_path()).await
    }

    fn diff(&self, target: &Target, cur: &Self::Current) -> Decision<Vec<String>> {
        match S::READABLE {
            // Nothing to compare: the import writes it unless the last one applied this body.
            false => Decision::new(Action::Unchanged, None),
            true => S::decide(&self.item, target, cur.as_ref()),
        }
    }

    fn carries_write_only(&self) -> bool {
        !S::READABLE || !self.item.escrowed.is_empty()
    }

    fn under_new_parent(&self, target: &Target) -> Decision<Vec<String>> {
        S::decide(&self.item, target, None)
    }

    async fn apply(&self, target: &Target, _: Action, clear: &Vec<String>) -> Result<()> {
        let body = self.body(target, clear)?;
        let c = target.client(&self.item.namespace);
        c.write(&self.api_path(), &body).await.map(|_| ())
    }

    fn lives_in(mount: &Mount) -> bool {
        mount.is_engine(S::ENGINE)
    }

    async fn export(source: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Some((ns, mount)) = scope.mount_where(Self::lives_in) else {
            return Ok(());
        };
        let names = match S::SINGLETON {
            true => vec![String::new()],
            false => {
                source
                    .client
                    .list(&format!("{}{}", mount.path, S::AT))
                    .await?
            }
        };
        for name in names {
            let item = EngineItem::new(ns, &mount.path, &name, Map::new());
            if let Some(obj) = Self::export_one(source, item, sink).await? {
                sink.add(obj.into())?;
            }
        }
        Ok(())
    }
}

impl<S: BodySpec> Body<S>
where
    Self: KindOf + Into<Object>,
{
    /// Reads one object of the source, with its escrow entry, and takes it as the spec says.
    async fn export_one(
        source: &Source<'_>,
        mut item: EngineItem,
        sink: &mut dyn Sink,
    ) -> Result<Option<Self>> {
        let api = item.api_path(S::AT);
        let read = match S::READABLE {
            true => match read(source.client, &api).await? {
                Some(r) => r,
                None => return Ok(None),
            },
            false => Map::new(),
        };
        item.data = fields::carried(S::RULES, read.clone());
        let entry = match &source.escrow {
            Some(escrow) if !fields::write_only_fields(S::RULES).is_empty() => {
                escrow.fields(&item.namespace, &api).await?
            }
            _ => Escrowed::default(),
        };
        let shown = format!("{}{api}", item.namespace);
        let mut report = |why: String| sink.not_copied(Self::KIND, shown.clone(), why);
        let found = Found {
            item,
            entry,
            read: &read,
        };
        Ok(S::taken(found, &mut report).map(Body::from))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::objects::auth::NewUserPassword;
    use crate::objects::database::DatabaseRole;
    use crate::objects::escrow::Escrow;
    use crate::objects::kind::Scope;
    use crate::objects::kubernetes::{KubernetesConfig, KubernetesRole};
    use crate::objects::rabbitmq::RabbitmqConnection;
    use crate::objects::registry::Kind;
    use crate::vault::Table;
    use crate::vault::{MemoryVault, MountEntry, VaultClient};

    #[derive(Default)]
    struct Found(Vec<Object>, Vec<(Kind, String, String)>);

    impl Sink for Found {
        fn add(&mut self, obj: Object) -> Result<()> {
            self.0.push(obj);
            Ok(())
        }

        fn not_copied(&mut self, kind: Kind, path: String, reason: String) {
            self.1.push((kind, path, reason));
        }
    }

    /// What `K` exports from the mount `<engine>/` of a cluster holding `answers`, with the
    /// escrow mount `escrow/` of the same cluster.
    async fn export<K: ObjectKind>(engine: &str, answers: &[(&str, Value)]) -> Found {
        let api = Arc::new(MemoryVault::new());
        for (path, answer) in answers {
            api.put("", path, answer.clone());
        }
        let client = VaultClient::with_api(api);
        let entry = MountEntry {
            path: format!("{engine}/"),
            kind: engine.into(),
            ..Default::default()
        };
        let mount = Mount::from_entry("", Table::Secret, &entry);
        let escrow = Escrow {
            client: &client,
            mount: "escrow/",
        };
        let source = Source {
            client: &client,
            concurrency: 1,
            kv_history: false,
            filter: &|_| true,
            state_mount: "replicator/",
            escrow: Some(escrow),
            known: None,
        };
        let mut found = Found::default();
        let scope = Scope::Mount {
            ns: "",
            mount: &mount,
        };
        K::export(&source, &scope, &mut found).await.unwrap();
        found
    }

    async fn target() -> (Arc<MemoryVault>, Target) {
        let api = Arc::new(MemoryVault::new());
        let client = VaultClient::with_api(api.clone());
        let target = Target::load(client, &[], NewUserPassword::Random).await;
        (api, target.unwrap())
    }

    #[test]
    fn a_body_is_serialized_as_its_item() {
        let data = json!({"a": 1}).as_object().cloned().unwrap();
        let item = EngineItem::new("", "db/", "r", data);
        let role = DatabaseRole::from(item.clone());
        let text = serde_json::to_string(&role).unwrap();
        assert_eq!(text, serde_json::to_string(&item).unwrap());
        assert_eq!(serde_json::from_str::<DatabaseRole>(&text).unwrap(), role);
        assert_eq!(role.entry(), "database/roles/db/r");
        assert_eq!(role.path(), "db/roles/r");
    }

    // The spec's rules at work end to end: the echoed `name` is not carried, and a label only the
    // target has is cleared with an explicit null.
    #[tokio::test]
    async fn a_body_kind_is_exported_planned_and_applied_by_its_rules() {
        let role =
            json!({"data": {"name": "r", "service_account_name": "sa", "extra_labels": null}});
        let found = export::<KubernetesRole>("kubernetes", &[("kubernetes/roles/r", role)]).await;
        assert!(found.1.is_empty());
        let [obj] = &found.0[..] else {
            panic!("{:?}", found.0)
        };
        assert_eq!(obj.entry(), "kubernetes/roles/kubernetes/r");
        let (api, target) = target().await;
        let dr = json!({"data": {"service_account_name": "sa", "extra_labels": {"team": "x"}}});
        api.put("", "kubernetes/roles/r", dr);
        let d = obj.plan(&target).await.unwrap();
        assert_eq!(d.action, Action::Update);
        assert_eq!(d.reason.as_deref(), Some("extra_labels differ"));
        obj.apply(&target, d.action, &d.ops).await.unwrap();
        let written = json!({"service_account_name": "sa", "extra_labels": null});
        assert_eq!(
            api.writes(),
            [("".into(), "kubernetes/roles/r".into(), written)]
        );
    }

    #[tokio::test]
    async fn a_singleton_without_its_escrowed_field_is_reported_and_copied() {
        let config = json!({"data": {"kubernetes_host": "https://k"}});
        let found =
            export::<KubernetesConfig>("kubernetes", &[("kubernetes/config", config)]).await;
        assert_eq!(found.0.len(), 1);
        let [(kind, path, why)] = &found.1[..] else {
            panic!("{:?}", found.1)
        };
        assert_eq!(
            (*kind, path.as_str()),
            (Kind::KubernetesConfig, "kubernetes/config")
        );
        assert!(why.starts_with("`service_account_jwt` is write-only and not escrowed"));
        assert!(
            export::<KubernetesConfig>("kubernetes", &[])
                .await
                .0
                .is_empty()
        );
    }

    // The API never reads it back: it crosses only as the whole body its escrow entry keeps, and
    // is written at every import (with `verify_connection=false` unless the entry says otherwise).
    #[tokio::test]
    async fn an_unreadable_body_crosses_only_through_the_escrow_and_is_always_written() {
        let found = export::<RabbitmqConnection>("rabbitmq", &[]).await;
        assert!(found.0.is_empty());
        assert!(
            found.1[0]
                .2
                .contains("write-only and not escrowed: not copied")
        );
        let entry = json!({"data": {"data": {"connection_uri": "http://r", "password": "p"}}});
        let path = "escrow/data/rabbitmq/config/connection";
        let found = export::<RabbitmqConnection>("rabbitmq", &[(path, entry)]).await;
        assert!(found.1.is_empty());
        let [obj] = &found.0[..] else {
            panic!("{:?}", found.0)
        };
        assert!(obj.carries_write_only() && !format!("{obj:?}").contains("\"p\""));
        let (api, target) = target().await;
        let d = obj.plan(&target).await.unwrap();
        assert_eq!(d.action, Action::Unchanged);
        assert_eq!(obj.under_new_parent(&target).action, Action::Create);
        obj.apply(&target, Action::Update, &d.ops).await.unwrap();
        let written =
            json!({"connection_uri": "http://r", "password": "p", "verify_connection": false});
        let at = "rabbitmq/config/connection".to_string();
        assert_eq!(api.writes(), [("".into(), at, written)]);
        assert_eq!(obj.delete_target(), None);
    }
}

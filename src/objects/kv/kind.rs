//! KV secrets as an object kind: where they sit in a snapshot and on a target, and the export's
//! walk of each KV mount.

use serde_json::{Map, Value};

use super::{
    Current, Found, KvContent, KvOps, Secret, Walk, apply, current, diff, export_mount, views,
};
use crate::error::Result;
use crate::model::{Action, Decision};
use crate::objects::engine_item::in_secret_mount;
use crate::objects::kind::{
    Inventory, Moved, ObjectKind, Scope, Sink, Source, Stage, bad_segment, check_secret_mount, one,
    segments,
};
use crate::objects::mounts::Mount;
use crate::objects::registry::{Kind, Object};
use crate::objects::target::Target;
use crate::vault::Table;

impl ObjectKind for Secret {
    const FOLDERS: &'static [&'static str] = &["kv"];
    const STAGE: Stage = Stage::Contents;
    type Current = Current;
    type Ops = KvOps;

    in_secret_mount!();

    fn entry(&self) -> String {
        format!("kv/{}/{}", one(&self.mount), segments(&self.path))
    }

    fn validate(&self) -> std::result::Result<(), String> {
        check_secret_mount(&self.mount)?;
        if !matches!(self.kv_version, 1 | 2) || self.path.split('/').any(bad_segment) {
            return Err(format!("secret path `{}` is malformed", self.full_path()));
        }
        Ok(())
    }

    fn delete_target(&self) -> Option<(String, String)> {
        let at = match self.kv_version {
            2 => format!("{}metadata/{}", self.mount, self.path),
            _ => format!("{}{}", self.mount, self.path),
        };
        Some((self.namespace.clone(), at))
    }

    /// Its history by version number.
    fn fingerprinted(&self, top: &mut Map<String, Value>) {
        views::versions_by_number(top);
    }

    /// Its data keys and versions are fields; what is inside them is a value.
    fn field_depth(field: &str) -> Option<usize> {
        matches!(field, "data" | "versions").then_some(1)
    }

    /// Its data's fields are its keys.
    fn field_group(field: &str) -> &str {
        match field {
            "data" => "keys",
            _ => field,
        }
    }

    fn summary(&self) -> Option<KvContent> {
        Some(KvContent::of(self))
    }

    fn moved(self, from: &str, to: &str) -> Moved<Self> {
        views::moved(self, from, to)
    }

    /// Its keys, listed in every folder of the mount (no secret is read).
    async fn found(source: &Source<'_>, scope: &Scope<'_>, found: &mut Inventory) -> Result<()> {
        let Some((ns, mount)) = scope.mount_where(Self::lives_in) else {
            return Ok(());
        };
        let at = &mount.path;
        let folder = match mount.kv_version() {
            Some(2) => format!("{at}metadata/"),
            _ => at.clone(),
        };
        for name in views::list_all(source.client, &folder).await? {
            found.found(Kind::KvSecret, format!("{ns}{at}{name}"), "key");
        }
        Ok(())
    }

    async fn current(&self, target: &Target) -> Result<Current> {
        let c = target.client(&self.namespace);
        let known = target.kv.known(&c, self).await?;
        current(&c, self, known).await
    }

    fn diff(&self, _: &Target, cur: &Current) -> Decision<KvOps> {
        let (action, reason, ops) = diff(self, cur);
        Decision::with_ops(action, reason, ops)
    }

    fn under_new_parent(&self, _: &Target) -> Decision<KvOps> {
        let (_, _, ops) = diff(self, &Current::default());
        Decision::with_ops(Action::Create, None, ops)
    }

    async fn apply(&self, target: &Target, _: Action, ops: &KvOps) -> Result<()> {
        apply(&target.client(&self.namespace), self, ops).await
    }

    fn lives_in(mount: &Mount) -> bool {
        mount.table == Table::Secret && mount.kv_version().is_some()
    }

    async fn export(source: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Some((ns, mount)) = scope.mount_where(Self::lives_in) else {
            return Ok(());
        };
        let Some(kv_version) = mount.kv_version() else {
            return Ok(());
        };
        let walk = Walk {
            client: source.client,
            namespace: ns,
            mount: &mount.path,
            kv_version,
            history: source.kv_history,
            known: source.known,
        };
        export_mount(&walk, source.concurrency, |found| match found {
            Found::Secret(s, None) => sink.add(Object::KvSecret(*s)),
            Found::Secret(s, Some(mark)) => sink.add_marked(Object::KvSecret(*s), mark),
            Found::Unchanged(s, mark) => sink.carry(Object::KvSecret(*s), mark),
            Found::NotCopied { path, reason } => {
                sink.not_copied(Kind::KvSecret, path, reason);
                Ok(())
            }
        })
        .await
    }
}

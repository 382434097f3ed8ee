//! Transit keys as an object kind: where they sit in a snapshot and on a target, and the export
//! of each transit mount. A key is never pruned on its own (Vault guards its deletion).

use serde_json::{Map, Value};

use super::{Current, TransitKey, Write, apply, current, diff, export, without_backup_time};
use crate::error::Result;
use crate::model::{Action, Decision};
use crate::objects::engine_item::in_secret_mount;
use crate::objects::kind::{
    Held, Inventory, ObjectKind, Scope, Sink, Source, Stage, check_in_mount, entry_in_mount,
};
use crate::objects::mounts::Mount;
use crate::objects::registry::{Kind, Object};
use crate::objects::target::Target;

impl ObjectKind for TransitKey {
    const FOLDERS: &'static [&'static str] = &["transit"];
    const STAGE: Stage = Stage::Contents;
    type Current = Current;
    /// How an update reaches the target (a restore, or the settings only).
    type Ops = Option<Write>;

    in_secret_mount!();

    fn entry(&self) -> String {
        entry_in_mount("transit", &self.mount, &self.name)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        check_in_mount("transit key", &self.mount, &self.name)
    }

    fn delete_target(&self) -> Option<(String, String)> {
        None
    }

    async fn current(&self, target: &Target) -> Result<Current> {
        current(&target.client(&self.namespace), &self.mount, &self.name).await
    }

    fn diff(&self, _: &Target, cur: &Current) -> Decision<Option<Write>> {
        diff(self, cur)
    }

    async fn apply(&self, target: &Target, action: Action, ops: &Option<Write>) -> Result<()> {
        apply(&target.client(&self.namespace), self, action, ops.as_ref()).await
    }

    /// A backup carries the time it was taken: compared without it.
    fn fingerprinted(&self, top: &mut Map<String, Value>) {
        if let Some(backup) = without_backup_time(&self.backup) {
            top.insert("backup".into(), backup);
        }
    }

    fn lives_in(mount: &Mount) -> bool {
        mount.is_engine("transit")
    }

    /// Its keys, listed (none is backed up).
    async fn found(source: &Source<'_>, scope: &Scope<'_>, found: &mut Inventory) -> Result<()> {
        let Some((ns, mount)) = scope.mount_where(Self::lives_in) else {
            return Ok(());
        };
        let at = &mount.path;
        for name in source.client.list(&format!("{at}keys")).await? {
            found.found.push(Held {
                kind: Kind::TransitKey,
                path: format!("{ns}{at}keys/{name}"),
                what: "key".into(),
                name,
            });
        }
        Ok(())
    }

    async fn export(source: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Some((ns, mount)) = scope.mount_where(Self::lives_in) else {
            return Ok(());
        };
        let (keys, not_copied) = export(source.client, ns, &mount.path).await?;
        for k in keys {
            sink.add(Object::TransitKey(k))?;
        }
        for (path, reason) in not_copied {
            sink.not_copied(Kind::TransitKey, path, reason);
        }
        Ok(())
    }
}

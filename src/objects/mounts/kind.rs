//! Mounts as an object kind: where they sit in a snapshot and on a target, and the export's walk
//! of both mount tables, which also tells the other kinds which mounts to look into.

use super::{KvConfig, Mount, diff, is_builtin, not_copied, read_kv_config};
use crate::error::Result;
use crate::model::{Action, Decision};
use crate::objects::kind::{
    ObjectKind, Parent, Place, Scope, Sink, Source, Stage, check_dir_path, check_secret_mount, one,
};
use crate::objects::registry::{Kind, Object};
use crate::objects::target::Target;
use crate::vault::{MountEntry, Table, mount_table};

impl ObjectKind for Mount {
    const FOLDERS: &'static [&'static str] = &["mounts", "auth"];
    const STAGE: Stage = Stage::Containers;
    /// The target's row of the mount table, and its KV-v2 engine config when both have one.
    type Current = (Option<MountEntry>, Option<KvConfig>);
    type Ops = ();

    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn path(&self) -> String {
        match self.table {
            Table::Auth => format!("{}auth/{}", self.namespace, self.path),
            Table::Secret => format!("{}{}", self.namespace, self.path),
        }
    }

    fn place(&mut self) -> Place<'_> {
        Place::Mount(&mut self.namespace, self.table, &mut self.path)
    }

    fn entry(&self) -> String {
        match self.table {
            Table::Auth => format!("auth/{}", one(&self.path)),
            Table::Secret => format!("mounts/{}", one(&self.path)),
        }
    }

    fn validate(&self) -> std::result::Result<(), String> {
        match self.table {
            Table::Secret => check_secret_mount(&self.path),
            Table::Auth if self.path == "token/" => Err("the token auth method is built in".into()),
            Table::Auth => check_dir_path("auth mount path", &self.path),
        }
    }

    fn as_parent(&self) -> Option<Parent> {
        Some(Parent::Mount(
            self.namespace.clone(),
            self.table,
            self.path.clone(),
        ))
    }

    fn delete_target(&self) -> Option<(String, String)> {
        let at = format!("{}/{}", self.table.api(), self.path.trim_end_matches('/'));
        Some((self.namespace.clone(), at))
    }

    fn is_container() -> bool {
        true
    }

    async fn current(&self, target: &Target) -> Result<Self::Current> {
        let cur = target
            .mount(&self.namespace, self.table, &self.path)
            .cloned();
        let kv = match (&cur, &self.kv_config) {
            (Some(_), Some(_)) => {
                read_kv_config(&target.client(&self.namespace), &self.path).await?
            }
            _ => None,
        };
        Ok((cur, kv))
    }

    fn diff(&self, _: &Target, (cur, kv): &Self::Current) -> Decision<()> {
        Decision::from_pair(diff(self, cur.as_ref(), kv.as_ref()))
    }

    async fn apply(&self, target: &Target, action: Action, _: &()) -> Result<()> {
        super::apply(&target.client(&self.namespace), self, action).await
    }

    async fn export(_: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Scope::Namespace { mounts, .. } = scope else {
            return Ok(());
        };
        for m in mounts.iter().filter(|m| !is_builtin(m.table, &m.path)) {
            sink.add(Object::Mount(m.clone()))?;
        }
        Ok(())
    }
}

/// The mounts of the source's namespace `ns` an export carries, from both tables, with their
/// KV-v2 engine config: built-in ones included (they hold token roles), the importer's own state
/// mount, excluded ones and local ones left out (local ones reported as not copied, as are
/// settings that cannot be copied, and the contents of an engine no kind lives in).
pub async fn listed(source: &Source<'_>, ns: &str, sink: &mut dyn Sink) -> Result<Vec<Mount>> {
    let client = source.client;
    let mut out = Vec::new();
    for table in [Table::Secret, Table::Auth] {
        for entry in mount_table(client, table).await?.values() {
            let shown = match table {
                Table::Secret => format!("{ns}{}", entry.path),
                Table::Auth => format!("{ns}auth/{}", entry.path),
            };
            let builtin = is_builtin(table, &entry.path);
            if ns.is_empty() && table == Table::Secret && entry.path == source.state_mount {
                continue;
            }
            if entry.local && !builtin {
                sink.not_copied(Kind::Mount, shown, "local mount: never replicated".into());
                continue;
            }
            if !(source.filter)(&shown) {
                tracing::debug!(mount = %shown, "excluded by REPLICATOR_INCLUDE/EXCLUDE");
                continue;
            }
            for (field, reason) in not_copied(entry) {
                sink.not_copied(Kind::Mount, format!("{shown} {field}"), reason.into());
            }
            let mut mount = Mount::from_entry(ns, table, entry);
            if !builtin && !Kind::ALL.iter().any(|k| k.lives_in(&mount)) {
                let why = format!(
                    "mount settings copied; the contents of `{}` engines are not",
                    mount.kind
                );
                sink.not_copied(Kind::Mount, format!("{ns}{}", mount.path), why);
            }
            if !builtin && mount.kv_version() == Some(2) {
                mount.kv_config = read_kv_config(client, &mount.path).await?;
            }
            out.push(mount);
        }
    }
    Ok(out)
}

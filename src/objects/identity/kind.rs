//! Entities and groups as object kinds: where they sit in a snapshot and on a target, and their
//! export, which leaves out aliases on auth mounts the snapshot does not carry (and says so), and
//! their aliases re-pointed at the auth mounts `--map` moves.

use super::{
    Alias, Entity, EntityPlan, Group, apply_entity, apply_group, current_entity, current_group,
    diff_entity, diff_group,
};
use crate::error::Result;
use crate::model::{Action, Decision};
use crate::objects::kind::{ObjectKind, Remap, Scope, Sink, Source, Stage, check_name, segment};
use crate::objects::mounts::Mount;
use crate::objects::registry::{Kind, Object};
use crate::objects::target::Target;
use crate::vault::Table;

/// The auth mount paths (`auth/userpass/`) an export carries in this namespace.
fn carried(mounts: &[Mount]) -> Vec<String> {
    mounts
        .iter()
        .filter(|m| m.table == Table::Auth)
        .map(|m| format!("auth/{}", m.path))
        .collect()
}

const NOT_CARRIED: &str = "its auth mount is local or excluded";

/// The `ObjectKind` methods of an identity object Vault finds by name at
/// `identity/<what>/name/<name>` (`what` is `entity` or `group`): its namespace, its shown path
/// (namespace and name), what a prune deletes, and how a path the inventory found is shown.
macro_rules! by_name {
    ($what:literal) => {
        fn namespace(&self) -> &str {
            &self.namespace
        }

        fn path(&self) -> String {
            format!("{}{}", self.namespace, self.name)
        }

        fn delete_target(&self) -> Option<(String, String)> {
            let at = format!(concat!("identity/", $what, "/name/{}"), self.name);
            Some((self.namespace.clone(), at))
        }

        fn place(&mut self) -> $crate::objects::kind::Place<'_> {
            $crate::objects::kind::Place::InNamespace(&mut self.namespace)
        }

        fn shown_path(ns: &str, path: &str) -> String {
            let name = path.strip_prefix(ns).unwrap_or(path);
            format!(concat!("{}identity/", $what, "/name/{}"), ns, name)
        }
    };
}

/// Re-points an alias at its auth mount's new path, for an identity object now in namespace `ns`
/// that was in `was`: the importer then finds that mount's accessor on the target. An alias whose
/// mount moves out of the object's namespace cannot follow it.
fn remap_alias(
    alias: &mut Alias,
    (ns, was): (&str, &str),
    map: &dyn Remap,
) -> std::result::Result<Option<String>, String> {
    let full = format!("{was}{}", alias.mount_path);
    let Some(moved) = map.path(&full)? else {
        return Ok(None);
    };
    let Some(path) = moved.strip_prefix(ns).filter(|p| p.starts_with("auth/")) else {
        return Err(format!(
            "alias `{}` is on {full}, which the map moves to {moved}, outside {}",
            alias.name,
            match ns {
                "" => "the root namespace".to_string(),
                ns => format!("namespace {ns}"),
            }
        ));
    };
    if path == alias.mount_path {
        return Ok(None);
    }
    let told = format!("alias {}: mount {} → {path}", alias.name, alias.mount_path);
    alias.mount_path = path.to_string();
    Ok(Some(told))
}

impl ObjectKind for Entity {
    const FOLDERS: &'static [&'static str] = &["identity/entities"];
    const STAGE: Stage = Stage::Entities;
    type Current = Option<Entity>;
    /// The writes it needs; `None` (never planned) writes everything.
    type Ops = Option<EntityPlan>;

    by_name!("entity");

    fn remap(&mut self, map: &dyn Remap, was: &str) -> std::result::Result<Vec<String>, String> {
        let mut told = Vec::new();
        let aliases = std::mem::take(&mut self.aliases);
        for mut alias in aliases {
            told.extend(remap_alias(&mut alias, (&self.namespace, was), map)?);
            self.aliases.insert(alias);
        }
        Ok(told)
    }

    fn entry(&self) -> String {
        format!("identity/entities/{}", segment(&self.name))
    }

    fn validate(&self) -> std::result::Result<(), String> {
        check_name("entity", &self.name)
    }

    async fn current(&self, target: &Target) -> Result<Option<Entity>> {
        let c = target.client(&self.namespace);
        current_entity(&c, &self.namespace, &self.name).await
    }

    fn diff(&self, target: &Target, cur: &Option<Entity>) -> Decision<Option<EntityPlan>> {
        let fate = |path: &str| target.alias_mount(&self.namespace, path);
        let (action, reason, plan) = diff_entity(self, cur.as_ref(), fate);
        Decision::with_ops(action, reason, Some(plan))
    }

    fn under_new_parent(&self, _: &Target) -> Decision<Option<EntityPlan>> {
        Decision::with_ops(Action::Create, None, Some(EntityPlan::everything(self)))
    }

    async fn apply(&self, target: &Target, _: Action, ops: &Option<EntityPlan>) -> Result<()> {
        let c = target.client(&self.namespace);
        match ops {
            Some(plan) => apply_entity(&c, self, plan).await,
            None => apply_entity(&c, self, &EntityPlan::everything(self)).await,
        }
    }

    fn refused_parts(ops: &Option<EntityPlan>) -> Vec<String> {
        ops.as_ref().map(|p| p.refused.clone()).unwrap_or_default()
    }

    async fn export(source: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Scope::Namespace { ns, mounts } = scope else {
            return Ok(());
        };
        let carried = carried(mounts);
        for name in source.client.list("identity/entity/name").await? {
            let Some(mut e) = current_entity(source.client, ns, &name).await? else {
                continue;
            };
            let (kept, dropped): (Vec<_>, Vec<_>) = std::mem::take(&mut e.aliases)
                .into_iter()
                .partition(|a| carried.contains(&a.mount_path));
            for a in dropped {
                let path = format!("{ns}{}/alias/{}{}", e.name, a.mount_path, a.name);
                sink.not_copied(Kind::Entity, path, NOT_CARRIED.into());
            }
            e.aliases = kept.into_iter().collect();
            sink.add(Object::Entity(e))?;
        }
        Ok(())
    }
}

impl ObjectKind for Group {
    const FOLDERS: &'static [&'static str] = &["identity/groups"];
    const STAGE: Stage = Stage::Groups;
    type Current = Option<Group>;
    /// Whether the target's alias, gone from the source, is removed.
    type Ops = bool;

    by_name!("group");

    fn remap(&mut self, map: &dyn Remap, was: &str) -> std::result::Result<Vec<String>, String> {
        match &mut self.alias {
            Some(alias) => Ok(remap_alias(alias, (&self.namespace, was), map)?
                .into_iter()
                .collect()),
            None => Ok(Vec::new()),
        }
    }

    fn entry(&self) -> String {
        format!("identity/groups/{}", segment(&self.name))
    }

    fn validate(&self) -> std::result::Result<(), String> {
        check_name("group", &self.name)?;
        if !matches!(self.group_type.as_str(), "internal" | "external") {
            return Err(format!("group type `{}` is not allowed", self.group_type));
        }
        Ok(())
    }

    async fn current(&self, target: &Target) -> Result<Option<Group>> {
        let c = target.client(&self.namespace);
        current_group(&c, &self.namespace, &self.name).await
    }

    fn diff(&self, target: &Target, cur: &Option<Group>) -> Decision<bool> {
        let fate = |path: &str| target.alias_mount(&self.namespace, path);
        let (action, reason, remove) = diff_group(self, cur.as_ref(), fate);
        Decision::with_ops(action, reason, remove)
    }

    async fn apply(&self, target: &Target, _: Action, remove_alias: &bool) -> Result<()> {
        apply_group(&target.client(&self.namespace), self, *remove_alias).await
    }

    async fn export(source: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Scope::Namespace { ns, mounts } = scope else {
            return Ok(());
        };
        let carried = carried(mounts);
        for name in source.client.list("identity/group/name").await? {
            let Some(mut g) = current_group(source.client, ns, &name).await? else {
                continue;
            };
            if g.alias
                .as_ref()
                .is_some_and(|a| !carried.contains(&a.mount_path))
            {
                sink.not_copied(
                    Kind::Group,
                    format!("{ns}{}/alias", g.name),
                    NOT_CARRIED.into(),
                );
                g.alias = None;
            }
            sink.add(Object::Group(g))?;
        }
        Ok(())
    }

    /// Member groups before the groups that hold them, per namespace.
    fn apply_order(groups: &[&Self]) -> Vec<usize> {
        super::member_order_of(groups)
    }
}

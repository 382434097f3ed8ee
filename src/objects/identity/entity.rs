//! Planning and writing one entity with its aliases. On an auth mount the snapshot carries (and
//! the target has with the same type, or is creating), the entity's aliases follow the snapshot:
//! missing ones are added, changed ones rewritten, and ones the source no longer has deleted.
//! Aliases on the target's own auth mounts (local ones, or ones not in the snapshot) are kept,
//! and an alias is never attached to a target mount of another type: it is reported instead.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Alias, Entity, accessor, alias_of, read_named};
use crate::error::{Error, Result};
use crate::model::Action;
use crate::vault::VaultClient;

/// What an auth mount path means for the aliases on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountFate {
    /// The snapshot carries the mount and the target has it with the same type (or is creating
    /// it): the aliases there follow the snapshot.
    Follows,
    /// The snapshot carries the mount, but the target's mount there is not for it (local, or of
    /// another type, said by the reason): nothing is attached there, nothing removed.
    Foreign(String),
    /// The snapshot does not carry this mount. `Some(type)` when the target has it.
    Unreplicated(Option<String>),
}

/// The writes one entity needs, decided when it is planned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntityPlan {
    /// The entity's own fields (policies, metadata, disabled) are written.
    pub fields: bool,
    /// Aliases to create, or to rewrite with the snapshot's metadata.
    pub write: Vec<Alias>,
    /// Aliases on the target to delete, by (mount path, name).
    pub remove: Vec<(String, String)>,
    /// Aliases not attached, each with its reason.
    pub refused: Vec<String>,
}

impl EntityPlan {
    /// The plan for an entity found nowhere on the target: everything is written.
    pub fn everything(desired: &Entity) -> Self {
        EntityPlan {
            fields: true,
            write: desired.aliases.iter().cloned().collect(),
            ..EntityPlan::default()
        }
    }
}

fn key(a: &Alias) -> (&str, &str) {
    (&a.mount_path, &a.name)
}

/// Whether the snapshot's alias may be attached on a mount of that fate; the reason when not.
fn attachable(alias: &Alias, fate: &MountFate) -> std::result::Result<(), String> {
    let why = match fate {
        MountFate::Follows => return Ok(()),
        MountFate::Foreign(why) => why.clone(),
        MountFate::Unreplicated(None) => {
            format!(
                "no auth method is mounted at {} on the target",
                alias.mount_path
            )
        }
        MountFate::Unreplicated(Some(t))
            if alias.mount_type.is_empty() || *t == alias.mount_type =>
        {
            return Ok(());
        }
        MountFate::Unreplicated(Some(t)) => format!(
            "the target's {} is a `{t}` method, the alias's is `{}`",
            alias.mount_path, alias.mount_type
        ),
    };
    Err(format!(
        "alias {} on {} not attached: {why}",
        alias.name, alias.mount_path
    ))
}

/// Compares the snapshot's entity with the target's; `fate` says what each auth mount path is.
pub fn diff_entity(
    desired: &Entity,
    current: Option<&Entity>,
    fate: impl Fn(&str) -> MountFate,
) -> (Action, Option<String>, EntityPlan) {
    let mut plan = EntityPlan::default();
    let have: BTreeMap<(&str, &str), &Alias> = current
        .map(|c| c.aliases.iter().map(|a| (key(a), a)).collect())
        .unwrap_or_default();
    for alias in &desired.aliases {
        if let Err(why) = attachable(alias, &fate(&alias.mount_path)) {
            plan.refused.push(why);
            continue;
        }
        let same = have
            .get(&key(alias))
            .is_some_and(|a| a.custom_metadata == alias.custom_metadata);
        if !same {
            plan.write.push(alias.clone());
        }
    }
    let want: BTreeMap<(&str, &str), &Alias> =
        desired.aliases.iter().map(|a| (key(a), a)).collect();
    for (k, _) in have.iter().filter(|(k, _)| !want.contains_key(*k)) {
        if fate(k.0) == MountFate::Follows {
            plan.remove.push((k.0.to_string(), k.1.to_string()));
        }
    }
    let Some(cur) = current else {
        plan.fields = true;
        return (Action::Create, refused_note(&plan), plan);
    };
    plan.fields = !same_entity(desired, cur);
    let mut what = Vec::new();
    if plan.fields {
        what.push("policies, metadata or disabled differ".to_string());
    }
    if !plan.write.is_empty() {
        what.push(format!("{} aliases to add or update", plan.write.len()));
    }
    if !plan.remove.is_empty() {
        what.push(format!(
            "{} aliases gone from the source",
            plan.remove.len()
        ));
    }
    let action = match (what.is_empty(), plan.refused.is_empty()) {
        (true, true) => return (Action::Unchanged, None, plan),
        // Nothing to write, only aliases that cannot be attached: reported as refused.
        (true, false) => return (Action::Refused, refused_note(&plan), plan),
        (false, _) => Action::Update,
    };
    what.extend(plan.refused.iter().cloned());
    (action, Some(what.join("; ")), plan)
}

fn refused_note(plan: &EntityPlan) -> Option<String> {
    (!plan.refused.is_empty()).then(|| plan.refused.join("; "))
}

fn same_entity(a: &Entity, b: &Entity) -> bool {
    a.policies == b.policies && a.metadata == b.metadata && a.disabled == b.disabled
}

/// Writes the entity (when its fields differ), then its aliases as planned.
pub async fn apply_entity(client: &VaultClient, desired: &Entity, plan: &EntityPlan) -> Result<()> {
    if plan.fields {
        let body = json!({
            "policies": desired.policies,
            "metadata": desired.metadata,
            "disabled": desired.disabled,
        });
        client
            .write(&format!("identity/entity/name/{}", desired.name), &body)
            .await?;
    }
    if plan.write.is_empty() && plan.remove.is_empty() {
        return Ok(());
    }
    // One read gives the ID to attach aliases to and the IDs of the aliases to remove.
    let written = read_named(client, "entity", &desired.name)
        .await?
        .ok_or_else(|| Error::Object {
            kind: "identity",
            path: format!("entity/{}", desired.name),
            reason: "not found on the target".into(),
        })?;
    let id = written
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    for alias in &plan.write {
        let body = json!({
            "name": alias.name,
            "canonical_id": id,
            "mount_accessor": accessor(client, alias).await?,
            "custom_metadata": alias.custom_metadata,
        });
        client.write("identity/entity-alias", &body).await?;
    }
    let existing = written.get("aliases").and_then(Value::as_array);
    for a in existing.into_iter().flatten() {
        let (Some(alias), Some(alias_id)) = (alias_of(a), a.get("id").and_then(Value::as_str))
        else {
            continue;
        };
        if plan
            .remove
            .iter()
            .any(|(m, n)| *m == alias.mount_path && *n == alias.name)
        {
            client
                .delete(&format!("identity/entity-alias/id/{alias_id}"))
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    fn alias(mount: &str, name: &str) -> Alias {
        Alias {
            name: name.into(),
            mount_path: format!("auth/{mount}/"),
            mount_type: "userpass".into(),
            custom_metadata: BTreeMap::new(),
        }
    }

    fn entity(aliases: &[Alias]) -> Entity {
        Entity {
            namespace: String::new(),
            name: "e".into(),
            policies: BTreeSet::new(),
            metadata: BTreeMap::new(),
            disabled: false,
            aliases: aliases.iter().cloned().collect(),
        }
    }

    /// `up` and `gone` are replicated, `drlocal` is the target's local mount, `dronly` is not
    /// in the snapshot, `other` is replicated but of another type on the target.
    fn fate(path: &str) -> MountFate {
        match path {
            "auth/up/" | "auth/gone/" => MountFate::Follows,
            "auth/drlocal/" => MountFate::Foreign("the target's auth/drlocal/ is local".into()),
            "auth/other/" => MountFate::Foreign("the target's auth/other/ is `approle`".into()),
            _ => MountFate::Unreplicated(Some("userpass".into())),
        }
    }

    #[test]
    fn aliases_follow_the_snapshot_on_replicated_mounts_only() {
        let desired = entity(&[alias("up", "a")]);
        let cur = entity(&[
            alias("up", "a"),
            alias("gone", "old"),
            alias("drlocal", "l"),
            alias("dronly", "d"),
        ]);
        let (action, _, plan) = diff_entity(&desired, Some(&cur), fate);
        assert_eq!(action, Action::Update);
        assert_eq!(plan.remove, [("auth/gone/".to_string(), "old".to_string())]);
        assert!(plan.write.is_empty() && !plan.fields);
        // Converged: the target's own aliases do not force an update.
        let cur = entity(&[
            alias("up", "a"),
            alias("drlocal", "l"),
            alias("dronly", "d"),
        ]);
        assert_eq!(diff_entity(&desired, Some(&cur), fate).0, Action::Unchanged);
    }

    #[test]
    fn changed_metadata_rewrites_the_alias() {
        let mut changed = alias("up", "a");
        changed.custom_metadata.insert("k".into(), "v2".into());
        let (action, _, plan) = diff_entity(
            &entity(&[changed.clone()]),
            Some(&entity(&[alias("up", "a")])),
            fate,
        );
        assert_eq!(action, Action::Update);
        assert_eq!(plan.write, [changed]);
    }

    #[test]
    fn an_alias_on_a_mount_of_another_type_is_refused_not_attached() {
        let desired = entity(&[alias("other", "b")]);
        let (action, reason, plan) = diff_entity(&desired, Some(&entity(&[])), fate);
        assert_eq!(action, Action::Refused);
        assert!(
            reason
                .unwrap_or_default()
                .contains("alias b on auth/other/ not attached")
        );
        assert!(plan.write.is_empty());
        // A new entity is still created; the alias is reported.
        let (action, _, plan) = diff_entity(&desired, None, fate);
        assert_eq!(action, Action::Create);
        assert_eq!(plan.refused.len(), 1);
        let mut typed = alias("dronly", "c");
        typed.mount_type = "ldap".into();
        let (_, _, plan) = diff_entity(&entity(&[typed]), None, fate);
        assert!(
            plan.refused[0].contains("`userpass` method"),
            "{:?}",
            plan.refused
        );
    }
}

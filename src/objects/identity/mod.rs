//! Identity: entities with their aliases, and groups (internal with members, external with their
//! alias). Everything is matched by name, never by ID: IDs and mount accessors differ between
//! clusters, so an alias is re-pointed at the target's accessor for the same auth mount path.
//! How an entity's aliases are planned and written is in `entity`.

mod entity;
mod kind;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use entity::{EntityPlan, MountFate, apply_entity, diff_entity};

use crate::error::{Error, Result};
use crate::model::Action;
use crate::objects::engine_item::read_str;
use crate::vault::{Table, VaultClient, mount_table};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Alias {
    pub name: String,
    /// The auth mount the alias belongs to, as Vault shows it: `auth/userpass/`.
    pub mount_path: String,
    /// That mount's type (`userpass`); empty in snapshots made before it was recorded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mount_type: String,
    #[serde(default)]
    pub custom_metadata: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
    #[serde(default)]
    pub policies: BTreeSet<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub aliases: BTreeSet<Alias>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
    #[serde(rename = "type")]
    pub group_type: String,
    #[serde(default)]
    pub policies: BTreeSet<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Member entities, by name.
    #[serde(default)]
    pub member_entities: BTreeSet<String>,
    /// Member groups, by name.
    #[serde(default)]
    pub member_groups: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<Alias>,
}

fn strings<T: FromIterator<String>>(v: Option<&Value>) -> T {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_else(|| std::iter::empty().collect())
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn alias_of(a: &Value) -> Option<Alias> {
    let name = a.get("name")?.as_str()?.to_string();
    if name.is_empty() || a.get("local").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    Some(Alias {
        name,
        mount_path: a.get("mount_path")?.as_str()?.to_string(),
        mount_type: a
            .get("mount_type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        custom_metadata: string_map(a.get("custom_metadata")),
    })
}

async fn read_named(client: &VaultClient, what: &str, name: &str) -> Result<Option<Value>> {
    Ok(client
        .read(&format!("identity/{what}/name/{name}"))
        .await?
        .and_then(|mut v| v.get_mut("data").map(Value::take)))
}

async fn name_of(client: &VaultClient, what: &str, id: &str) -> Result<Option<String>> {
    read_str(client, &format!("identity/{what}/id/{id}"), "name").await
}

/// An entity as Vault has it, by name.
pub async fn current_entity(
    client: &VaultClient,
    namespace: &str,
    name: &str,
) -> Result<Option<Entity>> {
    let Some(d) = read_named(client, "entity", name).await? else {
        return Ok(None);
    };
    Ok(Some(Entity {
        namespace: namespace.to_string(),
        name: name.to_string(),
        policies: strings(d.get("policies")),
        metadata: string_map(d.get("metadata")),
        disabled: d.get("disabled").and_then(Value::as_bool).unwrap_or(false),
        aliases: d
            .get("aliases")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(alias_of).collect())
            .unwrap_or_default(),
    }))
}

/// A group as Vault has it, by name, with member IDs turned back into names.
pub async fn current_group(
    client: &VaultClient,
    namespace: &str,
    name: &str,
) -> Result<Option<Group>> {
    let Some(d) = read_named(client, "group", name).await? else {
        return Ok(None);
    };
    let mut member_entities = BTreeSet::new();
    for id in strings::<Vec<String>>(d.get("member_entity_ids")) {
        member_entities.extend(name_of(client, "entity", &id).await?);
    }
    let mut member_groups = BTreeSet::new();
    for id in strings::<Vec<String>>(d.get("member_group_ids")) {
        member_groups.extend(name_of(client, "group", &id).await?);
    }
    Ok(Some(Group {
        namespace: namespace.to_string(),
        name: name.to_string(),
        group_type: d
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("internal")
            .to_string(),
        policies: strings(d.get("policies")),
        metadata: string_map(d.get("metadata")),
        member_entities,
        member_groups,
        alias: d.get("alias").and_then(alias_of),
    }))
}

/// Compares the snapshot's group with the target's. The target's alias is removed when the
/// snapshot's group has none and the alias is on an auth mount the snapshot carries (the bool);
/// one on the target's own mount is left as it is.
pub fn diff_group(
    desired: &Group,
    current: Option<&Group>,
    fate: impl Fn(&str) -> MountFate,
) -> (Action, Option<String>, bool) {
    let Some(cur) = current else {
        return (Action::Create, None, false);
    };
    let mut cur = cur.clone();
    match (cur.alias.as_mut(), desired.alias.as_ref()) {
        // Older snapshots do not record the alias's mount type.
        (Some(c), Some(d)) if d.mount_type.is_empty() => c.mount_type.clear(),
        (Some(c), None) if fate(&c.mount_path) == MountFate::Follows => {
            let why = "its alias is gone from the source".to_string();
            return (Action::Update, Some(why), true);
        }
        (Some(_), None) => cur.alias = None,
        _ => {}
    }
    match cur == *desired {
        true => (Action::Unchanged, None, false),
        false => (Action::Update, Some("group differs".into()), false),
    }
}

/// The target's accessor for the alias's auth mount path, which must be of the alias's type
/// (when the snapshot recorded it): an alias is never attached to another kind of method.
async fn accessor(client: &VaultClient, alias: &Alias) -> Result<String> {
    let table = mount_table(client, Table::Auth).await?;
    let path = alias
        .mount_path
        .strip_prefix("auth/")
        .unwrap_or(&alias.mount_path);
    let refuse = |reason: String| Error::Object {
        kind: "identity alias",
        path: format!("{}{}", alias.mount_path, alias.name),
        reason,
    };
    match table.get(path) {
        None => Err(refuse(
            "no auth method is mounted there on the target".into(),
        )),
        Some(m) if !alias.mount_type.is_empty() && m.kind != alias.mount_type => {
            Err(refuse(format!(
                "not attached: the target's {} is a `{}` method, the alias's is `{}`",
                alias.mount_path, m.kind, alias.mount_type
            )))
        }
        Some(m) => Ok(m.accessor.clone()),
    }
}

async fn id_of(client: &VaultClient, what: &str, name: &str) -> Result<String> {
    read_named(client, what, name)
        .await?
        .and_then(|d| d.get("id").and_then(Value::as_str).map(String::from))
        .ok_or_else(|| Error::Object {
            kind: "identity",
            path: format!("{what}/{name}"),
            reason: "not found on the target".into(),
        })
}

/// Writes the group, attaches its alias when missing, or removes the target's alias as planned.
pub async fn apply_group(client: &VaultClient, desired: &Group, remove_alias: bool) -> Result<()> {
    let mut body = json!({
        "type": desired.group_type,
        "policies": desired.policies,
        "metadata": desired.metadata,
    });
    if desired.group_type != "external" {
        let mut entity_ids = Vec::new();
        for name in &desired.member_entities {
            entity_ids.push(id_of(client, "entity", name).await?);
        }
        let mut group_ids = Vec::new();
        for name in &desired.member_groups {
            group_ids.push(id_of(client, "group", name).await?);
        }
        body["member_entity_ids"] = json!(entity_ids);
        body["member_group_ids"] = json!(group_ids);
    }
    client
        .write(&format!("identity/group/name/{}", desired.name), &body)
        .await?;
    if let Some(alias) = &desired.alias {
        let current = current_group(client, &desired.namespace, &desired.name).await?;
        let attached = current.and_then(|g| g.alias).is_some_and(|a| {
            a.name == alias.name
                && a.mount_path == alias.mount_path
                && a.custom_metadata == alias.custom_metadata
        });
        if !attached {
            let body = json!({
                "name": alias.name,
                "mount_accessor": accessor(client, alias).await?,
                "canonical_id": id_of(client, "group", &desired.name).await?,
            });
            client.write("identity/group-alias", &body).await?;
        }
    }
    if remove_alias && desired.alias.is_none() {
        let written = read_named(client, "group", &desired.name).await?;
        let id = written
            .as_ref()
            .and_then(|d| d.pointer("/alias/id").and_then(Value::as_str));
        if let Some(id) = id {
            client
                .delete(&format!("identity/group-alias/id/{id}"))
                .await?;
        }
    }
    Ok(())
}

/// `member_order` per namespace (namespaces in order), as indices into `groups`.
pub fn member_order_of(groups: &[&Group]) -> Vec<usize> {
    let mut by_ns: BTreeMap<&str, Vec<Group>> = BTreeMap::new();
    for g in groups {
        by_ns.entry(&g.namespace).or_default().push((*g).clone());
    }
    let at: HashMap<(&str, &str), usize> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| ((g.namespace.as_str(), g.name.as_str()), i))
        .collect();
    by_ns
        .into_values()
        .flat_map(member_order)
        .filter_map(|g| at.get(&(g.namespace.as_str(), g.name.as_str())).copied())
        .collect()
}

/// Groups in an order where every member group comes before the groups that contain it.
pub fn member_order(groups: Vec<Group>) -> Vec<Group> {
    let mut by_name: HashMap<String, Group> =
        groups.into_iter().map(|g| (g.name.clone(), g)).collect();
    let mut names: Vec<String> = by_name.keys().cloned().collect();
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    let mut stack: Vec<(String, bool)> = names.into_iter().rev().map(|n| (n, false)).collect();
    while let Some((name, expanded)) = stack.pop() {
        if expanded {
            out.extend(by_name.remove(&name));
            continue;
        }
        let Some(g) = by_name.get(&name) else {
            continue;
        };
        stack.push((name, true));
        for m in g.member_groups.iter().rev() {
            if by_name.contains_key(m) {
                stack.push((m.clone(), false));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, members: &[&str]) -> Group {
        Group {
            namespace: String::new(),
            name: name.into(),
            group_type: "internal".into(),
            policies: BTreeSet::new(),
            metadata: BTreeMap::new(),
            member_entities: BTreeSet::new(),
            member_groups: members.iter().map(|s| s.to_string()).collect(),
            alias: None,
        }
    }

    #[test]
    fn member_groups_come_before_their_parents() {
        let order: Vec<String> = member_order(vec![
            group("a", &["c"]),
            group("b", &[]),
            group("c", &["b"]),
        ])
        .into_iter()
        .map(|g| g.name)
        .collect();
        assert_eq!(order, ["b", "c", "a"]);
    }

    #[test]
    fn a_group_alias_gone_from_the_source_goes_only_on_a_replicated_mount() {
        let desired = group("ext", &[]);
        let mut cur = desired.clone();
        cur.alias = Some(Alias {
            name: "admins".into(),
            mount_path: "auth/ldap/".into(),
            mount_type: "ldap".into(),
            custom_metadata: BTreeMap::new(),
        });
        let follows = |_: &str| MountFate::Follows;
        let (action, _, remove) = diff_group(&desired, Some(&cur), follows);
        assert_eq!((action, remove), (Action::Update, true));
        let own = |_: &str| MountFate::Unreplicated(Some("ldap".into()));
        let (action, _, remove) = diff_group(&desired, Some(&cur), own);
        assert_eq!((action, remove), (Action::Unchanged, false));
    }
}

//! What a mount or namespace holds on the target, before a prune may disable or delete it: every
//! KV key (all folders, recursively), transit key, auth item, and for a namespace its child
//! namespaces, mounts, policies, entities and groups. Each must be an object of the importer's
//! that left the snapshot too; anything else keeps the container in place, with the reason. Engine
//! types whose contents the tool cannot list are never proven empty, so never disabled.

use std::collections::HashSet;

use crate::error::Result;
use crate::objects::{Kind, Target, auth, mounts};
use crate::state::Record;
use crate::vault::{Table, VaultClient, mount_table};

/// An object inside a container, as the records name it: (kind, namespace, path).
pub type Key = (Kind, String, String);

pub fn key(r: &Record) -> Key {
    (r.kind, r.ns().to_string(), r.path().to_string())
}

/// What was found inside one container.
#[derive(Debug, Default)]
pub struct Inside {
    /// Objects of the importer's that left the snapshot (the deletion takes them along).
    pub gone: Vec<Key>,
    /// Objects the importer did not write, or that the snapshot still carries: (what, name).
    pub foreign: Vec<(&'static str, String)>,
    /// Why the contents could not be listed at all.
    pub unknown: Option<String>,
}

impl Inside {
    fn add(&mut self, gone: &HashSet<Key>, key: Key, what: &'static str, name: String) {
        if gone.contains(&key) {
            self.gone.push(key);
        } else {
            self.foreign.push((what, name));
        }
    }
}

/// The secret or auth mount a mount record deletes: (table, path with its slash).
pub fn mount_of(r: &Record) -> Option<(Table, String)> {
    let delete = r.delete()?;
    let (table, path) = match delete.split_once("sys/mounts/") {
        Some(("", p)) => (Table::Secret, p),
        _ => (Table::Auth, delete.strip_prefix("sys/auth/")?),
    };
    Some((table, format!("{path}/")))
}

/// Lists what a mount holds. `gone` holds the keys of every record that left the snapshot.
pub async fn of_mount(target: &Target, r: &Record, gone: &HashSet<Key>) -> Result<Inside> {
    let mut inside = Inside::default();
    let Some((table, path)) = mount_of(r) else {
        inside.unknown = Some("its record does not say where it is".into());
        return Ok(inside);
    };
    let ns = r.ns();
    let c = target.client(ns);
    let Some(entry) = mount_table(&c, table).await?.remove(&path) else {
        return Ok(inside); // already gone
    };
    if entry.local {
        inside.unknown =
            Some("it is a local mount now, and a local mount is never modified".into());
        return Ok(inside);
    }
    let prefix = match table {
        Table::Secret => format!("{ns}{path}"),
        Table::Auth => format!("{ns}auth/{path}"),
    };
    let k = |kind, p: String| (kind, ns.to_string(), p);
    match (table, mounts::kv_version(&entry.kind, &entry.options)) {
        (Table::Secret, Some(version)) => {
            let listing = if version == 2 {
                format!("{path}metadata/")
            } else {
                path.clone()
            };
            for name in list_all(&c, &listing).await? {
                let key = k(Kind::KvSecret, format!("{prefix}{name}"));
                inside.add(gone, key, "key", name);
            }
        }
        (Table::Secret, None) if entry.kind == "transit" => {
            for name in c.list(&format!("{path}keys")).await? {
                let key = k(Kind::TransitKey, format!("{prefix}keys/{name}"));
                inside.add(gone, key, "key", name);
            }
        }
        (Table::Auth, _) => match auth::layout(&entry.kind) {
            Some((singletons, collections)) => {
                for item in singletons {
                    if auth::current(&c, &path, &entry.kind, item).await?.is_some() {
                        let key = k(Kind::AuthItem, format!("{prefix}{item}"));
                        inside.add(gone, key, "item", item.to_string());
                    }
                }
                for coll in collections {
                    for name in c.list(&format!("auth/{path}{coll}")).await? {
                        let item = format!("{coll}/{name}");
                        let key = k(Kind::AuthItem, format!("{prefix}{item}"));
                        inside.add(gone, key, "item", item);
                    }
                }
            }
            None => inside.unknown = Some(cannot_list(&entry.kind)),
        },
        (Table::Secret, None) => inside.unknown = Some(cannot_list(&entry.kind)),
    }
    Ok(inside)
}

fn cannot_list(kind: &str) -> String {
    format!(
        "the importer cannot list what a `{kind}` mount holds, so it cannot prove it empty; \
         disable it by hand if it is meant to go"
    )
}

/// Every key under a KV folder, in all its sub-folders, relative to it.
async fn list_all(c: &VaultClient, folder: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut todo = vec![String::new()];
    while let Some(sub) = todo.pop() {
        for name in c.list(&format!("{folder}{sub}")).await? {
            match name.ends_with('/') {
                true => todo.push(format!("{sub}{name}")),
                false => out.push(format!("{sub}{name}")),
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Lists what a namespace holds. `leaving` holds the keys of the mounts and namespaces this
/// prune deletes (already checked); everything else must be in `gone`.
pub async fn of_namespace(
    target: &Target,
    r: &Record,
    gone: &HashSet<Key>,
    leaving: &HashSet<Key>,
) -> Result<Inside> {
    let mut inside = Inside::default();
    let path = r.path().to_string();
    let c = target.client(&path);
    for child in c.list("sys/namespaces").await? {
        let child = format!("{path}{}/", child.trim_end_matches('/'));
        let key = (Kind::Namespace, path.clone(), child.clone());
        add_leaving(&mut inside, leaving, key, "namespace", child);
    }
    for table in [Table::Secret, Table::Auth] {
        for (m, _) in mount_table(&c, table).await? {
            if mounts::is_builtin(table, &m) {
                continue;
            }
            let shown = match table {
                Table::Secret => format!("{path}{m}"),
                Table::Auth => format!("{path}auth/{m}"),
            };
            let key = (Kind::Mount, path.clone(), shown.clone());
            add_leaving(&mut inside, leaving, key, "mount", shown);
        }
    }
    let lists = [
        ("sys/policies/acl", Kind::Policy, "policy", ""),
        (
            "sys/policies/password",
            Kind::Policy,
            "password policy",
            "password/",
        ),
        ("identity/entity/name", Kind::Entity, "entity", ""),
        ("identity/group/name", Kind::Group, "group", ""),
    ];
    for (folder, kind, what, infix) in lists {
        for name in c.list(folder).await? {
            if kind == Kind::Policy
                && infix.is_empty()
                && matches!(name.as_str(), "default" | "root")
            {
                continue;
            }
            let key = (kind, path.clone(), format!("{path}{infix}{name}"));
            inside.add(gone, key, what, name);
        }
    }
    Ok(inside)
}

fn add_leaving(
    inside: &mut Inside,
    leaving: &HashSet<Key>,
    key: Key,
    what: &'static str,
    name: String,
) {
    if leaving.contains(&key) {
        inside.gone.push(key);
    } else {
        inside.foreign.push((what, name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mount_record_names_its_table_and_path() {
        let secret = Record::new(
            [0; 32],
            Kind::Mount,
            "t/apps/",
            "t/",
            Some("sys/mounts/apps"),
        );
        assert_eq!(mount_of(&secret), Some((Table::Secret, "apps/".into())));
        let auth = Record::new([0; 32], Kind::Mount, "auth/up/", "", Some("sys/auth/up"));
        assert_eq!(mount_of(&auth), Some((Table::Auth, "up/".into())));
        let none = Record::new([0; 32], Kind::Mount, "x/", "", None);
        assert_eq!(mount_of(&none), None);
    }
}

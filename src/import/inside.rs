//! What a mount or namespace holds on the target, before a prune may disable or delete it: what
//! every kind finds there (`ObjectKind::found`, by default the kind's own export, so what an
//! export skips is skipped here the same way). Each must be an object of the importer's that left
//! the snapshot too; anything else keeps the container in place, with the reason. A mount no kind
//! can list is never proven empty, so never disabled.

use std::collections::HashSet;

use crate::error::Result;
use crate::objects::mounts::Mount;
use crate::objects::{Inventory, Kind, ObjectKind, Scope, Source, Target};
use crate::state::Record;
use crate::vault::{Table, VaultClient, mount_table};

/// An object as the records name it: (kind, path).
pub type Key = (Kind, String);

pub fn key(r: &Record) -> Key {
    (r.kind, r.path().to_string())
}

/// What was found inside one container.
#[derive(Debug, Default)]
pub struct Inside {
    /// Objects of the importer's that left the snapshot (the deletion takes them along).
    pub gone: Vec<Key>,
    /// Objects the importer did not write, or that the snapshot still carries: (what, name).
    pub foreign: Vec<(String, String)>,
    /// Why the contents could not be listed at all.
    pub unknown: Option<String>,
}

/// What one prune knows: the records that left the snapshot, and the containers it deletes
/// (already checked, deepest first).
pub struct Known<'a> {
    pub gone: &'a HashSet<Key>,
    pub leaving: &'a HashSet<Key>,
    /// The importer's own bookkeeping mount, which no kind looks into.
    pub state_mount: &'a str,
}

impl Known<'_> {
    /// Sorts what was found: a container must be leaving, anything else gone.
    fn sort(&self, mut found: Inventory) -> Inside {
        let mut inside = Inside {
            unknown: found.unknown.take(),
            ..Inside::default()
        };
        found.found.sort();
        found
            .found
            .dedup_by(|a, b| (a.kind, &a.path) == (b.kind, &b.path));
        for held in found.found {
            let key = (held.kind, held.path);
            let known = match key.0.is_container() {
                true => self.leaving,
                false => self.gone,
            };
            match known.contains(&key) {
                true => inside.gone.push(key),
                false => inside.foreign.push((held.what, held.name)),
            }
        }
        inside
    }

    /// What reads a namespace `client` is in, for the kinds' `found`.
    fn source<'a>(&'a self, client: &'a VaultClient) -> Source<'a> {
        Source {
            client,
            concurrency: client.concurrency(),
            kv_history: false,
            filter: &everything,
            state_mount: self.state_mount,
            escrow: None,
            known: None,
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

/// Lists what the mount at (`table`, `path`) of the record `r`'s namespace holds.
pub async fn of_mount(
    target: &Target,
    r: &Record,
    (table, path): (Table, String),
    known: &Known<'_>,
) -> Result<Inside> {
    let ns = r.ns();
    let c = target.client(ns);
    let Some(entry) = mount_table(&c, table).await?.remove(&path) else {
        return Ok(Inside::default()); // already gone
    };
    if entry.local {
        return Ok(Inside {
            unknown: Some("it is a local mount now, and a local mount is never modified".into()),
            ..Inside::default()
        });
    }
    let mount = Mount::from_entry(ns, table, &entry);
    let mut found = Inventory::new(&mount.path());
    let holders: Vec<Kind> = Kind::ALL
        .iter()
        .copied()
        .filter(|k| k.lives_in(&mount))
        .collect();
    let scope = Scope::Mount { ns, mount: &mount };
    for kind in &holders {
        kind.found(&known.source(&c), &scope, &mut found).await?;
    }
    if holders.is_empty() || found.unknown.is_some() {
        found.unknown = Some(format!(
            "the importer cannot list what a `{}` mount holds, so it cannot prove it empty; \
             disable it by hand if it is meant to go",
            entry.kind
        ));
    }
    Ok(known.sort(found))
}

/// Lists what the namespace of the record `r` holds: what every kind finds in it (its child
/// namespaces and mounts among them; what a mount holds was checked with the mount).
pub async fn of_namespace(target: &Target, r: &Record, known: &Known<'_>) -> Result<Inside> {
    let ns = r.path();
    let c = target.client(ns);
    let mut mounts = Vec::new();
    for table in [Table::Secret, Table::Auth] {
        for entry in mount_table(&c, table).await?.values() {
            mounts.push(Mount::from_entry(ns, table, entry));
        }
    }
    let source = known.source(&c);
    let mut found = Inventory::new(ns);
    let scope = Scope::Namespace {
        ns,
        mounts: &mounts,
    };
    for kind in Kind::ALL {
        kind.found(&source, &scope, &mut found).await?;
    }
    Ok(known.sort(found))
}

/// The filter of a prune's listing: it sees everything.
fn everything(_: &str) -> bool {
    true
}

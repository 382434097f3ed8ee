//! `diff A B`: which objects two snapshots, or a snapshot and the live cluster, hold differently.
//! A snapshot side is verified as `verify` verifies it (a refusal is exit code 4); the `cluster`
//! side is the export's walk of VAULT_ADDR into memory, nothing written anywhere. Each side keeps
//! a `Fingerprint` per object (digests, never values), matched by snapshot entry name. A delta
//! side is the whole set its chain adds up to.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::fingerprint::Fingerprint;
use crate::config::{ClusterConfig, DiffSide, VerifyConfig};
use crate::error::{Error, Result};
use crate::export;
use crate::map::{PathMap, Relocated};
use crate::objects::{Kind, Object, Sink};
use crate::select::Selection;
use crate::snapshot::format::entry_name;
use crate::snapshot::{catalog, chain, verify};
use crate::vault::Session;

/// The live cluster at VAULT_ADDR, as a side of `diff`.
pub const CLUSTER: &str = "cluster";

/// What differs from `a` to `b`. Objects both hold alike are only counted.
#[derive(Debug, Serialize)]
pub struct Diff {
    /// The snapshot key, or the address of the cluster.
    pub a: String,
    pub b: String,
    /// The `--only` patterns both sides were restricted to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only: Option<String>,
    pub added: Vec<Item>,
    pub removed: Vec<Item>,
    pub changed: Vec<Changed>,
    pub unchanged: u64,
}

#[derive(Debug, Serialize)]
pub struct Item {
    pub kind: Kind,
    pub path: String,
}

/// A changed object and the paths of its fields that differ (`data.password`, `policy`).
#[derive(Debug, Serialize)]
pub struct Changed {
    pub kind: Kind,
    pub path: String,
    pub fields: Vec<String>,
}

/// Fingerprints by snapshot entry name.
type Side = BTreeMap<String, Fingerprint>;

/// What `diff` is asked to compare: two sides (each a snapshot ID, `latest` or `cluster`),
/// restricted to the `--only` selection.
pub struct DiffRequest<'a> {
    sides: [&'a str; 2],
    only: Option<Selection>,
    /// `--map`: a snapshot side's objects are compared where an import with it would put them.
    pub map: PathMap,
}

impl<'a> DiffRequest<'a> {
    /// Checks the `--only` selection and both sides.
    pub fn new(a: &'a str, b: &'a str, only: Option<&str>) -> Result<Self> {
        let only = only.map(|s| Selection::parse("--only", s)).transpose()?;
        for side in [a, b] {
            check_side(side)?;
        }
        Ok(DiffRequest {
            sides: [a, b],
            only,
            map: PathMap::default(),
        })
    }

    /// Which sides are the live cluster.
    pub fn cluster_sides(&self) -> [bool; 2] {
        self.sides.map(|side| side == CLUSTER)
    }
}

/// Compares the request's `a` with its `b`, each read as its configuration (`sides`) says.
pub async fn diff(request: DiffRequest<'_>, sides: [DiffSide; 2]) -> Result<Diff> {
    let (only, map) = (request.only, request.map);
    let [a, b] = request.sides;
    let [a_config, b_config] = sides;
    let (a_name, a_side) = load(&a_config, a, (only.as_ref(), &map)).await?;
    let (b_name, b_side) = load(&b_config, b, (only.as_ref(), &map)).await?;
    let mut out = compare(a_side, b_side);
    out.a = a_name;
    out.b = b_name;
    out.only = only.map(|s| s.spec().to_string());
    Ok(out)
}

/// A usage error for a side that is neither `cluster` nor a snapshot ID.
fn check_side(side: &str) -> Result<()> {
    if side == CLUSTER || catalog::parse_id(side).is_ok() {
        return Ok(());
    }
    Err(Error::config(
        "diff",
        format!(
            "`{side}` is not a snapshot ID such as 20261120T214500Z, `latest`, nor `{CLUSTER}`"
        ),
    ))
}

/// One side's name and fingerprints.
async fn load(
    config: &DiffSide,
    side: &str,
    (only, map): (Option<&Selection>, &PathMap),
) -> Result<(String, Side)> {
    match config {
        DiffSide::Cluster(cluster) => load_cluster(cluster, only).await,
        DiffSide::Snapshot(verify) => load_snapshot(verify, side, (only, map)).await,
    }
}

/// The live cluster's name (its address) and fingerprints.
async fn load_cluster(config: &ClusterConfig, only: Option<&Selection>) -> Result<(String, Side)> {
    Session::run(&config.vault, async |client| {
        let mut sink = Collect {
            only: only.cloned(),
            seen: Side::new(),
        };
        export::walk(&config.walk, client, &mut sink).await?;
        Ok((client.addr().to_string(), sink.seen))
    })
    .await
}

/// Snapshot `id`'s key and fingerprints, verified as `verify` verifies it. A delta stands for
/// the set its chain adds up to: its full snapshot, then each delta's entries over it, less
/// what each removes.
async fn load_snapshot(
    config: &VerifyConfig,
    id: &str,
    (only, map): (Option<&Selection>, &PathMap),
) -> Result<(String, Side)> {
    let mut moved = Moved::new();
    let (key, mut side) = load_one(config, id, (only, map), &mut moved).await?;
    if !catalog::is_delta(&key) {
        return Ok((key, placed(side, moved)));
    }
    let steps = chain::resolve(config, &key, None).await?;
    let mut set = Side::new();
    for step in &steps {
        let removed = step.manifest.delta.iter().flat_map(|d| &d.removed);
        for gone in removed {
            set.remove(&gone.name);
        }
        let held = match step.snapshot.key == key {
            true => std::mem::take(&mut side),
            false => {
                let key = &step.snapshot.key;
                load_one(config, key, (only, map), &mut moved).await?.1
            }
        };
        set.extend(held);
    }
    Ok((key, placed(set, moved)))
}

/// The entry names objects a map moved have where it puts them, by their snapshot entry names.
type Moved = BTreeMap<String, String>;

/// A snapshot side named as the cluster side names its objects once `moved` are where the map
/// puts them.
fn placed(side: Side, moved: Moved) -> Side {
    if moved.is_empty() {
        return side;
    }
    side.into_iter()
        .map(|(entry, fp)| (moved.get(&entry).cloned().unwrap_or(entry), fp))
        .collect()
}

/// One snapshot's key and the fingerprints of what it holds itself (where `map` puts it, and
/// what the map moved into `moved`); what the map leaves out or refuses is not compared.
async fn load_one(
    config: &VerifyConfig,
    id: &str,
    (only, map): (Option<&Selection>, &PathMap),
    moved: &mut Moved,
) -> Result<(String, Side)> {
    let seen = Arc::new(Mutex::new((Side::new(), Moved::new())));
    let (into, only, map) = (seen.clone(), only.cloned(), map.clone());
    let (snapshot, _) = verify::verify_each(config, id, move |s| {
        let object = match map.is_empty() {
            true => s.object,
            false => match map.relocate(s.object) {
                Relocated::Kept { object, .. } | Relocated::Moved { object, .. } => object,
                Relocated::Out(_) | Relocated::Refused(..) => return true,
            },
        };
        if only.as_ref().is_none_or(|o| o.matches(&object)) {
            let mut seen = into.lock().unwrap_or_else(|e| e.into_inner());
            let name = entry_name(&object);
            if name != s.entry {
                seen.1.insert(s.entry.clone(), name);
            }
            seen.0.insert(s.entry, Fingerprint::of(&object));
        }
        true
    })
    .await?;
    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    let (side, names) = std::mem::take(&mut *seen);
    moved.extend(names);
    Ok((snapshot.key, side))
}

/// The live cluster's objects, as the export's walk finds them.
struct Collect {
    only: Option<Selection>,
    seen: Side,
}

impl Sink for Collect {
    fn add(&mut self, obj: Object) -> Result<()> {
        if self.only.as_ref().is_none_or(|o| o.matches(&obj)) {
            self.seen.insert(entry_name(&obj), Fingerprint::of(&obj));
        }
        Ok(())
    }

    /// What an export could not copy is not in a snapshot either: nothing to compare.
    fn not_copied(&mut self, _: Kind, _: String, _: String) {}
}

/// Objects only `b` holds are added, only `a` removed; those both hold changed when a field differs.
fn compare(a: Side, mut b: Side) -> Diff {
    let mut out = Diff {
        a: String::new(),
        b: String::new(),
        only: None,
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
        unchanged: 0,
    };
    let item = |f: Fingerprint| Item {
        kind: f.kind,
        path: f.path,
    };
    for (entry, old) in a {
        let Some(new) = b.remove(&entry) else {
            out.removed.push(item(old));
            continue;
        };
        let fields = old.changed(&new);
        match fields.is_empty() {
            true => out.unchanged += 1,
            false => out.changed.push(Changed {
                kind: new.kind,
                path: new.path,
                fields,
            }),
        }
    }
    out.added = b.into_values().map(item).collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::policies::{Policy, PolicyType};

    fn policy(name: &str, text: &str) -> (String, Fingerprint) {
        let o = Object::Policy(Policy {
            namespace: String::new(),
            policy_type: PolicyType::Acl,
            name: name.into(),
            policy: text.into(),
        });
        (entry_name(&o), Fingerprint::of(&o))
    }

    #[test]
    fn objects_are_added_removed_changed_or_counted() {
        let a = Side::from([policy("old", "x"), policy("same", "y"), policy("edit", "1")]);
        let b = Side::from([policy("new", "x"), policy("same", "y"), policy("edit", "2")]);
        let d = compare(a, b);
        let paths = |items: &[Item]| items.iter().map(|i| i.path.clone()).collect::<Vec<_>>();
        assert_eq!(paths(&d.added), ["sys/policies/acl/new"]);
        assert_eq!(paths(&d.removed), ["sys/policies/acl/old"]);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].path, "sys/policies/acl/edit");
        assert_eq!(d.changed[0].fields, ["policy"]);
        assert_eq!(d.unchanged, 1);
    }

    #[test]
    fn a_side_is_a_snapshot_id_latest_or_cluster() {
        for ok in ["latest", "cluster", "20261120T214500Z"] {
            check_side(ok).unwrap();
        }
        let e = check_side("yesterday").unwrap_err();
        assert!(
            e.to_string().contains("`yesterday` is not a snapshot ID"),
            "{e}"
        );
    }
}

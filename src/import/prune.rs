//! Prune: objects this importer brought to the target that have left the snapshot are deleted,
//! when `REPLICATOR_PRUNE=true` (mounts and namespaces only with `REPLICATOR_PRUNE_MOUNTS=true`,
//! only those the importer created, and only when they hold nothing else; see `inside`).
//! Objects the importer never wrote are never touched, and `REPLICATOR_MAX_DELETE` refuses a plan
//! that would delete too much over `REPLICATOR_MAX_DELETE_WINDOW`, so neither an empty or
//! truncated source nor one shrinking a little at every run can wipe DR.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::inside::{self, Inside, Key, Known};
use super::plan::Change;
use crate::config::ImportOptions;
use crate::error::one_line;
use crate::model::Action;
use crate::objects::{Ops, Target};
use crate::state::{Record, Records};

/// One planned deletion (or a refused one), and what the guard counts it as.
#[derive(Debug)]
pub struct Deletion {
    pub change: Change,
    /// What it removes: 1 for an object; for a mount or namespace, what it takes along that is
    /// not deleted on its own (so a mount with N secrets adds nothing to their N), at least 1.
    /// 0 when refused.
    pub weight: u64,
    /// Entries of the records that go with it without a deletion of their own (a transit
    /// mount's keys): forgotten once it is gone.
    pub along: Vec<String>,
}

fn change(entry: &str, rec: &Record, action: Action, reason: String) -> Change {
    let ops = match (action, rec.delete()) {
        (Action::Delete, Some(d)) => Ops::delete(rec.ns(), d),
        _ => Ops::default(),
    };
    Change {
        kind: rec.kind,
        path: crate::select::shown_path(rec.kind, rec.ns(), rec.path()),
        action,
        reason: Some(reason),
        drift: false,
        entry: entry.to_string(),
        from: None,
        rewritten: Vec::new(),
        object: None,
        ops,
        record: None,
    }
}

/// The deletions, decided before anything is written, from the records of objects `gone` from
/// the snapshot (inside a restore's selection) and (for mounts and namespaces) what the target
/// holds. Unsafe container deletions come back refused, with the reason.
pub async fn plan_deletions(
    target: &Target,
    gone: &[(Box<str>, Record)],
    opts: &ImportOptions,
) -> crate::Result<Vec<Deletion>> {
    let gone: Vec<(&str, &Record)> = match opts.prune {
        true => gone.iter().map(|(e, r)| (&**e, r)).collect(),
        false => Vec::new(),
    };
    let (mut out, containers) = candidates(&gone, opts);
    let entry_of: HashMap<Key, (&str, &Record)> = gone
        .iter()
        .map(|(e, r)| (inside::key(r), (*e, *r)))
        .collect();
    let keys: HashSet<Key> = entry_of.keys().cloned().collect();
    let own = |k: &Key| entry_of.get(k).is_some_and(|(_, r)| deleted_alone(r));
    let mut leaving: HashSet<Key> = HashSet::new();
    for (entry, rec) in containers {
        let mount = inside::mount_of(rec);
        let known = Known {
            gone: &keys,
            leaving: &leaving,
            state_mount: &opts.state_mount,
        };
        let inside = match rec.created {
            false => Err("the importer did not create it (it was on this cluster already)".into()),
            true => match mount.clone() {
                Some(at) => inside::of_mount(target, rec, at, &known).await,
                None => inside::of_namespace(target, rec, &known).await,
            }
            .map_err(|e| format!("what it holds could not be listed: {}", one_line(&e)))
            .and_then(safe),
        };
        let inside = match inside {
            Ok(inside) => inside,
            Err(why) => {
                let verb = match mount {
                    Some(_) => "not disabled",
                    None => "not deleted",
                };
                let reason = format!("{verb}: {why}");
                tracing::warn!(kind = %rec.kind, path = %rec.path(), %reason, "prune refused");
                out.push(Deletion {
                    change: change(entry, rec, Action::Refused, reason),
                    weight: 0,
                    along: Vec::new(),
                });
                continue;
            }
        };
        leaving.insert(inside::key(rec));
        let counted = inside.gone.iter().filter(|k| own(k)).count() as u64;
        let along = inside.gone.iter().filter(|k| !own(k));
        out.push(Deletion {
            change: change(entry, rec, Action::Delete, "gone from the snapshot".into()),
            weight: (inside.gone.len() as u64).max(1) - counted,
            along: along
                .filter_map(|k| entry_of.get(k).map(|(e, _)| e.to_string()))
                .collect(),
        });
    }
    Ok(out)
}

/// Whether a prune deletes the object on its own (not only along with its container): its record
/// says where, and its kind lets it (a namespace's `default` policy is never deleted alone).
fn deleted_alone(r: &Record) -> bool {
    r.delete().is_some() && r.kind.pruned_alone(r.ns(), r.path())
}

/// The plain deletions (one object each), and the mounts and namespaces to check first: mounts,
/// then namespaces deepest first, so that a container is checked after what it holds.
fn candidates<'a>(
    gone: &[(&'a str, &'a Record)],
    opts: &ImportOptions,
) -> (Vec<Deletion>, Vec<(&'a str, &'a Record)>) {
    let (mut plain, mut containers) = (Vec::new(), Vec::new());
    for (entry, rec) in gone {
        if !deleted_alone(rec) {
            continue;
        }
        match rec.kind.is_container() {
            true if opts.prune_mounts => containers.push((*entry, *rec)),
            true => {}
            false => plain.push(Deletion {
                change: change(entry, rec, Action::Delete, "gone from the snapshot".into()),
                weight: 1,
                along: Vec::new(),
            }),
        }
    }
    // The registry lists what holds before what it holds (namespaces, then mounts): reversed, a
    // container comes after what it holds; and deeper paths first.
    containers.sort_by_key(|(_, r)| (Reverse(r.kind), Reverse(r.path().len())));
    (plain, containers)
}

/// A container may go when everything in it is the importer's and leaves with it.
fn safe(inside: Inside) -> Result<Inside, String> {
    if let Some(why) = inside.unknown {
        return Err(why);
    }
    match inside.foreign.as_slice() {
        [] => Ok(inside),
        [(what, name)] => Err(format!(
            "it holds {what} {name}, which the importer did not write"
        )),
        many => {
            let shown: Vec<String> = many
                .iter()
                .take(3)
                .map(|(w, n)| format!("{w} {n}"))
                .collect();
            let more = if many.len() > 3 { ", ..." } else { "" };
            Err(format!(
                "it holds {} objects the importer did not write: {}{more}",
                many.len(),
                shown.join(", ")
            ))
        }
    }
}

/// Refuses, with the reason, deletions over `REPLICATOR_MAX_DELETE`: this plan's together with
/// the `recent` ones the last `REPLICATOR_MAX_DELETE_WINDOW` made. A percentage is of the objects
/// the importer held at the window's start (`owned` now plus `recent`), not of a shrinking count.
pub fn guard(
    deletions: &[Deletion],
    owned: u64,
    recent: u64,
    opts: &ImportOptions,
) -> Result<u64, String> {
    let n: u64 = deletions.iter().map(|d| d.weight).sum();
    let base = owned + recent;
    let limit = opts.max_delete.limit(base);
    if n == 0 || n + recent <= limit {
        return Ok(n);
    }
    let md = opts.max_delete;
    if recent == 0 {
        return Err(format!(
            "the plan deletes {n} objects, over REPLICATOR_MAX_DELETE={md} ({limit} of the {base} \
             objects this importer brought here); nothing was written. Check the source, or \
             raise the limit for one run"
        ));
    }
    let w = show(opts.max_delete_window);
    Err(format!(
        "the plan deletes {n} objects and {recent} were deleted in the last {w} \
         (REPLICATOR_MAX_DELETE_WINDOW={w}): {} together, over REPLICATOR_MAX_DELETE={md} ({limit} \
         of the {base} objects this importer held in that window); nothing was written. Check the \
         source, or raise the limit for one run",
        n + recent
    ))
}

/// What the guard counted of each planned deletion, to log what took effect.
#[derive(Debug, Default)]
pub struct Tally(Vec<(String, u64, Vec<String>)>);

/// The changes to hand to the apply step, and what they count for.
pub fn split(planned: Vec<Deletion>) -> (Vec<Change>, Tally) {
    let mut tally = Tally::default();
    let mut changes = Vec::new();
    for d in planned {
        if d.change.action == Action::Delete {
            tally.0.push((d.change.entry.clone(), d.weight, d.along));
        }
        changes.push(d.change);
    }
    (changes, tally)
}

impl Tally {
    /// After the apply: forgets the records that went along with a deleted container, and
    /// returns what the deletions that took effect (their records gone) count for.
    pub fn settle(self, records: &mut Records) -> u64 {
        let mut n = 0;
        for (entry, weight, along) in self.0 {
            if records.get(&entry).is_none() {
                n += weight;
                along.iter().for_each(|e| records.remove(e));
            }
        }
        n
    }
}

/// A window as the setting spells it: `24h`, `90m`, `30s`.
pub fn show(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{}ms", d.as_millis()),
        _ if s.is_multiple_of(3_600) => format!("{}h", s / 3_600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{MaxDelete, OnDrift};
    use crate::objects::Kind;
    use crate::objects::auth::NewUserPassword;
    use crate::vault::{MemoryVault, VaultClient};
    use serde_json::json;
    use std::sync::Arc;

    fn opts(prune: bool, prune_mounts: bool, max: MaxDelete) -> ImportOptions {
        ImportOptions {
            prune,
            prune_mounts,
            max_delete: max,
            on_drift: OnDrift::Overwrite,
            state_mount: "vault-replicator/".into(),
            lease_wait: Duration::ZERO,
            lease_ttl: Duration::from_secs(300),
            userpass: NewUserPassword::Random,
            database: Default::default(),
            full_check_every: 6,
            full_check: false,
            records_batch: 100,
            max_delete_window: Duration::from_secs(86_400),
            map: Default::default(),
        }
    }

    fn records(entries: &[(&str, Kind)]) -> Vec<(Box<str>, Record)> {
        entries
            .iter()
            .map(|(e, k)| {
                let rec = Record::new([0; 32], *k, e, "", Some(&format!("del/{e}")));
                (Box::from(*e), rec)
            })
            .collect()
    }

    fn gone<'a>(r: &'a [(Box<str>, Record)], kept: &[&str]) -> Vec<(&'a str, &'a Record)> {
        r.iter()
            .map(|(e, r)| (&**e, r))
            .filter(|(e, _)| !kept.contains(e))
            .collect()
    }

    fn deleting(n: u64) -> Vec<Deletion> {
        let one = |i| Deletion {
            change: Change {
                kind: Kind::KvSecret,
                path: format!("secret/{i}"),
                action: Action::Delete,
                reason: None,
                drift: false,
                entry: format!("e{i}"),
                from: None,
                rewritten: Vec::new(),
                object: None,
                ops: Ops::None,
                record: None,
            },
            weight: 1,
            along: Vec::new(),
        };
        (0..n).map(one).collect()
    }

    #[test]
    fn only_recorded_objects_missing_from_the_snapshot_are_deleted() {
        let owned = records(&[
            ("a", Kind::KvSecret),
            ("b", Kind::KvSecret),
            ("m", Kind::Mount),
        ]);
        let (plain, containers) = candidates(
            &gone(&owned, &["a"]),
            &opts(true, false, MaxDelete::Count(5)),
        );
        assert_eq!(plain.len(), 1);
        assert_eq!(plain[0].change.entry, "b");
        assert_eq!(plain[0].change.action, Action::Delete);
        assert!(containers.is_empty());
    }

    #[test]
    fn mounts_need_their_own_switch_and_are_checked_before_namespaces() {
        let owned = records(&[
            ("n", Kind::Namespace),
            ("m", Kind::Mount),
            ("p", Kind::Policy),
        ]);
        let all = MaxDelete::Percent(100);
        let (plain, containers) = candidates(&gone(&owned, &[]), &opts(true, true, all));
        assert_eq!(plain.len(), 1);
        let order: Vec<&str> = containers.iter().map(|(e, _)| *e).collect();
        assert_eq!(order, ["m", "n"]);
        let (_, none) = candidates(&gone(&owned, &[]), &opts(true, false, all));
        assert!(none.is_empty());
    }

    #[test]
    fn an_empty_source_is_refused_by_the_guard() {
        let o = opts(true, false, MaxDelete::Percent(10));
        let err = guard(&deleting(3), 3, 0, &o).unwrap_err();
        assert!(err.contains("deletes 3 objects"), "{err}");
        assert_eq!(guard(&deleting(1), 10, 0, &o), Ok(1));
        assert_eq!(guard(&[], 10, 500, &o), Ok(0));
    }

    #[test]
    fn deletions_of_the_window_count_against_the_same_limit() {
        let o = opts(true, false, MaxDelete::Count(3));
        assert_eq!(guard(&deleting(3), 100, 0, &o), Ok(3));
        let err = guard(&deleting(3), 97, 3, &o).unwrap_err();
        assert!(
            err.contains("3 were deleted in the last 24h") && err.contains("6 together"),
            "{err}"
        );
        // A percentage is of what the importer held when the window began, not of what is left:
        // 10% of 100 is 10 over the window, whichever way the runs split it.
        let pct = opts(true, false, MaxDelete::Percent(10));
        assert_eq!(guard(&deleting(9), 100, 0, &pct), Ok(9));
        assert_eq!(guard(&deleting(1), 91, 9, &pct), Ok(1));
        assert!(guard(&deleting(1), 90, 10, &pct).is_err());
    }

    #[test]
    fn a_refusal_names_what_the_container_holds() {
        let one = Inside {
            foreign: vec![("key".into(), "dr/own".into())],
            ..Inside::default()
        };
        assert_eq!(
            safe(one).unwrap_err(),
            "it holds key dr/own, which the importer did not write"
        );
        let many = Inside {
            foreign: (0..5).map(|i| ("key".into(), format!("k{i}"))).collect(),
            ..Inside::default()
        };
        assert_eq!(
            safe(many).unwrap_err(),
            "it holds 5 objects the importer did not write: key k0, key k1, key k2, ..."
        );
        let unknown = Inside {
            unknown: Some("cannot list".into()),
            ..Inside::default()
        };
        assert!(safe(unknown).is_err());
        assert!(safe(Inside::default()).is_ok());
        assert_eq!(show(Duration::from_secs(86_400)), "24h");
        assert_eq!(show(Duration::from_secs(90)), "90s");
    }

    /// A target with a KV-v2 mount `temp/` and an SSH mount `ssh/` (both the importer's), each
    /// holding the importer's `dc` and DR's own `dr`, and a mount `had/` DR already had.
    fn cluster(with_dr: bool) -> Arc<MemoryVault> {
        let api = Arc::new(MemoryVault::new());
        let kv2 = json!({"type": "kv", "options": {"version": "2"}});
        let mounts = json!({"data": {"temp/": kv2, "had/": kv2, "ssh/": {"type": "ssh"}}});
        api.put("", "sys/mounts", mounts);
        let role = json!({"data": {"key_type": "ca", "allow_user_certificates": true}});
        for name in ["dc"].into_iter().chain(with_dr.then_some("dr")) {
            api.put("", &format!("temp/metadata/{name}"), json!({"data": {}}));
            api.put("", &format!("ssh/roles/{name}"), role.clone());
        }
        api
    }

    /// The records of what left the snapshot: both mounts and what the importer wrote in them.
    fn left() -> Vec<(Box<str>, Record)> {
        let rec = |kind, path: &str, delete: Option<&str>, created| {
            let mut r = Record::new([0; 32], kind, path, "", delete);
            r.created = created;
            (Box::from(path), r)
        };
        vec![
            rec(Kind::Mount, "temp/", Some("sys/mounts/temp"), true),
            rec(Kind::Mount, "ssh/", Some("sys/mounts/ssh"), true),
            rec(Kind::Mount, "had/", Some("sys/mounts/had"), false),
            rec(Kind::KvSecret, "temp/dc", Some("temp/metadata/dc"), false),
            rec(Kind::SshRole, "ssh/roles/dc", Some("ssh/roles/dc"), false),
        ]
    }

    async fn planned(api: &Arc<MemoryVault>) -> Vec<(String, Action, String)> {
        let client = VaultClient::with_api(api.clone());
        let target = Target::load(client, &[], NewUserPassword::Random)
            .await
            .unwrap();
        let o = opts(true, true, MaxDelete::Percent(100));
        let planned = plan_deletions(&target, &left(), &o).await.unwrap();
        let mut out: Vec<_> = planned
            .into_iter()
            .map(|d| (d.change.path, d.change.action, d.change.reason.unwrap()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    #[tokio::test]
    async fn prune_never_deletes_what_the_importer_did_not_create() {
        let api = cluster(true);
        let planned = planned(&api).await;
        let deleted: Vec<&str> = planned
            .iter()
            .filter(|(_, a, _)| *a == Action::Delete)
            .map(|(p, _, _)| p.as_str())
            .collect();
        // Only the importer's own objects: neither DR's nor the mounts that hold them.
        assert_eq!(deleted, ["ssh/roles/dc", "temp/dc"]);
        let refused = |path: &str| {
            let (_, action, why) = planned.iter().find(|(p, _, _)| p == path).unwrap();
            assert_eq!(*action, Action::Refused, "{path}");
            why.clone()
        };
        assert_eq!(
            refused("had/"),
            "not disabled: the importer did not create it (it was on this cluster already)"
        );
        assert_eq!(
            refused("temp/"),
            "not disabled: it holds key dr, which the importer did not write"
        );
        // An SSH mount is listed by its kinds' own export.
        assert_eq!(
            refused("ssh/"),
            "not disabled: it holds ssh role roles/dr, which the importer did not write"
        );
        assert!(api.writes().is_empty(), "planning writes nothing");
    }

    #[tokio::test]
    async fn a_container_holding_only_what_the_importer_wrote_goes() {
        let planned = planned(&cluster(false)).await;
        let action = |path: &str| planned.iter().find(|(p, _, _)| p == path).unwrap().1;
        assert_eq!(action("temp/"), Action::Delete);
        assert_eq!(action("ssh/"), Action::Delete);
        assert_eq!(action("had/"), Action::Refused);
    }

    /// A namespace `team/` the importer created, with its mount `apps/` and policy `p`; DR's own
    /// policy `dr-pol` in it when asked.
    #[tokio::test]
    async fn a_namespace_goes_only_with_nothing_but_what_the_importer_wrote() {
        for with_dr in [true, false] {
            let api = Arc::new(MemoryVault::new());
            let kv2 = json!({"type": "kv", "options": {"version": "2"}});
            // The client names namespace `team/` as `team`.
            api.put("team", "sys/mounts", json!({"data": {"apps/": kv2}}));
            api.put("team", "sys/auth", json!({"data": {}}));
            for name in ["p"].into_iter().chain(with_dr.then_some("dr-pol")) {
                let at = format!("sys/policies/acl/{name}");
                api.put("team", &at, json!({"data": {"policy": "path \"x\" {}"}}));
            }
            let rec = |kind, path: &str, ns: &str, delete: &str| {
                let mut r = Record::new([0; 32], kind, path, ns, Some(delete));
                r.created = true;
                (Box::from(path), r)
            };
            let left = vec![
                rec(Kind::Namespace, "team/", "", "sys/namespaces/team"),
                rec(Kind::Mount, "team/apps/", "team/", "sys/mounts/apps"),
                rec(Kind::Policy, "team/p", "team/", "sys/policies/acl/p"),
            ];
            let client = VaultClient::with_api(api.clone());
            let target = Target::load(client, &[], NewUserPassword::Random)
                .await
                .unwrap();
            let o = opts(true, true, MaxDelete::Percent(100));
            let planned = plan_deletions(&target, &left, &o).await.unwrap();
            let of = |path: &str| {
                let d = planned.iter().find(|d| d.change.entry == path).unwrap();
                (d.change.action, d.change.reason.clone().unwrap())
            };
            assert_eq!(of("team/apps/").0, Action::Delete);
            assert_eq!(of("team/p").0, Action::Delete);
            let expected = match with_dr {
                true => (
                    Action::Refused,
                    "not deleted: it holds policy dr-pol, which the importer did not write".into(),
                ),
                false => (Action::Delete, "gone from the snapshot".into()),
            };
            assert_eq!(of("team/"), expected);
        }
    }
}

//! Several sources into one DR, and one source into several DRs, against real OpenBao: each
//! source's state (records, prune, delete guard, lease) is its own, so two import CronJobs from
//! two stores never plan to delete each other's objects; two sources writing one object are
//! refused, naming both; two DRs following one store each keep their own lag, and promoting one
//! leaves the other following.

use std::time::Duration;

use serde_json::{Value, json};

use super::support::{Bao, Run, env_for, file_store, replicator, writes};

/// One source cluster with its own store.
struct Source {
    bao: Bao,
    dir: tempfile::TempDir,
}

impl Source {
    fn start() -> Source {
        Source {
            bao: Bao::start(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn store(&self) -> String {
        file_store(self.dir.path())
    }

    /// The source as an importer names it: its store's prefix (a directory's path).
    fn name(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// The environment of a run against `bao` reading or writing this source's store.
    fn env(&self, bao: &Bao, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let extra: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env_for(bao, &self.store(), &extra)
    }

    fn export(&self) {
        std::thread::sleep(Duration::from_millis(1050));
        replicator(&["export"], &self.env(&self.bao, &[])).assert_code(0);
    }

    fn import_into(&self, dr: &Bao, extra: &[(&str, &str)]) -> Run {
        replicator(&["import"], &self.env(dr, extra))
    }
}

fn kv(b: &Bao, mount: &str, keys: &[&str]) {
    b.write(
        &format!("sys/mounts/{mount}"),
        json!({"type": "kv", "options": {"version": "2"}}),
    );
    for k in keys {
        b.write(&format!("{mount}/data/{k}"), json!({"data": {"k": k}}));
    }
}

fn value(b: &Bao, path: &str) -> Option<Value> {
    b.read(path).map(|v| v["data"]["data"].clone())
}

const PRUNE: [(&str, &str); 2] = [
    ("REPLICATOR_PRUNE", "true"),
    ("REPLICATOR_MAX_DELETE", "50%"),
];

/// Regression: the importer's state was one per target, so with two sources imported into one
/// DR with prune on, each import planned to delete the other's objects (the delete guard refused
/// it, and its message suggested raising the limit, which would have deleted them).
#[test]
fn two_sources_consolidate_into_one_dr_and_prune_only_their_own() {
    let (dc1, dc2, dr) = (Source::start(), Source::start(), Bao::start());
    kv(&dc1.bao, "apps", &["a1", "a2", "a3"]);
    kv(&dc2.bao, "apps", &["b1", "b2", "b3"]);
    for (dc, policy) in [(&dc1, "dc1-app"), (&dc2, "dc2-app")] {
        dc.bao.write(
            &format!("sys/policies/acl/{policy}"),
            json!({"policy": "path \"apps/data/*\" { capabilities = [\"read\"] }"}),
        );
        dc.export();
    }
    let map1 = [("REPLICATOR_MAP", "apps/=dc1-apps/"), PRUNE[0], PRUNE[1]];
    let map2 = [("REPLICATOR_MAP", "apps/=dc2-apps/"), PRUNE[0], PRUNE[1]];
    dc1.import_into(&dr, &map1).assert_code(0);
    // The state as a release before sources left it: a `meta` that names no source. The second
    // source does not take it over (its store lacks that state's last snapshot); the first does.
    let meta = |dr: &Bao| dr.read("vault-replicator/data/meta").unwrap()["data"]["data"].clone();
    let mut old = meta(&dr);
    assert_eq!(old["source"], json!(dc1.name()), "{old}");
    old.as_object_mut().unwrap().remove("source");
    dr.write("vault-replicator/data/meta", json!({ "data": old }));
    let second = dc2.import_into(&dr, &map2);
    second.assert_code(0);
    assert!(!second.stdout.contains("delete"), "{}", second.stdout);
    assert_eq!(value(&dr, "dc1-apps/data/a1"), Some(json!({"k": "a1"})));
    assert_eq!(value(&dr, "dc2-apps/data/b1"), Some(json!({"k": "b1"})));
    assert_eq!(
        dr.read("sys/policies/acl/dc2-app").unwrap()["data"]["policy"],
        json!("path \"dc2-apps/data/*\" { capabilities = [\"read\"] }")
    );

    assert_eq!(meta(&dr).get("source"), None);
    let first = dc1.import_into(&dr, &map1);
    first.assert_code(0);
    assert_eq!(writes(&first), 0, "{}", first.stdout);
    assert_eq!(meta(&dr)["source"], json!(dc1.name()));

    // Each source's deletions touch only its own objects.
    dc1.bao.delete("apps/metadata/a2");
    dc1.bao.delete("sys/policies/acl/dc1-app");
    dc1.export();
    for _ in 0..2 {
        dc2.import_into(&dr, &map2).assert_code(0);
        let run = dc1.import_into(&dr, &map1);
        run.assert_code(0);
    }
    assert_eq!(value(&dr, "dc1-apps/data/a2"), None);
    assert!(dr.read("sys/policies/acl/dc1-app").is_none());
    assert!(dr.read("sys/policies/acl/dc2-app").is_some());
    for k in ["b1", "b2", "b3"] {
        assert!(value(&dr, &format!("dc2-apps/data/{k}")).is_some(), "{k}");
    }
    let again = dc2.import_into(&dr, &map2);
    again.assert_code(0);
    assert_eq!(writes(&again), 0, "{}", again.stdout);

    // A map that puts dc2's mount where dc1's is: refused before anything is written, naming
    // both; a dry run says the same.
    let clash = [("REPLICATOR_MAP", "apps/=dc1-apps/"), PRUNE[0], PRUNE[1]];
    let says = format!(
        "--map puts apps/ at dc1-apps/, which the imports from the source `{}` created; `{}` must \
         not write into it",
        dc1.name(),
        dc2.name()
    );
    for args in [&["import", "--dry-run"][..], &["import"]] {
        let run = replicator(args, &dc2.env(&dr, &clash));
        run.assert_code(4);
        assert!(run.stderr.contains(&says), "{}", run.stderr);
    }
    assert_eq!(value(&dr, "dc1-apps/data/b1"), None);
    assert_eq!(
        dr.read("sys/policies/acl/dc2-app").unwrap()["data"]["policy"],
        json!("path \"dc2-apps/data/*\" { capabilities = [\"read\"] }")
    );
}

/// One store, two DRs: each follows at its own pace; one promoted refuses imports while the
/// other keeps following.
#[test]
fn one_source_fans_out_to_two_drs_and_one_is_promoted() {
    let (dc, dr1, dr2) = (Source::start(), Bao::start(), Bao::start());
    kv(&dc.bao, "apps", &["a"]);
    dc.export();
    dc.import_into(&dr1, &[]).assert_code(0);
    dc.import_into(&dr2, &[]).assert_code(0);

    dc.bao.write("apps/data/b", json!({"data": {"k": "b"}}));
    dc.export();
    // Only dr1 imports: dr2 lags one snapshot behind, and says so.
    dc.import_into(&dr1, &[]).assert_code(0);
    let status = |dr: &Bao| replicator(&["status", "-o", "json"], &dc.env(dr, &[]));
    let (s1, s2) = (status(&dr1), status(&dr2));
    let last = |r: &Run| -> String {
        let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|_| panic!("{}", r.stdout));
        let last = &v["target"]["last_import"]["last_snapshot"];
        last.as_str().unwrap_or_default().to_string()
    };
    assert_ne!(last(&s1), last(&s2), "{}\n{}", s1.stdout, s2.stdout);
    assert_eq!(value(&dr2, "apps/data/b"), None);

    replicator(&["promote"], &dc.env(&dr1, &[])).assert_code(0);
    dc.bao.write("apps/data/c", json!({"data": {"k": "c"}}));
    dc.export();
    dc.import_into(&dr1, &[]).assert_code(4);
    dc.import_into(&dr2, &[]).assert_code(0);
    assert_eq!(value(&dr2, "apps/data/c"), Some(json!({"k": "c"})));
    assert_eq!(value(&dr1, "apps/data/c"), None);
}

//! Selective restore (`import --only`) against real OpenBao: a deleted subtree put back into the
//! cluster it was exported from, from an older snapshot, with everything else untouched; a prune
//! that stays inside the selection; a promoted cluster that takes a restore only with
//! `--allow-fenced`; and `--to-prefix` copies next to the originals.

use serde_json::json;

use super::support::sealed::latest;
use super::support::{Bao, Pair, Run, replicator, writes};

impl Pair {
    /// The ID of the snapshot `latest.json` names now.
    fn latest_id(&self) -> String {
        let key = latest(self.dir.path())["key"].as_str().unwrap().to_string();
        key.split('.').next().unwrap().to_string()
    }

    /// Runs the tool against `bao` (the source or the target) with these arguments.
    fn run_on(&self, bao: &Bao, args: &[&str], extra: &[(&str, &str)]) -> Run {
        replicator(args, &self.env(bao, extra))
    }
}

fn value(bao: &Bao, key: &str) -> Option<serde_json::Value> {
    bao.kv_get("secret", key)
}

#[test]
fn a_deleted_subtree_is_restored_into_the_source_from_an_older_snapshot() {
    let p = Pair::new();
    let src = &p.src;
    src.kv_put("secret", "payments/a", json!({"card": "restore-a-0451"}));
    src.kv_put("secret", "payments/b", json!({"card": "restore-b-0451"}));
    src.kv_put("secret", "payments/eu/c", json!({"iban": "restore-c-0451"}));
    src.kv_put("secret", "other/x", json!({"v": 1}));
    src.kv_put("secret", "other/x", json!({"v": 2}));
    p.export();
    let before = p.latest_id();
    // The accident, and life going on next to it.
    src.delete("secret/metadata/payments/a");
    src.delete("secret/data/payments/b");
    src.kv_put("secret", "other/x", json!({"v": 3}));
    p.export();
    assert_ne!(p.latest_id(), before);
    assert_eq!(value(src, "payments/a"), None);
    let (c_version, x_version) = (
        src.kv_version("secret", "payments/eu/c"),
        src.kv_version("secret", "other/x"),
    );

    let args = [
        "import",
        "--snapshot",
        &before,
        "--only",
        "secret/payments/*",
    ];
    let dry = p.run_on(src, &[&args[..], &["--dry-run"]].concat(), &[]);
    dry.assert_code(0);
    assert!(
        dry.stdout
            .contains("+ create  kv_secret   secret/payments/a"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains("~ update  kv_secret   secret/payments/b"),
        "{}",
        dry.stdout
    );
    assert!(
        !dry.stdout.contains("other/x"),
        "outside the selection:\n{}",
        dry.stdout
    );
    assert!(
        !dry.all().contains("restore-"),
        "a value in the plan:\n{}",
        dry.all()
    );
    assert_eq!(value(src, "payments/a"), None, "the dry run wrote");

    let run = p.run_on(src, &args, &[]);
    run.assert_code(0);
    assert!(
        run.stdout.starts_with(&format!("Restored {before}")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("(only secret/payments/*)"),
        "{}",
        run.stdout
    );
    assert_eq!(writes(&run), 2, "{}", run.stdout);
    assert_eq!(value(src, "payments/a").unwrap()["card"], "restore-a-0451");
    assert_eq!(value(src, "payments/b").unwrap()["card"], "restore-b-0451");
    // Untouched: what was equal, and everything outside the selection, at the same versions.
    assert_eq!(src.kv_version("secret", "payments/eu/c"), c_version);
    assert_eq!(src.kv_version("secret", "other/x"), x_version);
    assert_eq!(value(src, "other/x").unwrap()["v"], 3);
    let again = p.run_on(src, &args, &[]);
    again.assert_code(0);
    assert_eq!(writes(&again), 0, "{}", again.stdout);
    // A typo restores nothing, and says so.
    let typo = p.run_on(src, &["import", "--only", "secret/paymnts/*"], &[]);
    typo.assert_code(2);
    let line = typo.last_error_line();
    assert!(
        line.contains("no object of") && line.contains("secret/paymnts/*"),
        "{line}"
    );
}

#[test]
fn only_with_prune_deletes_nothing_outside_the_selection() {
    let p = Pair::new();
    let prune = [
        ("REPLICATOR_PRUNE", "true"),
        ("REPLICATOR_MAX_DELETE", "100"),
    ];
    for key in ["a/1", "a/2", "b/1"] {
        p.src.kv_put("secret", key, json!({"k": key}));
    }
    for name in ["keep-a", "keep-b"] {
        let policy = json!({"policy": "path \"x\" { capabilities = [\"read\"] }"});
        p.src.write(&format!("sys/policies/acl/{name}"), policy);
    }
    p.sync(&prune, 0);
    p.src.delete("secret/metadata/a/2");
    p.src.delete("secret/metadata/b/1");
    p.src.delete("sys/policies/acl/keep-b");
    p.export();
    // Drifted on DR since the last import: a restore writes it back all the same.
    p.dst.delete("secret/metadata/a/1");

    let run = p.run_on(&p.dst, &["import", "--only", "secret/a/*"], &prune);
    run.assert_code(0);
    assert!(
        value(&p.dst, "a/1").is_some(),
        "not restored:\n{}",
        run.stdout
    );
    assert_eq!(
        value(&p.dst, "a/2"),
        None,
        "not pruned inside the selection"
    );
    assert!(
        value(&p.dst, "b/1").is_some(),
        "pruned outside the selection"
    );
    assert!(p.dst.read("sys/policies/acl/keep-b").is_some());
    // The full import that follows prunes the rest: the restore held back, not the test.
    let full = p.import(&prune);
    full.assert_code(0);
    assert_eq!(value(&p.dst, "b/1"), None, "{}", full.stdout);
    assert!(p.dst.read("sys/policies/acl/keep-b").is_none());
}

#[test]
fn a_promoted_cluster_takes_a_restore_only_when_told_and_says_so() {
    let p = Pair::new();
    p.src
        .kv_put("secret", "app/db", json!({"pw": "fenced-0451"}));
    p.sync(&[], 0);
    p.run_on(&p.dst, &["promote"], &[]).assert_code(0);
    p.dst.delete("secret/metadata/app/db");

    let refused = p.run_on(&p.dst, &["import", "--only", "secret/app/*"], &[]);
    refused.assert_code(4);
    assert!(
        refused.last_error_line().contains("is promoted"),
        "{}",
        refused.stderr
    );
    let full = p.run_on(&p.dst, &["import", "--allow-fenced"], &[]);
    full.assert_code(2);
    assert!(full.all().contains("--only"), "{}", full.all());
    assert_eq!(value(&p.dst, "app/db"), None);

    let only = ["import", "--only", "secret/app/*", "--allow-fenced"];
    let run = p.run_on(&p.dst, &only, &[]);
    run.assert_code(0);
    assert!(run.stdout.starts_with("WARNING: "), "{}", run.stdout);
    assert!(run.stdout.contains("is promoted"), "{}", run.stdout);
    assert!(
        run.stderr.contains("restoring into a promoted cluster"),
        "{}",
        run.stderr
    );
    assert_eq!(value(&p.dst, "app/db").unwrap()["pw"], "fenced-0451");
    // Still fenced: the next scheduled import is refused.
    p.import(&[]).assert_code(4);
}

#[test]
fn to_prefix_restores_copies_next_to_the_originals() {
    let p = Pair::new();
    p.src.kv_put("secret", "app/db", json!({"pw": "old-0451"}));
    p.src
        .kv_put("secret", "app/deep/api", json!({"key": "old-api-0451"}));
    p.export();
    let old = p.latest_id();
    p.src.kv_put("secret", "app/db", json!({"pw": "new-0451"}));
    let version = p.src.kv_version("secret", "app/db");

    let args = [
        "import",
        "--snapshot",
        &old,
        "--only",
        "secret/app/*",
        "--to-prefix",
        "secret/app-restored/",
    ];
    let run = p.run_on(&p.src, &args, &[("REPLICATOR_PRUNE", "true")]);
    run.assert_code(0);
    assert_eq!(writes(&run), 2, "{}", run.stdout);
    assert_eq!(value(&p.src, "app-restored/db").unwrap()["pw"], "old-0451");
    assert_eq!(
        value(&p.src, "app-restored/deep/api").unwrap()["key"],
        "old-api-0451"
    );
    assert_eq!(value(&p.src, "app/db").unwrap()["pw"], "new-0451");
    assert_eq!(p.src.kv_version("secret", "app/db"), version);

    let bad = p.run_on(
        &p.src,
        &["import", "--only", "secret/a*", "--to-prefix", "x/"],
        &[],
    );
    bad.assert_code(2);
    assert!(
        bad.last_error_line().contains("--to-prefix"),
        "{}",
        bad.stderr
    );
}

/// Issue #25 item 5: `--to-prefix` with `..` segments was accepted, and the URL parser collapsed
/// them on the wire: the secret left its mount and landed in another (`kv2/`).
#[test]
fn to_prefix_with_dot_dot_segments_is_refused_and_writes_nothing() {
    let p = Pair::new();
    p.src.kv_put("secret", "app/db", json!({"pw": "old-0451"}));
    p.src.mount_kv2("kv2");
    p.export();
    let args = [
        "import",
        "--only",
        "secret/app/*",
        "--to-prefix",
        "secret/app/../../../kv2/data/app",
    ];
    let run = p.run_on(&p.src, &args, &[]);
    assert_eq!(
        p.src.kv_keys("kv2"),
        Vec::<String>::new(),
        "the restore left its mount: {}",
        run.stdout
    );
    run.assert_code(2);
    assert!(
        run.last_error_line().contains("--to-prefix") && run.last_error_line().contains(".."),
        "{}",
        run.stderr
    );
}

#[test]
fn a_restore_into_an_empty_cluster_creates_only_the_containers_its_selection_needs() {
    let p = Pair::new();
    let (src, dst) = (&p.src, &p.dst);
    let kv2 = json!({"type": "kv", "options": {"version": "2"}});
    src.write("sys/namespaces/team-a", json!({}));
    src.write("team-a/sys/mounts/secret", kv2.clone());
    src.write("team-a/sys/mounts/kv", kv2);
    src.write(
        "team-a/secret/data/app/x",
        json!({"data": {"v": "ns-0451"}}),
    );
    src.write("team-a/secret/data/other/y", json!({"data": {"v": 1}}));
    src.write(
        "sys/policies/acl/app-read",
        json!({"policy": "path \"x\" {}"}),
    );
    src.write("sys/policies/acl/ops", json!({"policy": "path \"y\" {}"}));
    p.export();

    let only = "team-a/secret/app/*,sys/policies/acl/app-*";
    let run = p.run_on(dst, &["import", "--only", only], &[]);
    run.assert_code(0);
    let data = |path: &str| dst.read(path).map(|r| r["data"]["data"].clone());
    assert_eq!(data("team-a/secret/data/app/x").unwrap()["v"], "ns-0451");
    assert_eq!(data("team-a/secret/data/other/y"), None);
    let mounts = || dst.read("team-a/sys/mounts").unwrap()["data"].clone();
    assert!(
        mounts().get("kv/").is_none(),
        "an unselected mount was created"
    );
    assert!(dst.read("sys/policies/acl/app-read").is_some());
    assert!(dst.read("sys/policies/acl/ops").is_none());

    // A container the restore needs but did not select is not changed.
    src.write(
        "team-a/sys/mounts/secret/tune",
        json!({"description": "tuned on the source"}),
    );
    p.export();
    let run = p.run_on(dst, &["import", "--only", only], &[]);
    run.assert_code(0);
    assert_eq!(writes(&run), 0, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("skipped: mount team-a/secret/: outside --only"),
        "{}",
        run.stdout
    );
    assert_ne!(mounts()["secret/"]["description"], "tuned on the source");
}

//! Metrics pushed to a real Pushgateway: only runs that do the scheduled job push, so a dry run
//! or a partial restore cannot refresh "last success" and hide a DR that is not being updated;
//! a real import pushes the source time of the data it applied.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::support::{Bao, Pushgateway, Run, env_for, file_store, replicator};

fn run(bao: &Bao, store: &Path, args: &[&str], gw: &Pushgateway) -> Run {
    let extra = [
        ("REPLICATOR_PUSHGATEWAY_URL".to_string(), gw.url.clone()),
        ("REPLICATOR_KEEP_LAST".to_string(), "5".to_string()),
    ];
    replicator(args, &env_for(bao, &file_store(store), &extra))
}

fn stamp_of_latest(store: &Path) -> f64 {
    let latest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("latest.json")).unwrap()).unwrap();
    let key = latest["key"].as_str().unwrap();
    vault_replicator::snapshot::catalog::parse_snapshot_key(key)
        .unwrap()
        .timestamp() as f64
}

const SUCCESS: &str = "vault_replicator_last_success_timestamp_seconds";
const DATA: &str = "vault_replicator_import_data_timestamp_seconds";
const IMPORT: &str = "command=\"import\"";

#[test]
fn dry_runs_and_partial_restores_push_nothing_and_a_real_import_pushes_the_data_age() {
    let (src, dst) = (Bao::start(), Bao::start());
    src.kv_put("secret", "app", json!({"v": "1"}));
    let gw = Pushgateway::start();
    let store = tempfile::tempdir().unwrap();
    run(&src, store.path(), &["export"], &gw).assert_code(0);
    assert!(gw.value(SUCCESS, &["command=\"export\""]).is_some());

    // Neither a dry run, nor a restore of a part, nor a retention dry run pushes a thing.
    run(&dst, store.path(), &["import", "--dry-run"], &gw).assert_code(0);
    run(&dst, store.path(), &["import", "--only", "secret/app"], &gw).assert_code(0);
    run(&dst, store.path(), &["prune", "--dry-run"], &gw).assert_code(0);
    let pushed = gw.samples("vault_replicator_");
    assert!(
        pushed
            .iter()
            .all(|l| !l.contains(IMPORT) && !l.contains("command=\"prune\"")),
        "{pushed:#?}"
    );

    // A real import pushes its success and the source time of the snapshot it applied.
    let first = stamp_of_latest(store.path());
    run(&dst, store.path(), &["import"], &gw).assert_code(0);
    assert_eq!(gw.value(DATA, &[IMPORT]), Some(first));
    let success = gw.value(SUCCESS, &[IMPORT]).unwrap();

    // An import that succeeds on the same snapshot again moves "last success" but not the data's
    // time: the data-age alert still sees data as old as the last export it applied.
    std::thread::sleep(Duration::from_millis(1100));
    run(&dst, store.path(), &["import"], &gw).assert_code(0);
    assert!(gw.value(SUCCESS, &[IMPORT]).unwrap() > success);
    assert_eq!(gw.value(DATA, &[IMPORT]), Some(first));

    // A new export and its import move the data's time to the new snapshot's.
    src.kv_put("secret", "app", json!({"v": "2"}));
    run(&src, store.path(), &["export"], &gw).assert_code(0);
    let second = stamp_of_latest(store.path());
    assert!(second > first);
    run(&dst, store.path(), &["import"], &gw).assert_code(0);
    assert_eq!(gw.value(DATA, &[IMPORT]), Some(second));
}

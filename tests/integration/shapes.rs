//! The shapes real servers give objects, copied faithfully: KV-v2 version states (a destroy after
//! a replicated delete), per-secret metadata with null custom_metadata, versions with a future
//! deletion_time; and in `auth`, every supported auth method's items at their defaults, tuned,
//! and changed.

pub(crate) mod auth;

use serde_json::{Value, json};

use super::support::{Bao, Pair};

fn meta(bao: &Bao, mount: &str, key: &str) -> Value {
    bao.read(&format!("{mount}/metadata/{key}")).unwrap()["data"].clone()
}

/// The state of one version in a metadata answer: (deleted, destroyed).
fn version_state(meta: &Value, version: u64) -> (bool, bool) {
    let v = &meta["versions"][version.to_string()];
    (
        v["deletion_time"].as_str().is_some_and(|t| !t.is_empty()),
        v["destroyed"].as_bool().unwrap_or(false),
    )
}

/// Destroys the source's latest version after the target already has it soft-deleted, then
/// checks that the target's version is destroyed: `undelete` gives no data back.
fn destroy_after_replicated_delete(extra: &[(&str, &str)]) {
    let p = Pair::new();
    p.src.kv_put("secret", "k", json!({"pw": "first"}));
    p.src.kv_put("secret", "k", json!({"pw": "plaintext"}));
    p.sync(extra, 0);
    assert_eq!(
        p.dst.kv_get("secret", "k"),
        Some(json!({"pw": "plaintext"}))
    );

    p.src.delete("secret/data/k");
    p.sync(extra, 0);
    let dr_latest = p.dst.kv_version("secret", "k");
    assert_eq!(
        version_state(&meta(&p.dst, "secret", "k"), dr_latest),
        (true, false)
    );

    p.src.write("secret/destroy/k", json!({"versions": [2]}));
    p.sync(extra, 0);
    let state = version_state(&meta(&p.dst, "secret", "k"), dr_latest);
    assert!(
        state.1,
        "DR's version {dr_latest} is not destroyed: {state:?}"
    );
    p.assert_converged();

    p.dst
        .write("secret/undelete/k", json!({"versions": [dr_latest]}));
    assert_eq!(
        p.dst.kv_get("secret", "k"),
        None,
        "undelete revived the data"
    );
}

// A version destroyed on the source after its soft delete was replicated stayed only deleted on
// DR, so `undelete` on DR brought the plaintext back.
#[test]
fn a_destroy_after_a_replicated_delete_destroys_the_version_on_dr() {
    destroy_after_replicated_delete(&[]);
}

// The same with every version exported: the replay is for new secrets only, so the state of the
// latest version must follow here too.
#[test]
fn a_destroy_after_a_replicated_delete_destroys_it_on_dr_in_history_mode() {
    destroy_after_replicated_delete(&[("REPLICATOR_KV_HISTORY", "all")]);
}

// With every version exported, an older version destroyed on the source after the replay kept
// its plaintext on DR (only the latest version's state followed).
#[test]
fn an_older_version_destroyed_after_the_replay_is_destroyed_on_dr_in_history_mode() {
    let p = Pair::new();
    let history = [("REPLICATOR_KV_HISTORY", "all")];
    for v in ["old-plaintext", "older", "latest"] {
        p.src.kv_put("secret", "h", json!({ "v": v }));
    }
    p.sync(&history, 0);
    assert_eq!(p.dst.kv_version("secret", "h"), 3);
    p.src.write("secret/destroy/h", json!({"versions": [1]}));
    p.src.write("secret/delete/h", json!({"versions": [2]}));
    p.sync(&history, 0);
    let m = meta(&p.dst, "secret", "h");
    assert_eq!(
        [1, 2, 3].map(|v| version_state(&m, v)),
        [(false, true), (true, false), (false, false)]
    );
    let v1 = p.dst.cli(&["kv", "get", "-version=1", "secret/h"]);
    assert!(!String::from_utf8_lossy(&v1.stdout).contains("old-plaintext"));
    assert_eq!(p.dst.kv_get("secret", "h"), Some(json!({"v": "latest"})));
    p.assert_converged();
}

// Deleted and destroyed on the source between two imports: DR's live version is destroyed.
#[test]
fn a_delete_and_destroy_between_two_imports_destroys_the_version_on_dr() {
    let p = Pair::new();
    p.src.kv_put("secret", "k", json!({"pw": "plaintext"}));
    p.sync(&[], 0);
    p.src.delete("secret/data/k");
    p.src.write("secret/destroy/k", json!({"versions": [1]}));
    p.sync(&[], 0);
    let dr_latest = p.dst.kv_version("secret", "k");
    assert!(version_state(&meta(&p.dst, "secret", "k"), dr_latest).1);
    p.assert_converged();
    p.dst
        .write("secret/undelete/k", json!({"versions": [dr_latest]}));
    assert_eq!(p.dst.kv_get("secret", "k"), None);
}

// A secret's own max_versions / cas_required / delete_version_after arrived as 0/false/0s when
// its custom_metadata was null: the metadata parse failed and defaulted silently.
#[test]
fn per_secret_settings_with_null_custom_metadata_arrive_on_dr() {
    let p = Pair::new();
    for key in ["one", "sub/two"] {
        p.src.kv_put("secret", key, json!({"v": 1}));
        p.src.kv_put("secret", key, json!({"v": 2}));
        p.src.write(
            &format!("secret/metadata/{key}"),
            json!({"max_versions": 2, "cas_required": true, "delete_version_after": "30m"}),
        );
        assert_eq!(meta(&p.src, "secret", key)["custom_metadata"], Value::Null);
    }
    p.sync(&[], 0);
    for key in ["one", "sub/two"] {
        let m = meta(&p.dst, "secret", key);
        let got = json!([
            m["max_versions"],
            m["cas_required"],
            m["delete_version_after"]
        ]);
        assert_eq!(got, json!([2, true, "30m0s"]), "{key}");
        assert_eq!(p.dst.kv_get("secret", key), Some(json!({"v": 2})), "{key}");
    }
    p.assert_converged();
}

// With delete_version_after, every live version carries a deletion_time in the future; the
// export took any deletion_time for a deletion and left such secrets out.
#[test]
fn secrets_under_delete_version_after_are_replicated_while_live() {
    let p = Pair::new();
    p.src.mount_kv2("auto");
    p.src
        .write("auto/config", json!({"delete_version_after": "1h"}));
    p.src.kv_put("auto", "mounted", json!({"pw": "mount-wide"}));
    p.src.kv_put("secret", "own", json!({"pw": "v1"}));
    p.src
        .write("secret/metadata/own", json!({"delete_version_after": "1h"}));
    p.src.kv_put("secret", "own", json!({"pw": "per-secret"}));
    let future = meta(&p.src, "auto", "mounted")["versions"]["1"]["deletion_time"].clone();
    assert!(future.as_str().is_some_and(|t| !t.is_empty()), "{future}");
    p.sync(&[], 0);
    assert_eq!(
        p.dst.kv_get("auto", "mounted"),
        Some(json!({"pw": "mount-wide"}))
    );
    assert_eq!(
        p.dst.kv_get("secret", "own"),
        Some(json!({"pw": "per-secret"}))
    );
    p.assert_converged();
}

//! `diff` between two snapshots and between a snapshot and the live cluster, `verify --contents`,
//! and `list` with its counts and `--verify`: what changed is named down to the key, and no value
//! ever reaches the output.

use std::time::Duration;

use serde_json::{Value, json};

use super::support::{Bao, Run, env_for, file_store, replicator, seed, words};

/// A source cluster and a file store, with the shared keys.
struct Store {
    bao: Bao,
    dir: tempfile::TempDir,
}

impl Store {
    fn new() -> Store {
        Store {
            bao: Bao::start(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let extra: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        replicator(
            args,
            &env_for(&self.bao, &file_store(self.dir.path()), &extra),
        )
    }

    /// Exports the source and returns the new snapshot's key; snapshots are named by the second.
    fn export(&self, extra: &[(&str, &str)]) -> String {
        std::thread::sleep(Duration::from_millis(1050));
        self.run(&["export"], extra).assert_code(0);
        self.keys()[0].clone()
    }

    /// The snapshots' keys, newest first.
    fn keys(&self) -> Vec<String> {
        let doc = json_of(self.run(&["list", "--output", "json"], &[]).assert_code(0));
        doc["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["key"].as_str().unwrap().to_string())
            .collect()
    }
}

fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

#[track_caller]
fn assert_no_value(run: &Run, values: &[&str]) {
    for v in values {
        assert!(!run.all().contains(v), "{v} in the output:\n{}", run.all());
    }
}

const VALUES: &[&str] = &[
    "pw-old-81f3",
    "pw-new-9a2c",
    "added-4d1e",
    "gone-77b0",
    "new-5e6f",
];

#[test]
fn a_diff_of_two_snapshots_names_what_changed_and_never_a_value() {
    let s = Store::new();
    let b = &s.bao;
    b.kv_put(
        "secret",
        "app/db",
        json!({"password": VALUES[0], "user": "app"}),
    );
    b.kv_put("secret", "app/gone", json!({"k": VALUES[3]}));
    b.kv_put("secret", "app/same", json!({"k": "same"}));
    b.write(
        "sys/policies/acl/app",
        json!({"policy": "path \"secret/*\" {\n  capabilities = [\"read\"]\n}"}),
    );
    let before = s.export(&[]);

    b.kv_put(
        "secret",
        "app/db",
        json!({"password": VALUES[1], "user": "app", "extra": VALUES[2]}),
    );
    b.write(
        "secret/metadata/app/db",
        json!({"custom_metadata": {"owner": "payments"}}),
    );
    b.kv_put("secret", "app/new", json!({"k": VALUES[4]}));
    b.delete("secret/metadata/app/gone");
    b.write(
        "sys/policies/acl/app",
        json!({"policy": "path \"secret/*\" {\n  capabilities = [\"list\"]\n}"}),
    );
    let after = s.export(&[]);

    let run = s.run(&["diff", &before, &after], &[]);
    run.assert_code(0);
    assert_no_value(&run, VALUES);
    let text = words(&run.stdout);
    assert_eq!(
        text,
        format!(
            "Changes from {before} to {after}:\n\
             ~ changed policy sys/policies/acl/app (fields: policy)\n\
             ~ changed kv_secret secret/app/db (keys: extra, password; metadata: custom_metadata.owner)\n\
             - removed kv_secret secret/app/gone\n\
             + added kv_secret secret/app/new\n\
             Diff: 1 added, 1 removed, 2 changed, {} unchanged.",
            json_of(&s.run(&["diff", &before, &after, "--output", "json"], &[]))["unchanged"]
        )
    );

    let run = s.run(
        &[
            "diff",
            &before,
            "latest",
            "--output",
            "json",
            "--only",
            "secret/app/*",
        ],
        &[],
    );
    run.assert_code(0);
    assert_no_value(&run, VALUES);
    let doc = json_of(&run);
    assert_eq!(
        (doc["a"].as_str(), doc["b"].as_str()),
        (Some(&*before), Some(&*after))
    );
    assert_eq!(doc["only"], "secret/app/*");
    assert_eq!(
        doc["added"],
        json!([{"kind": "kv_secret", "path": "secret/app/new"}])
    );
    assert_eq!(
        doc["removed"],
        json!([{"kind": "kv_secret", "path": "secret/app/gone"}])
    );
    assert_eq!(
        doc["changed"],
        json!([{"kind": "kv_secret", "path": "secret/app/db",
                "fields": ["data.extra", "data.password", "metadata.custom_metadata.owner"]}])
    );
    assert_eq!(doc["unchanged"], 1, "only secret/app/same: {doc}");

    let bad = s.run(&["diff", &before, "yesterday"], &[]);
    bad.assert_code(2);
}

#[test]
fn a_snapshot_diffs_against_the_live_cluster_and_an_unchanged_cluster_has_no_changes() {
    let s = Store::new();
    seed(&s.bao, true);
    // Kinds the seed leaves out whose exports could carry volatile fields.
    let b = &s.bao;
    b.write("sys/mounts/pki", json!({"type": "pki"}));
    b.write(
        "pki/root/generate/internal",
        json!({"common_name": "diff.test", "issuer_name": "root"}),
    );
    b.write("pki/roles/web", json!({"allowed_domains": "diff.test"}));
    b.write("sys/mounts/ssh", json!({"type": "ssh"}));
    b.write("ssh/config/ca", json!({"generate_signing_key": true}));
    b.write(
        "ssh/roles/ops",
        json!({"key_type": "ca", "allow_user_certificates": true}),
    );
    let history = [("REPLICATOR_KV_HISTORY", "all")];
    let first = s.export(&history);
    let second = s.export(&history);
    let no_changes = |run: &Run| {
        run.assert_code(0);
        let last = run.stdout.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("Diff: 0 added, 0 removed, 0 changed,"),
            "{}",
            run.stdout
        );
        assert_eq!(run.stdout.lines().count(), 2, "{}", run.stdout);
    };
    // The first export is the full snapshot (the second, a delta, holds what changed).
    let verify = [
        "verify",
        "--snapshot",
        &first,
        "--contents",
        "--output",
        "json",
    ];
    let held = json_of(&s.run(&verify, &[]));
    let kinds: std::collections::BTreeSet<&str> = held["contents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["kind"].as_str())
        .collect();
    for kind in [
        "transit_key",
        "pki_issuer",
        "pki_role",
        "ssh_role",
        "entity",
        "namespace",
    ] {
        assert!(kinds.contains(kind), "{kind} not in {kinds:?}");
    }
    // Two exports of a cluster nobody touched, and each against the cluster itself.
    no_changes(&s.run(&["diff", &first, &second], &history));
    no_changes(&s.run(&["diff", "latest", "cluster"], &history));

    s.bao
        .kv_put("secret", "live/added", json!({"token": "live-added-3c9d"}));
    s.bao.delete("sys/policies/acl/app-read");
    let run = s.run(&["diff", "latest", "cluster", "--output", "json"], &history);
    run.assert_code(0);
    assert_no_value(&run, &["live-added-3c9d"]);
    let doc = json_of(&run);
    assert_eq!(doc["a"], second.as_str());
    assert_eq!(doc["b"], s.bao.addr.as_str());
    assert_eq!(
        doc["added"],
        json!([{"kind": "kv_secret", "path": "secret/live/added"}])
    );
    assert_eq!(
        doc["removed"],
        json!([{"kind": "policy", "path": "sys/policies/acl/app-read"}])
    );
    assert_eq!(doc["changed"], json!([]));
    // Nothing was written to the store.
    assert_eq!(s.keys().len(), 2);
}

#[test]
fn verify_contents_lists_the_selection_with_kv_versions_and_metadata_and_no_value() {
    let s = Store::new();
    let b = &s.bao;
    b.kv_put("secret", "app/db", json!({"password": "contents-v1-0e1f"}));
    b.kv_put("secret", "app/db", json!({"password": "contents-v2-6a7b"}));
    b.write(
        "secret/metadata/app/db",
        json!({"max_versions": 7, "custom_metadata": {"owner": "payments"}}),
    );
    b.write("secret/delete/app/db", json!({"versions": [1]}));
    b.kv_put("secret", "other/x", json!({"k": "contents-other-2b3c"}));
    b.write("sys/policies/acl/app", json!({"policy": "path \"x\" {}"}));
    s.export(&[("REPLICATOR_KV_HISTORY", "all")]);
    let values = [
        "contents-v1-0e1f",
        "contents-v2-6a7b",
        "contents-other-2b3c",
    ];

    let run = s.run(&["verify", "--contents", "--only", "secret/app/*"], &[]);
    run.assert_code(0);
    assert_no_value(&run, &values);
    let text = words(&run.stdout);
    assert!(
        text.contains(
            "contents: 1 objects\nkv_secret secret/app/db (kv-v2, latest live; \
         versions: 1 deleted, 2 live; max_versions 7, cas_required false, \
         delete_version_after 0s, custom_metadata: owner=payments)"
        ),
        "{text}"
    );
    assert!(
        !text.contains("secret/other") && !text.contains("sys/policies"),
        "{text}"
    );

    let run = s.run(&["verify", "--contents", "--output", "json"], &[]);
    run.assert_code(0);
    assert_no_value(&run, &values);
    let doc = json_of(&run);
    let contents = doc["contents"].as_array().unwrap();
    let db = contents
        .iter()
        .find(|c| c["path"] == "secret/app/db")
        .unwrap();
    assert_eq!(db["kind"], "kv_secret");
    assert_eq!(
        db["kv"]["versions"],
        json!([{"version": 1, "state": "deleted"}, {"version": 2, "state": "live"}])
    );
    assert_eq!(
        db["kv"]["metadata"]["custom_metadata"],
        json!({"owner": "payments"})
    );
    assert!(
        contents
            .iter()
            .any(|c| c["path"] == "sys/policies/acl/app" && c.get("kv").is_none())
    );
    assert!(contents.iter().any(|c| c["kind"] == "mount"), "{doc}");
    // --only needs --contents.
    s.run(&["verify", "--only", "secret/*"], &[]).assert_code(2);
}

#[test]
fn list_counts_objects_and_list_verify_reports_a_corrupt_snapshot_and_goes_on() {
    let s = Store::new();
    // Full snapshots: each counts all it holds, and each verifies on its own.
    let full = [("REPLICATOR_FULL_EVERY", "0")];
    s.bao.kv_put("secret", "a", json!({"k": "list-value-1d2e"}));
    s.export(&full);
    s.bao.kv_put("secret", "b", json!({"k": "list-value-1d2e"}));
    let corrupt = s.export(&full);
    s.export(&full);

    let run = s.run(&["list"], &[]);
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with("SNAPSHOT") && lines[0].ends_with("KINDS"),
        "{}",
        run.stdout
    );
    assert!(
        lines[1].split_whitespace().any(|w| w == "latest"),
        "{}",
        run.stdout
    );
    for line in &lines[1..4] {
        assert!(line.contains(" unverified "), "{}", run.stdout);
        assert!(
            line.contains("kv_secret 2") || line.contains("kv_secret 1"),
            "{line}"
        );
    }

    // Flip a byte in the middle of the second snapshot.
    let path = s.dir.path().join(&corrupt);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();

    let run = s.run(&["list", "--verify"], &[]);
    run.assert_code(4);
    assert_no_value(&run, &["list-value-1d2e"]);
    let rows: Vec<&str> = run.stdout.lines().skip(1).take(3).collect();
    assert!(
        rows[0].contains(" verified ") && rows[2].contains(" verified "),
        "{}",
        run.stdout
    );
    assert!(
        rows[1].starts_with(&corrupt) && rows[1].contains(" REFUSED"),
        "{}",
        run.stdout
    );
    let note = run.stdout.lines().last().unwrap();
    assert!(
        note.starts_with(&format!("refused: {corrupt}: ")),
        "{}",
        run.stdout
    );

    let run = s.run(&["list", "--verify", "--output", "json"], &[]);
    run.assert_code(4);
    let doc = json_of(&run);
    let snaps = doc["snapshots"].as_array().unwrap();
    let checks: Vec<&str> = snaps
        .iter()
        .map(|s| s["verification"].as_str().unwrap())
        .collect();
    assert_eq!(checks, ["verified", "refused", "verified"]);
    assert!(
        snaps[1]["reason"].is_string() && snaps[1]["counts"].is_null(),
        "{doc}"
    );
    assert_eq!(snaps[0]["counts"]["kv_secret"], 2, "{doc}");
}

//! Pruning mounts and namespaces against real OpenBao: only what the importer created goes, and
//! only when it holds nothing the importer did not write; the delete guard counts a mount as what
//! is inside it and holds over a rolling window, so runs just under the limit cannot add up.

use std::time::Duration;

use serde_json::json;

use super::support::{Pair, replicator};

const PRUNE_ALL: [(&str, &str); 3] = [
    ("REPLICATOR_PRUNE", "true"),
    ("REPLICATOR_PRUNE_MOUNTS", "true"),
    ("REPLICATOR_MAX_DELETE", "100%"),
];

impl Pair {
    fn has_mount(&self, path: &str) -> bool {
        let table = self.dst.read("sys/mounts").unwrap();
        table["data"].get(format!("{path}/")).is_some()
    }
}

/// Regression: a mount DR already had (same type, found equal and recorded) was disabled with
/// everything in it, secrets DR wrote itself included, once it left the snapshot.
#[test]
fn a_mount_dr_already_had_is_never_disabled_and_its_dr_secrets_survive() {
    let p = Pair::new();
    p.src.mount_kv2("shared");
    p.src.kv_put("shared", "from-dc", json!({"v": "dc"}));
    p.dst.mount_kv2("shared");
    p.export();
    p.import(&[]).assert_code(0);
    p.dst
        .kv_put("shared", "dr-own", json!({"v": "written on DR"}));

    p.src.delete("sys/mounts/shared");
    p.export();
    let run = p.import(&PRUNE_ALL);
    run.assert_code(3);
    assert!(p.has_mount("shared"), "the mount DR had was disabled");
    assert_eq!(
        p.dst.kv_get("shared", "dr-own"),
        Some(json!({"v": "written on DR"}))
    );
    // The importer's own secret went; the mount stays, with the reason in the summary.
    assert_eq!(p.dst.kv_keys("shared"), ["dr-own"]);
    assert!(
        run.stdout
            .contains("mount shared/: not disabled: the importer did not create it"),
        "{}",
        run.stdout
    );
}

/// Regression: a mount the importer created was disabled although DR had written into it.
#[test]
fn an_importer_created_mount_holding_a_dr_secret_stays() {
    let p = Pair::new();
    p.src.mount_kv2("apps");
    p.src.kv_put("apps", "x", json!({"v": 1}));
    p.src.kv_put("apps", "team/y", json!({"v": 2}));
    p.export();
    p.import(&[]).assert_code(0);
    // DR writes deep in a folder of its own.
    p.dst.kv_put("apps", "dr/deeper/own", json!({"v": "dr"}));

    p.src.delete("sys/mounts/apps");
    p.export();
    let dry = replicator(&["import", "--dry-run"], &p.env(&p.dst, &PRUNE_ALL));
    dry.assert_code(3);
    assert!(
        dry.stdout.contains("holds key dr/deeper/own"),
        "{}",
        dry.stdout
    );
    let run = p.import(&PRUNE_ALL);
    run.assert_code(3);
    assert!(p.has_mount("apps"));
    assert_eq!(p.dst.kv_keys("apps"), ["dr/deeper/own"]);
    assert!(
        run.stdout.contains(
            "mount apps/: not disabled: it holds key dr/deeper/own, which the importer did not write"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn an_importer_created_mount_holding_only_importer_secrets_is_disabled() {
    let p = Pair::new();
    p.src.mount_kv2("temp");
    for k in ["a", "f/b", "f/g/c"] {
        p.src.kv_put("temp", k, json!({"k": k}));
    }
    p.src.write("sys/mounts/keys", json!({"type": "transit"}));
    p.src.write(
        "keys/keys/k1",
        json!({"exportable": true, "allow_plaintext_backup": true}),
    );
    p.export();
    p.import(&[]).assert_code(0);
    assert_eq!(p.dst.kv_keys("temp").len(), 3);
    assert!(p.dst.read("keys/keys/k1").is_some());

    p.src.delete("sys/mounts/temp");
    p.src.delete("sys/mounts/keys");
    p.export();
    let run = p.import(&PRUNE_ALL);
    run.assert_code(0);
    assert!(!p.has_mount("temp"), "{}", run.stdout);
    assert!(!p.has_mount("keys"), "{}", run.stdout);
}

/// A transit mount the importer created but where DR made a key of its own stays.
#[test]
fn an_importer_created_transit_mount_with_a_dr_key_stays() {
    let p = Pair::new();
    p.src.write("sys/mounts/keys", json!({"type": "transit"}));
    p.src.write(
        "keys/keys/k1",
        json!({"exportable": true, "allow_plaintext_backup": true}),
    );
    p.export();
    p.import(&[]).assert_code(0);
    p.dst.write("keys/keys/dr-key", json!({}));

    p.src.delete("sys/mounts/keys");
    p.export();
    let run = p.import(&PRUNE_ALL);
    run.assert_code(3);
    assert!(p.has_mount("keys"));
    assert!(p.dst.read("keys/keys/dr-key").is_some());
    assert!(
        run.stdout
            .contains("mount keys/: not disabled: it holds key dr-key, which"),
        "{}",
        run.stdout
    );
}

/// An auth method the importer created goes with its users; one where DR added a user stays.
#[test]
fn an_importer_created_auth_method_goes_only_without_users_of_dr() {
    let p = Pair::new();
    for m in ["up-a", "up-b"] {
        p.src
            .write(&format!("sys/auth/{m}"), json!({"type": "userpass"}));
        p.src.write(
            &format!("auth/{m}/users/alice"),
            json!({"password": "x", "token_policies": "default"}),
        );
    }
    p.export();
    p.import(&[]).assert_code(0);
    p.dst
        .write("auth/up-b/users/bob", json!({"password": "dr"}));

    for m in ["up-a", "up-b"] {
        p.src.delete(&format!("sys/auth/{m}"));
    }
    p.export();
    let run = p.import(&PRUNE_ALL);
    run.assert_code(3);
    let auth = p.dst.read("sys/auth").unwrap();
    assert!(auth["data"].get("up-a/").is_none(), "{}", run.stdout);
    assert!(auth["data"].get("up-b/").is_some(), "{}", run.stdout);
    assert!(p.dst.read("auth/up-b/users/bob").is_some());
    assert!(
        run.stdout.contains(
            "mount auth/up-b/: not disabled: it holds item users/bob, which the importer did not write"
        ),
        "{}",
        run.stdout
    );
}

/// SSH and PKI mounts the importer created go once they left the snapshot, when they hold only
/// what the importer wrote (their kinds list them); ones where DR made a role of its own stay.
#[test]
fn importer_created_ssh_and_pki_mounts_go_only_without_roles_of_dr() {
    let p = Pair::new();
    let role = |engine: &str| match engine {
        "ssh" => json!({"key_type": "ca", "allow_user_certificates": true}),
        _ => json!({"allow_any_name": true}),
    };
    for (mount, engine) in [
        ("ssh-a", "ssh"),
        ("ssh-b", "ssh"),
        ("pki-a", "pki"),
        ("pki-b", "pki"),
    ] {
        p.src
            .write(&format!("sys/mounts/{mount}"), json!({"type": engine}));
        p.src.write(&format!("{mount}/roles/dc"), role(engine));
    }
    p.export();
    p.import(&[]).assert_code(0);
    assert!(p.dst.read("ssh-a/roles/dc").is_some());
    assert!(p.dst.read("pki-a/roles/dc").is_some());
    p.dst.write("ssh-b/roles/dr", role("ssh"));
    p.dst.write("pki-b/roles/dr", role("pki"));

    for mount in ["ssh-a", "ssh-b", "pki-a", "pki-b"] {
        p.src.delete(&format!("sys/mounts/{mount}"));
    }
    p.export();
    let run = p.import(&PRUNE_ALL);
    run.assert_code(3);
    assert!(!p.has_mount("ssh-a"), "{}", run.stdout);
    assert!(!p.has_mount("pki-a"), "{}", run.stdout);
    assert!(
        p.has_mount("ssh-b") && p.has_mount("pki-b"),
        "{}",
        run.stdout
    );
    assert!(p.dst.read("ssh-b/roles/dr").is_some());
    assert!(p.dst.read("pki-b/roles/dr").is_some());
    for (mount, kind) in [("ssh-b", "ssh role"), ("pki-b", "pki role")] {
        let why = format!("mount {mount}/: not disabled: it holds {kind} roles/dr, which");
        assert!(run.stdout.contains(&why), "{why}\n{}", run.stdout);
    }
}

/// A mount's deletion counts as the secrets that go with it: five secrets count five.
#[test]
fn the_delete_guard_counts_a_mount_as_the_secrets_inside_it() {
    let p = Pair::new();
    p.src.mount_kv2("bulk");
    for i in 0..5 {
        p.src.kv_put("bulk", &format!("s{i}"), json!({"v": i}));
    }
    for i in 0..40 {
        p.src.kv_put("secret", &format!("keep{i}"), json!({"v": i}));
    }
    p.export();
    p.import(&[]).assert_code(0);
    p.src.delete("sys/mounts/bulk");
    p.export();

    let mounts = [
        ("REPLICATOR_PRUNE", "true"),
        ("REPLICATOR_PRUNE_MOUNTS", "true"),
    ];
    let run = p.import(&[mounts[0], mounts[1], ("REPLICATOR_MAX_DELETE", "4")]);
    run.assert_code(4);
    assert!(
        run.last_error_line().contains("deletes 5 objects"),
        "{}",
        run.stderr
    );
    assert_eq!(p.dst.kv_keys("bulk").len(), 5, "nothing deleted");
    let run = p.import(&[mounts[0], mounts[1], ("REPLICATOR_MAX_DELETE", "5")]);
    run.assert_code(0);
    assert!(!p.has_mount("bulk"));
    assert_eq!(p.dst.kv_keys("secret").len(), 40);
}

/// Regression: the guard was per run, so a source shrinking by just under the limit at every run
/// could empty DR one run at a time. Deletions of the last 24 h now count together.
#[test]
fn runs_just_under_the_delete_limit_are_refused_once_the_window_is_spent() {
    let p = Pair::new();
    for i in 0..20 {
        p.src.kv_put("secret", &format!("s{i:02}"), json!({"v": i}));
    }
    p.export();
    p.import(&[]).assert_code(0);
    let prune = [("REPLICATOR_PRUNE", "true"), ("REPLICATOR_MAX_DELETE", "3")];

    for i in 0..3 {
        p.src.delete(&format!("secret/metadata/s{i:02}"));
    }
    p.export();
    p.import(&prune).assert_code(0);
    assert_eq!(p.dst.kv_keys("secret").len(), 17);

    for i in 3..6 {
        p.src.delete(&format!("secret/metadata/s{i:02}"));
    }
    p.export();
    let run = p.import(&prune);
    run.assert_code(4);
    let line = run.last_error_line();
    assert!(
        line.contains("3 were deleted in the last 24h")
            && line.contains("REPLICATOR_MAX_DELETE_WINDOW=24h"),
        "{line}"
    );
    assert_eq!(p.dst.kv_keys("secret").len(), 17, "nothing deleted");

    // Raising the limit for one run lets it through; the window then holds six deletions.
    let run = p.import(&[prune[0], ("REPLICATOR_MAX_DELETE", "6")]);
    run.assert_code(0);
    assert_eq!(p.dst.kv_keys("secret").len(), 14);
    // A window that has passed counts nothing.
    std::thread::sleep(Duration::from_secs(2));
    p.src.delete("secret/metadata/s06");
    p.export();
    let short = [prune[0], prune[1], ("REPLICATOR_MAX_DELETE_WINDOW", "1s")];
    p.import(&short).assert_code(0);
    assert_eq!(p.dst.kv_keys("secret").len(), 13);
}

/// Namespaces: one DR had is never deleted; one the importer created goes only when it holds
/// nothing the importer did not write.
#[test]
fn only_empty_namespaces_the_importer_created_are_deleted() {
    let p = Pair::new();
    for ns in ["had", "busy", "gone"] {
        p.src.write(&format!("sys/namespaces/{ns}"), json!({}));
    }
    p.dst.write("sys/namespaces/had", json!({}));
    p.src.write(
        "gone/sys/policies/acl/p",
        json!({"policy": "path \"x\" {}"}),
    );
    p.export();
    p.import(&[]).assert_code(0);
    assert!(p.dst.read("gone/sys/policies/acl/p").is_some());
    // DR puts a policy of its own into a namespace the importer created.
    p.dst.write(
        "busy/sys/policies/acl/dr-pol",
        json!({"policy": "path \"y\" {}"}),
    );

    for ns in ["had", "busy", "gone"] {
        p.src.delete(&format!("sys/namespaces/{ns}"));
    }
    p.export();
    let run = p.import(&PRUNE_ALL);
    run.assert_code(3);
    assert!(p.dst.read("sys/namespaces/had").is_some(), "{}", run.stdout);
    assert!(
        p.dst.read("sys/namespaces/busy").is_some(),
        "{}",
        run.stdout
    );
    assert!(p.dst.read("busy/sys/policies/acl/dr-pol").is_some());
    // OpenBao may finish deleting a namespace in the background.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while p.dst.read("sys/namespaces/gone").is_some() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        p.dst.read("sys/namespaces/gone").is_none(),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("namespace had/: not deleted: the importer did not create it"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("namespace busy/: not deleted: it holds policy dr-pol"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_namespace_gone_from_the_source_goes_whole_with_its_default_policy() {
    let p = Pair::new();
    p.src.write("sys/namespaces/gone", json!({}));
    p.src.write(
        "gone/sys/policies/acl/p",
        json!({"policy": "path \"x\" {}"}),
    );
    p.export();
    p.import(&[]).assert_code(0);
    p.src.delete("sys/namespaces/gone");
    p.export();
    let run = p.import(&PRUNE_ALL);
    run.assert_code(0);
    assert!(!run.stdout.contains("default"), "{}", run.stdout);
}

/// The usual PKI mount: a root issuer DC generated (its key stays on DC, so DR gets the
/// certificate) and a role. What DR then holds is what the importer wrote: it goes.
#[test]
fn an_importer_created_pki_mount_with_its_issuer_and_role_is_disabled() {
    let p = Pair::new();
    p.src.write("sys/mounts/pki-c", json!({"type": "pki"}));
    p.src.write(
        "pki-c/root/generate/internal",
        json!({"common_name": "dc.example", "issuer_name": "root", "ttl": "24h"}),
    );
    p.src
        .write("pki-c/roles/web", json!({"allow_any_name": true}));
    p.export();
    p.import(&[]).assert_code(0);
    p.src.delete("sys/mounts/pki-c");
    p.export();
    let run = p.import(&PRUNE_ALL);
    run.assert_code(0);
    assert!(!p.has_mount("pki-c"), "{}", run.stdout);
}

/// A database mount: a connection config (its password stays on DC: write-only) and a role.
#[test]
fn an_importer_created_database_mount_with_its_config_and_role_is_disabled() {
    let p = Pair::new();
    p.src.write("sys/mounts/db-c", json!({"type": "database"}));
    p.src.write(
        "db-c/config/pg",
        json!({"plugin_name": "postgresql-database-plugin", "verify_connection": false,
               "connection_url": "postgresql://{{username}}:{{password}}@127.0.0.1:1/app",
               "username": "vault", "password": "not-copied", "allowed_roles": ["app"]}),
    );
    p.src.write(
        "db-c/roles/app",
        json!({"db_name": "pg", "creation_statements": ["CREATE ROLE \"{{name}}\";"]}),
    );
    p.export();
    p.import(&[]).assert_code(0);
    assert!(p.dst.read("db-c/roles/app").is_some());
    p.src.delete("sys/mounts/db-c");
    p.export();
    let run = p.import(&PRUNE_ALL);
    run.assert_code(0);
    assert!(!p.has_mount("db-c"), "{}", run.stdout);
}

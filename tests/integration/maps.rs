//! Path maps against real OpenBao (`--map FROM=TO`, `REPLICATOR_MAP`): a namespace moved under
//! another, a mount renamed with prune on, what names them rewritten (policies, aliases), and a
//! second import of the same snapshot writing nothing.

use serde_json::{Value, json};

use super::support::{Bao, Pair, writes};

const PRUNE: [(&str, &str); 2] = [
    ("REPLICATOR_PRUNE", "true"),
    ("REPLICATOR_MAX_DELETE", "100%"),
];

fn data(b: &Bao, path: &str) -> Value {
    b.read(path).unwrap_or_else(|| panic!("{path} is missing"))["data"].clone()
}

fn accessor(b: &Bao, ns: &str, mount: &str) -> Value {
    data(b, &format!("{ns}sys/auth"))[mount]["accessor"].clone()
}

/// An entity `name` in namespace `ns` (`""` or `team1/`) with an alias on that namespace's
/// `auth/users/` (userpass).
fn entity_with_alias(b: &Bao, ns: &str, name: &str) {
    let id = b.write(
        &format!("{ns}identity/entity"),
        json!({"name": name, "policies": ["app"]}),
    )["data"]["id"]
        .clone();
    b.write(
        &format!("{ns}identity/entity-alias"),
        json!({"name": name, "canonical_id": id, "mount_accessor": accessor(b, ns, "users/")}),
    );
}

/// The source's usual shape in namespace `ns`: a KV-v2 `secret/`-like mount `kv`, a userpass
/// `users/` with a user, a policy naming the mount, and an entity with an alias on `users/`.
fn seed(b: &Bao, ns: &str) {
    b.write(
        &format!("{ns}sys/mounts/kv"),
        json!({"type": "kv", "options": {"version": "2"}}),
    );
    for (key, v) in [("app/db", 1), ("app/api", 2), ("other", 3)] {
        b.write(&format!("{ns}kv/data/{key}"), json!({"data": {"v": v}}));
    }
    b.write(&format!("{ns}sys/auth/users"), json!({"type": "userpass"}));
    b.write(
        &format!("{ns}auth/users/users/alice"),
        json!({"password": "pw", "token_policies": "app"}),
    );
    let policy = "path \"kv/data/app/*\" { capabilities = [\"read\"] }\n\
                  path \"auth/users/login/*\" { capabilities = [\"create\"] }\n";
    b.write(
        &format!("{ns}sys/policies/acl/app"),
        json!({"policy": policy}),
    );
    entity_with_alias(b, ns, "alice");
}

/// Regression: an import wrote every object at its source path; there was no way to land DC's
/// mounts elsewhere on a shared DR. With prune on, a deletion on the source reaches the renamed
/// mount only, and what DR holds at the source's own paths is never touched.
#[test]
fn a_renamed_mount_takes_its_secrets_and_what_names_it_and_prunes_only_there() {
    let p = Pair::new();
    seed(&p.src, "");
    // DR holds a mount of its own at the source's path, with a secret of the same name.
    p.dst.write(
        "sys/mounts/kv",
        json!({"type": "kv", "options": {"version": "2"}}),
    );
    p.dst
        .write("kv/data/other", json!({"data": {"v": "DR's own"}}));
    // Engines move with their mounts: a PKI role names its issuer by name, inside the mount.
    p.src.write("sys/mounts/pki", json!({"type": "pki"}));
    p.src.write(
        "pki/root/generate/internal",
        json!({"common_name": "DC Root", "issuer_name": "root", "ttl": "24h"}),
    );
    p.src.write(
        "pki/roles/web",
        json!({"issuer_ref": "root", "allowed_domains": ["example.com"], "allow_subdomains": true}),
    );
    p.src
        .write("sys/mounts/transit", json!({"type": "transit"}));
    p.src.write(
        "transit/keys/app",
        json!({"exportable": true, "allow_plaintext_backup": true}),
    );
    let map = [
        (
            "REPLICATOR_MAP",
            "kv/=dc-kv/,auth/users/=auth/dc-users/,pki/=dc-pki/,transit/=dc-transit/",
        ),
        PRUNE[0],
        PRUNE[1],
    ];
    p.export();
    let dry = p.import_args(&["import", "--dry-run"], &map);
    dry.assert_code(0);
    assert!(
        dry.stdout
            .contains("+ create  kv_secret   dc-kv/app/db  <- kv/app/db"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains(
            "rewritten: path \"kv/data/app/*\" → \"dc-kv/data/app/*\"\n      rewritten: path \
             \"auth/users/login/*\" → \"auth/dc-users/login/*\""
        ),
        "{}",
        dry.stdout
    );
    p.import(&map).assert_code(0);

    assert_eq!(data(&p.dst, "dc-kv/data/app/db")["data"], json!({"v": 1}));
    assert_eq!(
        data(&p.dst, "kv/data/other")["data"],
        json!({"v": "DR's own"})
    );
    assert!(p.dst.read("auth/dc-users/users/alice").is_some());
    assert!(
        p.dst.read("sys/auth").unwrap()["data"]
            .get("users/")
            .is_none()
    );
    let policy = data(&p.dst, "sys/policies/acl/app")["policy"].clone();
    assert!(
        policy
            .as_str()
            .unwrap()
            .contains("path \"dc-kv/data/app/*\"")
            && policy
                .as_str()
                .unwrap()
                .contains("path \"auth/dc-users/login/*\""),
        "{policy}"
    );
    assert_eq!(
        data(&p.dst, "dc-pki/roles/web")["issuer_ref"],
        json!("root")
    );
    assert_eq!(
        data(&p.dst, "dc-pki/issuer/root")["certificate"],
        data(&p.src, "pki/issuer/root")["certificate"]
    );
    assert!(p.dst.read("dc-transit/keys/app").is_some());
    assert!(
        p.dst.read("sys/mounts").unwrap()["data"]
            .get("pki/")
            .is_none()
    );
    // The alias follows its mount: on DR's dc-users/ accessor.
    let alias = &data(&p.dst, "identity/entity/name/alice")["aliases"][0];
    assert_eq!(alias["mount_accessor"], accessor(&p.dst, "", "dc-users/"));

    // Nothing changed: nothing written.
    let again = p.import_args(&["import", "--full-check"], &map);
    again.assert_code(0);
    assert_eq!(writes(&again), 0, "{}", again.stdout);

    // `diff` compares across the map: the snapshot's kv/ is DR's dc-kv/.
    let diff = |args: &[&str]| -> Value {
        let run = p.import_args(args, &[]);
        run.assert_code(0);
        serde_json::from_str(&run.stdout).unwrap_or_else(|_| panic!("{}", run.stdout))
    };
    let across = diff(&[
        "diff",
        "latest",
        "cluster",
        "-o",
        "json",
        "--only",
        "dc-kv/",
        "--map",
        "kv/=dc-kv/",
    ]);
    assert_eq!(
        (&across["added"], &across["removed"], &across["changed"]),
        (&json!([]), &json!([]), &json!([])),
        "{across}"
    );
    assert_eq!(across["unchanged"], json!(4), "{across}");
    let unmapped = diff(&[
        "diff", "latest", "cluster", "-o", "json", "--only", "dc-kv/",
    ]);
    assert_eq!(unmapped["added"].as_array().unwrap().len(), 4, "{unmapped}");

    // A restore with a map of its own is a copy elsewhere: recorded nowhere, pruned never.
    let restore = p.import_args(
        &["import", "--only", "kv/app/*", "--map", "kv/=restored-kv/"],
        &map,
    );
    restore.assert_code(0);
    assert_eq!(
        data(&p.dst, "restored-kv/data/app/db")["data"],
        json!({"v": 1})
    );
    assert!(p.dst.read("restored-kv/data/other").is_none());

    // A deletion on the source reaches the mapped mount only.
    p.src.delete("kv/metadata/other");
    p.src
        .write("kv/data/app/db", json!({"data": {"v": "changed"}}));
    p.export();
    let run = p.import(&map);
    run.assert_code(0);
    assert!(p.dst.read("dc-kv/data/other").is_none(), "{}", run.stdout);
    assert_eq!(
        data(&p.dst, "kv/data/other")["data"],
        json!({"v": "DR's own"})
    );
    assert_eq!(
        data(&p.dst, "dc-kv/data/app/db")["data"],
        json!({"v": "changed"})
    );
    assert_eq!(
        data(&p.dst, "restored-kv/data/app/db")["data"],
        json!({"v": 1})
    );
}

/// A namespace moved under another (`team1/` → `dc1/team1/`) with its mounts, secrets, policies,
/// entities and aliases; then changed at the source and imported again, and then again with
/// nothing to write.
#[test]
fn a_namespace_moves_under_another_with_everything_in_it() {
    let p = Pair::new();
    p.src.write("sys/namespaces/team1", json!({}));
    p.src.write("team1/sys/namespaces/sub", json!({}));
    seed(&p.src, "team1/");
    p.src.write(
        "team1/sub/sys/mounts/deep",
        json!({"type": "kv", "options": {"version": "2"}}),
    );
    p.src
        .write("team1/sub/deep/data/s", json!({"data": {"k": "deep"}}));
    // A root policy naming the moved namespace's paths.
    p.src.write(
        "sys/policies/acl/ops",
        json!({"policy": "path \"team1/kv/data/*\" { capabilities = [\"read\"] }"}),
    );
    p.dst.write("sys/namespaces/dc1", json!({}));
    let map = [("REPLICATOR_MAP", "team1/=dc1/team1/")];
    p.export();
    p.import(&map).assert_code(0);

    assert!(p.dst.read("dc1/team1/sys/namespaces/sub").is_some());
    assert!(p.dst.read("sys/namespaces/team1").is_none());
    assert_eq!(
        data(&p.dst, "dc1/team1/kv/data/app/api")["data"],
        json!({"v": 2})
    );
    assert_eq!(
        data(&p.dst, "dc1/team1/sub/deep/data/s")["data"],
        json!({"k": "deep"})
    );
    // Paths relative to the moved namespace stay as they were; the root's follow the move.
    assert_eq!(
        data(&p.dst, "dc1/team1/sys/policies/acl/app")["policy"],
        data(&p.src, "team1/sys/policies/acl/app")["policy"]
    );
    assert_eq!(
        data(&p.dst, "sys/policies/acl/ops")["policy"],
        json!("path \"dc1/team1/kv/data/*\" { capabilities = [\"read\"] }")
    );
    let alias = &data(&p.dst, "dc1/team1/identity/entity/name/alice")["aliases"][0];
    assert_eq!(
        alias["mount_accessor"],
        accessor(&p.dst, "dc1/team1/", "users/")
    );

    p.src
        .write("team1/kv/data/app/db", json!({"data": {"v": "new"}}));
    p.export();
    let run = p.import(&map);
    run.assert_code(0);
    assert_eq!(writes(&run), 1, "{}", run.stdout);
    assert_eq!(
        data(&p.dst, "dc1/team1/kv/data/app/db")["data"],
        json!({"v": "new"})
    );
    let again = p.import_args(&["import", "--full-check"], &map);
    again.assert_code(0);
    assert_eq!(writes(&again), 0, "{}", again.stdout);
}

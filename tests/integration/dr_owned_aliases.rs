//! Entity and group aliases on DR: on an auth mount the snapshot carries they follow the
//! snapshot (an alias removed on the source goes), on DR's own mounts (local, or not in the
//! snapshot) they stay, and an alias is never attached to a DR mount of another type.

use serde_json::{Value, json};

use super::support::{Bao, Pair, words, writes};

fn accessor(bao: &Bao, mount: &str) -> String {
    bao.read("sys/auth").unwrap()["data"][mount]["accessor"]
        .as_str()
        .unwrap()
        .to_string()
}

fn entity_id(bao: &Bao, name: &str) -> String {
    bao.read(&format!("identity/entity/name/{name}")).unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn add_alias(bao: &Bao, entity: &str, mount: &str, alias: &str, meta: Value) {
    bao.write(
        "identity/entity-alias",
        json!({"name": alias, "canonical_id": entity_id(bao, entity),
               "mount_accessor": accessor(bao, mount), "custom_metadata": meta}),
    );
}

/// The entity's aliases as (mount path, name, custom metadata), sorted.
fn aliases(bao: &Bao, entity: &str) -> Vec<(String, String, Value)> {
    let e = bao.read(&format!("identity/entity/name/{entity}")).unwrap();
    let mut out: Vec<_> = e["data"]["aliases"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|a| {
            (
                a["mount_path"].as_str().unwrap().to_string(),
                a["name"].as_str().unwrap().to_string(),
                // Vault shows no metadata as null on some aliases and as {} on others.
                match &a["custom_metadata"] {
                    Value::Null => json!({}),
                    m => m.clone(),
                },
            )
        })
        .collect();
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out
}

fn alias_id(bao: &Bao, entity: &str, mount_path: &str) -> String {
    let e = bao.read(&format!("identity/entity/name/{entity}")).unwrap();
    e["data"]["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["mount_path"] == json!(mount_path))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// An alias removed on the source used to stay on DR, still granting the entity's policies
/// through that login. Aliases on DR's own auth mounts (local, or not in the snapshot) stay.
#[test]
fn an_entity_alias_removed_on_dc_goes_on_dr_and_aliases_on_dr_own_mounts_stay() {
    let p = Pair::with_transit();
    p.src
        .write("sys/auth/userpass", json!({"type": "userpass"}));
    p.src.write("sys/auth/approle", json!({"type": "approle"}));
    p.src.write(
        "identity/entity",
        json!({"name": "alice", "policies": ["app"]}),
    );
    add_alias(&p.src, "alice", "userpass/", "alice", json!({}));
    add_alias(&p.src, "alice", "approle/", "role-a", json!({"k": "v1"}));
    p.dst.write(
        "sys/auth/drlocal",
        json!({"type": "userpass", "local": true}),
    );
    p.dst.write("sys/auth/dronly", json!({"type": "userpass"}));
    p.export();
    p.import(&[]).assert_code(0);
    add_alias(&p.dst, "alice", "drlocal/", "alice-local", json!({}));
    add_alias(&p.dst, "alice", "dronly/", "alice-dr", json!({}));

    // On DC: the userpass alias goes, the approle alias's metadata changes.
    p.src.delete(&format!(
        "identity/entity-alias/id/{}",
        alias_id(&p.src, "alice", "auth/userpass/")
    ));
    p.src.write(
        &format!(
            "identity/entity-alias/id/{}",
            alias_id(&p.src, "alice", "auth/approle/")
        ),
        json!({"custom_metadata": {"k": "v2"}}),
    );
    p.export();
    let run = p.import(&[]);
    run.assert_code(0);
    let on_dr = aliases(&p.dst, "alice");
    assert_eq!(
        on_dr,
        [
            ("auth/approle/".into(), "role-a".into(), json!({"k": "v2"})),
            ("auth/drlocal/".into(), "alice-local".into(), json!({})),
            ("auth/dronly/".into(), "alice-dr".into(), json!({})),
        ],
        "{}",
        run.stdout
    );

    // Added back on the source: added on DR; then converged, nothing more to write.
    add_alias(&p.src, "alice", "userpass/", "alice", json!({}));
    p.export();
    p.import(&[]).assert_code(0);
    assert_eq!(aliases(&p.dst, "alice").len(), 4);
    p.export();
    let run = p.import(&[]);
    run.assert_code(0);
    assert_eq!(writes(&run), 0, "{}", run.stdout);
}

/// An alias whose auth mount exists on DR with another type is not attached there: the entity is
/// applied, the alias is reported, and the run is partial.
#[test]
fn an_alias_is_not_attached_to_a_dr_auth_mount_of_another_type() {
    let p = Pair::with_transit();
    p.src.write("sys/auth/people", json!({"type": "userpass"}));
    p.src.write(
        "identity/entity",
        json!({"name": "bob", "policies": ["ops"]}),
    );
    add_alias(&p.src, "bob", "people/", "bob", json!({}));
    p.dst.write("sys/auth/people", json!({"type": "approle"}));
    p.export();
    let run = p.import(&[]);
    run.assert_code(3);
    let out = words(&run.stdout);
    assert!(
        out.contains("alias bob on auth/people/") && out.contains("approle"),
        "{out}"
    );
    let e = p.dst.read("identity/entity/name/bob").unwrap();
    assert_eq!(e["data"]["policies"], json!(["ops"]));
    assert_eq!(aliases(&p.dst, "bob"), []);
    // Still reported on the next run, still not attached.
    p.export();
    let run = p.import(&[]);
    run.assert_code(3);
    assert!(words(&run.stdout).contains("alias bob on auth/people/"));
    assert_eq!(aliases(&p.dst, "bob"), []);
}

/// An external group's alias removed on the source used to stay on DR (and the group was written
/// again on every import); one on DR's own auth mount stays.
#[test]
fn a_group_alias_removed_on_dc_goes_on_dr_and_one_on_a_dr_mount_stays() {
    let p = Pair::with_transit();
    p.src
        .write("sys/auth/userpass", json!({"type": "userpass"}));
    for g in ["ext", "dr-ext"] {
        p.src
            .write("identity/group", json!({"name": g, "type": "external"}));
    }
    let ext = p.src.read("identity/group/name/ext").unwrap()["data"]["id"].clone();
    p.src.write(
        "identity/group-alias",
        json!({"name": "ldap-admins", "canonical_id": ext,
               "mount_accessor": accessor(&p.src, "userpass/")}),
    );
    p.dst.write("sys/auth/dronly", json!({"type": "userpass"}));
    p.export();
    p.import(&[]).assert_code(0);
    let group_alias = |b: &Bao, g: &str| {
        b.read(&format!("identity/group/name/{g}")).unwrap()["data"]["alias"]["name"].clone()
    };
    assert_eq!(group_alias(&p.dst, "ext"), json!("ldap-admins"));
    let dr_ext = p.dst.read("identity/group/name/dr-ext").unwrap()["data"]["id"].clone();
    p.dst.write(
        "identity/group-alias",
        json!({"name": "dr-admins", "canonical_id": dr_ext,
               "mount_accessor": accessor(&p.dst, "dronly/")}),
    );

    let alias_id = p.src.read("identity/group/name/ext").unwrap()["data"]["alias"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    p.src.delete(&format!("identity/group-alias/id/{alias_id}"));
    p.export();
    p.import(&[]).assert_code(0);
    assert_eq!(group_alias(&p.dst, "ext"), Value::Null);
    assert_eq!(group_alias(&p.dst, "dr-ext"), json!("dr-admins"));
    p.export();
    let run = p.import(&[]);
    run.assert_code(0);
    assert_eq!(writes(&run), 0, "{}", run.stdout);
}

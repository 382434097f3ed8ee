use serde_json::json;

use super::*;

fn map(specs: &[&str]) -> PathMap {
    let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
    PathMap::parse("--map", &specs, false).unwrap()
}

fn error(specs: &[&str]) -> String {
    let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
    PathMap::parse("--map", &specs, false)
        .unwrap_err()
        .to_string()
}

fn object(value: serde_json::Value) -> Object {
    serde_json::from_value(value).unwrap()
}

fn moved(map: &PathMap, value: serde_json::Value) -> (String, Vec<String>) {
    match map.relocate(object(value)) {
        Relocated::Moved { object, told, .. } | Relocated::Kept { object, told } => {
            (crate::select::shown(&object), told)
        }
        other => panic!("not placed: {other:?}"),
    }
}

#[test]
fn rules_are_prefixes_with_their_slash_and_print_back() {
    let m = map(&[
        "secret=dc-secret/,team1/=dc1/team1",
        "auth/ldap/=auth/dc-ldap/",
    ]);
    assert_eq!(
        m.spec(),
        "secret/=dc-secret/,team1/=dc1/team1/,auth/ldap/=auth/dc-ldap/"
    );
    assert!(!m.is_empty());
    assert!(map(&[]).is_empty());
}

#[test]
fn malformed_overlapping_and_cyclic_rules_are_config_errors() {
    for (specs, says) in [
        (&["secret/"][..], "is not FROM=TO"),
        (&["=x/"], "is empty"),
        (&["secret/*=x/"], "is not a plain prefix"),
        (&["a/../b/=x/"], "is malformed"),
        (&["sys/=x/"], "reserves"),
        (&["auth/=x/"], "names no auth mount"),
        (&["auth/=auth/x/"], "names no auth mount"),
        (&["auth/token/=auth/t/"], "built-in token method"),
        (&["auth/ldap/=ldap/"], "an auth mount maps to an auth mount"),
        (&["team1/=dc1/", "team1/secret/=kv/"], "overlap"),
        (&["a/=b/", "b/=a/"], "overlap"),
        (&["a/=c/", "b/=c/x/"], "overlap"),
        (&["secret/=secret/old/"], "overlap"),
    ] {
        let e = error(specs);
        assert!(
            e.starts_with("--map: ") && e.contains(says),
            "{specs:?}: {e}"
        );
    }
    let only = PathMap::parse("--map", &[], true).unwrap_err();
    assert!(only.to_string().contains("--map-only"), "{only}");
}

#[test]
fn a_namespace_moves_with_everything_in_it() {
    let m = map(&["team1/=dc1/team1/"]);
    let ns = json!({"kind": "namespace", "path": "team1/sub/"});
    assert_eq!(moved(&m, ns).0, "dc1/team1/sub/");
    let secret = json!({"kind": "kv_secret", "namespace": "team1/", "mount": "secret/",
        "path": "app/db", "kv_version": 2, "data": {"k": "v"}});
    assert_eq!(moved(&m, secret).0, "dc1/team1/secret/app/db");
    let mount = json!({"kind": "mount", "namespace": "team1/sub/", "table": "auth",
        "path": "ldap/", "type": "ldap"});
    assert_eq!(moved(&m, mount).0, "dc1/team1/sub/auth/ldap/");
    let entity = json!({"kind": "entity", "namespace": "team1/", "name": "alice",
        "aliases": [{"name": "alice", "mount_path": "auth/ldap/"}]});
    assert_eq!(moved(&m, entity).0, "dc1/team1/identity/entity/name/alice");
    // The root namespace and its objects stay.
    let root = json!({"kind": "policy", "name": "app", "policy": "path \"kv/*\" {}"});
    assert_eq!(moved(&m, root).0, "sys/policies/acl/app");
}

#[test]
fn a_mount_moves_into_the_namespace_to_names_keeping_its_depth() {
    let m = map(&["team1/secret/=dc1/team1/kv/", "auth/ldap/=auth/dc-ldap/"]);
    let secret = json!({"kind": "kv_secret", "namespace": "team1/", "mount": "secret/",
        "path": "app/db", "kv_version": 2, "data": {"k": "v"}});
    assert_eq!(moved(&m, secret).0, "dc1/team1/kv/app/db");
    let role = json!({"kind": "auth_item", "mount": "ldap/", "method": "ldap",
        "item": "groups/ops", "data": {}});
    assert_eq!(moved(&m, role).0, "auth/dc-ldap/groups/ops");
    // An alias on the moved mount is re-pointed at it, and the plan says so.
    let entity = json!({"kind": "entity", "name": "bob",
        "aliases": [{"name": "bob", "mount_path": "auth/ldap/", "mount_type": "ldap"}]});
    let (_, told) = moved(&m, entity);
    assert_eq!(told, ["alias bob: mount auth/ldap/ → auth/dc-ldap/"]);
    // `secret/` in the root is not team1's: it stays.
    let other = json!({"kind": "mount", "table": "secret", "path": "secret/", "type": "kv"});
    assert_eq!(moved(&m, other).0, "secret/");
}

#[test]
fn policies_follow_the_paths_they_name_or_are_refused() {
    let m = map(&["secret/=dc-secret/"]);
    let policy = json!({"kind": "policy", "name": "app",
        "policy": "path \"secret/data/*\" { capabilities = [\"read\"] }\npath \"*\" {}"});
    let (path, told) = moved(&m, policy);
    assert_eq!(path, "sys/policies/acl/app");
    assert_eq!(told, ["path \"secret/data/*\" → \"dc-secret/data/*\""]);
    let glob = json!({"kind": "policy", "name": "wide", "policy": "path \"sec*\" {}"});
    match m.relocate(object(glob)) {
        Relocated::Refused(_, why) => assert!(why.contains("may reach into secret/"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn what_no_rule_moves_stays_or_is_left_out_and_never_lands_in_a_to() {
    let only = PathMap::parse("--map", &["secret/=dc-secret/".into()], true).unwrap();
    let kv = json!({"kind": "mount", "table": "secret", "path": "kv/", "type": "kv"});
    assert!(matches!(
        only.relocate(object(kv.clone())),
        Relocated::Out(_)
    ));
    let m = map(&["secret/=dc-secret/"]);
    assert!(matches!(m.relocate(object(kv)), Relocated::Kept { .. }));
    let clash = json!({"kind": "mount", "table": "secret", "path": "dc-secret/", "type": "kv"});
    match m.relocate(object(clash)) {
        Relocated::Refused(_, why) => assert!(why.contains("two objects would be one"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_to_that_cannot_hold_the_mount_is_refused() {
    let m = map(&["auth/ldap/=team1/x/auth/ldap2/"]);
    let mount = json!({"kind": "mount", "table": "auth", "path": "ldap/", "type": "ldap"});
    assert_eq!(moved(&m, mount).0, "team1/x/auth/ldap2/");
    let m = map(&["team1/app/=kv/"]);
    let mount = json!({"kind": "mount", "namespace": "team1/", "table": "secret",
        "path": "app/", "type": "kv"});
    assert_eq!(moved(&m, mount).0, "kv/");
}

#[test]
fn the_namespaces_a_plan_reads_are_the_moved_ones_and_those_a_to_names() {
    let m = map(&[
        "team1/=dc1/team1/",
        "secret/=dc2/apps/kv/",
        "auth/ldap/=x/auth/y/",
    ]);
    assert_eq!(
        m.namespaces(&["team1/".into(), "team1/sub/".into(), "other/".into()]),
        ["dc1/team1/", "dc1/team1/sub/", "other/"]
    );
    assert_eq!(m.to_namespaces(), ["dc1/", "dc2/", "dc2/apps/", "x/"]);
}

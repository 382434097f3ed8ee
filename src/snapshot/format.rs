//! Snapshot format v1: how an object maps to a tar entry name, and which objects a snapshot may
//! carry at all. The reader recomputes every entry's name from its content, so an entry can only
//! ever write where its name says, and `validate` keeps a hostile snapshot away from every path
//! the format does not describe (`sys/`, `auth/token/create`, a user's password endpoint, ...).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::objects::{Kind, Object, auth};
use crate::vault::Table;

pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST_NAME: &str = "manifest.json";

/// Left as they are in an entry-name segment; everything else is percent-encoded.
const NAME_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Secret-mount paths a snapshot may never write into.
const RESERVED_MOUNTS: &[&str] = &["sys/", "auth/", "identity/", "cubbyhole/", "token/"];

fn segment(s: &str) -> String {
    if s.chars().all(|c| c == '.') {
        // `.` and `..` must never reach a file system or a URL as such.
        return s.replace('.', "%2E");
    }
    utf8_percent_encode(s, NAME_SAFE).to_string()
}

fn segments(path: &str) -> String {
    path.split('/').map(segment).collect::<Vec<_>>().join("/")
}

fn one(path: &str) -> String {
    segment(path.trim_end_matches('/'))
}

/// The tar entry name of an object: `[ns/<namespace>/]<kind dir>/<encoded path>.json`.
pub fn entry_name(obj: &Object) -> String {
    let ns = obj.namespace();
    let prefix = if ns.is_empty() {
        String::new()
    } else {
        format!("ns/{}/", one(ns))
    };
    let rest = match obj {
        Object::Namespace(n) => format!("namespaces/{}", one(&n.path)),
        Object::Mount(m) if m.table == Table::Auth => format!("auth/{}", one(&m.path)),
        Object::Mount(m) => format!("mounts/{}", one(&m.path)),
        Object::Policy(p) => format!("policies/{}/{}", p.policy_type.as_str(), segment(&p.name)),
        Object::AuthItem(a) => format!("auth-items/{}/{}", one(&a.mount), segments(&a.item)),
        Object::KvSecret(s) => format!("kv/{}/{}", one(&s.mount), segments(&s.path)),
        Object::TransitKey(t) => format!("transit/{}/{}", one(&t.mount), segment(&t.name)),
        Object::Entity(e) => format!("identity/entities/{}", segment(&e.name)),
        Object::Group(g) => format!("identity/groups/{}", segment(&g.name)),
    };
    format!("{prefix}{rest}.json")
}

/// The kind an entry name belongs to, from its kind folder.
pub fn kind_of(name: &str) -> Option<Kind> {
    let mut parts = name.split('/');
    let mut dir = parts.next()?;
    if dir == "ns" {
        parts.next()?;
        dir = parts.next()?;
    }
    Some(match dir {
        "namespaces" => Kind::Namespace,
        "mounts" | "auth" => Kind::Mount,
        "policies" => Kind::Policy,
        "auth-items" => Kind::AuthItem,
        "kv" => Kind::KvSecret,
        "transit" => Kind::TransitKey,
        "identity" => match parts.next()? {
            "entities" => Kind::Entity,
            "groups" => Kind::Group,
            _ => return None,
        },
        _ => return None,
    })
}

fn bad_segment(s: &str) -> bool {
    s.is_empty() || s == "." || s == ".."
}

/// A relative path of one or more clean segments, with a trailing slash (`a/b/`).
fn check_dir_path(what: &str, path: &str) -> Result<(), String> {
    let Some(inner) = path.strip_suffix('/') else {
        return Err(format!("{what} `{path}` must end with `/`"));
    };
    if inner.split('/').any(bad_segment) {
        return Err(format!("{what} `{path}` is malformed"));
    }
    Ok(())
}

fn check_secret_mount(path: &str) -> Result<(), String> {
    check_dir_path("mount path", path)?;
    if RESERVED_MOUNTS.iter().any(|r| path.starts_with(r)) {
        return Err(format!("mount path `{path}` is reserved by Vault"));
    }
    Ok(())
}

fn check_name(what: &str, name: &str) -> Result<(), String> {
    if bad_segment(name) || name.contains('/') {
        return Err(format!("{what} name `{name}` is not allowed"));
    }
    Ok(())
}

/// The items an auth method may carry: `config`, or `<collection>/<one name>`.
fn auth_item_allowed(method: &str, mount: &str, item: &str) -> bool {
    let Some((singles, collections)) = auth::layout(method) else {
        return false;
    };
    if (method == "token") != (mount == "token/") {
        return false;
    }
    if singles.contains(&item) {
        return true;
    }
    match item.split_once('/') {
        Some((coll, name)) => collections.contains(&coll) && check_name("item", name).is_ok(),
        None => false,
    }
}

/// Whether an object is one the format allows, wherever it came from.
pub fn validate(obj: &Object) -> Result<(), String> {
    let ns = obj.namespace();
    if !ns.is_empty() {
        check_dir_path("namespace", ns)?;
    }
    match obj {
        Object::Namespace(n) => check_dir_path("namespace", &n.path),
        Object::Mount(m) => match m.table {
            Table::Secret => check_secret_mount(&m.path),
            Table::Auth if m.path == "token/" => Err("the token auth method is built in".into()),
            Table::Auth => check_dir_path("auth mount path", &m.path),
        },
        Object::Policy(p) => {
            check_name("policy", &p.name)?;
            if p.name == "root" {
                return Err("the root policy is never written".into());
            }
            Ok(())
        }
        Object::AuthItem(a) => {
            check_dir_path("auth mount path", &a.mount)?;
            if !auth_item_allowed(&a.method, &a.mount, &a.item) {
                return Err(format!(
                    "`{}` is not an item a `{}` auth method carries",
                    a.item, a.method
                ));
            }
            Ok(())
        }
        Object::KvSecret(s) => {
            check_secret_mount(&s.mount)?;
            if !matches!(s.kv_version, 1 | 2) || s.path.split('/').any(bad_segment) {
                return Err(format!("secret path `{}` is malformed", s.full_path()));
            }
            Ok(())
        }
        Object::TransitKey(t) => {
            check_secret_mount(&t.mount)?;
            check_name("transit key", &t.name)
        }
        Object::Entity(e) => check_name("entity", &e.name),
        Object::Group(g) => {
            check_name("group", &g.name)?;
            if !matches!(g.group_type.as_str(), "internal" | "external") {
                return Err(format!("group type `{}` is not allowed", g.group_type));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::auth::AuthItem;
    use crate::objects::kv::{Secret, State};
    use crate::objects::policies::{Policy, PolicyType};

    fn kv(mount: &str, path: &str) -> Object {
        Object::KvSecret(Box::new(Secret {
            namespace: String::new(),
            mount: mount.into(),
            path: path.into(),
            kv_version: 2,
            data: None,
            state: State::Live,
            metadata: None,
            history: None,
        }))
    }

    fn item(method: &str, mount: &str, item: &str) -> Object {
        Object::AuthItem(AuthItem {
            namespace: String::new(),
            mount: mount.into(),
            method: method.into(),
            item: item.into(),
            data: Default::default(),
        })
    }

    #[test]
    fn names_of_a_key_and_a_folder_of_the_same_name_differ() {
        assert_eq!(entry_name(&kv("secret/", "a")), "kv/secret/a.json");
        assert_eq!(entry_name(&kv("secret/", "a/b")), "kv/secret/a/b.json");
    }

    #[test]
    fn awkward_names_are_encoded_and_nested_mounts_stay_one_segment() {
        assert_eq!(
            entry_name(&kv("team/app/", "x y/ü?#")),
            "kv/team%2Fapp/x%20y/%C3%BC%3F%23.json"
        );
        let p = Object::Policy(Policy {
            namespace: String::new(),
            policy_type: PolicyType::Acl,
            name: "..".into(),
            policy: String::new(),
        });
        assert_eq!(entry_name(&p), "policies/acl/%2E%2E.json");
    }

    #[test]
    fn namespaced_objects_live_under_ns() {
        let Object::KvSecret(mut s) = kv("secret/", "a") else {
            unreachable!()
        };
        s.namespace = "team1/sub/".into();
        let obj = Object::KvSecret(s);
        assert_eq!(entry_name(&obj), "ns/team1%2Fsub/kv/secret/a.json");
        assert_eq!(kind_of(&entry_name(&obj)), Some(Kind::KvSecret));
        assert!(validate(&obj).is_ok());
    }

    #[test]
    fn objects_outside_the_format_are_rejected() {
        assert!(validate(&kv("sys/", "policy/acl/x")).is_err());
        assert!(validate(&kv("auth/token/", "create")).is_err());
        assert!(validate(&kv("secret/", "../x")).is_err());
        assert!(validate(&kv("secret/", "a//b")).is_err());
        assert!(validate(&kv("secret", "a")).is_err());
        assert!(validate(&kv("secret/", "a/b")).is_ok());
    }

    #[test]
    fn auth_items_cannot_reach_other_endpoints() {
        assert!(validate(&item("userpass", "userpass/", "users/alice")).is_ok());
        assert!(validate(&item("userpass", "userpass/", "users/alice/password")).is_err());
        assert!(validate(&item("token", "token/", "create")).is_err());
        assert!(validate(&item("token", "token/", "roles/r1")).is_ok());
        assert!(validate(&item("userpass", "token/", "users/x")).is_err());
        assert!(validate(&item("approle", "approle/", "role/ci/secret-id")).is_err());
        assert!(validate(&item("github", "github/", "config")).is_err());
    }

    #[test]
    fn kind_comes_from_the_kind_folder() {
        assert_eq!(kind_of("kv/secret/a.json"), Some(Kind::KvSecret));
        assert_eq!(kind_of("identity/groups/g.json"), Some(Kind::Group));
        assert_eq!(kind_of("etc/passwd"), None);
    }
}

//! Snapshot format (version 2; version 1 still read): how an object maps to a tar entry name, and which objects a snapshot may
//! carry at all. The reader recomputes every entry's name from its content, so an entry can only
//! ever write where its name says, and `validate` keeps a hostile snapshot away from every path
//! the format does not describe (`sys/`, `auth/token/create`, a user's password endpoint, ...).

use crate::objects::kind::{check_dir_path, one};
use crate::objects::{Kind, Object};

/// The format this build writes; it reads 1 (no set digest, no deltas) too.
pub const FORMAT_VERSION: u32 = 2;
pub const MANIFEST_NAME: &str = "manifest.json";

/// The tar entry name of an object: `[ns/<namespace>/]<kind folder>/<encoded path>.json`.
pub fn entry_name(obj: &Object) -> String {
    let ns = obj.namespace();
    let prefix = if ns.is_empty() {
        String::new()
    } else {
        format!("ns/{}/", one(ns))
    };
    format!("{prefix}{}.json", obj.entry())
}

/// The kind an entry name belongs to, from its kind folder.
pub fn kind_of(name: &str) -> Option<Kind> {
    Kind::of_entry(name)
}

/// Whether an object is one the format allows, wherever it came from: its namespace, and what
/// its kind allows.
pub fn validate(obj: &Object) -> Result<(), String> {
    let ns = obj.namespace();
    if !ns.is_empty() {
        check_dir_path("namespace", ns)?;
    }
    obj.validate()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::auth::AuthItem;
    use crate::objects::kv::{Secret, State};
    use crate::objects::policies::{Policy, PolicyType};

    fn kv(mount: &str, path: &str) -> Object {
        Object::KvSecret(Secret {
            namespace: String::new(),
            mount: mount.into(),
            path: path.into(),
            kv_version: 2,
            data: None,
            state: State::Live,
            metadata: None,
            history: None,
        })
    }

    fn item(method: &str, mount: &str, item: &str) -> Object {
        Object::AuthItem(AuthItem {
            namespace: String::new(),
            mount: mount.into(),
            method: method.into(),
            item: item.into(),
            data: Default::default(),
            escrowed: Default::default(),
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

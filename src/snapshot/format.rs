//! Snapshot format v1: how an object maps to a tar entry name, and which objects a snapshot may
//! carry at all. The reader recomputes every entry's name from its content, so an entry can only
//! ever write where its name says.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::objects::{Kind, Object};

pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST_NAME: &str = "manifest.json";

/// Left as they are in an entry-name segment; everything else is percent-encoded.
const NAME_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Mount paths a snapshot may never write into.
const RESERVED_MOUNTS: &[&str] = &["sys/", "auth/", "identity/", "cubbyhole/", "token/"];

fn segment(s: &str) -> String {
    if s.chars().all(|c| c == '.') {
        // `.` and `..` must never reach a file system or a URL as such.
        return s.replace('.', "%2E");
    }
    utf8_percent_encode(s, NAME_SAFE).to_string()
}

/// The tar entry name of an object: `<kind dir>/<encoded path>.json`.
pub fn entry_name(obj: &Object) -> String {
    match obj {
        Object::Mount(m) => format!("mounts/{}.json", segment(m.path.trim_end_matches('/'))),
        Object::Policy(p) => format!("policies/acl/{}.json", segment(&p.name)),
        Object::KvSecret(s) => {
            let key: Vec<String> = s.path.split('/').map(segment).collect();
            format!(
                "kv/{}/{}.json",
                segment(s.mount.trim_end_matches('/')),
                key.join("/")
            )
        }
    }
}

/// The kind an entry name belongs to, from its top-level folder.
pub fn kind_of(name: &str) -> Option<Kind> {
    match name.split('/').next()? {
        "mounts" => Some(Kind::Mount),
        "policies" => Some(Kind::Policy),
        "kv" => Some(Kind::KvSecret),
        _ => None,
    }
}

fn check_mount_path(path: &str) -> Result<(), String> {
    if !path.ends_with('/') || path.len() < 2 || path.starts_with('/') {
        return Err(format!("mount path `{path}` is malformed"));
    }
    if path.split('/').any(|s| s == "." || s == "..") {
        return Err(format!("mount path `{path}` has a `.` or `..` segment"));
    }
    if RESERVED_MOUNTS.iter().any(|r| path.starts_with(r)) {
        return Err(format!("mount path `{path}` is reserved by Vault"));
    }
    Ok(())
}

/// Whether an object is one the format allows, wherever it came from.
pub fn validate(obj: &Object) -> Result<(), String> {
    match obj {
        Object::Mount(m) => check_mount_path(&m.path),
        Object::Policy(p) => {
            if p.name.is_empty() || p.name.contains('/') || p.name == "root" {
                return Err(format!("policy name `{}` is not allowed", p.name));
            }
            Ok(())
        }
        Object::KvSecret(s) => {
            check_mount_path(&s.mount)?;
            if s.path.is_empty()
                || s.path
                    .split('/')
                    .any(|seg| seg.is_empty() || seg == "." || seg == "..")
            {
                return Err(format!("secret path `{}` is malformed", s.full_path()));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::kv::Secret;
    use crate::objects::policies::Policy;

    fn kv(mount: &str, path: &str) -> Object {
        Object::KvSecret(Secret {
            mount: mount.into(),
            path: path.into(),
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
            name: "..".into(),
            policy: String::new(),
        });
        assert_eq!(entry_name(&p), "policies/acl/%2E%2E.json");
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
    fn kind_comes_from_the_top_folder() {
        assert_eq!(kind_of("kv/secret/a.json"), Some(Kind::KvSecret));
        assert_eq!(kind_of("etc/passwd"), None);
    }
}

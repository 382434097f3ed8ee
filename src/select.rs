//! `--only`: which objects a selective restore, a diff or a listing takes, by the path plans show
//! them at (`secret/payments/*`, `team-a/secret/x`, `sys/policies/acl/app-*`,
//! `auth/approle/role/ci`). Globs are REPLICATOR_INCLUDE's: comma-separated, `*` matches across
//! `/` (as in Vault's policy paths), and a pattern ending in `/` takes everything below it too.

use globset::GlobSet;

use crate::error::Result;
use crate::objects::{Kind, Object};

/// The path an object of `kind` is shown at in plans, diffs and listings, and selected by: its
/// API path, namespace first, as its kind shows it (`ObjectKind::shown_path`). `path` is the
/// kind's own (`ObjectKind::path`).
pub fn shown_path(kind: Kind, ns: &str, path: &str) -> String {
    kind.shown_path(ns, path)
}

/// The path `object` is shown and selected at.
pub fn shown(object: &Object) -> String {
    shown_path(object.kind(), object.namespace(), &object.path())
}

/// A parsed `--only` list.
#[derive(Debug, Clone)]
pub struct Selection {
    spec: String,
    set: GlobSet,
}

impl Selection {
    /// Parses `GLOB[,GLOB...]`; `flag` names it in the error of a bad pattern.
    pub fn parse(flag: &'static str, spec: &str) -> Result<Selection> {
        let widened: Vec<String> = spec
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .flat_map(|p| match p.ends_with('/') {
                true => vec![p.to_string(), format!("{p}*")],
                false => vec![p.to_string()],
            })
            .collect();
        let set = crate::config::globs(flag, Some(&widened.join(",")))?
            .ok_or_else(|| crate::Error::config(flag, "needs at least one path glob"))?;
        Ok(Selection {
            spec: spec.trim().to_string(),
            set,
        })
    }

    /// The patterns as given.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// Whether the object shown at `path` is selected.
    pub fn matches_path(&self, path: &str) -> bool {
        self.set.is_match(path)
    }

    pub fn matches(&self, object: &Object) -> bool {
        self.matches_path(&shown(object))
    }

    /// Whether the object of `kind` at `path` in `ns` (as the importer's records keep it) is
    /// selected.
    pub fn matches_at(&self, kind: Kind, ns: &str, path: &str) -> bool {
        self.matches_path(&shown_path(kind, ns, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(spec: &str) -> Selection {
        Selection::parse("--only", spec).unwrap()
    }

    #[test]
    fn policies_and_identity_are_shown_at_their_api_paths_namespace_first() {
        for (kind, ns, path, shown) in [
            (Kind::Policy, "", "app", "sys/policies/acl/app"),
            (
                Kind::Policy,
                "team-a/",
                "team-a/password/pw",
                "team-a/sys/policies/password/pw",
            ),
            (
                Kind::Entity,
                "t/",
                "t/alice",
                "t/identity/entity/name/alice",
            ),
            (Kind::Group, "", "devs", "identity/group/name/devs"),
            (
                Kind::KvSecret,
                "team-a/",
                "team-a/secret/x",
                "team-a/secret/x",
            ),
            (
                Kind::AuthItem,
                "",
                "auth/approle/role/ci",
                "auth/approle/role/ci",
            ),
        ] {
            assert_eq!(shown_path(kind, ns, path), shown, "{kind:?} {path}");
        }
    }

    #[test]
    fn a_star_crosses_folders_and_a_trailing_slash_takes_the_subtree() {
        let s = sel("secret/payments/*, sys/policies/acl/app-*,auth/approle/role/ci");
        assert!(s.matches_path("secret/payments/eu/card"));
        assert!(s.matches_path("secret/payments/x"));
        assert!(!s.matches_path("secret/payments"));
        assert!(!s.matches_path("secret/payroll/x"));
        assert!(s.matches_at(Kind::Policy, "", "app-read"));
        assert!(!s.matches_at(Kind::Policy, "", "ops"));
        assert!(s.matches_path("auth/approle/role/ci"));
        assert!(!s.matches_path("auth/approle/role/ci2"));
        let sub = sel("team-a/secret/");
        assert!(sub.matches_path("team-a/secret/"));
        assert!(sub.matches_path("team-a/secret/deep/x"));
        assert!(!sub.matches_path("secret/x"));
    }

    #[test]
    fn a_bad_or_empty_selection_is_a_usage_error_naming_the_flag() {
        let bad = Selection::parse("--only", "secret/[").unwrap_err();
        assert!(bad.to_string().starts_with("--only: `secret/[`"), "{bad}");
        let empty = Selection::parse("--only", " , ").unwrap_err();
        assert_eq!(empty.to_string(), "--only: needs at least one path glob");
    }
}

//! The text of `diff` (one line per object that differs, with the names of the fields that do,
//! then a count line) and of `verify --contents` (one line per object, KV secrets with their
//! versions and metadata). Neither ever holds a value to print.

use std::fmt::Write as _;

use crate::commands::{Content, Diff, KvContent};
use crate::objects::Kind;
use crate::objects::kv::State;

/// One line per added, removed or changed object, by kind then path, then the counts.
pub fn text(d: &Diff) -> String {
    let only = match &d.only {
        Some(o) => format!(" (only {o})"),
        None => String::new(),
    };
    let mut out = format!("Changes from {} to {}{only}:\n", d.a, d.b);
    let mut lines: Vec<(Kind, &str, &str, String)> = Vec::new();
    lines.extend(
        d.added
            .iter()
            .map(|i| (i.kind, i.path.as_str(), "+ added", String::new())),
    );
    lines.extend(
        d.removed
            .iter()
            .map(|i| (i.kind, i.path.as_str(), "- removed", String::new())),
    );
    lines.extend(d.changed.iter().map(|c| {
        let fields = format!("  ({})", fields(c.kind, &c.fields));
        (c.kind, c.path.as_str(), "~ changed", fields)
    }));
    lines.sort();
    for (kind, path, verb, fields) in lines {
        let _ = writeln!(out, "{verb:<10} {:<11} {path}{fields}", kind.as_str());
    }
    let _ = writeln!(
        out,
        "Diff: {} added, {} removed, {} changed, {} unchanged.",
        d.added.len(),
        d.removed.len(),
        d.changed.len(),
        d.unchanged
    );
    out
}

/// Changed field paths grouped by their first part: `keys: password, user; metadata:
/// max_versions` (a KV secret's `data` fields are its keys); top-level fields as `fields: ...`.
fn fields(kind: Kind, paths: &[String]) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for path in paths {
        let (group, name) = match path.split_once('.') {
            Some((group, rest)) => (kind.field_group(group), rest),
            None => ("fields", path.as_str()),
        };
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, names)) => names.push(name),
            None => groups.push((group, vec![name])),
        }
    }
    let groups: Vec<String> = groups
        .into_iter()
        .map(|(g, names)| format!("{g}: {}", names.join(", ")))
        .collect();
    groups.join("; ")
}

/// `verify --contents`: a count line, then one line per object.
pub fn contents(contents: &[Content]) -> String {
    let mut out = format!("contents: {} objects\n", contents.len());
    for c in contents {
        let _ = write!(out, "{:<11} {}", c.kind.as_str(), c.path);
        if let Some(kv) = &c.kv {
            let _ = write!(out, "  ({})", kv_line(kv));
        }
        out.push('\n');
    }
    out
}

fn state(s: State) -> &'static str {
    match s {
        State::Live => "live",
        State::Deleted => "deleted",
        State::Destroyed => "destroyed",
    }
}

/// `kv-v2, latest live; versions: 1 destroyed, 2 live; max_versions 4, cas_required false,
/// delete_version_after 0s, custom_metadata: owner=payments`.
fn kv_line(kv: &KvContent) -> String {
    let mut out = format!("kv-v{}, latest {}", kv.kv_version, state(kv.state));
    if let Some(versions) = &kv.versions {
        let listed: Vec<String> = versions
            .iter()
            .map(|v| format!("{} {}", v.version, state(v.state)))
            .collect();
        let _ = write!(out, "; versions: {}", listed.join(", "));
    }
    if let Some(m) = &kv.metadata {
        let m = m.normalized();
        let _ = write!(
            out,
            "; max_versions {}, cas_required {}, delete_version_after {}",
            m.max_versions, m.cas_required, m.delete_version_after
        );
        if !m.custom_metadata.is_empty() {
            let pairs: Vec<String> = m
                .custom_metadata
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = write!(out, ", custom_metadata: {}", pairs.join(" "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{Changed, Item};

    #[test]
    fn a_diff_reads_one_line_per_object_then_the_counts() {
        let d = Diff {
            a: "A".into(),
            b: "B".into(),
            only: None,
            added: vec![Item {
                kind: Kind::KvSecret,
                path: "secret/app/new".into(),
            }],
            removed: vec![Item {
                kind: Kind::Policy,
                path: "sys/policies/acl/old".into(),
            }],
            changed: vec![Changed {
                kind: Kind::KvSecret,
                path: "secret/app/db".into(),
                fields: vec![
                    "data.password".into(),
                    "data.user".into(),
                    "metadata.max_versions".into(),
                    "state".into(),
                ],
            }],
            unchanged: 7,
        };
        assert_eq!(
            text(&d),
            "Changes from A to B:\n\
             - removed  policy      sys/policies/acl/old\n\
             ~ changed  kv_secret   secret/app/db  (keys: password, user; metadata: max_versions; fields: state)\n\
             + added    kv_secret   secret/app/new\n\
             Diff: 1 added, 1 removed, 1 changed, 7 unchanged.\n"
        );
    }
}

//! The paths an ACL policy names, rewritten as `--map` moves them: in HCL (`path "…" { … }`) or
//! JSON (`{"path": {"…": {…}}}`). The rest of an HCL text is left byte for byte; a JSON policy is
//! written back compact. A path that cannot be rewritten safely refuses the whole policy.

use serde_json::{Map, Value};

use crate::objects::kind::Remap;

/// The policy `text` of a policy that was in namespace `was` and is now in `ns`, with each path
/// where `map` moves it, and the rewrites (`path "old" → "new"`); or why it cannot be rewritten.
pub fn rewrite(
    text: &str,
    (was, ns): (&str, &str),
    map: &dyn Remap,
) -> Result<(String, Vec<String>), String> {
    let mut told = Vec::new();
    let mut one = |path: &str| -> Result<Option<String>, String> {
        let full = format!("{was}{path}");
        let Some(moved) = map.path(&full)? else {
            return Ok(None);
        };
        let Some(now) = moved.strip_prefix(ns) else {
            return Err(format!(
                "path \"{path}\" moves to {moved}, which a policy in {} cannot name",
                match ns {
                    "" => "the root namespace".to_string(),
                    ns => format!("namespace {ns}"),
                }
            ));
        };
        if now == path {
            return Ok(None);
        }
        told.push(format!("path \"{path}\" → \"{now}\""));
        Ok(Some(now.to_string()))
    };
    let out = match text.trim_start().starts_with('{') {
        true => json(text, &mut one)?,
        false => hcl(text, &mut one)?,
    };
    Ok((out, told))
}

type OnePath<'a> = dyn FnMut(&str) -> Result<Option<String>, String> + 'a;

fn json(text: &str, one: &mut OnePath<'_>) -> Result<String, String> {
    let mut doc: Value =
        serde_json::from_str(text).map_err(|e| format!("the JSON policy does not parse: {e}"))?;
    let Some(paths) = doc.get_mut("path").and_then(Value::as_object_mut) else {
        return Ok(text.to_string());
    };
    let mut changed = false;
    let mut out = Map::new();
    for (path, rules) in std::mem::take(paths) {
        let now = one(&path)?;
        changed |= now.is_some();
        out.insert(now.unwrap_or(path), rules);
    }
    *paths = out;
    match changed {
        true => Ok(doc.to_string()),
        false => Ok(text.to_string()),
    }
}

/// Walks HCL text outside comments and strings; the string after each `path` keyword is a path.
fn hcl(text: &str, one: &mut OnePath<'_>) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut i, mut copied) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => i = line_end(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = line_end(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = find(text, i + 2, "*/").map_or(bytes.len(), |e| e + 2);
            }
            b'<' if bytes.get(i + 1) == Some(&b'<') => {
                return Err("the policy holds a heredoc, whose paths cannot be told apart".into());
            }
            b'"' => i = string_end(bytes, i)?,
            b'p' if is_keyword(bytes, i, b"path") => {
                let mut j = i + 4;
                while bytes.get(j).is_some_and(u8::is_ascii_whitespace) {
                    j += 1;
                }
                if bytes.get(j) != Some(&b'"') {
                    i = j;
                    continue;
                }
                let end = string_end(bytes, j)?;
                let raw = &text[j + 1..end - 1];
                if raw.contains('\\') || raw.contains("${") {
                    return Err(format!("path \"{raw}\" holds escapes or interpolation"));
                }
                if let Some(now) = one(raw)? {
                    out.push_str(&text[copied..j + 1]);
                    out.push_str(&now);
                    copied = end - 1;
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[copied..]);
    Ok(out)
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |n| from + n + 1)
}

fn find(text: &str, from: usize, what: &str) -> Option<usize> {
    text.get(from..)?.find(what).map(|n| from + n)
}

/// The index just past the string that opens at `open` (a `"`).
fn string_end(bytes: &[u8], open: usize) -> Result<usize, String> {
    let mut i = open + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err("the policy has a string that never ends".into())
}

/// Whether `word` starts at `i` as a whole identifier.
fn is_keyword(bytes: &[u8], i: usize, word: &[u8]) -> bool {
    let ident = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-';
    bytes[i..].starts_with(word)
        && (i == 0 || !ident(&bytes[i - 1]))
        && !bytes.get(i + word.len()).is_some_and(ident)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `secret/` → `dc-secret/`, `team1/` → `dc1/team1/`, with the map's glob rule.
    struct Map;

    impl Remap for Map {
        fn path(&self, full: &str) -> Result<Option<String>, String> {
            let rules = [("secret/", "dc-secret/"), ("team1/", "dc1/team1/")];
            for (from, to) in rules {
                if let Some(rest) = full.strip_prefix(from) {
                    return Ok(Some(format!("{to}{rest}")));
                }
                if full.ends_with('*') && from.starts_with(&full[..full.len() - 1]) {
                    return Err(format!("`{full}` may reach into {from}"));
                }
            }
            Ok(None)
        }
    }

    #[test]
    fn hcl_paths_are_rewritten_and_the_rest_is_left_as_it_was() {
        let text = "# path \"secret/x\" in a comment\npath \"secret/data/*\" {\n  \
                    capabilities = [\"read\"] # secret/\n}\npath \"kv/*\" { capabilities = \
                    [\"list\"] }\n/* path \"secret/y\" */ path\"secret/metadata/a\"{}\n";
        let (out, told) = rewrite(text, ("", ""), &Map).unwrap();
        assert_eq!(
            out,
            text.replace("\"secret/data/*\"", "\"dc-secret/data/*\"")
                .replace("path\"secret/metadata/a\"", "path\"dc-secret/metadata/a\"")
        );
        assert_eq!(
            told,
            [
                "path \"secret/data/*\" → \"dc-secret/data/*\"",
                "path \"secret/metadata/a\" → \"dc-secret/metadata/a\""
            ]
        );
    }

    #[test]
    fn a_policy_moved_with_its_namespace_keeps_its_relative_paths() {
        let text = "path \"secret/data/*\" { capabilities = [\"read\"] }";
        let (out, told) = rewrite(text, ("team1/", "dc1/team1/"), &Map).unwrap();
        assert_eq!((out.as_str(), told.len()), (text, 0));
        // A root policy naming a child namespace's path follows the move.
        let text = "path \"team1/secret/data/*\" {}";
        let (out, _) = rewrite(text, ("", ""), &Map).unwrap();
        assert_eq!(out, "path \"dc1/team1/secret/data/*\" {}");
    }

    #[test]
    fn json_policies_are_rewritten_too() {
        let text = r#"{"path": {"secret/data/a": {"capabilities": ["read"]}, "kv/*": {}}}"#;
        let (out, told) = rewrite(text, ("", ""), &Map).unwrap();
        let doc: Value = serde_json::from_str(&out).unwrap();
        assert!(doc["path"]["dc-secret/data/a"].is_object(), "{out}");
        assert!(doc["path"]["kv/*"].is_object(), "{out}");
        assert_eq!(told.len(), 1);
    }

    #[test]
    fn what_cannot_be_rewritten_safely_is_refused() {
        let glob = rewrite("path \"sec*\" {}", ("", ""), &Map).unwrap_err();
        assert!(glob.contains("may reach into secret/"), "{glob}");
        let heredoc = rewrite("path \"x\" { a = <<EOF\nEOF\n}", ("", ""), &Map).unwrap_err();
        assert!(heredoc.contains("heredoc"), "{heredoc}");
        let open = rewrite("path \"secret/", ("", ""), &Map).unwrap_err();
        assert!(open.contains("never ends"), "{open}");
        // A policy cannot name a path outside its namespace.
        let out = rewrite("path \"secret/x\" {}", ("", "other/"), &Map).unwrap_err();
        assert!(out.contains("cannot name"), "{out}");
    }
}

//! `--map FROM=TO` / `REPLICATOR_MAP`: where an import puts what it reads. A rule moves everything
//! whose path, as plans show it (namespace first), starts with FROM to the same place under TO: a
//! namespace with all it holds (`team1/` → `dc1/team1/`), a secret mount (`secret/` →
//! `dc-secret/`), an auth mount (`auth/ldap/` → `auth/dc-ldap/`). What an object names of a moved
//! path (a policy's paths, an alias's auth mount) is rewritten with it, and what cannot be
//! rewritten safely is refused, never written pointing at the old place.

use crate::error::{Error, Result};
use crate::objects::{Object, Place, Remap};
use crate::vault::Table;

/// The rules of one import, checked: no two overlap, none moves into another's path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PathMap {
    rules: Vec<Rule>,
    /// `--map-only`: what no rule moves is left out.
    pub only: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Rule {
    from: String,
    to: String,
}

/// What the map makes of one object of the snapshot.
#[derive(Debug)]
pub enum Relocated {
    /// Where it was: no rule moves it. `told`: what its content names that was rewritten.
    Kept { object: Object, told: Vec<String> },
    /// Moved by the rule from `from`.
    Moved {
        object: Object,
        from: String,
        told: Vec<String>,
    },
    /// No rule moves it, and `--map-only` leaves it out.
    Out(Object),
    /// It cannot go where the map sends it (or stay where it is), and why.
    Refused(Object, String),
}

/// Path segments no side of a rule may hold: what Vault reserves at a mount's place (and for
/// namespace names).
const RESERVED: &[&str] = &["sys", "identity", "cubbyhole"];

impl PathMap {
    /// The rules in `specs` (each `FROM=TO[,FROM=TO...]`); `var` names them in errors.
    pub fn parse(var: &'static str, specs: &[String], only: bool) -> Result<PathMap> {
        let mut rules = Vec::new();
        for spec in specs.iter().flat_map(|s| s.split(',')) {
            let spec = spec.trim();
            if spec.is_empty() {
                continue;
            }
            let Some((from, to)) = spec.split_once('=') else {
                return Err(Error::config(var, format!("`{spec}` is not FROM=TO")));
            };
            let (from, to) = (prefix(var, from)?, prefix(var, to)?);
            if has_auth(&from) != has_auth(&to) {
                return Err(Error::config(
                    var,
                    format!("`{spec}`: an auth mount maps to an auth mount (`auth/NAME/`) only"),
                ));
            }
            rules.push(Rule { from, to });
        }
        if only && rules.is_empty() {
            return Err(Error::config(
                "--map-only",
                "goes with at least one --map rule",
            ));
        }
        check_apart(var, &rules)?;
        Ok(PathMap { rules, only })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Each rule as (FROM, TO).
    pub fn rules(&self) -> impl Iterator<Item = (&str, &str)> {
        self.rules.iter().map(|r| (r.from.as_str(), r.to.as_str()))
    }

    /// The rules as one line (`FROM=TO,...`, then ` only` for `--map-only`): what the state
    /// keeps and the plan shows.
    pub fn spec(&self) -> String {
        let rules: Vec<String> = self
            .rules
            .iter()
            .map(|r| format!("{}={}", r.from, r.to))
            .collect();
        match self.only {
            true => format!("{} only", rules.join(",")),
            false => rules.join(","),
        }
    }

    /// The target namespaces a snapshot's `namespaces` (paths) land in.
    pub fn namespaces(&self, namespaces: &[String]) -> Vec<String> {
        namespaces
            .iter()
            .map(|ns| {
                let mut ns = ns.clone();
                self.move_namespace(&mut ns);
                ns
            })
            .collect()
    }

    /// The namespaces a rule's TO may name (its leading segments: `dc1/` and `dc1/team1/` of
    /// `dc1/team1/kv/`), which may hold a moved mount.
    pub fn to_namespaces(&self) -> Vec<String> {
        let mut out = Vec::new();
        for r in &self.rules {
            let parts: Vec<&str> = r.to.trim_end_matches('/').split('/').collect();
            let prefixes = (1..parts.len()).map(|n| format!("{}/", parts[..n].join("/")));
            out.extend(prefixes.take_while(|p| !p.ends_with("/auth/") && p != "auth/"));
        }
        out.sort();
        out.dedup();
        out
    }

    /// Where `object` goes, with what it names rewritten.
    pub fn relocate(&self, mut object: Object) -> Relocated {
        let was = object.namespace().to_string();
        let moved = match self.move_place(object.place()) {
            Ok(moved) => moved,
            Err(why) => return Relocated::Refused(object, why),
        };
        let Some(from) = moved else {
            if self.only {
                return Relocated::Out(object);
            }
            let at = location(&mut object);
            if let Some(r) = self.rules.iter().find(|r| at.starts_with(&r.to)) {
                let why = format!(
                    "no rule moves it, and it lies under {}, where --map puts {}: two objects \
                     would be one",
                    r.to, r.from
                );
                return Relocated::Refused(object, why);
            }
            return match object.remap(self, &was) {
                Ok(told) => Relocated::Kept { object, told },
                Err(why) => Relocated::Refused(object, why),
            };
        };
        let told = match object.remap(self, &was) {
            Ok(told) => told,
            Err(why) => return Relocated::Refused(object, why),
        };
        match crate::snapshot::format::validate(&object) {
            Ok(()) => Relocated::Moved { object, from, told },
            Err(why) => Relocated::Refused(object, format!("moved by --map, {why}")),
        }
    }

    /// Moves a place by the first rule its path starts with: the rule's FROM, or `None`.
    fn move_place(&self, place: Place<'_>) -> std::result::Result<Option<String>, String> {
        match place {
            Place::Namespace(ns) | Place::InNamespace(ns) => Ok(self.move_namespace(ns)),
            Place::Mount(ns, table, mount) | Place::InMount(ns, table, mount) => {
                if let Some(from) = self.move_namespace(ns) {
                    return Ok(Some(from));
                }
                let at = at_mount(ns, table, mount);
                let Some(rule) = self.rules.iter().find(|r| at.starts_with(&r.from)) else {
                    return Ok(None);
                };
                let (to_ns, to_mount) = rule.split_to(ns, table, &at)?;
                (*ns, *mount) = (to_ns, to_mount);
                Ok(Some(rule.from.clone()))
            }
        }
    }

    /// Moves a namespace path under the rule whose FROM it starts with.
    fn move_namespace(&self, ns: &mut String) -> Option<String> {
        let rule = self
            .rules
            .iter()
            .find(|r| !ns.is_empty() && ns.starts_with(&r.from))?;
        *ns = format!("{}{}", rule.to, &ns[rule.from.len()..]);
        Some(rule.from.clone())
    }
}

impl Rule {
    /// The namespace and mount path a mount at `at` (its full path, `ns` its namespace) takes
    /// under this rule, whose FROM ends inside the mount's own path: TO ends in as many segments
    /// of mount path as FROM does (after `auth/` for an auth mount), and the rest of TO is the
    /// namespace.
    fn split_to(
        &self,
        ns: &str,
        table: Table,
        at: &str,
    ) -> std::result::Result<(String, String), String> {
        let skip = ns.len()
            + if table == Table::Auth {
                "auth/".len()
            } else {
                0
            };
        let depth = self.from.get(skip..).map_or(0, segments);
        let to: Vec<&str> = self.to.trim_end_matches('/').split('/').collect();
        let auth = usize::from(table == Table::Auth);
        let Some(split) = to.len().checked_sub(depth + auth).filter(|_| depth > 0) else {
            return Err(format!("{} cannot hold the mount {at}", self.to));
        };
        if auth == 1 && to[split] != "auth" {
            return Err(format!("{} is not an auth mount's path", self.to));
        }
        let join = |parts: &[&str]| parts.iter().map(|p| format!("{p}/")).collect::<String>();
        let mount = format!("{}{}", join(&to[split + auth..]), &at[self.from.len()..]);
        Ok((join(&to[..split]), mount))
    }
}

impl Remap for PathMap {
    fn path(&self, full: &str) -> std::result::Result<Option<String>, String> {
        // What a pattern may match beyond its literal start: `*`, `+` and templated `{{…}}`.
        let end = full.find(['*', '+', '{']).unwrap_or(full.len());
        let (literal, glob) = (&full[..end], end < full.len());
        for r in &self.rules {
            if literal.starts_with(&r.from) {
                return Ok(Some(format!("{}{}", r.to, &full[r.from.len()..])));
            }
            if !glob && r.from.strip_suffix('/') == Some(full) {
                return Ok(Some(r.to.trim_end_matches('/').to_string()));
            }
            // A pattern that may reach under FROM keeps its meaning only when it is `LITERAL*`
            // and TO lies under LITERAL as FROM did (`*` covers every moved place alike).
            let star = &full[end..] == "*";
            if glob && r.from.starts_with(literal) && !(star && r.to.starts_with(literal)) {
                return Err(format!(
                    "`{full}` may reach into {}, which the map moves to {}: a pattern across \
                     that boundary cannot be rewritten",
                    r.from, r.to
                ));
            }
        }
        Ok(None)
    }
}

/// The full path (namespace first) of where an object sits.
fn location(object: &mut Object) -> String {
    match object.place() {
        Place::Namespace(ns) | Place::InNamespace(ns) => ns.clone(),
        Place::Mount(ns, table, mount) | Place::InMount(ns, table, mount) => {
            at_mount(ns, table, mount)
        }
    }
}

fn at_mount(ns: &str, table: Table, mount: &str) -> String {
    match table {
        Table::Auth => format!("{ns}auth/{mount}"),
        Table::Secret => format!("{ns}{mount}"),
    }
}

fn segments(path: &str) -> usize {
    path.split('/').filter(|s| !s.is_empty()).count()
}

fn has_auth(prefix: &str) -> bool {
    prefix.split('/').any(|s| s == "auth")
}

/// One side of a rule, made a prefix with its slash, or why it cannot be one.
fn prefix(var: &'static str, side: &str) -> Result<String> {
    let side = side.trim();
    let bad = |why: &str| Error::config(var, format!("`{side}` {why}"));
    if side.is_empty() || side == "/" {
        return Err(bad(
            "is empty: name a namespace or mount (`team1/`, `secret/`)",
        ));
    }
    if side.starts_with('/') || side.contains(['*', '?', '[', ']', '{', '}', '+', '=']) {
        return Err(bad(
            "is not a plain prefix (`team1/`, `secret/`, `auth/ldap/`)",
        ));
    }
    let parts: Vec<&str> = side.trim_end_matches('/').split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return Err(bad("is malformed"));
    }
    if let Some(p) = parts.iter().find(|p| RESERVED.contains(p)) {
        return Err(bad(&format!("names `{p}/`, which Vault reserves")));
    }
    if let Some(i) = parts.iter().position(|p| *p == "auth") {
        match parts.get(i + 1) {
            None => return Err(bad("names no auth mount after `auth/`")),
            Some(&"token") => return Err(bad("names the built-in token method, which stays")),
            Some(_) => {}
        }
    }
    Ok(format!("{}/", parts.join("/")))
}

/// Refuses rules whose paths overlap: two FROMs (one would hide the other), two TOs (two sources
/// of one place), or a FROM and a TO (a chain or a cycle).
fn check_apart(var: &'static str, rules: &[Rule]) -> Result<()> {
    let sides: Vec<(&str, &str)> = rules
        .iter()
        .flat_map(|r| [("FROM", r.from.as_str()), ("TO", r.to.as_str())])
        .collect();
    for (i, (what_a, a)) in sides.iter().enumerate() {
        for (what_b, b) in &sides[i + 1..] {
            if a.starts_with(b) || b.starts_with(a) {
                return Err(Error::config(
                    var,
                    format!(
                        "{what_a} `{a}` and {what_b} `{b}` overlap: rules must not nest or chain"
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "map_tests.rs"]
mod tests;

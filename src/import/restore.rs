//! Selective restore (`import --only`): which objects of the snapshot a restore applies (those
//! its globs select, moved under `--to-prefix` when given), which namespaces and mounts it may
//! create for them (created when missing, never changed), and which of the importer's records a
//! prune may touch (only selected ones).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use super::plan::Change;
use crate::error::{Error, Result};
use crate::model::Action;
use crate::objects::{Moved, Object, Parent};
use crate::select::Selection;
use crate::snapshot::verify::{Snapshot, scan};
use crate::state::Record;

/// What `import --only` restores, and how.
#[derive(Debug, Clone)]
pub struct Restore {
    pub only: Selection,
    rename: Option<Rename>,
    /// `--allow-fenced`: a promoted cluster takes this restore.
    pub allow_fenced: bool,
    /// Given a `--map` of its own: a copy elsewhere, as with `--to-prefix`.
    mapped: bool,
}

/// `--to-prefix`: the selected folder (`secret/app/`) and where its KV secrets go instead.
#[derive(Debug, Clone)]
struct Rename {
    from: String,
    to: String,
}

/// What a restore does with one object of the snapshot.
pub(super) enum Admitted {
    /// Selected; `renamed` when moved by `--to-prefix` (then never recorded: it is a copy).
    Selected { object: Object, renamed: bool },
    /// Not selected, but a selected object lives in it: created when missing, never changed.
    Container(Object),
    /// Selected, but not restored, with the reason.
    Skipped(Object, String),
    /// Not part of this restore.
    Out(Object),
}

impl Restore {
    /// The restore the flags ask for; `None` for a full import. `--to-prefix` and
    /// `--allow-fenced` go with `--only` only.
    pub fn new(
        only: Option<&str>,
        to_prefix: Option<&str>,
        allow_fenced: bool,
    ) -> Result<Option<Restore>> {
        let Some(only) = only else {
            if to_prefix.is_some() {
                return Err(Error::config("--to-prefix", "goes with --only FOLDER/*"));
            }
            if allow_fenced {
                return Err(Error::config(
                    "--allow-fenced",
                    "goes with --only: a full import into a promoted cluster would overwrite \
                     the writes made on it since the promotion",
                ));
            }
            return Ok(None);
        };
        let selection = Selection::parse("--only", only)?;
        let rename = to_prefix
            .map(|to| Rename::new(selection.spec(), to))
            .transpose()?;
        Ok(Some(Restore {
            only: selection,
            rename,
            allow_fenced,
            mapped: false,
        }))
    }

    /// Whether objects are copied elsewhere (then nothing is pruned or recorded).
    pub fn renames(&self) -> bool {
        self.rename.is_some() || self.mapped
    }

    /// Makes this restore a copy to where `--map` puts things (`map` is the run's own, not the
    /// one its scheduled imports use): nothing pruned or recorded. One way of moving at a time.
    pub fn copy_elsewhere(&mut self, map: &crate::map::PathMap) -> Result<()> {
        if self.rename.is_some() && !map.is_empty() {
            return Err(Error::config(
                "--map",
                "goes with --only, not with --to-prefix",
            ));
        }
        self.mapped = !map.is_empty();
        Ok(())
    }

    /// Whether a prune may consider this record of the importer's.
    pub(super) fn covers(&self, rec: &Record) -> bool {
        !self.renames() && self.only.matches_at(rec.kind, rec.ns(), rec.path())
    }

    fn select(&self, object: Object) -> Admitted {
        if !self.only.matches(&object) {
            return Admitted::Out(object);
        }
        let Some(rename) = &self.rename else {
            return Admitted::Selected {
                object,
                renamed: self.mapped,
            };
        };
        rename.apply(object)
    }

    /// What this restore does with `object`, given the containers its selection `needs`.
    pub(super) fn admit(&self, object: Object, needs: &HashSet<Parent>) -> Admitted {
        let container = object.as_parent().is_some_and(|p| needs.contains(&p));
        match self.select(object) {
            Admitted::Out(object) if container => Admitted::Container(object),
            other => other,
        }
    }

    /// The namespaces and mounts the selected objects live in, parents of parents included, for
    /// each snapshot of a chain: one pass over each (already verified). Every step needs what any
    /// of them does (the set the chain adds up to lives in them). A selection that takes nothing
    /// is an error: a typo must not pass for a restore.
    pub(super) async fn needs_all(&self, snapshots: &[&Snapshot]) -> Result<Vec<HashSet<Parent>>> {
        let mut all = HashSet::new();
        let mut selected = 0;
        for snapshot in snapshots {
            let (needs, n) = self.needs(snapshot).await?;
            all.extend(needs);
            selected += n;
        }
        if selected == 0 {
            let key = snapshots.last().map_or("", |s| s.key.as_str());
            return Err(Error::config(
                "--only",
                format!(
                    "no object of {key} is at `{}` (paths as plans show them: secret/app/db, \
                     sys/policies/acl/NAME, auth/approle/role/NAME; `verify --contents` lists them)",
                    self.only.spec()
                ),
            ));
        }
        tracing::info!(only = %self.only.spec(), objects = selected, "selective restore");
        Ok(vec![all; snapshots.len()])
    }

    async fn needs(&self, snapshot: &Snapshot) -> Result<(HashSet<Parent>, u64)> {
        let found = Arc::new(Mutex::new(Found::default()));
        let (me, into) = (self.clone(), found.clone());
        scan(snapshot, move |s| {
            let Ok(mut found) = into.lock() else {
                return false;
            };
            if let (Some(p), Some(above)) = (s.object.as_parent(), s.object.parent()) {
                found.up.insert(p, above);
            }
            match me.select(s.object) {
                Admitted::Out(_) => {}
                Admitted::Selected { object, .. } | Admitted::Skipped(object, _) => {
                    found.selected += 1;
                    found.direct.extend(object.parent());
                }
                Admitted::Container(_) => {}
            }
            true
        })
        .await?;
        let found = std::mem::take(&mut *found.lock().map_err(|_| poisoned())?);
        let mut needs = HashSet::new();
        for mut p in found.direct {
            while needs.insert(p.clone()) {
                match found.up.get(&p) {
                    Some(above) => p = above.clone(),
                    None => break,
                }
            }
        }
        Ok((needs, found.selected))
    }
}

/// What the first pass of a restore finds: the parents of the selected objects, each
/// container's own parent, and how many objects the selection takes.
#[derive(Default)]
struct Found {
    direct: HashSet<Parent>,
    up: HashMap<Parent, Parent>,
    selected: u64,
}

/// A container a restore needs but did not select: created when missing, otherwise left as it
/// is (its settings are not part of the restore).
pub(super) fn container_only(mut change: Change) -> Change {
    if change.action == Action::Update {
        change.action = Action::Skipped;
        change.reason = Some("outside --only: left as it is (only created when missing)".into());
        change.object = None;
        change.ops = Default::default();
    }
    change
}

fn poisoned() -> Error {
    Error::io(
        "plan a selective restore",
        std::io::Error::other("a scan thread panicked"),
    )
}

impl Rename {
    /// `--to-prefix TO` for the selection `spec`, which must be one folder: `secret/app/` or
    /// `secret/app/*`.
    fn new(spec: &str, to: &str) -> Result<Rename> {
        let from = spec.strip_suffix('*').unwrap_or(spec).trim().to_string();
        let plain = |p: &str| !p.contains(['*', '?', '[', ']', '{', '}', ',']);
        if !from.ends_with('/') || !plain(&from) {
            return Err(Error::config(
                "--to-prefix",
                format!("needs --only to name one folder (`secret/app/*`), not `{spec}`"),
            ));
        }
        let to = format!("{}/", to.trim().trim_end_matches('/'));
        if let Some(seg) = crate::vault::dot_segment(&to) {
            return Err(Error::config(
                "--to-prefix",
                format!("`{to}` has a `{seg}` segment: name the folder as it is"),
            ));
        }
        if to == "/" || !plain(&to) || to == from {
            return Err(Error::config(
                "--to-prefix",
                format!("`{to}` is not a folder other than `{from}`"),
            ));
        }
        Ok(Rename { from, to })
    }

    /// The object moved from `from` to `to` (a KV secret, inside its own mount); anything else
    /// is skipped with the reason.
    fn apply(&self, object: Object) -> Admitted {
        match object.moved(&self.from, &self.to) {
            // Renamed, it is a new object: checked as one read from a snapshot would be.
            Moved::To(object) => match crate::snapshot::format::validate(&object) {
                Ok(()) => Admitted::Selected {
                    object,
                    renamed: true,
                },
                Err(why) => Admitted::Skipped(object, format!("renamed, {why}")),
            },
            Moved::Unmovable(object) => {
                Admitted::Skipped(object, "--to-prefix copies KV secrets only".into())
            }
            Moved::Outside(object, why) => Admitted::Skipped(object, why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::kv::Secret;

    fn secret(ns: &str, mount: &str, path: &str) -> Object {
        let json =
            serde_json::json!({"namespace": ns, "mount": mount, "path": path, "data": {"k": "v"}});
        Object::KvSecret(serde_json::from_value::<Secret>(json).unwrap())
    }

    fn restore(only: &str, to: Option<&str>) -> Restore {
        Restore::new(Some(only), to, false).unwrap().unwrap()
    }

    #[test]
    fn to_prefix_moves_selected_kv_secrets_inside_their_mount() {
        let r = restore("team-a/secret/app/*", Some("team-a/secret/app-restored"));
        let Admitted::Selected { object, renamed } =
            r.select(secret("team-a/", "secret/", "app/db/pw"))
        else {
            panic!("not selected")
        };
        assert!(renamed);
        assert_eq!(object.path(), "team-a/secret/app-restored/db/pw");
        let r = restore("secret/app/", Some("kv/app"));
        assert!(matches!(
            r.select(secret("", "secret/", "app/x")),
            Admitted::Skipped(_, why) if why == "--to-prefix kv/app/ is outside its mount secret/"
        ));
        assert!(matches!(
            r.select(secret("", "secret/", "other")),
            Admitted::Out(_)
        ));
    }

    #[test]
    fn restore_flags_need_only_and_to_prefix_needs_one_folder() {
        assert!(Restore::new(None, None, false).unwrap().is_none());
        let e = Restore::new(None, Some("x/"), false).unwrap_err();
        assert_eq!(e.to_string(), "--to-prefix: goes with --only FOLDER/*");
        let e = Restore::new(None, None, true).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--allow-fenced: goes with --only"),
            "{e}"
        );
        for bad in ["secret/a*", "secret/x", "secret/a/,kv/b/", "*/app/"] {
            let e = Restore::new(Some(bad), Some("secret/r/"), false).unwrap_err();
            assert!(
                e.to_string().starts_with("--to-prefix: needs --only"),
                "{bad}: {e}"
            );
        }
        let e = Restore::new(Some("secret/a/"), Some("secret/a"), false).unwrap_err();
        assert!(e.to_string().contains("is not a folder other than"), "{e}");
    }
}

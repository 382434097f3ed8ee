//! Where an object sits and how it moves: its place (namespace, mount) as `--map` rewrites it,
//! what a kind's content names that moves with it (`Remap`), and what `--to-prefix` made of it.

use crate::vault::Table;

/// What `--to-prefix` made of an object.
#[derive(Debug)]
pub enum Moved<T> {
    /// Moved: the same object at its new path.
    To(T),
    /// Its kind is never moved.
    Unmovable(T),
    /// The new path is outside what holds it (its mount): why.
    Outside(T, String),
}

impl<T> Moved<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Moved<U> {
        match self {
            Moved::To(t) => Moved::To(f(t)),
            Moved::Unmovable(t) => Moved::Unmovable(f(t)),
            Moved::Outside(t, why) => Moved::Outside(f(t), why),
        }
    }
}

/// Where an object sits, as `--map` moves it: the fields that say so, to be rewritten in place.
pub enum Place<'a> {
    /// A namespace: its path (`team1/sub/`).
    Namespace(&'a mut String),
    /// A mount: its namespace, its table and its path (`secret/`, `ldap/`).
    Mount(&'a mut String, Table, &'a mut String),
    /// Something inside a mount: its namespace, the mount's table and the mount's path.
    InMount(&'a mut String, Table, &'a mut String),
    /// Something that lives directly in a namespace (a policy, an entity): its namespace.
    InNamespace(&'a mut String),
}

/// How `--map` moves paths, for a kind whose content names other paths (a policy's paths, an
/// alias's auth mount): full paths, namespace first, as plans show them.
pub trait Remap {
    /// Where the full path `full` (a policy path may end in `*` or hold `+`) goes: `None` when the
    /// map leaves it where it is; an error when it cannot be moved safely (a glob that reaches
    /// across a boundary the map moves).
    fn path(&self, full: &str) -> std::result::Result<Option<String>, String>;
}

//! The one trait every object kind implements, and what it works with: where an object sits
//! (`Parent`), when an import applies it (`Stage`), where an export puts what it finds (`Sink`,
//! `Scope`, `Source`), what a prune finds in a container (`Inventory`), and the checks and name
//! encoding every kind's entry names share. Where an object sits and how it moves (`Place`,
//! `Remap`, `Moved`) is `place`.

use std::future::Future;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value};

use super::escrow::Escrow;
use super::kv::KvContent;
use super::mounts::Mount;
pub use super::place::{Moved, Place, Remap};
use super::registry::{Kind, Object};
use super::target::Target;
use crate::error::Result;
use crate::model::{Action, Decision};
use crate::vault::{Table, VaultClient};

/// When an import applies a kind's objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Namespaces and mounts: one by one as they stream by, before anything they hold.
    Containers,
    /// Everything inside them, concurrently, as it streams by.
    Contents,
    /// What names other contents and needs them on the target first (a PKI mount's default
    /// issuer): concurrently, once every content is in.
    Dependents,
    /// Entities, once everything else is in (their aliases need the auth mounts).
    Entities,
    /// Groups last, member groups before the groups that hold them.
    Groups,
}

/// What an object depends on in the target: its namespace, or the mount it lives in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Parent {
    Namespace(String),
    Mount(String, Table, String),
}

impl Parent {
    /// The parent of an object inside the secret mount `mount` of namespace `ns`.
    pub fn secret_mount(ns: &str, mount: &str) -> Parent {
        Parent::Mount(ns.to_string(), Table::Secret, mount.to_string())
    }

    /// The parent of an object that lives directly in namespace `ns` (`None` at the top).
    pub fn of_namespace(ns: &str) -> Option<Parent> {
        (!ns.is_empty()).then(|| Parent::Namespace(ns.to_string()))
    }
}

/// What an export reads from.
pub struct Source<'a> {
    /// The client of the namespace being exported.
    pub client: &'a VaultClient,
    pub concurrency: usize,
    /// Every KV version, not only the latest (`REPLICATOR_KV_HISTORY=all`).
    pub kv_history: bool,
    /// `REPLICATOR_INCLUDE` / `REPLICATOR_EXCLUDE`, as a test of a mount's shown path.
    pub filter: &'a (dyn Fn(&str) -> bool + Sync),
    /// The importer's own bookkeeping mount, which is never exported.
    pub state_mount: &'a str,
    /// Where write-only fields are kept (`REPLICATOR_ESCROW_MOUNT`), when they are.
    pub escrow: Option<Escrow<'a>>,
    /// What the last export saw, for a delta: a kind that can tell a change without reading the
    /// object (a KV secret, from its metadata) skips the read when nothing changed.
    pub known: Option<&'a dyn Known>,
}

/// What tells that an object changed without reading it (16 bytes of a digest): a KV secret's
/// metadata; for any other object, its exported form (`fingerprinted`).
pub type Mark = [u8; 16];

/// What the last export saw of each object, as a delta export compares against.
pub trait Known: Sync {
    /// Whether the object `stub` names (its path; its content unread) had `mark` last time.
    fn unchanged(&self, stub: &Object, mark: &Mark) -> bool;
}

/// The part of the source one export call covers.
pub enum Scope<'a> {
    /// The whole cluster, with the child namespaces it has.
    Cluster { namespaces: &'a [String] },
    /// One namespace (`""` for the configured one), with the mounts the export carries (built-in
    /// ones included, excluded and local ones not).
    Namespace { ns: &'a str, mounts: &'a [Mount] },
    /// One mount of a namespace.
    Mount { ns: &'a str, mount: &'a Mount },
}

impl<'a> Scope<'a> {
    /// The namespace and mount of a one-mount scope whose engine a kind lives in (`lives_in`);
    /// `None` for any other scope, which such a kind has nothing to export from.
    pub fn mount_where(&self, lives_in: fn(&Mount) -> bool) -> Option<(&'a str, &'a Mount)> {
        match self {
            Scope::Mount { ns, mount } if lives_in(mount) => Some((ns, mount)),
            _ => None,
        }
    }
}

/// Where an export puts what it finds: objects, and what it could not copy (never silent).
pub trait Sink: Send {
    fn add(&mut self, obj: Object) -> Result<()>;
    fn not_copied(&mut self, kind: Kind, path: String, reason: String);
    /// Adds an object with the mark that tells its changes without reading it (a KV secret's
    /// metadata), for the next delta export to compare.
    fn add_marked(&mut self, obj: Object, _mark: Mark) -> Result<()> {
        self.add(obj)
    }
    /// An object left unread because `Known` says it did not change: `stub` names it (its
    /// content is not there). Only a sink that handed out a `Known` gets these.
    fn carry(&mut self, stub: Object, _mark: Mark) -> Result<()> {
        Err(crate::error::Error::Object {
            kind: stub.kind().as_str(),
            path: stub.path(),
            reason: "left unread as unchanged, but this walk keeps no earlier export".into(),
        })
    }
}

/// What a prune found in a scope of the target: each object, and each path an export could not
/// copy; or why it cannot know.
#[derive(Debug, Default)]
pub struct Inventory {
    /// What names are shown relative to (the scope's path: `ns/secret/`).
    prefix: String,
    pub found: Vec<Held>,
    /// Why what the scope holds cannot be listed (an engine no kind can list).
    pub unknown: Option<String>,
}

/// One thing found: its kind and path (`ObjectKind::path`), and how a refusal names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Held {
    pub kind: Kind,
    pub path: String,
    /// What it is (`key`, `policy`) and its name inside the scope.
    pub what: String,
    pub name: String,
}

impl Inventory {
    /// An inventory of the scope at `prefix` (names are shown relative to it).
    pub fn new(prefix: &str) -> Self {
        Inventory {
            prefix: prefix.to_string(),
            ..Default::default()
        }
    }

    /// One thing found at `path`, called `what` (`key`, `item`).
    pub fn found(&mut self, kind: Kind, path: String, what: &str) {
        let name = path.strip_prefix(&self.prefix).unwrap_or(&path).to_string();
        let what = what.to_string();
        self.found.push(Held {
            kind,
            path,
            what,
            name,
        });
    }
}

impl Sink for Inventory {
    fn add(&mut self, obj: Object) -> Result<()> {
        let kind = obj.kind();
        self.found(kind, obj.path(), &kind.as_str().replace('_', " "));
        Ok(())
    }

    fn not_copied(&mut self, kind: Kind, path: String, _reason: String) {
        self.found(kind, path, &kind.as_str().replace('_', " "));
    }
}

/// One kind of Vault object. A kind is its module (which implements this) plus one line in the
/// registry (`objects/registry.rs`), which gives it its name and generates `Kind`, `Object` and
/// `Ops` with every dispatch over them.
pub trait ObjectKind: Sized + Clone + Send + Sync + 'static {
    /// Its folders in a snapshot (`identity/entities`): an entry's folder says its kind.
    const FOLDERS: &'static [&'static str];
    /// When an import applies it.
    const STAGE: Stage;
    /// The target's counterpart, as `diff` compares it.
    type Current: Send;
    /// What the apply step needs from the plan, beyond the object itself.
    type Ops: Clone + std::fmt::Debug + Default + PartialEq + Send + Sync;

    /// The namespace it lives in (`""` for the configured one).
    fn namespace(&self) -> &str;
    /// Its path in plans and errors, namespace included (never a value).
    fn path(&self) -> String;
    /// Its snapshot entry name below the namespace prefix and without `.json`, folder first.
    fn entry(&self) -> String;
    /// Whether the snapshot format allows it, wherever it came from.
    fn validate(&self) -> std::result::Result<(), String>;
    /// What it needs in the target first.
    fn parent(&self) -> Option<Parent> {
        Parent::of_namespace(self.namespace())
    }
    /// What its children see it as, when it holds other objects.
    fn as_parent(&self) -> Option<Parent> {
        None
    }
    /// Where a prune deletes it: (namespace, API path); `None` for kinds never pruned alone.
    fn delete_target(&self) -> Option<(String, String)>;
    /// Whether deleting it takes what it holds along (a mount, a namespace): a prune deletes one
    /// only with `REPLICATOR_PRUNE_MOUNTS`, once what it holds is proven to be the importer's.
    fn is_container() -> bool {
        false
    }
    /// Whether a prune may delete the object at `path` (its `path()`) in namespace `ns` on its own,
    /// as its record says where (records written by an older release included); `false` for one
    /// the server never deletes (it goes with its namespace or mount, if at all).
    fn pruned_alone(_ns: &str, _path: &str) -> bool {
        true
    }
    /// The path an object of this kind at `path` (its `path()`) in namespace `ns` is shown at in
    /// plans, diffs and listings, and selected by with `--only`: its API path, namespace first.
    fn shown_path(_ns: &str, path: &str) -> String {
        path.to_string()
    }
    /// Its snapshot JSON (`top`, without `kind`) made into what `diff` fingerprints.
    fn fingerprinted(&self, _top: &mut Map<String, Value>) {}
    /// How deep the top-level field `field` splits into field paths for `diff` (`None`: the
    /// default depth).
    fn field_depth(_field: &str) -> Option<usize> {
        None
    }
    /// How `diff` names the top-level field `field` when it groups changed field paths.
    fn field_group(field: &str) -> &str {
        field
    }
    /// What `verify --contents` shows of it beyond kind and path (never a value).
    fn summary(&self) -> Option<KvContent> {
        None
    }
    /// Where it sits, for `--map` to move it.
    fn place(&mut self) -> Place<'_>;
    /// Rewrites what its content names (paths, auth mounts) as `map` moves them, once its place
    /// has moved from the namespace `was`: each rewrite described for the plan (`field: old →
    /// new`, never a value), or why it cannot be rewritten safely.
    fn remap(&mut self, _map: &dyn Remap, _was: &str) -> std::result::Result<Vec<String>, String> {
        Ok(Vec::new())
    }
    /// Moves it from the folder `from` to `to` (`--to-prefix`, full paths, namespace first).
    fn moved(self, _from: &str, _to: &str) -> Moved<Self> {
        Moved::Unmovable(self)
    }
    /// What of this kind the target holds in `scope`, for a prune to prove a container holds
    /// only the importer's objects. By default its own export, so that what the export skips
    /// (what an engine holds by itself) is skipped here the same way; what it cannot copy counts.
    fn found(
        source: &Source<'_>,
        scope: &Scope<'_>,
        found: &mut Inventory,
    ) -> impl Future<Output = Result<()>> + Send {
        Self::export(source, scope, found)
    }

    /// Reads its counterpart on the target.
    fn current(&self, target: &Target) -> impl Future<Output = Result<Self::Current>> + Send;
    /// Decides what to do, from the target's counterpart.
    fn diff(&self, target: &Target, current: &Self::Current) -> Decision<Self::Ops>;
    /// Whether it carries write-only fields (from the escrow) that no read of the target shows:
    /// then, unless the last import applied this very entry, it is written even when everything
    /// readable is equal (the escrowed values may have changed).
    fn carries_write_only(&self) -> bool {
        false
    }
    /// The decision when its parent is being created: it is new.
    fn under_new_parent(&self, _target: &Target) -> Decision<Self::Ops> {
        Decision::new(Action::Create, None)
    }
    /// Writes the decided change.
    fn apply(
        &self,
        target: &Target,
        action: Action,
        ops: &Self::Ops,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Parts of an applied object that were refused all the same (an entity's aliases).
    fn refused_parts(_ops: &Self::Ops) -> Vec<String> {
        Vec::new()
    }

    /// Whether it lives inside mounts like this one (its export then runs per such mount).
    fn lives_in(_mount: &Mount) -> bool {
        false
    }
    /// Finds every object of this kind in `scope` and puts it, or why not, into `sink`.
    fn export(
        source: &Source<'_>,
        scope: &Scope<'_>,
        sink: &mut dyn Sink,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The order in which an import writes these objects within their stage, as indices into
    /// `objects` (each once): as given, unless the kind's objects name one another (groups).
    fn apply_order(objects: &[&Self]) -> Vec<usize> {
        (0..objects.len()).collect()
    }
}

/// Left as they are in an entry-name segment; everything else is percent-encoded.
const NAME_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Secret-mount paths a snapshot may never write into.
const RESERVED_MOUNTS: &[&str] = &["sys/", "auth/", "identity/", "cubbyhole/", "token/"];

/// One entry-name segment, percent-encoded.
pub fn segment(s: &str) -> String {
    if s.chars().all(|c| c == '.') {
        // `.` and `..` must never reach a file system or a URL as such.
        return s.replace('.', "%2E");
    }
    utf8_percent_encode(s, NAME_SAFE).to_string()
}

/// A path whose slashes stay folders (`a/b` → `a/b`), each part encoded.
pub fn segments(path: &str) -> String {
    path.split('/').map(segment).collect::<Vec<_>>().join("/")
}

/// A path with slashes that is one segment (`team/app/` → `team%2Fapp`).
pub fn one(path: &str) -> String {
    segment(path.trim_end_matches('/'))
}

pub fn bad_segment(s: &str) -> bool {
    s.is_empty() || s == "." || s == ".."
}

/// A relative path of one or more clean segments, with a trailing slash (`a/b/`).
pub fn check_dir_path(what: &str, path: &str) -> std::result::Result<(), String> {
    let Some(inner) = path.strip_suffix('/') else {
        return Err(format!("{what} `{path}` must end with `/`"));
    };
    if inner.split('/').any(bad_segment) {
        return Err(format!("{what} `{path}` is malformed"));
    }
    Ok(())
}

/// A secret mount's path, outside the paths Vault reserves.
pub fn check_secret_mount(path: &str) -> std::result::Result<(), String> {
    check_dir_path("mount path", path)?;
    if RESERVED_MOUNTS.iter().any(|r| path.starts_with(r)) {
        return Err(format!("mount path `{path}` is reserved by Vault"));
    }
    Ok(())
}

/// The entry of the object `name` of the secret mount `mount`: `<folder>/<mount>/<name>`.
pub fn entry_in_mount(folder: &str, mount: &str, name: &str) -> String {
    format!("{folder}/{}/{}", one(mount), segment(name))
}

/// A secret mount outside Vault's own paths, and a name that is one clean segment.
pub fn check_in_mount(what: &str, mount: &str, name: &str) -> std::result::Result<(), String> {
    check_secret_mount(mount)?;
    check_name(what, name)
}

/// A name that is one clean segment.
pub fn check_name(what: &str, name: &str) -> std::result::Result<(), String> {
    if bad_segment(name) || name.contains('/') {
        return Err(format!("{what} name `{name}` is not allowed"));
    }
    Ok(())
}

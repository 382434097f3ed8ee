//! The registry: the only list of object kinds. Each line names a kind and its type; the macro
//! generates `Kind`, `Object` (a snapshot entry's content, tagged by the kind's name), `Ops` (what
//! a plan hands the apply step) and every dispatch over them. A line's position is the kind's
//! place in a snapshot's entry order (containers first, so an import streaming through it meets a
//! parent before its children); when an import applies it is the kind's own `STAGE`.

use serde::{Deserialize, Serialize};

use super::kind::{Inventory, Moved, ObjectKind, Parent, Place, Remap, Scope, Sink, Source, Stage};
use super::kv::KvContent;
use super::target::Target;
use super::{
    auth, database, identity, kubernetes, kv, mounts, namespaces, pki, policies, rabbitmq, ssh,
    totp, transit,
};
use crate::error::Result;
use crate::model::{Action, Decision};

macro_rules! registry {
    ($($variant:ident($name:literal) => $ty:ty,)*) => {
        /// An object kind, by its registry line.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Kind {
            $(#[serde(rename = $name)] $variant,)*
        }

        /// One object as a snapshot entry carries it.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        #[allow(clippy::large_enum_variant)]
        pub enum Object {
            $(#[serde(rename = $name)] $variant($ty),)*
        }

        /// What a plan found that the apply step needs: a kind's own ops, or a prune.
        #[derive(Debug, Clone, Default, PartialEq)]
        pub enum Ops {
            #[default]
            None,
            /// A prune: delete at (namespace, API path).
            Delete(String, String),
            $($variant(<$ty as ObjectKind>::Ops),)*
        }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Kind::$variant => $name,)* }
            }

            pub fn stage(self) -> Stage {
                match self { $(Kind::$variant => <$ty as ObjectKind>::STAGE,)* }
            }

            pub fn folders(self) -> &'static [&'static str] {
                match self { $(Kind::$variant => <$ty as ObjectKind>::FOLDERS,)* }
            }

            /// Whether objects of this kind live in mounts like `m`.
            pub fn lives_in(self, m: &mounts::Mount) -> bool {
                match self { $(Kind::$variant => <$ty as ObjectKind>::lives_in(m),)* }
            }

            /// Whether deleting one takes what it holds along (a mount, a namespace).
            pub fn is_container(self) -> bool {
                match self { $(Kind::$variant => <$ty as ObjectKind>::is_container(),)* }
            }

            /// Whether a prune may delete the object at `path` in `ns` on its own.
            pub fn pruned_alone(self, ns: &str, path: &str) -> bool {
                match self { $(Kind::$variant => <$ty as ObjectKind>::pruned_alone(ns, path),)* }
            }

            /// The path an object of this kind at `path` in namespace `ns` is shown and selected at.
            pub fn shown_path(self, ns: &str, path: &str) -> String {
                match self { $(Kind::$variant => <$ty as ObjectKind>::shown_path(ns, path),)* }
            }

            /// How deep the top-level field `field` splits into field paths for `diff`.
            pub fn field_depth(self, field: &str) -> Option<usize> {
                match self { $(Kind::$variant => <$ty as ObjectKind>::field_depth(field),)* }
            }

            /// How `diff` names the top-level field `field` when it groups changed field paths.
            pub fn field_group(self, field: &str) -> &str {
                match self { $(Kind::$variant => <$ty as ObjectKind>::field_group(field),)* }
            }

            /// What of this kind the target holds in `scope`, into `found`.
            pub async fn found(
                self,
                source: &Source<'_>,
                scope: &Scope<'_>,
                found: &mut Inventory,
            ) -> Result<()> {
                match self { $(Kind::$variant => <$ty as ObjectKind>::found(source, scope, found).await,)* }
            }

            /// Exports this kind's objects in `scope` into `sink`.
            pub async fn export(
                self,
                source: &Source<'_>,
                scope: &Scope<'_>,
                sink: &mut dyn Sink,
            ) -> Result<()> {
                match self { $(Kind::$variant => <$ty as ObjectKind>::export(source, scope, sink).await,)* }
            }
        }

        impl Object {
            pub fn kind(&self) -> Kind {
                match self { $(Object::$variant(_) => Kind::$variant,)* }
            }

            /// The namespace the object lives in (`""` for the configured one).
            pub fn namespace(&self) -> &str {
                match self { $(Object::$variant(o) => o.namespace(),)* }
            }

            /// The object's Vault-side path, for plans and error messages (never its value).
            pub fn path(&self) -> String {
                match self { $(Object::$variant(o) => o.path(),)* }
            }

            /// Its entry name below the namespace prefix, without `.json`.
            pub fn entry(&self) -> String {
                match self { $(Object::$variant(o) => o.entry(),)* }
            }

            pub fn validate(&self) -> std::result::Result<(), String> {
                match self { $(Object::$variant(o) => o.validate(),)* }
            }

            /// The mount (or, for top-level objects, the namespace) this object needs first.
            pub fn parent(&self) -> Option<Parent> {
                match self { $(Object::$variant(o) => o.parent(),)* }
            }

            /// What its children see it as, when it holds other objects.
            pub fn as_parent(&self) -> Option<Parent> {
                match self { $(Object::$variant(o) => o.as_parent(),)* }
            }

            /// Where a prune deletes it: (namespace, API path).
            pub fn delete_target(&self) -> Option<(String, String)> {
                match self { $(Object::$variant(o) => o.delete_target(),)* }
            }

            /// Its snapshot JSON (`top`, without `kind`) made into what `diff` fingerprints.
            pub fn fingerprinted(&self, top: &mut serde_json::Map<String, serde_json::Value>) {
                match self { $(Object::$variant(o) => o.fingerprinted(top),)* }
            }

            /// What `verify --contents` shows of it beyond kind and path (never a value).
            pub fn summary(&self) -> Option<KvContent> {
                match self { $(Object::$variant(o) => o.summary(),)* }
            }

            /// Where it sits, for `--map` to move it.
            pub fn place(&mut self) -> Place<'_> {
                match self { $(Object::$variant(o) => o.place(),)* }
            }

            /// Rewrites what its content names as `map` moves it, once moved from namespace `was`.
            pub fn remap(
                &mut self,
                map: &dyn Remap,
                was: &str,
            ) -> std::result::Result<Vec<String>, String> {
                match self { $(Object::$variant(o) => o.remap(map, was),)* }
            }

            /// Moves it from the folder `from` to `to` (`--to-prefix`).
            pub fn moved(self, from: &str, to: &str) -> Moved<Object> {
                match self { $(Object::$variant(o) => o.moved(from, to).map(Object::$variant),)* }
            }

            /// Reads the object's counterpart on the target and decides what to do with it.
            pub async fn plan(&self, target: &Target) -> Result<Decision<Ops>> {
                Ok(match self {
                    $(Object::$variant(o) => {
                        let current = o.current(target).await?;
                        o.diff(target, &current).map(Ops::$variant)
                    })*
                })
            }

            /// Whether it carries write-only fields no read of the target shows.
            pub fn carries_write_only(&self) -> bool {
                match self { $(Object::$variant(o) => o.carries_write_only(),)* }
            }

            /// The decision when its parent is being created: everything inside is new.
            pub fn under_new_parent(&self, target: &Target) -> Decision<Ops> {
                match self { $(Object::$variant(o) => o.under_new_parent(target).map(Ops::$variant),)* }
            }

            /// Writes one planned change (ops of another kind count as none).
            pub async fn apply(&self, target: &Target, action: Action, ops: &Ops) -> Result<()> {
                match (self, ops) {
                    $((Object::$variant(o), Ops::$variant(ops)) => o.apply(target, action, ops).await,)*
                    $((Object::$variant(o), _) => o.apply(target, action, &Default::default()).await,)*
                }
            }

            /// The order in which an import writes `objects`, all of kind `kind`, within their
            /// stage (indices into `objects`); as given when they are not all of that kind.
            pub fn apply_order(kind: Kind, objects: &[&Object]) -> Vec<usize> {
                match kind {
                    $(Kind::$variant => {
                        let typed: Option<Vec<&$ty>> = objects
                            .iter()
                            .map(|o| match o {
                                Object::$variant(o) => Some(o),
                                #[allow(unreachable_patterns)]
                                _ => None,
                            })
                            .collect();
                        match typed {
                            Some(typed) => <$ty as ObjectKind>::apply_order(&typed),
                            None => (0..objects.len()).collect(),
                        }
                    })*
                }
            }
        }

        impl Ops {
            /// Parts of an applied object that were refused all the same.
            pub fn refused_parts(&self) -> Vec<String> {
                match self {
                    $(Ops::$variant(ops) => <$ty as ObjectKind>::refused_parts(ops),)*
                    _ => Vec::new(),
                }
            }

            /// Where a prune deletes: (namespace, API path).
            pub fn deletes(&self) -> Option<(&str, &str)> {
                match self {
                    Ops::Delete(ns, path) => Some((ns, path)),
                    _ => None,
                }
            }
        }

        $(
            impl From<$ty> for Object {
                fn from(o: $ty) -> Object {
                    Object::$variant(o)
                }
            }

            impl KindOf for $ty {
                const KIND: Kind = Kind::$variant;
            }
        )*
    };
}

/// The registry line of a kind's type (generated for every line).
pub trait KindOf {
    const KIND: Kind;
}

registry! {
    Namespace("namespace") => namespaces::Namespace,
    Mount("mount") => mounts::Mount,
    Policy("policy") => policies::Policy,
    AuthItem("auth_item") => auth::AuthItem,
    KvSecret("kv_secret") => kv::Secret,
    TransitKey("transit_key") => transit::TransitKey,
    SshCa("ssh_ca") => ssh::SshCa,
    SshRole("ssh_role") => ssh::SshRole,
    TotpKey("totp_key") => totp::TotpKey,
    PkiIssuer("pki_issuer") => pki::PkiIssuer,
    PkiConfig("pki_config") => pki::PkiConfig,
    PkiRole("pki_role") => pki::PkiRole,
    DatabaseConfig("database_config") => database::DatabaseConfig,
    DatabaseRole("database_role") => database::DatabaseRole,
    DatabaseStaticRole("database_static_role") => database::DatabaseStaticRole,
    KubernetesConfig("kubernetes_config") => kubernetes::KubernetesConfig,
    KubernetesRole("kubernetes_role") => kubernetes::KubernetesRole,
    RabbitmqConnection("rabbitmq_connection") => rabbitmq::RabbitmqConnection,
    RabbitmqRole("rabbitmq_role") => rabbitmq::RabbitmqRole,
    RabbitmqLease("rabbitmq_lease") => rabbitmq::RabbitmqLease,
    Entity("entity") => identity::Entity,
    Group("group") => identity::Group,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Ops {
    /// A prune's deletion at (namespace, API path).
    pub fn delete(ns: &str, path: &str) -> Ops {
        Ops::Delete(ns.to_string(), path.to_string())
    }
}

impl Kind {
    /// The kind an entry name belongs to, from its folder (after any `ns/<namespace>/`).
    pub fn of_entry(name: &str) -> Option<Kind> {
        let rest = match name.strip_prefix("ns/") {
            Some(r) => r.split_once('/')?.1,
            None => name,
        };
        Kind::ALL.iter().copied().find(|k| {
            k.folders().iter().any(|f| {
                rest.strip_prefix(f)
                    .is_some_and(|after| after.starts_with('/'))
            })
        })
    }
}

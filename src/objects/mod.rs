//! The Vault object kinds a snapshot carries. Each kind has its own module with the same small
//! surface: `export` it from a source, `current` reads it from a target, `diff` compares the two,
//! and `apply` writes the desired state. This module ties them together for the importer.

pub mod auth;
pub mod identity;
pub mod kv;
pub mod mounts;
pub mod namespaces;
pub mod policies;
pub mod transit;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::plan::Action;
use crate::vault::{MountEntry, Table, VaultClient, mount_table};

/// The kinds, in the order an import applies them (a mount before the secrets inside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Namespace,
    Mount,
    Policy,
    AuthItem,
    KvSecret,
    TransitKey,
    Entity,
    Group,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Namespace,
        Kind::Mount,
        Kind::Policy,
        Kind::AuthItem,
        Kind::KvSecret,
        Kind::TransitKey,
        Kind::Entity,
        Kind::Group,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Namespace => "namespace",
            Kind::Mount => "mount",
            Kind::Policy => "policy",
            Kind::AuthItem => "auth_item",
            Kind::KvSecret => "kv_secret",
            Kind::TransitKey => "transit_key",
            Kind::Entity => "entity",
            Kind::Group => "group",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One object as it is stored in a snapshot entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Object {
    Namespace(namespaces::Namespace),
    Mount(mounts::Mount),
    Policy(policies::Policy),
    AuthItem(auth::AuthItem),
    KvSecret(Box<kv::Secret>),
    TransitKey(transit::TransitKey),
    Entity(identity::Entity),
    Group(identity::Group),
}

/// What an object depends on in the target: its namespace, or the mount it lives in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Parent {
    Namespace(String),
    Mount(String, Table, String),
}

impl Object {
    pub fn kind(&self) -> Kind {
        match self {
            Object::Namespace(_) => Kind::Namespace,
            Object::Mount(_) => Kind::Mount,
            Object::Policy(_) => Kind::Policy,
            Object::AuthItem(_) => Kind::AuthItem,
            Object::KvSecret(_) => Kind::KvSecret,
            Object::TransitKey(_) => Kind::TransitKey,
            Object::Entity(_) => Kind::Entity,
            Object::Group(_) => Kind::Group,
        }
    }

    /// The namespace the object lives in (`""` for the configured one).
    pub fn namespace(&self) -> &str {
        match self {
            Object::Namespace(_) => "",
            Object::Mount(m) => &m.namespace,
            Object::Policy(p) => &p.namespace,
            Object::AuthItem(a) => &a.namespace,
            Object::KvSecret(s) => &s.namespace,
            Object::TransitKey(t) => &t.namespace,
            Object::Entity(e) => &e.namespace,
            Object::Group(g) => &g.namespace,
        }
    }

    /// The object's Vault-side path, for plans and error messages (never its value).
    pub fn path(&self) -> String {
        let ns = self.namespace();
        match self {
            Object::Namespace(n) => n.path.clone(),
            Object::Mount(m) if m.table == Table::Auth => format!("{ns}auth/{}", m.path),
            Object::Mount(m) => format!("{ns}{}", m.path),
            Object::Policy(p) if p.policy_type == policies::PolicyType::Password => {
                format!("{ns}password/{}", p.name)
            }
            Object::Policy(p) => format!("{ns}{}", p.name),
            Object::AuthItem(a) => format!("{ns}{}", a.api_path()),
            Object::KvSecret(s) => s.full_path(),
            Object::TransitKey(t) => format!("{ns}{}keys/{}", t.mount, t.name),
            Object::Entity(e) => format!("{ns}{}", e.name),
            Object::Group(g) => format!("{ns}{}", g.name),
        }
    }

    /// The mount (or, for top-level objects, the namespace) this object needs on the target.
    pub fn parent(&self) -> Option<Parent> {
        let ns = self.namespace().to_string();
        match self {
            // A child namespace lives in its parent.
            Object::Namespace(n) => match n.split().0 {
                "" => None,
                parent => Some(Parent::Namespace(parent.to_string())),
            },
            Object::KvSecret(s) => Some(Parent::Mount(ns, Table::Secret, s.mount.clone())),
            Object::TransitKey(t) => Some(Parent::Mount(ns, Table::Secret, t.mount.clone())),
            Object::AuthItem(a) if a.mount != "token/" => {
                Some(Parent::Mount(ns, Table::Auth, a.mount.clone()))
            }
            _ if ns.is_empty() => None,
            _ => Some(Parent::Namespace(ns)),
        }
    }

    /// Where a prune deletes this object: (namespace, API path). `None` for kinds never pruned
    /// (transit keys, whose deletion Vault guards separately).
    pub fn delete_target(&self) -> Option<(String, String)> {
        let ns = self.namespace().to_string();
        let path = match self {
            Object::Namespace(n) => {
                let (parent, name) = n.split();
                return Some((parent.to_string(), format!("sys/namespaces/{name}")));
            }
            Object::Mount(m) => format!("{}/{}", m.table.api(), m.path.trim_end_matches('/')),
            Object::Policy(p) => format!("sys/policies/{}/{}", p.policy_type.as_str(), p.name),
            Object::AuthItem(a) => a.api_path(),
            Object::KvSecret(s) if s.kv_version == 2 => format!("{}metadata/{}", s.mount, s.path),
            Object::KvSecret(s) => format!("{}{}", s.mount, s.path),
            Object::TransitKey(_) => return None,
            Object::Entity(e) => format!("identity/entity/name/{}", e.name),
            Object::Group(g) => format!("identity/group/name/{}", g.name),
        };
        Some((ns, path))
    }

    /// The decision an object's own plan stands for, as its children see it.
    pub fn as_parent(&self) -> Option<Parent> {
        match self {
            Object::Namespace(n) => Some(Parent::Namespace(n.path.clone())),
            Object::Mount(m) => Some(Parent::Mount(m.namespace.clone(), m.table, m.path.clone())),
            _ => None,
        }
    }
}

/// Per-object facts the plan found that the apply step needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Detail {
    #[default]
    None,
    Kv(kv::KvOps),
    /// A prune: delete at (namespace, API path).
    Delete(String, String),
    /// How a transit key is updated.
    Transit(transit::Write),
    /// What an entity and its aliases need.
    Entity(identity::EntityPlan),
    /// The group's alias on the target is gone from the source: delete it.
    RemoveGroupAlias,
}

/// The cluster an import writes to, with what the plan needs to know about it up front.
pub struct Target {
    pub client: VaultClient,
    pub userpass: auth::NewUserPassword,
    tables: HashMap<(String, Table), BTreeMap<String, MountEntry>>,
    /// What is known of the target's KV-v2 secrets without reading each.
    pub kv: kv::TargetKv,
    /// The auth mounts the snapshot carries, by (namespace, path), with their type: noted as
    /// they stream by, before any entity (the snapshot's order), to tell which aliases follow it.
    auth_mounts: Mutex<HashMap<(String, String), String>>,
}

impl Target {
    /// Reads the mount tables of the configured namespace and of each listed child namespace
    /// that exists on the target.
    pub async fn load(
        client: VaultClient,
        namespaces: &[String],
        userpass: auth::NewUserPassword,
    ) -> Result<Self> {
        let mut tables = HashMap::new();
        let all = std::iter::once(String::new()).chain(namespaces.iter().cloned());
        for ns in all {
            let exists = ns.is_empty()
                || namespaces::exists(&client, &namespaces::Namespace::new(&ns)).await?;
            if !exists {
                continue;
            }
            let c = client.in_namespace(&ns);
            for table in [Table::Secret, Table::Auth] {
                tables.insert((ns.clone(), table), mount_table(&c, table).await?);
            }
        }
        Ok(Target {
            client,
            userpass,
            tables,
            kv: kv::TargetKv::default(),
            auth_mounts: Mutex::default(),
        })
    }

    pub fn client(&self, ns: &str) -> VaultClient {
        self.client.in_namespace(ns)
    }

    /// Creating an auth item: a new userpass user is skipped when so configured.
    fn auth_create(&self, item: &auth::AuthItem) -> (Action, Option<String>) {
        if auth::needs_password(item) && self.userpass == auth::NewUserPassword::Skip {
            let why = "new userpass user not created (REPLICATOR_USERPASS_PASSWORD=skip)";
            return (Action::Skipped, Some(why.into()));
        }
        (Action::Create, None)
    }

    pub fn mount(&self, ns: &str, table: Table, path: &str) -> Option<&MountEntry> {
        self.tables.get(&(ns.to_string(), table))?.get(path)
    }

    /// Notes an auth mount of the snapshot (see `auth_mounts`).
    pub fn note_auth_mount(&self, m: &mounts::Mount) {
        if m.table == Table::Auth {
            let mut known = self.auth_mounts.lock().unwrap_or_else(|e| e.into_inner());
            known.insert((m.namespace.clone(), m.path.clone()), m.kind.clone());
        }
    }

    /// What an auth mount path (`auth/userpass/`) means for the entity aliases on it.
    fn alias_mount(&self, ns: &str, mount_path: &str) -> identity::MountFate {
        use identity::MountFate;
        let path = mount_path.strip_prefix("auth/").unwrap_or(mount_path);
        let ours = {
            let known = self.auth_mounts.lock().unwrap_or_else(|e| e.into_inner());
            known.get(&(ns.to_string(), path.to_string())).cloned()
        };
        let theirs = self.mount(ns, Table::Auth, path);
        match (ours, theirs) {
            (None, t) => MountFate::Unreplicated(t.map(|t| t.kind.clone())),
            (Some(_), None) => MountFate::Follows,
            (Some(_), Some(t)) if t.local => {
                MountFate::Foreign(format!("the target's {mount_path} is a local mount"))
            }
            (Some(ours), Some(t)) if t.kind != ours => MountFate::Foreign(format!(
                "the target's {mount_path} is a `{}` method, the snapshot's is `{ours}`",
                t.kind
            )),
            (Some(_), Some(_)) => MountFate::Follows,
        }
    }
}

/// Reads the object's counterpart on the target and decides what to do with it.
pub async fn plan(target: &Target, obj: &Object) -> Result<(Action, Option<String>, Detail)> {
    let c = target.client(obj.namespace());
    let (action, reason) = match obj {
        Object::Namespace(n) => namespaces::diff(
            n,
            namespaces::current(&target.client, &n.path).await?.as_ref(),
        ),
        Object::Mount(m) => {
            let cur = target.mount(&m.namespace, m.table, &m.path);
            let cur_kv = match (cur, &m.kv_config) {
                (Some(_), Some(_)) => mounts::read_kv_config(&c, &m.path).await?,
                _ => None,
            };
            mounts::diff(m, cur, cur_kv.as_ref())
        }
        Object::Policy(p) => policies::diff(
            p,
            policies::current(&c, p.policy_type, &p.name)
                .await?
                .as_deref(),
        ),
        Object::AuthItem(a) => {
            let cur = auth::current(&c, &a.mount, &a.method, &a.item).await?;
            if cur.is_none()
                && auth::needs_password(a)
                && target.userpass == auth::NewUserPassword::Skip
            {
                (
                    Action::Skipped,
                    Some(
                        "new userpass user not created (REPLICATOR_USERPASS_PASSWORD=skip)".into(),
                    ),
                )
            } else {
                auth::diff(a, cur.as_ref())
            }
        }
        Object::KvSecret(s) => {
            let known = target.kv.known(&c, s).await?;
            let (action, reason, ops) = kv::diff(s, &kv::current(&c, s, known).await?);
            return Ok((action, reason, Detail::Kv(ops)));
        }
        Object::TransitKey(t) => {
            let cur = transit::current(&c, &t.mount, &t.name).await?;
            let (action, reason, write) = transit::diff(t, &cur);
            let detail = write.map_or(Detail::None, Detail::Transit);
            return Ok((action, reason, detail));
        }
        Object::Entity(e) => {
            let cur = identity::current_entity(&c, &e.namespace, &e.name).await?;
            let fate = |path: &str| target.alias_mount(&e.namespace, path);
            let (action, reason, plan) = identity::diff_entity(e, cur.as_ref(), fate);
            return Ok((action, reason, Detail::Entity(plan)));
        }
        Object::Group(g) => {
            let cur = identity::current_group(&c, &g.namespace, &g.name).await?;
            let fate = |path: &str| target.alias_mount(&g.namespace, path);
            let (action, reason, remove) = identity::diff_group(g, cur.as_ref(), fate);
            let detail = match remove {
                true => Detail::RemoveGroupAlias,
                false => Detail::None,
            };
            return Ok((action, reason, detail));
        }
    };
    Ok((action, reason, Detail::None))
}

/// The plan for an object whose parent is being created: everything inside is new.
pub fn plan_under_new_parent(target: &Target, obj: &Object) -> (Action, Option<String>, Detail) {
    match obj {
        Object::KvSecret(s) => {
            let (_, _, ops) = kv::diff(s, &kv::Current::default());
            (Action::Create, None, Detail::Kv(ops))
        }
        Object::AuthItem(a) => {
            let (action, reason) = target.auth_create(a);
            (action, reason, Detail::None)
        }
        Object::Entity(e) => {
            let plan = identity::EntityPlan::everything(e);
            (Action::Create, None, Detail::Entity(plan))
        }
        _ => (Action::Create, None, Detail::None),
    }
}

/// Writes one planned change.
pub async fn apply(target: &Target, obj: &Object, action: Action, detail: &Detail) -> Result<()> {
    let c = target.client(obj.namespace());
    match obj {
        Object::Namespace(n) => namespaces::apply(&target.client, n).await,
        Object::Mount(m) => mounts::apply(&c, m, action).await,
        Object::Policy(p) => policies::apply(&c, p).await,
        Object::AuthItem(a) => auth::apply(&c, a, action).await,
        Object::KvSecret(s) => match detail {
            Detail::Kv(ops) => kv::apply(&c, s, ops).await,
            _ => kv::apply(&c, s, &kv::KvOps::default()).await,
        },
        Object::TransitKey(t) => {
            let write = match detail {
                Detail::Transit(w) => Some(w),
                _ => None,
            };
            transit::apply(&c, t, action, write).await
        }
        Object::Entity(e) => match detail {
            Detail::Entity(plan) => identity::apply_entity(&c, e, plan).await,
            _ => identity::apply_entity(&c, e, &identity::EntityPlan::everything(e)).await,
        },
        Object::Group(g) => {
            let remove_alias = matches!(detail, Detail::RemoveGroupAlias);
            identity::apply_group(&c, g, remove_alias).await
        }
    }
}

//! The cluster an import writes to, with what planning needs to know about it up front: its mount
//! tables, what is known of its KV-v2 secrets, and which auth mounts the snapshot carries.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::{Object, auth, database, identity, kv, namespaces};
use crate::error::Result;
use crate::vault::{MountEntry, Table, VaultClient, mount_table};

/// The cluster an import writes to, with what the plan needs to know about it up front.
pub struct Target {
    pub client: VaultClient,
    pub userpass: auth::NewUserPassword,
    /// What an import may do to database engines (set by the import from its options).
    pub database: database::DatabaseOptions,
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
        let mut target = Target {
            client,
            userpass,
            database: database::DatabaseOptions::default(),
            tables: HashMap::new(),
            kv: kv::TargetKv::default(),
            auth_mounts: Mutex::default(),
        };
        let all = std::iter::once(String::new()).chain(namespaces.iter().cloned());
        for ns in all {
            target.read_tables(&ns).await?;
        }
        Ok(target)
    }

    /// Reads the mount tables of those of `namespaces` that exist and that it may read (a map's
    /// TO may name one; one it cannot read, or a server without namespaces, is left out).
    pub async fn load_more(&mut self, namespaces: &[String]) {
        for ns in namespaces {
            if self.tables.contains_key(&(ns.clone(), Table::Secret)) {
                continue;
            }
            if let Err(e) = self.read_tables(ns).await {
                tracing::debug!(namespace = %ns, error = %crate::error::one_line(&e), "not read");
            }
        }
    }

    /// Reads both mount tables of namespace `ns` (`""`: the configured one), when it exists.
    async fn read_tables(&mut self, ns: &str) -> Result<()> {
        let exists = ns.is_empty()
            || namespaces::exists(&self.client, &namespaces::Namespace::new(ns)).await?;
        if !exists {
            return Ok(());
        }
        let c = self.client.in_namespace(ns);
        for table in [Table::Secret, Table::Auth] {
            self.tables
                .insert((ns.to_string(), table), mount_table(&c, table).await?);
        }
        Ok(())
    }

    pub fn client(&self, ns: &str) -> VaultClient {
        self.client.in_namespace(ns)
    }

    pub fn mount(&self, ns: &str, table: Table, path: &str) -> Option<&MountEntry> {
        self.tables.get(&(ns.to_string(), table))?.get(path)
    }

    /// Notes what the target must know of an object of the snapshot as it streams by: an auth
    /// mount (see `auth_mounts`).
    pub fn note(&self, obj: &Object) {
        if let Object::Mount(m) = obj
            && m.table == Table::Auth
        {
            let mut known = self.auth_mounts.lock().unwrap_or_else(|e| e.into_inner());
            known.insert((m.namespace.clone(), m.path.clone()), m.kind.clone());
        }
    }

    /// What an auth mount path (`auth/userpass/`) means for the entity aliases on it.
    pub(crate) fn alias_mount(&self, ns: &str, mount_path: &str) -> identity::MountFate {
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

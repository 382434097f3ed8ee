//! What every "one body at one path" kind (`body`) holds: an object inside a secrets engine
//! mount that is read and written as one JSON body at one API path (`<mount><collection>/<name>`
//! or a singleton such as `<mount>config`), with the write-only fields the escrow kept for it, and
//! how such a body (or one string of it) is read.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::escrow::Escrowed;
use super::kind::{check_name, check_secret_mount, entry_in_mount, one};
use super::redacted::redacted_debug;
use crate::error::Result;
use crate::vault::VaultClient;

/// The `ObjectKind` methods of a kind whose object lives in a secrets engine mount, for a struct
/// with `namespace` and `mount` fields and an `api_path()` method: its namespace, its shown path
/// (namespace and API path), its parent (the mount) and its place.
macro_rules! in_secret_mount {
    () => {
        fn namespace(&self) -> &str {
            &self.namespace
        }

        fn path(&self) -> String {
            format!("{}{}", self.namespace, self.api_path())
        }

        fn parent(&self) -> Option<$crate::objects::kind::Parent> {
            Some($crate::objects::kind::Parent::secret_mount(
                &self.namespace,
                &self.mount,
            ))
        }

        fn place(&mut self) -> $crate::objects::kind::Place<'_> {
            $crate::objects::kind::Place::InMount(
                &mut self.namespace,
                $crate::vault::Table::Secret,
                &mut self.mount,
            )
        }
    };
}
pub(crate) use in_secret_mount;

/// One object of an engine mount: its body by API write names, and its escrowed fields.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineItem {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// The mount path with its trailing slash, e.g. `database/`.
    pub mount: String,
    /// Its name in its collection; empty for a singleton (`config`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub data: Map<String, Value>,
    /// Write-only fields from the escrow, merged into every write, never compared or printed.
    #[serde(default, skip_serializing_if = "Escrowed::is_empty")]
    pub escrowed: Escrowed,
}

redacted_debug!(EngineItem { namespace, mount, name, data as count, escrowed });

impl EngineItem {
    pub fn new(ns: &str, mount: &str, name: &str, data: Map<String, Value>) -> Self {
        EngineItem {
            namespace: ns.to_string(),
            mount: mount.to_string(),
            name: name.to_string(),
            data,
            escrowed: Escrowed::default(),
        }
    }

    /// Its API path below the namespace: `<mount><at>` or `<mount><at>/<name>`.
    pub fn api_path(&self, at: &str) -> String {
        match self.name.is_empty() {
            true => format!("{}{at}", self.mount),
            false => format!("{}{at}/{}", self.mount, self.name),
        }
    }

    /// Its entry name: `<folder>/<mount>` for a singleton, `<folder>/<mount>/<name>` otherwise.
    pub fn entry(&self, folder: &str) -> String {
        match self.name.is_empty() {
            true => format!("{folder}/{}", one(&self.mount)),
            false => entry_in_mount(folder, &self.mount, &self.name),
        }
    }

    /// A secret mount outside Vault's own paths, and a one-segment name (or none, for a
    /// singleton).
    pub fn check(&self, what: &str, singleton: bool) -> std::result::Result<(), String> {
        check_secret_mount(&self.mount)?;
        match singleton {
            true if self.name.is_empty() => Ok(()),
            true => Err(format!("a {what} has no name")),
            false => check_name(what, &self.name),
        }
    }
}

/// The string `field` of the `data` of a read; `None` when there is nothing at `path` or the
/// field is not a string.
pub async fn read_str(client: &VaultClient, path: &str, field: &str) -> Result<Option<String>> {
    Ok(client
        .read(path)
        .await?
        .and_then(|v| v.get("data")?.get(field)?.as_str().map(String::from)))
}

/// The `data` of a read, nulls dropped; `None` when there is nothing at `path`.
pub async fn read(client: &VaultClient, path: &str) -> Result<Option<Map<String, Value>>> {
    let data =
        client
            .read(path)
            .await?
            .and_then(|mut v| match v.get_mut("data").map(Value::take) {
                Some(Value::Object(m)) => Some(m),
                _ => None,
            });
    Ok(data.map(|mut m| {
        m.retain(|_, v| !v.is_null());
        m
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_never_print() {
        let want = json!({"a": 1, "b": [1]}).as_object().cloned().unwrap();
        let mut item = EngineItem::new("", "db/", "r", want);
        item.escrowed = Escrowed(json!({"password": "s3cret"}).as_object().cloned().unwrap());
        let shown = format!("{item:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("password"),
            "{shown}"
        );
        assert_eq!(item.api_path("roles"), "db/roles/r");
        assert_eq!(item.entry("database/roles"), "database/roles/db/r");
    }

    #[test]
    fn nothing_outside_an_engines_paths_is_valid() {
        let at = |mount: &str, name: &str| EngineItem::new("", mount, name, Map::new());
        assert!(at("db/", "r").check("role", false).is_ok());
        assert!(at("db/", "").check("role", false).is_err());
        assert!(at("db/", "..").check("role", false).is_err());
        assert!(at("db/", "a/b").check("role", false).is_err());
        assert!(at("k8s/", "").check("config", true).is_ok());
        assert!(at("k8s/", "x").check("config", true).is_err());
        assert!(at("sys/", "r").check("role", false).is_err());
        assert!(at("db", "r").check("role", false).is_err());
    }
}

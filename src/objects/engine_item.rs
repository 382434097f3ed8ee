//! What the database, kubernetes and rabbitmq kinds share: an object inside a secrets engine
//! mount that is read and written as one JSON body at one API path (`<mount><collection>/<name>`
//! or a singleton such as `<mount>config`), with the write-only fields the escrow kept for it, and
//! the reading, listing and field-by-field comparison every such kind does.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::escrow::Escrowed;
use super::kind::{check_name, check_secret_mount, one, segment};
use crate::error::Result;
use crate::model::{Action, Decision};
use crate::vault::VaultClient;

/// The `ObjectKind` methods that say where an engine item kind's object sits (its namespace, path,
/// snapshot entry and parent mount), for a newtype over `EngineItem` whose API collection is `$at`.
macro_rules! engine_item_place {
    ($at:expr) => {
        fn namespace(&self) -> &str {
            &self.0.namespace
        }

        fn path(&self) -> String {
            format!("{}{}", self.0.namespace, self.0.api_path($at))
        }

        fn entry(&self) -> String {
            self.0.entry(Self::FOLDERS[0])
        }

        fn parent(&self) -> Option<$crate::objects::kind::Parent> {
            Some($crate::objects::kind::Parent::secret_mount(
                &self.0.namespace,
                &self.0.mount,
            ))
        }
    };
}
pub(crate) use engine_item_place;

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

impl fmt::Debug for EngineItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineItem")
            .field("namespace", &self.namespace)
            .field("mount", &self.mount)
            .field("name", &self.name)
            .field("data", &format_args!("<{} fields>", self.data.len()))
            .field("escrowed", &self.escrowed)
            .finish()
    }
}

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
            false => format!("{folder}/{}/{}", one(&self.mount), segment(&self.name)),
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

/// Every item of the collection `<mount><at>` in namespace `ns`, each read and turned into its
/// write body by `written`.
pub async fn export_collection(
    client: &VaultClient,
    ns: &str,
    mount: &str,
    at: &str,
    written: fn(Map<String, Value>) -> Map<String, Value>,
) -> Result<Vec<EngineItem>> {
    let mut items = Vec::new();
    for name in client.list(&format!("{mount}{at}")).await? {
        let mut item = EngineItem::new(ns, mount, &name, Map::new());
        if let Some(data) = read(client, &item.api_path(at)).await? {
            item.data = written(data);
            items.push(item);
        }
    }
    Ok(items)
}

/// The fields of `want` that the target does not hold as they are (a newer target may return
/// more fields, which are not compared).
pub fn differing(want: &Map<String, Value>, cur: &Map<String, Value>) -> Vec<String> {
    want.iter()
        .filter(|(k, v)| cur.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect()
}

/// What a diff says about the fields that differ (names only, never values).
pub fn differ_reason(fields: &[String]) -> String {
    format!("{} differ", fields.join(", "))
}

/// The decision for a body written whole: created when the target has none, updated when a
/// carried field differs.
pub fn compare(want: &Map<String, Value>, cur: Option<&Map<String, Value>>) -> Decision<()> {
    let Some(cur) = cur else {
        return Decision::new(Action::Create, None);
    };
    match differing(want, cur) {
        d if d.is_empty() => Decision::new(Action::Unchanged, None),
        d => Decision::new(Action::Update, Some(differ_reason(&d))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_fields_carried_are_compared_and_values_never_print() {
        let want = json!({"a": 1, "b": [1]}).as_object().cloned().unwrap();
        let cur = json!({"a": 1, "b": [2], "c": true});
        assert_eq!(differing(&want, cur.as_object().unwrap()), ["b"]);
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

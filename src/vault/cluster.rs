//! Cluster-level facts: who the server is (`sys/seal-status`), its mount tables (`sys/mounts`,
//! `sys/auth`) and its namespaces.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::VaultClient;
use crate::error::{Error, Result};

/// Identity of a cluster, recorded in every snapshot's manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterInfo {
    pub address: String,
    pub cluster_name: Option<String>,
    pub cluster_id: Option<String>,
    pub version: Option<String>,
}

/// Which mount table: secret engines (`sys/mounts`) or auth methods (`sys/auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    Secret,
    Auth,
}

impl Table {
    /// The API prefix of the table, `sys/mounts` or `sys/auth`.
    pub fn api(self) -> &'static str {
        match self {
            Table::Secret => "sys/mounts",
            Table::Auth => "sys/auth",
        }
    }
}

/// One row of `sys/mounts` or `sys/auth`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MountEntry {
    /// The mount path with its trailing slash, e.g. `secret/`.
    pub path: String,
    pub kind: String,
    pub description: String,
    pub options: BTreeMap<String, String>,
    pub local: bool,
    pub seal_wrap: bool,
    pub external_entropy_access: bool,
    pub accessor: String,
    /// The mount's `config` block as the table shows it (TTLs in seconds, 0 = system default).
    pub config: serde_json::Map<String, Value>,
    /// The plugin version the mount is pinned to, `""` when it is not.
    pub plugin_version: String,
}

impl MountEntry {
    /// Whether this is a KV mount of version 2.
    pub fn is_kv_v2(&self) -> bool {
        self.kind == "kv" && self.options.get("version").map(String::as_str) == Some("2")
    }
}

pub async fn cluster_info(client: &VaultClient) -> Result<ClusterInfo> {
    let body = client.read("sys/seal-status").await?.unwrap_or(Value::Null);
    if body.get("sealed").and_then(Value::as_bool) == Some(true) {
        return Err(Error::VaultResponse {
            method: "GET",
            path: "sys/seal-status".into(),
            message: "the server is sealed".into(),
        });
    }
    let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(ClusterInfo {
        address: client.addr().to_string(),
        cluster_name: s("cluster_name"),
        cluster_id: s("cluster_id"),
        version: s("version"),
    })
}

/// The mounts of one table in the client's namespace, keyed by path (`secret/`).
pub async fn mount_table(
    client: &VaultClient,
    table: Table,
) -> Result<BTreeMap<String, MountEntry>> {
    let body = client.read(table.api()).await?.unwrap_or(Value::Null);
    // Newer servers put the table under `data`; old ones also at the top level.
    let table =
        body.get("data")
            .and_then(Value::as_object)
            .ok_or_else(|| Error::VaultResponse {
                method: "GET",
                path: "sys/mounts".into(),
                message: "no mount table in the answer".into(),
            })?;
    Ok(table
        .iter()
        .filter_map(|(path, m)| parse_mount(path, m))
        .map(|m| (m.path.clone(), m))
        .collect())
}

fn parse_mount(path: &str, m: &Value) -> Option<MountEntry> {
    let flag = |k: &str| m.get(k).and_then(Value::as_bool).unwrap_or(false);
    let kind = m.get("type")?.as_str()?.to_string();
    let options = m
        .get("options")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Some(MountEntry {
        path: path.to_string(),
        kind,
        description: m
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        options,
        local: flag("local"),
        seal_wrap: flag("seal_wrap"),
        external_entropy_access: flag("external_entropy_access"),
        accessor: m
            .get("accessor")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        plugin_version: m
            .get("plugin_version")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        config: m
            .get("config")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
    })
}

/// Every child namespace below the client's, as paths relative to it (`team1/`, `team1/sub/`),
/// parents before children. A server without namespaces (Vault OSS) has none.
pub async fn namespaces(client: &VaultClient) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut queue = vec![String::new()];
    while let Some(parent) = queue.pop() {
        let children = match client.in_namespace(&parent).list("sys/namespaces").await {
            Ok(c) => c,
            // Vault OSS has no such endpoint: no namespaces to walk.
            Err(Error::Vault {
                status: 400 | 404 | 405,
                ..
            }) => Vec::new(),
            Err(e) => return Err(e),
        };
        for child in children {
            let path = format!("{parent}{}/", child.trim_end_matches('/'));
            out.push(path.clone());
            queue.push(path);
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_mount_recognises_kv_v2() {
        let m = serde_json::json!({"type": "kv", "options": {"version": "2"}, "description": "d", "local": false});
        let e = parse_mount("secret/", &m).unwrap();
        assert!(e.is_kv_v2());
        let v1 = serde_json::json!({"type": "kv", "options": {"version": "1"}});
        assert!(!parse_mount("kv1/", &v1).unwrap().is_kv_v2());
        let no_opts = serde_json::json!({"type": "kv", "options": null});
        assert!(!parse_mount("kv/", &no_opts).unwrap().is_kv_v2());
    }
}

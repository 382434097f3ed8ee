//! Cluster-level facts: who the server is (`sys/seal-status`) and its secret-mount table.

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

/// One row of `sys/mounts`.
#[derive(Debug, Clone, PartialEq)]
pub struct MountEntry {
    /// The mount path with its trailing slash, e.g. `secret/`.
    pub path: String,
    pub kind: String,
    pub description: String,
    pub options: BTreeMap<String, String>,
    pub local: bool,
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

/// The secret-engine mounts of the client's namespace, keyed by path (`secret/`).
pub async fn mount_table(client: &VaultClient) -> Result<BTreeMap<String, MountEntry>> {
    let body = client.read("sys/mounts").await?.unwrap_or(Value::Null);
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
        local: m.get("local").and_then(Value::as_bool).unwrap_or(false),
    })
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

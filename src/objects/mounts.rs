//! Secret-engine mounts. This slice carries KV-v2 mounts: the import creates a missing one and
//! refuses one that exists with another type. It never disables or remounts anything.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::Result;
use crate::plan::Action;
use crate::vault::{MountEntry, VaultClient};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mount {
    /// Mount path with its trailing slash, e.g. `secret/`.
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl Mount {
    pub fn is_kv_v2(&self) -> bool {
        self.kind == "kv" && self.options.get("version").map(String::as_str) == Some("2")
    }
}

/// The source's replicable mounts from its mount table: KV-v2 mounts that are not `local`.
pub fn export(table: &BTreeMap<String, MountEntry>) -> Vec<Mount> {
    table
        .values()
        .filter(|m| m.is_kv_v2() && !m.local)
        .map(|m| Mount {
            path: m.path.clone(),
            kind: m.kind.clone(),
            description: m.description.clone(),
            options: m.options.clone(),
        })
        .collect()
}

pub fn diff(desired: &Mount, current: Option<&MountEntry>) -> (Action, Option<String>) {
    match current {
        None => (Action::Create, None),
        Some(cur) if cur.local => (
            Action::Refused,
            Some("a local mount on the target is never modified".into()),
        ),
        Some(cur) if cur.is_kv_v2() == desired.is_kv_v2() && cur.kind == desired.kind => {
            (Action::Unchanged, None)
        }
        Some(cur) => (
            Action::Refused,
            Some(format!(
                "exists on the target as `{}` (version {}), snapshot has `{}` (version {})",
                cur.kind,
                cur.options
                    .get("version")
                    .map(String::as_str)
                    .unwrap_or("-"),
                desired.kind,
                desired
                    .options
                    .get("version")
                    .map(String::as_str)
                    .unwrap_or("-"),
            )),
        ),
    }
}

pub async fn apply(client: &VaultClient, desired: &Mount) -> Result<()> {
    let path = format!("sys/mounts/{}", desired.path.trim_end_matches('/'));
    let body = json!({
        "type": desired.kind,
        "description": desired.description,
        "options": desired.options,
    });
    client.write(&path, &body).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, version: &str) -> MountEntry {
        MountEntry {
            path: "secret/".into(),
            kind: kind.into(),
            description: String::new(),
            options: [("version".to_string(), version.to_string())].into(),
            local: false,
        }
    }

    fn kv2() -> Mount {
        Mount {
            path: "secret/".into(),
            kind: "kv".into(),
            description: String::new(),
            options: [("version".to_string(), "2".to_string())].into(),
        }
    }

    #[test]
    fn missing_mount_is_created_matching_is_unchanged() {
        assert_eq!(diff(&kv2(), None).0, Action::Create);
        assert_eq!(diff(&kv2(), Some(&entry("kv", "2"))).0, Action::Unchanged);
    }

    #[test]
    fn type_mismatch_is_refused() {
        assert_eq!(diff(&kv2(), Some(&entry("kv", "1"))).0, Action::Refused);
        assert_eq!(diff(&kv2(), Some(&entry("transit", ""))).0, Action::Refused);
    }

    #[test]
    fn local_and_non_kv2_mounts_are_not_exported() {
        let mut table = BTreeMap::new();
        let mut local = entry("kv", "2");
        local.path = "local/".into();
        local.local = true;
        table.insert("local/".to_string(), local);
        let mut v1 = entry("kv", "1");
        v1.path = "v1/".into();
        table.insert("v1/".to_string(), v1);
        table.insert("secret/".to_string(), entry("kv", "2"));
        let out = export(&table);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].path, "secret/");
    }
}

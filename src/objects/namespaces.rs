//! Namespaces (OpenBao ≥ 2.3, Vault Enterprise): child namespaces are walked recursively and the
//! missing ones created on the target, parents first. A server without namespaces has none.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::Result;
use crate::plan::Action;
use crate::vault::VaultClient;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Namespace {
    /// Path relative to the configured namespace, with a trailing slash: `team1/sub/`.
    pub path: String,
}

impl Namespace {
    /// (parent path, own name): `("team1/", "sub")`.
    pub fn split(&self) -> (&str, &str) {
        let trimmed = self.path.trim_end_matches('/');
        match trimmed.rfind('/') {
            Some(i) => (&self.path[..=i], &trimmed[i + 1..]),
            None => ("", trimmed),
        }
    }
}

pub async fn exists(client: &VaultClient, ns: &Namespace) -> Result<bool> {
    let (parent, name) = ns.split();
    Ok(client
        .in_namespace(parent)
        .read(&format!("sys/namespaces/{name}"))
        .await?
        .is_some())
}

pub fn diff(exists: bool) -> (Action, Option<String>) {
    if exists {
        (Action::Unchanged, None)
    } else {
        (Action::Create, None)
    }
}

pub async fn apply(client: &VaultClient, ns: &Namespace) -> Result<()> {
    let (parent, name) = ns.split();
    client
        .in_namespace(parent)
        .write(&format!("sys/namespaces/{name}"), &json!({}))
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_splits_into_parent_and_name() {
        let ns = |p: &str| Namespace { path: p.into() };
        assert_eq!(ns("team1/").split(), ("", "team1"));
        assert_eq!(ns("team1/sub/").split(), ("team1/", "sub"));
    }
}

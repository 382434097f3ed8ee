//! Namespaces (OpenBao ≥ 2.3, Vault Enterprise): child namespaces are walked recursively and the
//! missing ones created on the target, parents first, with their `custom_metadata`, which an
//! update on the source follows. A server without namespaces has none.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::kind::{
    Inventory, ObjectKind, Parent, Place, Scope, Sink, Source, Stage, check_dir_path, one,
};
use super::registry::{Kind, Object};
use super::target::Target;
use crate::error::Result;
use crate::model::{Action, Decision};
use crate::vault::VaultClient;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Namespace {
    /// Path relative to the configured namespace, with a trailing slash: `team1/sub/`.
    pub path: String,
    /// The namespace's `custom_metadata` (string keys and values).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_metadata: BTreeMap<String, String>,
}

impl Namespace {
    pub fn new(path: &str) -> Self {
        Namespace {
            path: path.to_string(),
            ..Default::default()
        }
    }

    /// (parent path, own name): `("team1/", "sub")`.
    pub fn split(&self) -> (&str, &str) {
        let trimmed = self.path.trim_end_matches('/');
        match trimmed.rfind('/') {
            Some(i) => (&self.path[..=i], &trimmed[i + 1..]),
            None => ("", trimmed),
        }
    }
}

impl ObjectKind for Namespace {
    const FOLDERS: &'static [&'static str] = &["namespaces"];
    const STAGE: Stage = Stage::Containers;
    type Current = Option<Namespace>;
    type Ops = ();

    /// A namespace is named from the configured one, whatever its depth.
    fn namespace(&self) -> &str {
        ""
    }

    fn path(&self) -> String {
        self.path.clone()
    }

    fn entry(&self) -> String {
        format!("namespaces/{}", one(&self.path))
    }

    fn validate(&self) -> std::result::Result<(), String> {
        check_dir_path("namespace", &self.path)
    }

    /// A child namespace lives in its parent.
    fn parent(&self) -> Option<Parent> {
        Parent::of_namespace(self.split().0)
    }

    fn as_parent(&self) -> Option<Parent> {
        Some(Parent::Namespace(self.path.clone()))
    }

    fn place(&mut self) -> Place<'_> {
        Place::Namespace(&mut self.path)
    }

    fn delete_target(&self) -> Option<(String, String)> {
        let (parent, name) = self.split();
        Some((parent.to_string(), format!("sys/namespaces/{name}")))
    }

    fn is_container() -> bool {
        true
    }

    async fn current(&self, target: &Target) -> Result<Option<Namespace>> {
        current(&target.client, &self.path).await
    }

    fn diff(&self, _: &Target, current: &Option<Namespace>) -> Decision<()> {
        Decision::from_pair(diff(self, current.as_ref()))
    }

    async fn apply(&self, target: &Target, _: Action, _: &()) -> Result<()> {
        apply(&target.client, self).await
    }

    async fn export(source: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Scope::Cluster { namespaces } = scope else {
            return Ok(());
        };
        for ns in namespaces.iter() {
            let found = current(source.client, ns).await?;
            sink.add(Object::Namespace(
                found.unwrap_or_else(|| Namespace::new(ns)),
            ))?;
        }
        Ok(())
    }

    /// In a namespace: its child namespaces (each holds the rest of what is below it).
    async fn found(source: &Source<'_>, scope: &Scope<'_>, found: &mut Inventory) -> Result<()> {
        let Scope::Namespace { ns, .. } = scope else {
            return Ok(());
        };
        for child in source.client.list("sys/namespaces").await? {
            let child = format!("{ns}{}/", child.trim_end_matches('/'));
            found.found(Kind::Namespace, child, "namespace");
        }
        Ok(())
    }
}

/// The namespace as `client`'s cluster has it, `None` when it does not exist.
pub async fn current(client: &VaultClient, path: &str) -> Result<Option<Namespace>> {
    let mut ns = Namespace::new(path);
    let (parent, name) = ns.split();
    let Some(body) = client
        .in_namespace(parent)
        .read(&format!("sys/namespaces/{name}"))
        .await?
    else {
        return Ok(None);
    };
    ns.custom_metadata = metadata(&body["data"]["custom_metadata"]);
    Ok(Some(ns))
}

fn metadata(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

pub async fn exists(client: &VaultClient, ns: &Namespace) -> Result<bool> {
    Ok(current(client, &ns.path).await?.is_some())
}

pub fn diff(desired: &Namespace, current: Option<&Namespace>) -> (Action, Option<String>) {
    match current {
        None => (Action::Create, None),
        Some(c) if c.custom_metadata == desired.custom_metadata => (Action::Unchanged, None),
        Some(_) => (Action::Update, Some("custom_metadata differs".into())),
    }
}

/// Creates the namespace, or sets its `custom_metadata` (a write replaces it whole).
pub async fn apply(client: &VaultClient, ns: &Namespace) -> Result<()> {
    let (parent, name) = ns.split();
    client
        .in_namespace(parent)
        .write(
            &format!("sys/namespaces/{name}"),
            &json!({ "custom_metadata": ns.custom_metadata }),
        )
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_splits_into_parent_and_name() {
        let ns = |p: &str| Namespace::new(p);
        assert_eq!(ns("team1/").split(), ("", "team1"));
        assert_eq!(ns("team1/sub/").split(), ("team1/", "sub"));
    }

    #[test]
    fn custom_metadata_differences_are_updates() {
        let mut tuned = Namespace::new("team1/");
        tuned.custom_metadata.insert("owner".into(), "a".into());
        let bare = Namespace::new("team1/");
        assert_eq!(diff(&tuned, None).0, Action::Create);
        assert_eq!(diff(&tuned, Some(&tuned)).0, Action::Unchanged);
        assert_eq!(diff(&tuned, Some(&bare)).0, Action::Update);
        assert_eq!(diff(&bare, Some(&tuned)).0, Action::Update);
    }
}

//! Policies: ACL policies (`sys/policies/acl`) and password policies (`sys/policies/password`).
//! Every policy but `root` is exported (`default` included, written only when it differs, and
//! never pruned on its own: the server refuses to delete it); diff is by text. An ACL policy's
//! paths follow what `--map` moves (`paths`).

mod paths;

use futures::{StreamExt, TryStreamExt, stream};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::engine_item::read_str;
use super::kind::{ObjectKind, Place, Remap, Scope, Sink, Source, Stage, check_name, segment};
use super::registry::Object;
use super::target::Target;
use crate::error::{Error, Result};
use crate::model::{Action, Decision};
use crate::vault::VaultClient;

/// Policies that are never exported or written: `root` cannot be read or changed.
const BUILTIN_SKIP: &[&str] = &["root"];

/// The ACL policy every namespace has, exported (written only when it differs), never deleted.
const DEFAULT: &str = "default";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyType {
    Acl,
    Password,
}

impl PolicyType {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::Acl => "acl",
            PolicyType::Password => "password",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(rename = "type", default = "acl")]
    pub policy_type: PolicyType,
    pub name: String,
    pub policy: String,
}

fn acl() -> PolicyType {
    PolicyType::Acl
}

fn api_path(t: PolicyType, name: &str) -> String {
    format!("sys/policies/{}/{name}", t.as_str())
}

/// Every policy of one type in the client's namespace, sorted by name.
pub async fn export(
    client: &VaultClient,
    namespace: &str,
    policy_type: PolicyType,
    concurrency: usize,
) -> Result<Vec<Policy>> {
    let names: Vec<String> = client
        .list(&format!("sys/policies/{}", policy_type.as_str()))
        .await?
        .into_iter()
        .filter(|n| !BUILTIN_SKIP.contains(&n.as_str()))
        .collect();
    let mut policies: Vec<Policy> = stream::iter(names)
        .map(|name| async move {
            let text = current(client, policy_type, &name)
                .await?
                .ok_or_else(|| Error::Object {
                    kind: "policy",
                    path: name.clone(),
                    reason: "listed but could not be read".into(),
                })?;
            Ok::<_, Error>(Policy {
                namespace: namespace.to_string(),
                policy_type,
                name,
                policy: text,
            })
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    policies.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(policies)
}

impl ObjectKind for Policy {
    const FOLDERS: &'static [&'static str] = &["policies"];
    const STAGE: Stage = Stage::Contents;
    type Current = Option<String>;
    type Ops = ();

    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn path(&self) -> String {
        match self.policy_type {
            PolicyType::Password => format!("{}password/{}", self.namespace, self.name),
            PolicyType::Acl => format!("{}{}", self.namespace, self.name),
        }
    }

    fn entry(&self) -> String {
        format!(
            "policies/{}/{}",
            self.policy_type.as_str(),
            segment(&self.name)
        )
    }

    fn validate(&self) -> std::result::Result<(), String> {
        check_name("policy", &self.name)?;
        if self.name == "root" {
            return Err("the root policy is never written".into());
        }
        Ok(())
    }

    fn place(&mut self) -> Place<'_> {
        Place::InNamespace(&mut self.namespace)
    }

    fn remap(&mut self, map: &dyn Remap, was: &str) -> std::result::Result<Vec<String>, String> {
        if self.policy_type != PolicyType::Acl {
            return Ok(Vec::new());
        }
        let (text, told) = paths::rewrite(&self.policy, (was, &self.namespace), map)?;
        self.policy = text;
        Ok(told)
    }

    fn delete_target(&self) -> Option<(String, String)> {
        Some((
            self.namespace.clone(),
            api_path(self.policy_type, &self.name),
        ))
    }

    /// Every namespace has its `default` ACL policy, which the server refuses to delete ("cannot
    /// delete default policy", 400): it goes only with its namespace.
    fn pruned_alone(ns: &str, path: &str) -> bool {
        path.strip_prefix(ns) != Some(DEFAULT)
    }

    /// `sys/policies/acl/<name>` or `sys/policies/password/<name>`.
    fn shown_path(ns: &str, path: &str) -> String {
        let rest = path.strip_prefix(ns).unwrap_or(path);
        match rest.strip_prefix("password/") {
            Some(name) => format!("{ns}{}", api_path(PolicyType::Password, name)),
            None => format!("{ns}{}", api_path(PolicyType::Acl, rest)),
        }
    }

    async fn current(&self, target: &Target) -> Result<Option<String>> {
        current(
            &target.client(&self.namespace),
            self.policy_type,
            &self.name,
        )
        .await
    }

    fn diff(&self, _: &Target, current: &Option<String>) -> Decision<()> {
        Decision::from_pair(diff(self, current.as_deref()))
    }

    async fn apply(&self, target: &Target, _: Action, _: &()) -> Result<()> {
        apply(&target.client(&self.namespace), self).await
    }

    async fn export(source: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Scope::Namespace { ns, .. } = scope else {
            return Ok(());
        };
        for policy_type in [PolicyType::Acl, PolicyType::Password] {
            for p in export(source.client, ns, policy_type, source.concurrency).await? {
                sink.add(Object::Policy(p))?;
            }
        }
        Ok(())
    }
}

/// The policy text on the target, or `None` when it does not exist.
pub async fn current(
    client: &VaultClient,
    policy_type: PolicyType,
    name: &str,
) -> Result<Option<String>> {
    read_str(client, &api_path(policy_type, name), "policy").await
}

pub fn diff(desired: &Policy, current: Option<&str>) -> (Action, Option<String>) {
    if BUILTIN_SKIP.contains(&desired.name.as_str()) {
        return (
            Action::Refused,
            Some("built-in policy is never written".into()),
        );
    }
    match current {
        None => (Action::Create, None),
        Some(text) if text == desired.policy => (Action::Unchanged, None),
        Some(_) => (Action::Update, Some("policy text differs".into())),
    }
}

pub async fn apply(client: &VaultClient, desired: &Policy) -> Result<()> {
    client
        .write(
            &api_path(desired.policy_type, &desired.name),
            &json!({ "policy": desired.policy }),
        )
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Policy {
        Policy {
            namespace: String::new(),
            policy_type: PolicyType::Acl,
            name: "app".into(),
            policy: text.into(),
        }
    }

    #[test]
    fn diff_detects_create_update_unchanged() {
        assert_eq!(diff(&p("a"), None).0, Action::Create);
        assert_eq!(diff(&p("a"), Some("a")).0, Action::Unchanged);
        assert_eq!(diff(&p("a"), Some("b")).0, Action::Update);
    }

    // "cannot delete default policy" (HTTP 400): a namespace's `default` goes only with it.
    #[test]
    fn only_the_default_acl_policy_is_never_pruned_alone() {
        assert!(!Policy::pruned_alone("", "default"));
        assert!(!Policy::pruned_alone("team/", "team/default"));
        assert!(Policy::pruned_alone("team/", "team/app"));
        assert!(Policy::pruned_alone("", "password/default"));
    }

    #[test]
    fn root_is_never_written() {
        let mut root = p("");
        root.name = "root".into();
        assert_eq!(diff(&root, None).0, Action::Refused);
    }
}

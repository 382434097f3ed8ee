//! An SSH engine's roles (`<mount>roles/<name>`), `ca` and `otp` alike: every field the role reads
//! back is written back as read (the engine takes its own read-back), and compared field by field
//! with the target's (a newer target may report more fields).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::is_ssh;
use crate::error::Result;
use crate::model::{Action, Decision};
use crate::objects::kind::{
    ObjectKind, Parent, Scope, Sink, Source, Stage, check_name, check_secret_mount, one, segment,
};
use crate::objects::mounts::Mount;
use crate::objects::registry::Object;
use crate::objects::target::Target;
use crate::vault::VaultClient;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SshRole {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Mount path with its trailing slash, e.g. `ssh/`.
    pub mount: String,
    pub name: String,
    pub data: Map<String, Value>,
}

impl SshRole {
    fn api_path(&self) -> String {
        format!("{}roles/{}", self.mount, self.name)
    }
}

/// A role as `client` reads it (nulls dropped), or `None` when it does not exist.
async fn read_role(client: &VaultClient, path: &str) -> Result<Option<Map<String, Value>>> {
    Ok(client
        .read(path)
        .await?
        .and_then(|mut v| match v.get_mut("data").map(Value::take) {
            Some(Value::Object(mut m)) => {
                m.retain(|_, v| !v.is_null());
                Some(m)
            }
            _ => None,
        }))
}

/// Decides from the target's role: the fields that differ, by name.
pub fn diff(desired: &SshRole, current: Option<&Map<String, Value>>) -> Decision<()> {
    let Some(cur) = current else {
        return Decision::new(Action::Create, None);
    };
    let differing: Vec<&str> = desired
        .data
        .iter()
        .filter(|(k, v)| cur.get(*k) != Some(v))
        .map(|(k, _)| k.as_str())
        .collect();
    match differing.is_empty() {
        true => Decision::new(Action::Unchanged, None),
        false => Decision::new(
            Action::Update,
            Some(format!("{} differ", differing.join(", "))),
        ),
    }
}

impl ObjectKind for SshRole {
    const FOLDERS: &'static [&'static str] = &["ssh/roles"];
    const STAGE: Stage = Stage::Contents;
    type Current = Option<Map<String, Value>>;
    type Ops = ();

    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn path(&self) -> String {
        format!("{}{}", self.namespace, self.api_path())
    }

    fn entry(&self) -> String {
        format!("ssh/roles/{}/{}", one(&self.mount), segment(&self.name))
    }

    fn validate(&self) -> std::result::Result<(), String> {
        check_secret_mount(&self.mount)?;
        check_name("ssh role", &self.name)
    }

    fn parent(&self) -> Option<Parent> {
        Some(Parent::secret_mount(&self.namespace, &self.mount))
    }

    fn delete_target(&self) -> Option<(String, String)> {
        Some((self.namespace.clone(), self.api_path()))
    }

    async fn current(&self, target: &Target) -> Result<Self::Current> {
        read_role(&target.client(&self.namespace), &self.api_path()).await
    }

    fn diff(&self, _: &Target, cur: &Self::Current) -> Decision<()> {
        diff(self, cur.as_ref())
    }

    async fn apply(&self, target: &Target, _: Action, _: &()) -> Result<()> {
        let body = Value::Object(self.data.clone());
        let client = target.client(&self.namespace);
        client.write(&self.api_path(), &body).await.map(|_| ())
    }

    fn holds(mount: &Mount) -> bool {
        is_ssh(mount)
    }

    async fn export(source: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Some((ns, mount)) = scope.mount_holding(Self::holds) else {
            return Ok(());
        };
        for name in source.client.list(&format!("{}roles", mount.path)).await? {
            let mut role = SshRole {
                namespace: ns.to_string(),
                mount: mount.path.clone(),
                name,
                data: Map::new(),
            };
            if let Some(data) = read_role(source.client, &role.api_path()).await? {
                role.data = data;
                sink.add(Object::SshRole(role))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn role(data: Value) -> SshRole {
        SshRole {
            namespace: String::new(),
            mount: "ssh/".into(),
            name: "r".into(),
            data: data.as_object().cloned().unwrap(),
        }
    }

    #[test]
    fn a_role_differs_by_the_fields_it_carries_and_a_newer_targets_extras_do_not_count() {
        let want = role(json!({"key_type": "otp", "port": 22, "default_user": "u"}));
        assert_eq!(diff(&want, None).action, Action::Create);
        let same = json!({"key_type": "otp", "port": 22, "default_user": "u", "new": true});
        assert_eq!(diff(&want, same.as_object()).action, Action::Unchanged);
        let other = json!({"key_type": "otp", "port": 2222, "default_user": "v"});
        let d = diff(&want, other.as_object());
        assert_eq!(d.action, Action::Update);
        assert_eq!(d.reason.as_deref(), Some("default_user, port differ"));
    }
}

//! An SSH engine's CA (`<mount>config/ca`, the default issuer): its public key, readable, and its
//! private key, which only the escrow holds (`<escrow>/data/<ns><mount>config/ca`, fields
//! `private_key` and `public_key`). DR gets the CA only when the key is escrowed, and only when it
//! has none: a CA DR already holds is never replaced (another key is drift when the snapshot
//! carries one), and never deleted by a prune. The escrowed key must derive the CA's public key
//! (checked at export and again when a snapshot is read), and once written DR must prove it signs
//! with it (`proof`), or the CA is removed again and the object fails.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{is_ssh, keys, proof};
use crate::error::{Error, Result};
use crate::model::{Action, Decision};
use crate::objects::engine_item::{in_secret_mount, read_str};
use crate::objects::escrow::Escrowed;
use crate::objects::kind::{ObjectKind, Scope, Sink, Source, Stage, check_secret_mount, one};
use crate::objects::mounts::Mount;
use crate::objects::registry::{Kind, Object};
use crate::objects::target::Target;
use crate::vault::VaultClient;

pub const NOT_ESCROWED: &str = "SSH CA private key not escrowed: DR cannot sign with the DC's CA";

/// `Debug` shows the escrowed fields' names only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SshCa {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Mount path with its trailing slash, e.g. `ssh/`.
    pub mount: String,
    pub public_key: String,
    /// The CA's `private_key`, from the escrow, checked at export to be this CA's.
    #[serde(default, skip_serializing_if = "Escrowed::is_empty")]
    pub escrowed: Escrowed,
}

impl SshCa {
    fn api_path(&self) -> String {
        format!("{}config/ca", self.mount)
    }
}

/// The public key of the mount's CA; `None` when it has none (Vault and OpenBao answer 400).
pub async fn read_ca(client: &VaultClient, mount: &str) -> Result<Option<String>> {
    match read_str(client, &format!("{mount}config/ca"), "public_key").await {
        Err(Error::Vault {
            status: 400,
            message,
            ..
        }) if message.contains("no default issuer")
            || message.contains("haven't been configured") =>
        {
            Ok(None)
        }
        read => read,
    }
}

/// OpenBao's issuers other than the default one (`LIST <mount>issuers`): (name or id). Vault
/// has a single CA per mount and no such list.
async fn other_issuers(client: &VaultClient, mount: &str) -> Result<Vec<String>> {
    let listed = match client.list_query(&format!("{mount}issuers/"), "").await {
        Ok(v) => v,
        Err(Error::Vault {
            status: 400 | 404 | 405,
            ..
        }) => None,
        Err(e) => return Err(e),
    };
    let Some(info) = listed
        .as_ref()
        .and_then(|v| v.pointer("/data/key_info"))
        .and_then(Value::as_object)
    else {
        return Ok(Vec::new());
    };
    Ok(info
        .iter()
        .filter(|(_, i)| i.get("is_default") != Some(&Value::Bool(true)))
        .map(
            |(id, i)| match i.get("issuer_name").and_then(Value::as_str) {
                Some(name) if !name.is_empty() => name.to_string(),
                _ => id.clone(),
            },
        )
        .collect())
}

/// The CA as the target has it.
pub enum Current {
    Absent,
    Has(String),
}

/// Decides for the target's CA: written only where there is none and the key is escrowed.
pub fn diff(desired: &SshCa, current: &Current) -> Decision<()> {
    let escrowed = !desired.escrowed.is_empty();
    match current {
        Current::Has(theirs) if keys::same_key(theirs, &desired.public_key) => {
            Decision::new(Action::Unchanged, None)
        }
        Current::Has(_) if escrowed => Decision {
            drift: true,
            ..Decision::new(
                Action::Skipped,
                Some(
                    "drift: the target has another SSH CA (its public key differs); left as it \
                     is (a CA key is never replaced: remove one of them by hand)"
                        .into(),
                ),
            )
        },
        Current::Has(_) => Decision::new(
            Action::Skipped,
            Some(format!("the target has its own SSH CA; {NOT_ESCROWED}")),
        ),
        Current::Absent if escrowed => Decision::new(Action::Create, None),
        Current::Absent => Decision::new(Action::Skipped, Some(NOT_ESCROWED.into())),
    }
}

/// Writes the CA with its escrowed key, unless the target got one since it was planned, then
/// proves that the target signs with it (`proof`); a CA the proof fails for, or that cannot be
/// proven, is removed again, and the next import tries again.
pub async fn apply(client: &VaultClient, desired: &SshCa, action: Action) -> Result<()> {
    let refuse = |reason: String| Error::Object {
        kind: "ssh CA",
        path: desired.api_path(),
        reason,
    };
    if action != Action::Create || desired.escrowed.is_empty() {
        return Err(refuse("no write was planned for this CA".into()));
    }
    if read_ca(client, &desired.mount).await?.is_some() {
        return Err(refuse(
            "the target got an SSH CA during the import; not replaced".into(),
        ));
    }
    let mut body = Map::new();
    body.insert("public_key".into(), desired.public_key.clone().into());
    if let Some(private) = desired.escrowed.0.get("private_key") {
        body.insert("private_key".into(), private.clone());
    }
    let written = client
        .write(&desired.api_path(), &Value::Object(body))
        .await?;
    match read_ca(client, &desired.mount).await? {
        Some(k) if keys::same_key(&k, &desired.public_key) => {}
        _ => {
            return Err(refuse(
                "written, but the target does not read back the CA's public key".into(),
            ));
        }
    }
    // A CA is kept only proven: one left unproven would read back equal at every later import,
    // and never be proven.
    let why = match proof::signs_with(client, &desired.mount, &desired.public_key).await {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(why)) => why,
        Err(e) => format!("the target could not be asked to sign: {e}"),
    };
    // Only what this write made: the issuer it created (OpenBao), or the CA (Vault's only one).
    let made = match written.pointer("/data/issuer_id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => format!("{}issuer/{id}", desired.mount),
        _ => desired.api_path(),
    };
    let removed = match client.delete(&made).await {
        Ok(()) => "the CA was removed again",
        Err(_) => "removing the CA again failed too: remove it by hand",
    };
    Err(refuse(format!(
        "written, but the proof failed: {why}; {removed} (escrow the CA's key pair again)"
    )))
}

impl ObjectKind for SshCa {
    const FOLDERS: &'static [&'static str] = &["ssh/ca"];
    const STAGE: Stage = Stage::Contents;
    type Current = Current;
    type Ops = ();

    in_secret_mount!();

    fn entry(&self) -> String {
        format!("ssh/ca/{}", one(&self.mount))
    }

    fn validate(&self) -> std::result::Result<(), String> {
        check_secret_mount(&self.mount)?;
        if keys::normalized(&self.public_key).is_none() {
            return Err("not an SSH public key".into());
        }
        match self.escrowed.is_empty() {
            true => Ok(()),
            false => keys::escrow_matches(&self.escrowed, &self.public_key),
        }
    }

    fn delete_target(&self) -> Option<(String, String)> {
        None
    }

    async fn current(&self, target: &Target) -> Result<Current> {
        let key = read_ca(&target.client(&self.namespace), &self.mount).await?;
        Ok(key.map_or(Current::Absent, Current::Has))
    }

    fn diff(&self, _: &Target, cur: &Current) -> Decision<()> {
        diff(self, cur)
    }

    /// In a new mount, as in one without a CA: created only with its escrowed key.
    fn under_new_parent(&self, _: &Target) -> Decision<()> {
        diff(self, &Current::Absent)
    }

    async fn apply(&self, target: &Target, action: Action, _: &()) -> Result<()> {
        apply(&target.client(&self.namespace), self, action).await
    }

    fn lives_in(mount: &Mount) -> bool {
        is_ssh(mount)
    }

    async fn export(source: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Some((ns, mount)) = scope.mount_where(Self::lives_in) else {
            return Ok(());
        };
        let path = &mount.path;
        for issuer in other_issuers(source.client, path).await? {
            sink.not_copied(
                Kind::SshCa,
                format!("{ns}{path}issuer/{issuer}"),
                "only the default SSH issuer (`config/ca`) is copied".into(),
            );
        }
        let Some(public_key) = read_ca(source.client, path).await? else {
            return Ok(());
        };
        let mut ca = SshCa {
            namespace: ns.to_string(),
            mount: path.clone(),
            public_key,
            escrowed: Escrowed::default(),
        };
        let kept = match source.escrow {
            Some(escrow) => escrow.fields(ns, &ca.api_path()).await?,
            None => Escrowed::default(),
        };
        let why = match kept.is_empty() {
            true => Some(NOT_ESCROWED.to_string()),
            false => keys::escrow_matches(&kept, &ca.public_key)
                .err()
                .map(|e| format!("{NOT_ESCROWED} ({e})")),
        };
        match why {
            Some(why) => sink.not_copied(Kind::SshCa, ca.path(), why),
            None => ca.escrowed = kept,
        }
        sink.add(Object::SshCa(ca))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::objects::test_tools::{SSH_OTHER as DR, SSH_PUBLIC as DC};

    fn ca(escrowed: bool) -> SshCa {
        let fields = json!({"private_key": "k", "public_key": DC});
        SshCa {
            namespace: String::new(),
            mount: "ssh/".into(),
            public_key: DC.into(),
            escrowed: match escrowed {
                true => Escrowed(fields.as_object().cloned().unwrap()),
                false => Escrowed::default(),
            },
        }
    }

    #[test]
    fn a_ca_is_written_only_where_the_target_has_none_and_only_with_its_key() {
        let d = diff(&ca(true), &Current::Absent);
        assert_eq!((d.action, d.drift), (Action::Create, false));
        let d = diff(&ca(false), &Current::Absent);
        assert_eq!(
            (d.action, d.reason.as_deref()),
            (Action::Skipped, Some(NOT_ESCROWED))
        );
        for escrowed in [true, false] {
            let same = diff(&ca(escrowed), &Current::Has(format!("{DC} \n")));
            assert_eq!(same.action, Action::Unchanged);
        }
    }

    // A CA key cannot be got back: DR's own is never replaced, whatever ON_DRIFT says.
    #[test]
    fn another_ca_on_the_target_is_drift_when_the_snapshot_could_replace_it() {
        let d = diff(&ca(true), &Current::Has(DR.into()));
        assert_eq!((d.action, d.drift), (Action::Skipped, true));
        assert!(d.reason.unwrap_or_default().starts_with("drift: "));
        let d = diff(&ca(false), &Current::Has(DR.into()));
        assert_eq!((d.action, d.drift), (Action::Skipped, false));
    }

    #[test]
    fn an_escrowed_key_never_prints() {
        let shown = format!("{:?}", ca(true));
        assert!(!shown.contains("\"k\""), "{shown}");
        assert!(shown.contains("private_key"), "{shown}");
    }
}

//! TOTP keys (`<mount>keys/<name>` of a `totp` engine): a key's seed cannot be read back, so no
//! key ever crosses. The export lists each one as not copied, to be enrolled again on DR after
//! promotion; no snapshot carries one (`validate` refuses any), and nothing is written.

use serde::{Deserialize, Serialize};

use super::engine_item::in_secret_mount;
use super::kind::{ObjectKind, Scope, Sink, Source, Stage, entry_in_mount};
use super::mounts::Mount;
use super::registry::Kind;
use super::target::Target;
use crate::error::{Error, Result};
use crate::model::{Action, Decision};

pub const NOT_COPIED: &str =
    "TOTP key seeds cannot be read back: re-enrol it on DR after promotion";

/// A TOTP key, by name only: what the not-copied report names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TotpKey {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub mount: String,
    pub name: String,
}

impl TotpKey {
    /// Its API path below the namespace: `<mount>keys/<name>`.
    fn api_path(&self) -> String {
        format!("{}keys/{}", self.mount, self.name)
    }
}

impl ObjectKind for TotpKey {
    const FOLDERS: &'static [&'static str] = &["totp"];
    const STAGE: Stage = Stage::Contents;
    type Current = ();
    type Ops = ();

    in_secret_mount!();

    fn entry(&self) -> String {
        entry_in_mount("totp", &self.mount, &self.name)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        Err(NOT_COPIED.into())
    }

    fn delete_target(&self) -> Option<(String, String)> {
        None
    }

    async fn current(&self, _: &Target) -> Result<()> {
        Ok(())
    }

    fn diff(&self, _: &Target, _: &()) -> Decision<()> {
        Decision::new(Action::Skipped, Some(NOT_COPIED.into()))
    }

    fn under_new_parent(&self, target: &Target) -> Decision<()> {
        self.diff(target, &())
    }

    async fn apply(&self, _: &Target, _: Action, _: &()) -> Result<()> {
        Err(Error::Object {
            kind: "totp key",
            path: self.path(),
            reason: NOT_COPIED.into(),
        })
    }

    fn lives_in(mount: &Mount) -> bool {
        mount.is_engine("totp")
    }

    async fn export(source: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Some((ns, mount)) = scope.mount_where(Self::lives_in) else {
            return Ok(());
        };
        for name in source.client.list(&format!("{}keys", mount.path)).await? {
            let key = TotpKey {
                namespace: ns.to_string(),
                mount: mount.path.clone(),
                name,
            };
            sink.not_copied(Kind::TotpKey, key.path(), NOT_COPIED.into());
        }
        Ok(())
    }
}

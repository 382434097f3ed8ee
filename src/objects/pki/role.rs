//! PKI roles: every field the role reads back, written back as read. Its issuer (`issuer_ref`)
//! is carried by name (an ID on the source becomes its issuer's name, or its certificate when the
//! issuer has no name) and resolved on the target when applied, once the issuers are in
//! (`Stage::Dependents`). A role may name an issuer neither side has: the server takes the
//! reference as it is.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{IssuerRef, Issuers, compared, data_of, is_pki};
use crate::error::{Error, Result};
use crate::model::{Action, Decision};
use crate::objects::engine_item::in_secret_mount;
use crate::objects::kind::{
    ObjectKind, Scope, Sink, Source, Stage, check_in_mount, entry_in_mount,
};
use crate::objects::mounts::Mount;
use crate::objects::registry::Object;
use crate::objects::target::Target;
use crate::vault::VaultClient;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PkiRole {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub mount: String,
    pub name: String,
    /// The role as read, less `issuer_ref`.
    pub fields: Map<String, Value>,
    pub issuer: IssuerRef,
}

/// The target's role, and its issuers when the role names one by certificate.
pub type Current = Option<(Map<String, Value>, Issuers)>;

impl PkiRole {
    fn api_path(&self) -> String {
        format!("{}roles/{}", self.mount, self.name)
    }
}

async fn read_role(client: &VaultClient, path: &str) -> Result<Option<Map<String, Value>>> {
    Ok(data_of(client.read(path).await?))
}

/// Which fields of the role differ on the target (fields it does not report are not compared).
pub fn diff(desired: &PkiRole, theirs: &Map<String, Value>, on: &Issuers) -> Decision<()> {
    let their_ref = theirs
        .get("issuer_ref")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let issuer = (!on.same(&desired.issuer, their_ref)).then(|| "issuer_ref".to_string());
    compared(&desired.fields, theirs, issuer)
}

impl ObjectKind for PkiRole {
    const FOLDERS: &'static [&'static str] = &["pki/roles"];
    /// After the issuers: a role naming an unnamed issuer (by certificate) needs its ID.
    const STAGE: Stage = Stage::Dependents;
    type Current = Current;
    type Ops = ();

    in_secret_mount!();

    fn entry(&self) -> String {
        entry_in_mount("pki/roles", &self.mount, &self.name)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        check_in_mount("pki role", &self.mount, &self.name)
    }

    fn delete_target(&self) -> Option<(String, String)> {
        Some((self.namespace.clone(), self.api_path()))
    }

    async fn current(&self, target: &Target) -> Result<Current> {
        let client = target.client(&self.namespace);
        let Some(role) = read_role(&client, &self.api_path()).await? else {
            return Ok(None);
        };
        let issuers = match self.issuer {
            IssuerRef::Certificate(_) => Issuers::read(&client, &self.mount).await?,
            IssuerRef::Name(_) => Issuers::default(),
        };
        Ok(Some((role, issuers)))
    }

    fn diff(&self, _: &Target, cur: &Current) -> Decision<()> {
        match cur {
            None => Decision::new(Action::Create, None),
            Some((theirs, on)) => diff(self, theirs, on),
        }
    }

    async fn apply(&self, target: &Target, _: Action, _: &()) -> Result<()> {
        let client = target.client(&self.namespace);
        let issuer_ref = match &self.issuer {
            IssuerRef::Name(n) => n.clone(),
            r @ IssuerRef::Certificate(_) => Issuers::read(&client, &self.mount)
                .await?
                .resolve(r)
                .map(|f| f.id.clone())
                .ok_or_else(|| Error::Object {
                    kind: "pki role",
                    path: self.path(),
                    reason: "its issuer (unnamed, by certificate) is not on the target".into(),
                })?,
        };
        let mut body = self.fields.clone();
        body.insert("issuer_ref".into(), json!(issuer_ref));
        client
            .write(&self.api_path(), &Value::Object(body))
            .await
            .map(|_| ())
    }

    fn lives_in(mount: &Mount) -> bool {
        is_pki(mount)
    }

    async fn export(source: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Some((ns, mount)) = scope.mount_where(Self::lives_in) else {
            return Ok(());
        };
        let client = source.client;
        let names = client.list(&format!("{}roles", mount.path)).await?;
        if names.is_empty() {
            return Ok(());
        }
        let issuers = Issuers::read(client, &mount.path).await?;
        for name in names {
            let path = format!("{}roles/{name}", mount.path);
            let Some(mut fields) = read_role(client, &path).await? else {
                continue;
            };
            let r = fields.remove("issuer_ref");
            let r = r.as_ref().and_then(Value::as_str).unwrap_or("default");
            sink.add(Object::PkiRole(PkiRole {
                namespace: ns.to_string(),
                mount: mount.path.clone(),
                name,
                fields,
                issuer: issuers.carry(r),
            }))?;
        }
        Ok(())
    }
}

//! A PKI mount's configs: `config/urls`, `config/crl`, `config/auto-tidy`, `config/acme` (where
//! the server has it) as read; `config/issuers` with its default issuer by name (or certificate)
//! and `config/keys` with its default key as the key of an issuer, both resolved to the target's
//! IDs when applied. They name issuers, so they are applied once the issuers are in
//! (`Stage::Dependents`). `config/cluster` is per-cluster: never copied, reported when set.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Found, IssuerRef, Issuers, bundle, compared, data_of, is_pki, shown, str_of};
use crate::error::{Error, Result};
use crate::model::{Action, Decision};
use crate::objects::engine_item::in_secret_mount;
use crate::objects::kind::{ObjectKind, Scope, Sink, Source, Stage, check_secret_mount, one};
use crate::objects::mounts::Mount;
use crate::objects::registry::{Kind, Object};
use crate::objects::target::Target;
use crate::vault::VaultClient;

/// The configs copied as read.
const AS_READ: &[&str] = &["urls", "crl", "auto-tidy", "acme"];
/// The configs that name an issuer.
const DEFAULTS: &[&str] = &["issuers", "keys"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PkiConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub mount: String,
    /// `urls`, `crl`, `issuers`, `keys`, `auto-tidy` or `acme`.
    pub item: String,
    /// The config as read (less `default` for `issuers` and `keys`).
    pub fields: Map<String, Value>,
    /// `issuers`: the default issuer; `keys`: the issuer whose key is the default key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<IssuerRef>,
}

impl PkiConfig {
    fn api_path(&self) -> String {
        format!("{}config/{}", self.mount, self.item)
    }
}

async fn read_data(client: &VaultClient, path: &str) -> Result<Option<Map<String, Value>>> {
    let read = match client.read(path).await {
        // A config the server does not have (`config/acme` before ACME).
        Err(Error::Vault {
            status: 404 | 405, ..
        }) => return Ok(None),
        r => r?,
    };
    Ok(data_of(read))
}

/// The target's config, and its issuers when the config names one.
pub type Current = (Option<Map<String, Value>>, Issuers);

/// Decides what the target's config needs.
pub fn diff(desired: &PkiConfig, (theirs, on): &Current) -> Decision<()> {
    let Some(theirs) = theirs else {
        return Decision::new(Action::Create, None);
    };
    let mut default = None;
    if let Some(r) = &desired.default {
        let their_default = str_of(theirs, "default");
        let same = match desired.item.as_str() {
            // An issuer the target holds without its key gets it in this import (the export
            // carries `config/keys` only when the key is escrowed).
            "keys" => match on.resolve(r) {
                Some(f) => !f.key_id.is_empty() && f.key_id == their_default,
                None => false,
            },
            _ => on.same(r, &their_default),
        };
        default = (!same).then(|| "default".to_string());
    }
    compared(&desired.fields, theirs, default)
}

impl ObjectKind for PkiConfig {
    const FOLDERS: &'static [&'static str] = &["pki/config"];
    const STAGE: Stage = Stage::Dependents;
    type Current = Current;
    type Ops = ();

    in_secret_mount!();

    fn lives_in(mount: &Mount) -> bool {
        is_pki(mount)
    }

    fn entry(&self) -> String {
        format!("pki/config/{}/{}", one(&self.mount), self.item)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        check_secret_mount(&self.mount)?;
        let item = self.item.as_str();
        if !AS_READ.contains(&item) && !DEFAULTS.contains(&item) {
            return Err(format!(
                "`config/{item}` is not a pki config the format carries"
            ));
        }
        Ok(())
    }

    fn delete_target(&self) -> Option<(String, String)> {
        None
    }

    async fn current(&self, target: &Target) -> Result<Current> {
        let client = target.client(&self.namespace);
        let theirs = read_data(&client, &self.api_path()).await?;
        let issuers = match self.default {
            Some(_) => Issuers::read(&client, &self.mount).await?,
            None => Issuers::default(),
        };
        Ok((theirs, issuers))
    }

    fn diff(&self, _: &Target, cur: &Current) -> Decision<()> {
        diff(self, cur)
    }

    async fn apply(&self, target: &Target, _: Action, _: &()) -> Result<()> {
        let client = target.client(&self.namespace);
        let mut body = self.fields.clone();
        if let Some(r) = &self.default {
            let on = Issuers::read(&client, &self.mount).await?;
            let fail = |reason: String| Error::Object {
                kind: "pki config",
                path: self.path(),
                reason,
            };
            let f = on
                .resolve(r)
                .ok_or_else(|| fail(format!("issuer {} is not on the target", shown(r))))?;
            let id = match self.item.as_str() {
                "keys" if f.key_id.is_empty() => {
                    return Err(fail(format!(
                        "issuer {} has no key on the target",
                        shown(r)
                    )));
                }
                "keys" => f.key_id.clone(),
                _ => f.id.clone(),
            };
            body.insert("default".into(), json!(id));
        }
        client
            .write(&self.api_path(), &Value::Object(body))
            .await
            .map(|_| ())
    }

    async fn export(source: &Source<'_>, scope: &Scope<'_>, sink: &mut dyn Sink) -> Result<()> {
        let Some((ns, mount)) = scope.mount_where(Self::lives_in) else {
            return Ok(());
        };
        let (client, m) = (source.client, &mount.path);
        let issuers = Issuers::read(client, m).await?;
        let new = |item: &str, fields, default| PkiConfig {
            namespace: ns.to_string(),
            mount: m.clone(),
            item: item.to_string(),
            fields,
            default,
        };
        for item in AS_READ {
            if let Some(fields) = read_data(client, &format!("{m}config/{item}")).await? {
                sink.add(Object::PkiConfig(new(item, fields, None)))?;
            }
        }
        for item in DEFAULTS {
            let Some(mut fields) = read_data(client, &format!("{m}config/{item}")).await? else {
                continue;
            };
            let default = str_of(&fields, "default");
            fields.remove("default");
            let found = match *item {
                "keys" => issuers.by_key(&default),
                _ => issuers.by_ref(&default),
            };
            match found {
                Some(f) if *item == "keys" && !escrowed(source, ns, m, f).await? => {
                    sink.not_copied(
                        Kind::PkiConfig,
                        format!("{ns}{m}config/keys"),
                        "the default key is the key of an issuer that is not escrowed: DR keeps \
                         its own default key"
                            .into(),
                    );
                }
                Some(f) => {
                    let r = issuers.carry(&f.id);
                    sink.add(Object::PkiConfig(new(item, fields, Some(r))))?;
                }
                None if default.is_empty() => {}
                None => sink.not_copied(
                    Kind::PkiConfig,
                    format!("{ns}{m}config/{item}"),
                    format!(
                        "the default {} is not an issuer's: not copied",
                        &item[..item.len() - 1]
                    ),
                ),
            }
        }
        cluster(client, ns, m, sink).await
    }
}

/// Whether the key of the source's issuer `f` crosses: its escrow entry is one the issuer's
/// export takes (`bundle::escrowed_for`), so that DR will hold the key.
async fn escrowed(source: &Source<'_>, ns: &str, m: &str, f: &Found) -> Result<bool> {
    let Some(escrow) = &source.escrow else {
        return Ok(false);
    };
    let key = if f.name.is_empty() { &f.id } else { &f.name };
    let fields = escrow.fields(ns, &format!("{m}issuer/{key}")).await?;
    let certificate = str_of(&f.data, "certificate");
    Ok(!fields.is_empty() && bundle::escrowed_for(&fields, &certificate).is_ok())
}

/// `config/cluster` is each cluster's own: reported when set on the source, never copied.
async fn cluster(client: &VaultClient, ns: &str, m: &str, sink: &mut dyn Sink) -> Result<()> {
    let Some(c) = read_data(client, &format!("{m}config/cluster")).await? else {
        return Ok(());
    };
    let set: Vec<&str> = ["path", "aia_path"]
        .into_iter()
        .filter(|k| !str_of(&c, k).is_empty())
        .collect();
    if !set.is_empty() {
        sink.not_copied(
            Kind::PkiConfig,
            format!("{ns}{m}config/cluster"),
            format!(
                "per-cluster ({} set on the source): never copied; set DR's own",
                set.join(", ")
            ),
        );
    }
    Ok(())
}

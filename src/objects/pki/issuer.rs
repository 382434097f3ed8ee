//! PKI issuers: each issuer's certificate and chain, name, usage, leaf_not_after_behavior,
//! revocation_signature_algorithm, AIA URLs, manual chain (by name) and revoked state. The private
//! key cannot be read back: it travels only through escrow (`pem_bundle`, the certificate and its
//! key), and an issuer without it is imported as a certificate DR cannot issue from. An issuer
//! is matched on the target by name, then by certificate; one of the same name with another
//! certificate is never replaced (drift). An issuer is never pruned.

mod kind;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::bundle::{self, BUNDLE};
use super::{Found, IssuerRef, Issuers, cert_key, str_of, strs_of};
use crate::error::{Error, Result};
use crate::model::{Action, Decision};
use crate::objects::escrow::{Escrow, Escrowed};
use crate::objects::redacted::redacted_debug;
use crate::vault::VaultClient;

/// The settings an issuer carries as read, and writes back (`issuer/<id>`), when the server
/// reports them (`enable_aia_url_templating` is Vault's; OpenBao does not read it back).
const SETTINGS: &[&str] = &[
    "usage",
    "leaf_not_after_behavior",
    "revocation_signature_algorithm",
    "issuing_certificates",
    "crl_distribution_points",
    "ocsp_servers",
    "delta_crl_distribution_points",
    "enable_aia_url_templating",
];

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct PkiIssuer {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Mount path with its trailing slash, e.g. `pki/`.
    pub mount: String,
    /// Its `issuer_name`; empty for an unnamed issuer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Its ID on the source: names the entry of an unnamed issuer; never used on the target.
    pub source_id: String,
    pub certificate: String,
    /// The chain as the source builds it (the issuers above it that the mount holds).
    #[serde(default)]
    pub ca_chain: Vec<String>,
    /// `SETTINGS`, as the source reports them.
    pub settings: Map<String, Value>,
    /// By certificate: an issuer of the chain that the target lacks is imported with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manual_chain: Vec<IssuerRef>,
    #[serde(default)]
    pub revoked: bool,
    /// `pem_bundle`, when escrowed. Never printed.
    #[serde(default, skip_serializing_if = "Escrowed::is_empty")]
    pub escrowed: Escrowed,
}

redacted_debug!(PkiIssuer {
    mount,
    name,
    source_id,
    escrowed,
    ..
});

/// What an update of an issuer the target has does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IssuerOps {
    /// The target's issuer; `None`: imported first.
    pub id: Option<String>,
    /// The target has the certificate without its key: the escrowed bundle adds it.
    pub add_key: bool,
    /// Name, settings or manual chain differ.
    pub settings: bool,
    pub revoke: bool,
}

impl PkiIssuer {
    /// Its name, or its source ID when it has none.
    pub fn key(&self) -> &str {
        if self.name.is_empty() {
            &self.source_id
        } else {
            &self.name
        }
    }

    fn has_key_escrowed(&self) -> bool {
        self.escrowed.has(BUNDLE)
    }

    /// The body of `issuer/<id>`, its manual chain resolved to the target's IDs.
    fn body(&self, on_target: &Issuers) -> Result<Value> {
        let mut body = self.settings.clone();
        // An empty name is refused; left out, the issuer is unnamed (a name it had is cleared).
        if !self.name.is_empty() {
            body.insert("issuer_name".into(), json!(self.name));
        }
        let mut chain = Vec::new();
        for r in &self.manual_chain {
            let found = on_target.resolve(r).ok_or_else(|| Error::Object {
                kind: "pki issuer",
                path: self.api_path(),
                reason: format!(
                    "its manual_chain names {}, which the target does not have yet (the next \
                     import sets it)",
                    super::shown(r)
                ),
            })?;
            chain.push(found.id.clone());
        }
        if !chain.is_empty() {
            body.insert("manual_chain".into(), json!(chain));
        }
        Ok(Value::Object(body))
    }

    pub fn api_path(&self) -> String {
        format!("{}issuer/{}", self.mount, self.key())
    }
}

/// Which of an issuer's settings (and name, manual chain) differ on the target's `f`.
fn differences(desired: &PkiIssuer, f: &Found, on_target: &Issuers) -> Vec<String> {
    let mut out = Vec::new();
    if f.name != desired.name {
        out.push("issuer_name".to_string());
    }
    for (k, v) in &desired.settings {
        if f.data.get(k).is_some_and(|t| t != v) {
            out.push(k.clone());
        }
    }
    let theirs: Vec<&str> = strs_of(&f.data, "manual_chain").collect();
    let same_chain = theirs.len() == desired.manual_chain.len()
        && desired
            .manual_chain
            .iter()
            .zip(&theirs)
            .all(|(ours, t)| on_target.same(ours, t));
    if !same_chain {
        out.push("manual_chain".into());
    }
    out
}

/// Decides what the target needs for `desired`, from every issuer of the target's mount.
pub fn diff(desired: &PkiIssuer, on_target: &Issuers) -> Decision<IssuerOps> {
    let want = cert_key(&desired.certificate);
    let named = (!desired.name.is_empty())
        .then(|| on_target.0.iter().find(|f| f.name == desired.name))
        .flatten();
    if let Some(f) = named
        && f.cert != want
    {
        let why = format!(
            "drift: the target's issuer `{}` has another certificate; left alone (an issuer \
             is never replaced: rename or remove one of them)",
            desired.name
        );
        return Decision {
            drift: true,
            ..Decision::new(Action::Skipped, Some(why))
        };
    }
    let Some(f) = named.or_else(|| on_target.by_cert(&desired.certificate)) else {
        let why = (!desired.has_key_escrowed()).then(|| "certificate only, no key".to_string());
        return Decision::with_ops(Action::Create, why, IssuerOps::default());
    };
    let revoked = f.data.get("revoked").and_then(Value::as_bool) == Some(true);
    if revoked && !desired.revoked {
        let why = "drift: revoked on the target, not on the source; a revocation cannot be undone";
        return Decision {
            drift: true,
            ..Decision::new(Action::Skipped, Some(why.into()))
        };
    }
    let mut ops = IssuerOps {
        id: Some(f.id.clone()),
        add_key: desired.has_key_escrowed() && f.key_id.is_empty(),
        settings: false,
        revoke: desired.revoked && !revoked,
    };
    let mut what = differences(desired, f, on_target);
    ops.settings = !what.is_empty();
    if ops.add_key {
        what.push("its escrowed key added".into());
    }
    if ops.revoke {
        what.push("revoked".into());
    }
    if what.is_empty() {
        return Decision::with_ops(Action::Unchanged, None, ops);
    }
    let why = format!("differs: {}", what.join(", "));
    Decision::with_ops(Action::Update, Some(why), ops)
}

/// Imports the issuer (with its escrowed key when there is one), then names it and sets its
/// settings, and revokes it when the source has.
pub async fn apply(client: &VaultClient, desired: &PkiIssuer, ops: &IssuerOps) -> Result<()> {
    let fail = |reason: String| Error::Object {
        kind: "pki issuer",
        path: desired.api_path(),
        reason,
    };
    let creating = ops.id.is_none();
    if creating || ops.add_key {
        // The bundle again cut down to the issuer's certificate and key: a snapshot made before
        // the export did so may carry a whole chain file, and nothing else may become an issuer
        // or a key on DR.
        let (path, pem) = match desired.escrowed.0.get(BUNDLE) {
            Some(b) => {
                let pair =
                    bundle::issuer_pair(b.as_str().unwrap_or_default(), &desired.certificate)
                        .map_err(|why| fail(format!("escrowed pem_bundle not imported: {why}")))?;
                ("issuers/import/bundle", json!(pair))
            }
            None => ("issuers/import/cert", json!(desired.certificate)),
        };
        let body = json!({ "pem_bundle": pem });
        client
            .write(&format!("{}{path}", desired.mount), &body)
            .await?;
    }
    let mut on_target = Issuers::read(client, &desired.mount).await?;
    if (creating || ops.settings) && import_chain(client, desired, &on_target).await? {
        on_target = Issuers::read(client, &desired.mount).await?;
    }
    let Some(f) = on_target.by_cert(&desired.certificate) else {
        return Err(fail("not found on the target after its import".into()));
    };
    if desired.has_key_escrowed() && f.key_id.is_empty() {
        return Err(fail(
            "the escrowed pem_bundle holds no key for this issuer's certificate".into(),
        ));
    }
    let id = f.id.clone();
    if creating || ops.settings {
        let body = desired.body(&on_target)?;
        client
            .write(&format!("{}issuer/{id}", desired.mount), &body)
            .await?;
    }
    if (creating && desired.revoked) || ops.revoke {
        let path = format!("{}issuer/{id}/revoke", desired.mount);
        client.write(&path, &json!({})).await?;
    }
    Ok(())
}

/// Imports the certificates of the manual chain the target does not have yet (issuers applied
/// alongside this one, whose own apply then finds them by certificate); whether it did.
async fn import_chain(client: &VaultClient, desired: &PkiIssuer, on: &Issuers) -> Result<bool> {
    let mut imported = false;
    for r in &desired.manual_chain {
        if let (IssuerRef::Certificate(pem), None) = (r, on.resolve(r)) {
            let path = format!("{}issuers/import/cert", desired.mount);
            client.write(&path, &json!({ "pem_bundle": pem })).await?;
            imported = true;
        }
    }
    Ok(imported)
}

/// Every issuer of a source mount, and (path, reason) for what cannot be copied: keys not
/// escrowed, keys without an issuer, the issued certificates.
pub async fn export(
    client: &VaultClient,
    escrow: Option<&Escrow<'_>>,
    ns: &str,
    mount: &str,
) -> Result<(Vec<PkiIssuer>, Vec<(String, String)>)> {
    let issuers = Issuers::read(client, mount).await?;
    let mut out = Vec::new();
    let mut not_copied = Vec::new();
    for f in &issuers.0 {
        let mut issuer = from_found(ns, mount, f, &issuers);
        if !f.key_id.is_empty() {
            let entry = match escrow {
                Some(e) => e.fields(ns, &issuer.api_path()).await?,
                None => Escrowed::default(),
            };
            let why = match entry.is_empty() {
                true => Some("issuer key not escrowed".to_string()),
                false => bundle::escrowed_for(&entry, &issuer.certificate)
                    .map(|kept| issuer.escrowed = kept)
                    .map_err(|why| format!("escrowed pem_bundle not taken: {why}"))
                    .err(),
            };
            if let Some(why) = why {
                not_copied.push((
                    format!("{ns}{}", issuer.api_path()),
                    format!("{why}: imported as a certificate only, DR cannot issue from it"),
                ));
            }
        }
        out.push(issuer);
    }
    for key in client.list(&format!("{mount}keys")).await? {
        if issuers.by_key(&key).is_none() {
            not_copied.push((
                format!("{ns}{mount}key/{key}"),
                "a key without an issuer: private keys cannot be read back".into(),
            ));
        }
    }
    let issued = client.list(&format!("{mount}certs")).await?.len();
    if issued > 0 {
        not_copied.push((
            format!("{ns}{mount}certs"),
            format!(
                "{issued} issued certificates (and their revocations): DR's certificate store and \
                 CRL hold only what DR issues and revokes"
            ),
        ));
    }
    Ok((out, not_copied))
}

fn from_found(ns: &str, mount: &str, f: &Found, issuers: &Issuers) -> PkiIssuer {
    let settings = SETTINGS
        .iter()
        .filter_map(|k| f.data.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    let manual_chain = strs_of(&f.data, "manual_chain")
        .map(|id| match issuers.by_ref(id) {
            Some(f) => IssuerRef::Certificate(str_of(&f.data, "certificate")),
            None => IssuerRef::Name(id.to_string()),
        })
        .collect();
    let ca_chain = strs_of(&f.data, "ca_chain").map(String::from).collect();
    PkiIssuer {
        namespace: ns.to_string(),
        mount: mount.to_string(),
        name: f.name.clone(),
        source_id: f.id.clone(),
        certificate: str_of(&f.data, "certificate"),
        ca_chain,
        settings,
        manual_chain,
        revoked: f.data.get("revoked").and_then(Value::as_bool) == Some(true),
        escrowed: Escrowed::default(),
    }
}

//! The PKI engine: issuers (certificate and chain, name, usage and the other settings; the
//! private key only through escrow), roles, and the mount's configs. Issuers are matched between
//! source and target by name and certificate, never by ID (IDs differ per cluster); a role or
//! config that names an issuer carries it by name (or, for an unnamed issuer, by certificate) and
//! is resolved to the target's issuer ID when applied.

mod bundle;
mod config;
mod issuer;
mod role;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use config::PkiConfig;
pub use issuer::PkiIssuer;
pub use role::PkiRole;

use crate::error::Result;
use crate::model::{Action, Decision};
use crate::objects::mounts::Mount;
use crate::vault::VaultClient;

/// Whether `mount` is a PKI secrets engine.
pub fn is_pki(mount: &Mount) -> bool {
    mount.is_engine("pki")
}

/// An issuer as another object names it: by its name, or by its certificate when it has none.
/// `Name` also carries what is not an issuer of the mount (`default`, an unknown reference).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssuerRef {
    Name(String),
    Certificate(String),
}

/// One issuer of a mount, as read.
#[derive(Debug, Clone)]
pub struct Found {
    pub id: String,
    pub name: String,
    /// Its certificate, normalised (`cert_key`).
    pub cert: String,
    pub key_id: String,
    /// The full read answer's `data`.
    pub data: Map<String, Value>,
}

/// Every issuer of a mount.
#[derive(Debug, Clone, Default)]
pub struct Issuers(pub Vec<Found>);

impl Issuers {
    /// Lists and reads every issuer of `mount`.
    pub async fn read(client: &VaultClient, mount: &str) -> Result<Issuers> {
        let mut found = Vec::new();
        for id in client.list(&format!("{mount}issuers")).await? {
            let Some(Value::Object(data)) = client
                .read(&format!("{mount}issuer/{id}"))
                .await?
                .and_then(|mut v| v.get_mut("data").map(Value::take))
            else {
                continue;
            };
            let s = |k: &str| str_of(&data, k);
            found.push(Found {
                id: s("issuer_id"),
                name: s("issuer_name"),
                cert: cert_key(&s("certificate")),
                key_id: s("key_id"),
                data,
            });
        }
        Ok(Issuers(found))
    }

    /// The issuer a reference (`default`, a name or an ID) points at.
    pub fn by_ref(&self, r: &str) -> Option<&Found> {
        self.0
            .iter()
            .find(|f| f.id == r || (!r.is_empty() && f.name == r))
    }

    pub fn by_cert(&self, pem: &str) -> Option<&Found> {
        let key = cert_key(pem);
        self.0.iter().find(|f| f.cert == key)
    }

    pub fn by_key(&self, key_id: &str) -> Option<&Found> {
        self.0
            .iter()
            .find(|f| !key_id.is_empty() && f.key_id == key_id)
    }

    /// How other objects carry the issuer `r` (an ID or name on this mount): by name, by
    /// certificate when it has no name; anything else as it is.
    pub fn carry(&self, r: &str) -> IssuerRef {
        match self.by_ref(r) {
            Some(f) if !f.name.is_empty() => IssuerRef::Name(f.name.clone()),
            Some(f) => IssuerRef::Certificate(pem_of(&f.data)),
            None => IssuerRef::Name(r.to_string()),
        }
    }

    /// The issuer `r` names on this mount, when it is one.
    pub fn resolve(&self, r: &IssuerRef) -> Option<&Found> {
        match r {
            IssuerRef::Name(n) => self.0.iter().find(|f| !n.is_empty() && f.name == *n),
            IssuerRef::Certificate(pem) => self.by_cert(pem),
        }
    }

    /// Whether the target's reference `theirs` (an ID or name) names the same issuer as `ours`.
    pub fn same(&self, ours: &IssuerRef, theirs: &str) -> bool {
        match ours {
            IssuerRef::Name(n) if n == theirs => true,
            _ => match (self.resolve(ours), self.by_ref(theirs)) {
                (Some(a), Some(b)) => a.id == b.id,
                _ => false,
            },
        }
    }
}

/// The `data` of a read, as it is; `None` when there is nothing.
pub(crate) fn data_of(read: Option<Value>) -> Option<Map<String, Value>> {
    match read?.get_mut("data").map(Value::take) {
        Some(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// The fields of `ours` the target reports otherwise (fields it does not report are not
/// compared), and `more` that differ too: the decision for a body written whole.
pub(crate) fn compared(
    ours: &Map<String, Value>,
    theirs: &Map<String, Value>,
    more: impl IntoIterator<Item = String>,
) -> Decision<()> {
    let what: Vec<String> = ours
        .iter()
        .filter(|(k, v)| theirs.get(*k).is_some_and(|t| t != *v))
        .map(|(k, _)| k.clone())
        .chain(more)
        .collect();
    match what.is_empty() {
        true => Decision::new(Action::Unchanged, None),
        false => Decision::new(
            Action::Update,
            Some(format!("differs: {}", what.join(", "))),
        ),
    }
}

/// How a reference is shown in plans: a name, or that it is an unnamed issuer.
pub fn shown(r: &IssuerRef) -> String {
    match r {
        IssuerRef::Name(n) => format!("`{n}`"),
        IssuerRef::Certificate(_) => "an unnamed issuer (by certificate)".into(),
    }
}

pub(crate) fn str_of(m: &Map<String, Value>, k: &str) -> String {
    m.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The strings of a list field (`ca_chain`, `manual_chain`); none when it is absent.
pub(crate) fn strs_of<'a>(m: &'a Map<String, Value>, k: &str) -> impl Iterator<Item = &'a str> {
    m.get(k)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn pem_of(m: &Map<String, Value>) -> String {
    str_of(m, "certificate")
}

/// The certificates of a PEM text, each as its base64 body without whitespace.
pub fn certs(pem: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in pem.lines().map(str::trim) {
        match (line, body.as_mut()) {
            ("-----BEGIN CERTIFICATE-----", _) => body = Some(String::new()),
            ("-----END CERTIFICATE-----", Some(_)) => out.extend(body.take()),
            (l, Some(b)) => b.push_str(l),
            _ => {}
        }
    }
    out
}

/// A certificate's identity for comparisons: the first certificate of the PEM, normalised.
pub fn cert_key(pem: &str) -> String {
    certs(pem).into_iter().next().unwrap_or_default()
}

#[cfg(test)]
mod tests;

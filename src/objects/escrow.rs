//! Escrow: the write-only fields an object needs on DR (an issuer's private key, a database
//! password, an LDAP bind password), which the API never reads back. The operator keeps them in
//! a KV-v2 mount on the source (`REPLICATOR_ESCROW_MOUNT`, in the configured namespace), one
//! secret per object at `<escrow>/data/<namespace><object API path>` holding the fields by their
//! API write names. The export reads an object's entry into the object itself (the snapshot is
//! encrypted and signed); the import writes the object with them merged in. They never reach a
//! log line, a plan or a summary: `Escrowed`'s `Debug` shows field names only.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Result;
use crate::vault::VaultClient;

/// Where escrowed fields are read from at export.
#[derive(Clone, Copy)]
pub struct Escrow<'a> {
    /// A client of the configured namespace.
    pub client: &'a VaultClient,
    /// The KV-v2 mount, with its trailing slash (`replicator-escrow/`).
    pub mount: &'a str,
}

impl Escrow<'_> {
    /// The escrowed fields of the object at `api_path` in namespace `ns` (`""` for the configured
    /// one); empty when none are kept.
    pub async fn fields(&self, ns: &str, api_path: &str) -> Result<Escrowed> {
        let path = format!("{}data/{ns}{api_path}", self.mount);
        let data = self
            .client
            .read(&path)
            .await?
            .and_then(|mut v| v.pointer_mut("/data/data").map(Value::take))
            .and_then(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            });
        Ok(Escrowed(data.unwrap_or_default()))
    }
}

/// Write-only fields of one object, from the escrow. Never printed.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Escrowed(pub Map<String, Value>);

impl Escrowed {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the escrow holds `field`.
    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// Whether every field the entry holds is one of `allowed`, the write-only fields of the
    /// object's kind; why not otherwise, naming the first other field (never a value). An escrow
    /// entry sets nothing the API can read: that stays with the object's readable fields.
    pub fn only(&self, allowed: &[&str]) -> std::result::Result<(), String> {
        match self.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(field) => Err(format!(
                "the escrow entry holds `{field}`, which is not a write-only field of this object \
                 (the escrow carries only `{}`)",
                allowed.join("`, `")
            )),
            None => Ok(()),
        }
    }

    /// `body` with the escrowed fields added (they win over what `body` holds).
    pub fn merged_into(&self, mut body: Map<String, Value>) -> Map<String, Value> {
        for (k, v) in &self.0 {
            body.insert(k.clone(), v.clone());
        }
        body
    }
}

impl fmt::Debug for Escrowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escrowed_values_never_print_and_win_when_merged() {
        let e = Escrowed(json!({"password": "s3cret"}).as_object().cloned().unwrap());
        assert_eq!(format!("{e:?}"), "{\"password\"}");
        let body = json!({"username": "u", "password": "old"});
        let merged = e.merged_into(body.as_object().cloned().unwrap());
        assert_eq!(
            Value::Object(merged),
            json!({"username": "u", "password": "s3cret"})
        );
    }

    #[test]
    fn an_entry_may_hold_only_the_write_only_fields_and_the_reason_names_no_value() {
        let e = Escrowed(json!({"password": "s3cret"}).as_object().cloned().unwrap());
        assert!(e.only(&["password", "private_key"]).is_ok());
        let extra = json!({"password": "s3cret", "connection_url": "postgres://x:y@h"});
        let e = Escrowed(extra.as_object().cloned().unwrap());
        let why = e.only(&["password"]).unwrap_err();
        assert!(why.contains("`connection_url`"), "{why}");
        assert!(
            !why.contains("s3cret") && !why.contains("postgres://"),
            "{why}"
        );
        assert!(Escrowed::default().only(&[]).is_ok());
    }
}

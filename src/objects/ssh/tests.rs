//! The CA's write and its proof against a stand-in DR that signs with `ssh-keygen`, with the key
//! it was given: what the import does when DR signs with the CA's key, and when it does not (a
//! snapshot the export's check never saw, or a server that kept another key).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{Value, json};

use super::SshCa;
use super::ca::apply;
use super::proof::ROLE_PREFIX;
use crate::error::{Error, Result};
use crate::model::Action;
use crate::objects::escrow::Escrowed;
use crate::objects::test_tools::{ssh_keypair, tool};
use crate::vault::{Stub, VaultClient};

/// A DR whose SSH engine at `ssh/` signs with the private key in `signer`, whatever public key
/// its `config/ca` was given. Keeps every write and delete.
struct Dr {
    dir: PathBuf,
    signer: PathBuf,
    /// Its policy denies `sign/*`.
    denied: bool,
    public_key: Mutex<Option<String>>,
    writes: Mutex<Vec<String>>,
    deletes: Mutex<Vec<String>>,
}

#[async_trait]
impl Stub for Dr {
    async fn read(&self, _: &str, path: &str, _: &str) -> Result<Option<Value>> {
        let key = self.public_key.lock().unwrap().clone();
        Ok(match (path, key) {
            ("ssh/config/ca", Some(k)) => Some(json!({"data": {"public_key": k}})),
            _ => None,
        })
    }

    async fn list(&self, _: &str, _: &str, _: &str) -> Result<Option<Value>> {
        Ok(None)
    }

    async fn write(&self, _: &str, path: &str, body: &Value) -> Result<Value> {
        self.writes.lock().unwrap().push(path.to_string());
        if path == "ssh/config/ca" {
            *self.public_key.lock().unwrap() = body["public_key"].as_str().map(String::from);
            return Ok(json!({"data": {"issuer_id": "issuer-1"}}));
        }
        if path.starts_with("ssh/sign/") && self.denied {
            return Err(Error::Vault {
                method: "POST",
                path: path.to_string(),
                status: 403,
                message: "permission denied".into(),
                retry_after: None,
            });
        }
        if path.starts_with("ssh/sign/") {
            let user = self.dir.join("throwaway.pub");
            std::fs::write(&user, body["public_key"].as_str().unwrap()).unwrap();
            tool(
                &self.dir,
                "ssh-keygen",
                &[
                    "-q",
                    "-s",
                    self.signer.to_str().unwrap(),
                    "-I",
                    "id",
                    "-n",
                    "vault-replicator-ca-check",
                    "-V",
                    "+1m",
                    "throwaway.pub",
                ],
            );
            let cert = std::fs::read_to_string(self.dir.join("throwaway-cert.pub")).unwrap();
            return Ok(json!({"data": {"signed_key": cert}}));
        }
        Ok(Value::Null)
    }

    async fn delete(&self, _: &str, path: &str) -> Result<()> {
        self.deletes.lock().unwrap().push(path.to_string());
        Ok(())
    }
}

/// A key pair `ssh-keygen` makes in `dir`: (private, public).
fn pair(dir: &Path, name: &str) -> (String, String) {
    ssh_keypair(dir, name, &["-t", "ed25519"])
}

fn ca((private, public): &(String, String)) -> SshCa {
    let fields = json!({"private_key": private, "public_key": public});
    SshCa {
        namespace: String::new(),
        mount: "ssh/".into(),
        public_key: public.clone(),
        escrowed: Escrowed(fields.as_object().cloned().unwrap()),
    }
}

fn dr(dir: &Path, signer: &str) -> Arc<Dr> {
    Arc::new(Dr {
        dir: dir.to_path_buf(),
        signer: dir.join(signer),
        denied: false,
        public_key: Mutex::new(None),
        writes: Mutex::default(),
        deletes: Mutex::default(),
    })
}

#[tokio::test]
async fn a_ca_dr_signs_with_is_kept_and_the_proof_leaves_no_role() {
    let dir = tempfile::tempdir().unwrap();
    let dc = pair(dir.path(), "dc");
    let target = dr(dir.path(), "dc");
    let client = VaultClient::with_api(target.clone());
    apply(&client, &ca(&dc), Action::Create).await.unwrap();
    let writes = target.writes.lock().unwrap().clone();
    assert_eq!(writes[0], "ssh/config/ca");
    let role = writes[1].clone();
    assert!(
        role.starts_with(&format!("ssh/roles/{ROLE_PREFIX}")),
        "{role}"
    );
    let name = role.strip_prefix("ssh/roles/").unwrap();
    assert_eq!(writes[2], format!("ssh/sign/{name}"));
    assert_eq!(*target.deletes.lock().unwrap(), [role]);
}

// Issue 25: DR advertised DC's CA and signed with another key, and nothing said so. Once the CA
// is written, DR must sign with the key its public key names, or the CA is removed again.
#[tokio::test]
async fn a_ca_dr_signs_with_another_key_is_removed_again_and_the_object_fails() {
    let dir = tempfile::tempdir().unwrap();
    let dc = pair(dir.path(), "dc");
    pair(dir.path(), "stale");
    let target = dr(dir.path(), "stale");
    let client = VaultClient::with_api(target.clone());
    let err = apply(&client, &ca(&dc), Action::Create)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the proof failed: the target signs with another key"),
        "{err}"
    );
    assert!(err.contains("the CA was removed again"), "{err}");
    assert!(!err.contains(dc.0.lines().nth(1).unwrap()), "{err}");
    let deletes = target.deletes.lock().unwrap().clone();
    assert_eq!(deletes.len(), 2, "{deletes:?}");
    assert!(deletes[0].starts_with(&format!("ssh/roles/{ROLE_PREFIX}")));
    assert_eq!(deletes[1], "ssh/issuer/issuer-1");
}

// A CA that cannot be proven would read back equal at every later import and never be proven:
// it is removed again, and the next import tries again.
#[tokio::test]
async fn a_ca_that_cannot_be_proven_is_removed_again() {
    let dir = tempfile::tempdir().unwrap();
    let dc = pair(dir.path(), "dc");
    let mut target = dr(dir.path(), "dc");
    Arc::get_mut(&mut target).unwrap().denied = true;
    let client = VaultClient::with_api(target.clone());
    let err = apply(&client, &ca(&dc), Action::Create)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("could not be asked to sign"), "{err}");
    assert!(
        err.contains("HTTP 403") && err.contains("the CA was removed again"),
        "{err}"
    );
    let deletes = target.deletes.lock().unwrap().clone();
    assert!(
        deletes[0].starts_with(&format!("ssh/roles/{ROLE_PREFIX}")),
        "{deletes:?}"
    );
    assert_eq!(deletes[1], "ssh/issuer/issuer-1");
}

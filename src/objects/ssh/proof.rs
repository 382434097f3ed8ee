//! The proof, once an SSH CA is written on DR, that DR signs with the CA's key: DR signs a
//! throwaway public key through a temporary role, and the certificate must name the CA's public
//! key as its signer (the server puts there the public half of the private key it signed with,
//! as `ssh-keygen -L` shows it). The server checks no pair it is given, so this is the only proof
//! that hosts will accept what DR signs after a failover.
//!
//! What it leaves behind: nothing. The throwaway key is a fresh Ed25519 key whose private half is
//! dropped at once; the role, `vault-replicator-check-<random>`, signs user certificates for one
//! principal no host knows, for a minute, and is deleted whatever the outcome; the certificate is
//! discarded. A role is needed (`sign/<role>` is the only signing endpoint), and one of DR's own
//! could restrict principals or key types, or not be there yet.

use serde_json::{Value, json};

use crate::error::Result;
use crate::objects::keypair;
use crate::vault::VaultClient;

/// The only principal the temporary role signs for.
const PRINCIPAL: &str = "vault-replicator-ca-check";

/// The temporary role's name prefix.
pub const ROLE_PREFIX: &str = "vault-replicator-check-";

/// Whether the target's CA at `mount` signs with the key whose public half is `ca_public`; why not
/// otherwise. A request the target refuses is an error.
pub async fn signs_with(
    client: &VaultClient,
    mount: &str,
    ca_public: &str,
) -> Result<std::result::Result<(), String>> {
    let (want, throwaway) = match (keypair::of_ssh_public(ca_public), throwaway_key()) {
        (Ok(want), Ok(line)) => (want, line),
        (Err(why), _) => return Ok(Err(format!("the CA's public key is {why}"))),
        (_, Err(why)) => return Ok(Err(why)),
    };
    let name = format!("{ROLE_PREFIX}{}", hex::encode(rand::random::<[u8; 6]>()));
    let role = format!("{mount}roles/{name}");
    let body = json!({"key_type": "ca", "allow_user_certificates": true,
                      "allowed_users": PRINCIPAL, "default_user": PRINCIPAL,
                      "ttl": "1m", "max_ttl": "1m"});
    client.write(&role, &body).await?;
    let body = json!({"public_key": throwaway, "valid_principals": PRINCIPAL,
                      "cert_type": "user", "ttl": "1m"});
    let signed = client.write(&format!("{mount}sign/{name}"), &body).await;
    let removed = client.delete(&role).await;
    let signed = signed?;
    removed?;
    let Some(cert) = signed.pointer("/data/signed_key").and_then(Value::as_str) else {
        return Ok(Err(
            "the target's signing answer holds no certificate".into()
        ));
    };
    Ok(match keypair::ssh_certificate_signer(cert) {
        Ok(signer) if signer == want => Ok(()),
        Ok(signer) => Err(format!(
            "the target signs with another key ({signer:?}) than the one the CA's public key names"
        )),
        Err(why) => Err(format!("the certificate the target signed is {why}")),
    })
}

/// A fresh Ed25519 public key, as an SSH public key line, whose private half nobody keeps.
fn throwaway_key() -> std::result::Result<String, String> {
    let seed = zeroize::Zeroizing::new(rand::random::<[u8; 32]>());
    keypair::ssh_ed25519_line(keypair::ed25519_public(&seed))
}

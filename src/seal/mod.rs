//! Encryption (age) and signatures (minisign) around a snapshot: what `export` seals with and
//! what `import` accepts. They wrap whatever store holds the bytes; no store ever sees a key.
//!
//! A sealed snapshot is `<stamp>.tar.gz.age` (age, X25519 recipients) next to
//! `<stamp>.tar.gz.age.minisig` (minisign, prehashed Ed25519 over the object's bytes, with a
//! trusted comment naming the object and the sha256 of its archive and manifest). The stock `age`
//! and `minisign` tools read both.

mod claims;
mod keys;
mod sign;
mod stream;

use std::io::{BufReader, Read, Write};

use age::x25519;

use crate::error::{Error, Result};

pub use claims::{Claims, Expected, MAX_CLOCK_SKEW, Origin, check_not_future, future_dated};
pub use keys::{
    Generated, IDENTITY_FILE, Identities, RECIPIENT_FILE, SIGNING_FILE, SigningKey, VERIFY_FILE,
    VerifyKey, identities, identity_secret, keygen, recipients, signing_key, verify_keys,
};
pub use stream::{HashReader, SealWriter};

/// The extension of an encrypted object. Use `encrypted_key`, `is_encrypted` and `plain_name`:
/// this module is the one place that names sealed objects.
pub const AGE_EXT: &str = ".age";
/// The extension of an object's signature, appended to the object's key (see `signature_key`).
pub const SIG_EXT: &str = ".minisig";

/// The key of the signature that belongs to `key`.
pub fn signature_key(key: &str) -> String {
    format!("{key}{SIG_EXT}")
}

/// The key an object named `plain` has once encrypted (`x.tar.gz` → `x.tar.gz.age`).
pub fn encrypted_key(plain: &str) -> String {
    format!("{plain}{AGE_EXT}")
}

/// Whether `key` names an encrypted object.
pub fn is_encrypted(key: &str) -> bool {
    key.ends_with(AGE_EXT)
}

/// The name of what `key` holds before encryption (`x.tar.gz.age` → `x.tar.gz`); `key` itself
/// when it is not encrypted. A signature's key is neither, and comes back as it is.
pub fn plain_name(key: &str) -> &str {
    key.strip_suffix(AGE_EXT).unwrap_or(key)
}

/// What the exporter seals with: age recipients and a signing key, unless explicitly allowed
/// to go without.
#[derive(Debug)]
pub struct Sealer {
    recipients: Vec<x25519::Recipient>,
    signer: Option<SigningKey>,
}

impl Sealer {
    pub fn new(
        recipients: Vec<x25519::Recipient>,
        signer: Option<SigningKey>,
        allow_plaintext: bool,
        allow_unsigned: bool,
    ) -> Result<Self> {
        if recipients.is_empty() {
            if !allow_plaintext {
                return Err(Error::config(
                    "REPLICATOR_AGE_RECIPIENTS",
                    "not set: export will not write a plaintext snapshot (set \
                     REPLICATOR_AGE_RECIPIENTS or REPLICATOR_AGE_RECIPIENTS_FILE, or \
                     REPLICATOR_ALLOW_PLAINTEXT=true)",
                ));
            }
            tracing::warn!(
                "REPLICATOR_ALLOW_PLAINTEXT=true and no recipients: this snapshot is NOT \
                 encrypted; anyone who can read the bucket can read every secret in it"
            );
        }
        if signer.is_none() {
            if !allow_unsigned {
                return Err(Error::config(
                    "REPLICATOR_SIGNING_KEY_FILE",
                    "not set: export will not write an unsigned snapshot (set \
                     REPLICATOR_SIGNING_KEY_FILE, or REPLICATOR_ALLOW_UNSIGNED=true)",
                ));
            }
            tracing::warn!(
                "REPLICATOR_ALLOW_UNSIGNED=true and no signing key: this snapshot is NOT signed"
            );
        }
        Ok(Sealer { recipients, signer })
    }

    pub fn encrypts(&self) -> bool {
        !self.recipients.is_empty()
    }

    /// The key the exporter seals its index with (`snapshot::index`): derived from the signing
    /// key, which only the export side holds; `None` without one (then every export is full).
    pub fn index_key(&self) -> Option<[u8; 32]> {
        let key = self.signer.as_ref()?;
        key.secret_for("vault-replicator export index v1")
    }

    /// Wraps `out`: what is written is hashed, then encrypted when there are recipients.
    pub fn writer<W: Write>(&self, out: W) -> Result<SealWriter<W>> {
        if self.recipients.is_empty() {
            return Ok(SealWriter::plain(out));
        }
        let encryptor = age::Encryptor::with_recipients(
            self.recipients.iter().map(|r| r as &dyn age::Recipient),
        )
        .map_err(|e| Error::io("start age encryption", std::io::Error::other(e.to_string())))?;
        let stream = encryptor
            .wrap_output(out)
            .map_err(|e| Error::io("start age encryption", e))?;
        Ok(SealWriter::age(stream))
    }

    /// Reads `data` to its end, and returns its `.minisig` text, or `None` when unsigned.
    pub fn sign(&self, mut data: impl Read, claims: &Claims) -> Result<Option<String>> {
        let ctx = |e| Error::io(format!("sign {}", claims.file), e);
        let Some(key) = &self.signer else {
            std::io::copy(&mut data, &mut std::io::sink()).map_err(ctx)?;
            return Ok(None);
        };
        sign::sign(key, data, claims).map(Some).map_err(ctx)
    }
}

/// A signature that verified: what it vouches for and the ID of the key that made it.
#[derive(Debug, Clone)]
pub struct Signed {
    pub claims: Claims,
    pub key_id: String,
}

/// A signature whose trusted comment checked out: what it vouches for is known, and the object's
/// bytes are checked against it as they go through `update`. Only `finish` says the object is
/// the one that was signed.
pub struct Verifying {
    pending: sign::Pending,
    key: String,
}

impl Verifying {
    /// What the signature vouches for, before the object itself is checked.
    pub fn claims(&self) -> &Claims {
        self.pending.claims()
    }

    /// The object's next bytes, as stored.
    pub fn update(&mut self, data: &[u8]) {
        self.pending.update(data);
    }

    /// Checks the signature over all the bytes given to `update`.
    pub fn finish(self) -> Result<Signed> {
        let (claims, key_id) = self
            .pending
            .finish()
            .map_err(|reason| Error::refused(&self.key, reason))?;
        Ok(Signed { claims, key_id })
    }
}

/// What the importer accepts: snapshots signed by a trusted key, decrypted with its identity.
#[derive(Debug)]
pub struct Opener {
    identities: Option<Identities>,
    verify_keys: Vec<VerifyKey>,
    allow_plaintext: bool,
    allow_unsigned: bool,
}

impl Opener {
    pub fn new(
        identities: Option<Identities>,
        verify_keys: Vec<VerifyKey>,
        allow_plaintext: bool,
        allow_unsigned: bool,
    ) -> Result<Self> {
        if identities.is_none() && !allow_plaintext {
            return Err(Error::config(
                "REPLICATOR_AGE_IDENTITY_FILE",
                "not set: snapshots are encrypted and this is the key that opens them (set \
                 REPLICATOR_ALLOW_PLAINTEXT=true to accept plaintext snapshots only)",
            ));
        }
        if verify_keys.is_empty() && !allow_unsigned {
            return Err(Error::config(
                "REPLICATOR_VERIFY_KEY",
                "not set: only snapshots signed by a trusted key are accepted (set \
                 REPLICATOR_ALLOW_UNSIGNED=true to accept unsigned ones)",
            ));
        }
        Ok(Opener {
            identities,
            verify_keys,
            allow_plaintext,
            allow_unsigned,
        })
    }

    /// Checks the object `key`'s signature before any of the object is read: by a trusted key,
    /// over a trusted comment made for this object. Returns what it vouches for, to be checked
    /// over the object's bytes as they stream by (`None` when unsigned and that is allowed).
    pub fn check(&self, key: &str, signature: Option<&[u8]>) -> Result<Option<Verifying>> {
        let refuse = |reason: String| Error::refused(key, reason);
        if !is_encrypted(key) && !self.allow_plaintext {
            return Err(refuse(
                "it is not encrypted (set REPLICATOR_ALLOW_PLAINTEXT=true to accept plaintext \
                 snapshots)"
                    .into(),
            ));
        }
        let Some(sig) = signature else {
            // Verify keys say that signatures are expected: a missing one is then an attack.
            if self.allow_unsigned && self.verify_keys.is_empty() {
                tracing::warn!(snapshot = %key, "snapshot is NOT signed; accepted because REPLICATOR_ALLOW_UNSIGNED=true");
                return Ok(None);
            }
            let why = match self.allow_unsigned {
                true => {
                    "REPLICATOR_ALLOW_UNSIGNED=true does not apply while REPLICATOR_VERIFY_KEY is \
                     set"
                }
                false => "only signed snapshots are accepted",
            };
            return Err(refuse(format!(
                "it is not signed (no {}); {why}",
                signature_key(key)
            )));
        };
        if self.verify_keys.is_empty() {
            tracing::warn!(snapshot = %key, "signature NOT checked: no REPLICATOR_VERIFY_KEY (REPLICATOR_ALLOW_UNSIGNED=true)");
            return Ok(None);
        }
        let text =
            std::str::from_utf8(sig).map_err(|_| refuse("its signature is not text".into()))?;
        let pending = sign::authenticate(&self.verify_keys, text).map_err(refuse)?;
        if pending.claims().file != key {
            return Err(refuse(format!(
                "its signature was made for {}, not for this object",
                pending.claims().file
            )));
        }
        Ok(Some(Verifying {
            pending,
            key: key.to_string(),
        }))
    }

    /// Opens the object read from `data`: decrypted when it is an age file. Errors are refusals.
    pub fn open(
        &self,
        key: &str,
        data: impl Read + Send + 'static,
    ) -> Result<Box<dyn Read + Send>> {
        let input = BufReader::with_capacity(1 << 16, data);
        if !is_encrypted(key) {
            return Ok(Box::new(input));
        }
        let Some(ids) = &self.identities else {
            return Err(Error::config(
                "REPLICATOR_AGE_IDENTITY_FILE",
                format!("not set, and snapshot {key} is encrypted"),
            ));
        };
        let refuse = |reason: String| Error::refused(key, reason);
        let decryptor = age::Decryptor::new_buffered(input)
            .map_err(|e| refuse(format!("it is not a readable age file: {e}")))?;
        let reader = decryptor
            .decrypt(ids.0.iter().map(|i| i.as_ref() as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::NoMatchingKeys => refuse(
                    "REPLICATOR_AGE_IDENTITY_FILE cannot decrypt it (it was encrypted to other \
                     recipients)"
                        .into(),
                ),
                other => refuse(format!("it cannot be decrypted: {other}")),
            })?;
        Ok(Box::new(reader))
    }
}

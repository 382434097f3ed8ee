//! The keys a snapshot is sealed with: age X25519 recipients (export) and identities (import),
//! minisign Ed25519 signing keys (export) and verify keys (import); and `keygen`, which makes a
//! fresh set. Nothing that holds a secret half shows it in `Debug`.

use std::fmt;
use std::io::{BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use age::x25519;
use base64::Engine as _;
use minisign::{KeyPair, PublicKey, PublicKeyBox, SecretKey, SecretKeyBox};

use crate::error::{Error, Result};

/// The minisign key ID as `minisign` prints it: 16 upper-case hex digits.
pub fn key_id(keynum: &[u8]) -> String {
    let mut le = [0u8; 8];
    le.copy_from_slice(&keynum[..8.min(keynum.len())]);
    format!("{:016X}", u64::from_le_bytes(le))
}

/// A minisign secret key, decrypted and ready to sign.
pub struct SigningKey {
    pub(super) secret: SecretKey,
    pub(super) id: String,
}

impl SigningKey {
    /// A 32-byte secret for `purpose` that only a holder of this key can make: HMAC-SHA256 keyed
    /// by the secret key's bytes.
    pub fn secret_for(&self, purpose: &str) -> Option<[u8; 32]> {
        use hmac::{Hmac, KeyInit, Mac};
        let mut bytes = self.secret.to_bytes();
        let mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&bytes).ok();
        zeroize::Zeroize::zeroize(&mut bytes);
        Some(
            mac?.chain_update(purpose.as_bytes())
                .finalize()
                .into_bytes()
                .into(),
        )
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(id {}, <redacted>)", self.id)
    }
}

/// A minisign public key an importer trusts.
#[derive(Clone)]
pub struct VerifyKey {
    pub(super) key: PublicKey,
    pub id: String,
}

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyKey({})", self.id)
    }
}

/// The age identities an importer decrypts with.
pub struct Identities(pub(super) Vec<Box<dyn age::Identity + Send + Sync>>);

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identities({} keys, <redacted>)", self.0.len())
    }
}

fn read(var: &'static str, path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::config(var, format!("{}: {e}", path.display())))
}

/// Recipients from a list (`age1...`, separated by commas or white space) and/or a recipients
/// file as `age -R` reads it (one per line, `#` comments).
pub fn recipients(list: Option<&str>, file: Option<&Path>) -> Result<Vec<x25519::Recipient>> {
    let mut out = Vec::new();
    let mut parse = |var: &'static str, text: &str| -> Result<()> {
        for word in text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .flat_map(|l| l.split(|c: char| c == ',' || c.is_whitespace()))
            .filter(|w| !w.is_empty())
        {
            let r = x25519::Recipient::from_str(word).map_err(|_| {
                Error::config(
                    var,
                    format!("`{word}` is not an age X25519 recipient (age1...)"),
                )
            })?;
            out.push(r);
        }
        Ok(())
    };
    if let Some(list) = list {
        parse("REPLICATOR_AGE_RECIPIENTS", list)?;
    }
    if let Some(path) = file {
        let text = read("REPLICATOR_AGE_RECIPIENTS_FILE", path)?;
        parse("REPLICATOR_AGE_RECIPIENTS_FILE", &text)?;
    }
    Ok(out)
}

/// The identities in an age identity file, as `age-keygen` writes it.
pub fn identities(path: &Path) -> Result<Identities> {
    const VAR: &str = "REPLICATOR_AGE_IDENTITY_FILE";
    let bad = |e: String| Error::config(VAR, format!("{}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let ids = age::IdentityFile::from_buffer(BufReader::new(file))
        .map_err(|e| bad(format!("not an age identity file ({e})")))?
        .into_identities()
        .map_err(|e| bad(format!("unusable identity ({e})")))?;
    if ids.is_empty() {
        return Err(bad("holds no identity".into()));
    }
    Ok(Identities(ids))
}

/// A 32-byte secret for `purpose` that only a holder of the identity file can make: HMAC-SHA256
/// keyed by the file's first identity. Identities added below it leave it as it is.
pub fn identity_secret(path: &Path, purpose: &str) -> Result<[u8; 32]> {
    use hmac::{Hmac, KeyInit, Mac};
    const VAR: &str = "REPLICATOR_AGE_IDENTITY_FILE";
    let bad = |e: &str| Error::config(VAR, format!("{}: {e}", path.display()));
    let text = read(VAR, path)?;
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| bad("holds no identity"))?;
    let identity = x25519::Identity::from_str(first)
        .map_err(|_| bad("its first identity is not an age X25519 identity"))?;
    let secret = identity.to_string();
    let mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.expose_secret().as_bytes())
        .map_err(|_| bad("unusable identity"))?;
    Ok(mac
        .chain_update(purpose.as_bytes())
        .finalize()
        .into_bytes()
        .into())
}

/// A minisign secret key file, unencrypted (`minisign -G -W`) or encrypted with `password`.
pub fn signing_key(path: &Path, password: Option<String>) -> Result<SigningKey> {
    const VAR: &str = "REPLICATOR_SIGNING_KEY_FILE";
    let bad = |e: String| Error::config(VAR, format!("{}: {e}", path.display()));
    let text = read(VAR, path)?;
    let encoded = text.lines().nth(1).map(str::trim).unwrap_or("");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| bad("not a minisign secret key".into()))?;
    // Bytes 2..4 name the key derivation: zero for a key stored unencrypted.
    let secret = if raw.get(2..4) == Some(&[0, 0]) {
        // `minisign -G -W` leaves the checksum empty, so the key is checked by using it instead.
        let sk = SecretKey::from_bytes(&raw)
            .map_err(|e| bad(format!("not a minisign secret key ({e})")))?;
        self_test(&sk).map_err(|e| bad(format!("the key is damaged ({e})")))?;
        sk
    } else {
        let Some(password) = password else {
            return Err(bad(
                "the key is encrypted; set REPLICATOR_SIGNING_KEY_PASSWORD".into(),
            ));
        };
        SecretKeyBox::from_string(&text)
            .and_then(|b| b.into_secret_key(Some(password)))
            .map_err(|e| bad(format!("cannot decrypt the key: {e}")))?
    };
    let public = PublicKey::from_secret_key(&secret).map_err(|e| bad(e.to_string()))?;
    Ok(SigningKey {
        id: key_id(public.keynum()),
        secret,
    })
}

/// Signs and verifies a few bytes: the secret and public halves must belong together.
fn self_test(sk: &SecretKey) -> std::result::Result<(), minisign::PError> {
    let pk = PublicKey::from_secret_key(sk)?;
    let sig = minisign::sign(Some(&pk), sk, &b"self-test"[..], None, None)?;
    minisign::verify(
        &pk,
        &sig,
        std::io::Cursor::new(b"self-test"),
        true,
        false,
        false,
    )
}

/// Verify keys: each item (comma-separated) is a base64 minisign public key (`RW...`) or the path
/// of a minisign `.pub` file.
pub fn verify_keys(value: &str) -> Result<Vec<VerifyKey>> {
    const VAR: &str = "REPLICATOR_VERIFY_KEY";
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        // A minisign public key is 56 base64 characters starting with `RW`; anything else is a path.
        let key = if item.starts_with("RW") && item.len() == 56 && !Path::new(item).exists() {
            PublicKey::from_base64(item).map_err(|e| {
                Error::config(VAR, format!("`{item}` is not a minisign public key: {e}"))
            })?
        } else {
            let text = read(VAR, Path::new(item))?;
            PublicKey::from_box(
                PublicKeyBox::from_string(&text)
                    .map_err(|e| Error::config(VAR, format!("{item}: {e}")))?,
            )
            .map_err(|e| Error::config(VAR, format!("{item}: not a minisign public key: {e}")))?
        };
        out.push(VerifyKey {
            id: key_id(key.keynum()),
            key,
        });
    }
    Ok(out)
}

/// What `keygen` wrote and the public halves to hand out.
pub struct Generated {
    pub recipient: String,
    pub verify_key: String,
    pub verify_key_id: String,
    pub files: Vec<PathBuf>,
}

pub const IDENTITY_FILE: &str = "age.key";
pub const RECIPIENT_FILE: &str = "age.pub";
pub const SIGNING_FILE: &str = "signing.key";
pub const VERIFY_FILE: &str = "signing.pub";

/// Writes a new age identity and an unencrypted minisign key pair into `dir`, every file with
/// mode 0600. Refuses to overwrite unless `force`.
pub fn keygen(dir: &Path, force: bool) -> Result<Generated> {
    const VAR: &str = "keygen --dir";
    let names = [IDENTITY_FILE, RECIPIENT_FILE, SIGNING_FILE, VERIFY_FILE];
    if let Some(p) = names
        .iter()
        .map(|n| dir.join(n))
        .find(|p| !force && p.exists())
    {
        return Err(Error::config(
            VAR,
            format!(
                "{} exists; refusing to overwrite a key (use --force)",
                p.display()
            ),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;

    let identity = x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let created = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let age_key = format!(
        "# created: {created}\n# public key: {recipient}\n{}\n",
        identity.to_string().expose_secret()
    );

    let pair = KeyPair::generate_unencrypted_keypair()
        .map_err(|e| Error::io("generate signing key", std::io::Error::other(e.to_string())))?;
    let verify_key_id = key_id(pair.pk.keynum());
    let boxed = |r: std::result::Result<String, minisign::PError>| {
        r.map_err(|e| Error::io("encode signing key", std::io::Error::other(e.to_string())))
    };
    let secret_box = boxed(
        pair.sk
            .to_box(Some("vault-replicator signing secret key (unencrypted)"))
            .map(|b| b.into_string()),
    )?;
    let public_box = boxed(pair.pk.to_box().map(|b| b.into_string()))?;

    let contents = [
        (IDENTITY_FILE, age_key),
        (RECIPIENT_FILE, format!("{recipient}\n")),
        (SIGNING_FILE, secret_box),
        (VERIFY_FILE, public_box),
    ];
    let mut files = Vec::new();
    for (name, text) in contents {
        let path = dir.join(name);
        write_private(&path, text.as_bytes(), force)?;
        files.push(path);
    }
    Ok(Generated {
        recipient,
        verify_key: pair.pk.to_base64(),
        verify_key_id,
        files,
    })
}

fn write_private(path: &Path, data: &[u8], overwrite: bool) -> Result<()> {
    let ctx = || format!("write {}", path.display());
    if overwrite {
        let _ = std::fs::remove_file(path);
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(ctx(), e))?;
    f.write_all(data).map_err(|e| Error::io(ctx(), e))?;
    f.sync_all().map_err(|e| Error::io(ctx(), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keygen_writes_private_files_that_load_back() {
        let dir = tempfile::tempdir().unwrap();
        let g = keygen(dir.path(), false).unwrap();
        for f in &g.files {
            let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
        let sk = signing_key(&dir.path().join(SIGNING_FILE), None).unwrap();
        assert_eq!(sk.id, g.verify_key_id);
        assert!(!format!("{sk:?}").contains(&secret_text(dir.path())));
        let vk = verify_keys(&g.verify_key).unwrap();
        assert_eq!(vk[0].id, g.verify_key_id);
        let from_file = verify_keys(dir.path().join(VERIFY_FILE).to_str().unwrap()).unwrap();
        assert_eq!(from_file[0].id, g.verify_key_id);
        let ids = identities(&dir.path().join(IDENTITY_FILE)).unwrap();
        assert_eq!(ids.0.len(), 1);
        let r = recipients(None, Some(&dir.path().join(RECIPIENT_FILE))).unwrap();
        assert_eq!(r[0].to_string(), g.recipient);
        let err = keygen(dir.path(), false).err();
        assert!(
            matches!(&err, Some(Error::Config { var: "keygen --dir", message }) if message.ends_with("exists; refusing to overwrite a key (use --force)")),
            "must not overwrite: {err:?}"
        );
    }

    fn secret_text(dir: &Path) -> String {
        std::fs::read_to_string(dir.join(SIGNING_FILE))
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .to_string()
    }

    #[test]
    fn encrypted_signing_key_needs_its_password() {
        let dir = tempfile::tempdir().unwrap();
        let pair = KeyPair::generate_encrypted_keypair(Some("pw".into())).unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, pair.sk.to_box(None).unwrap().into_string()).unwrap();
        let err = signing_key(&path, None).unwrap_err().to_string();
        assert!(err.contains("REPLICATOR_SIGNING_KEY_PASSWORD"), "{err}");
        let err = signing_key(&path, Some("wrong".into())).unwrap_err();
        assert!(
            matches!(&err, Error::Config { var: "REPLICATOR_SIGNING_KEY_FILE", message } if message.contains("cannot decrypt the key")),
            "{err:?}"
        );
        assert!(signing_key(&path, Some("pw".into())).is_ok());
        std::fs::write(&path, "untrusted comment: x\nnot base64 at all\n").unwrap();
        let err = signing_key(&path, None).unwrap_err();
        assert!(
            matches!(&err, Error::Config { var: "REPLICATOR_SIGNING_KEY_FILE", message } if message.ends_with(": not a minisign secret key")),
            "{err:?}"
        );
    }

    #[test]
    fn bad_recipients_and_keys_name_the_variable() {
        let e = recipients(Some("age1nope"), None).unwrap_err().to_string();
        assert!(e.starts_with("REPLICATOR_AGE_RECIPIENTS:"), "{e}");
        let e = verify_keys("RWnotakey").unwrap_err().to_string();
        assert!(e.starts_with("REPLICATOR_VERIFY_KEY:"), "{e}");
    }
}

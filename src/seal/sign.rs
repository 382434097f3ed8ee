//! minisign signatures over a snapshot object. The signed trusted comment binds the object's name
//! and the sha256 of the archive inside it and of its manifest, so a signature cannot be moved to
//! another object and a decrypted archive must be exactly the one that was signed. A signature is
//! checked in two steps, both by the `minisign` crate: its trusted comment before the object is
//! read, then the object as its bytes stream by.

use std::io::{Cursor, Read};

use base64::Engine as _;
use blake2::{Blake2b512, Digest as _};
use minisign::{PublicKey, SignatureBones, SignatureBox};

use super::claims::Claims;
use super::keys::{SigningKey, VerifyKey, key_id};

/// Signs the object read from `data`; returns the `.minisig` text.
pub fn sign(key: &SigningKey, data: impl Read, claims: &Claims) -> std::io::Result<String> {
    let untrusted = format!("signature from vault-replicator secret key {}", key.id);
    minisign::sign(
        None,
        &key.secret,
        std::io::BufReader::with_capacity(1 << 16, data),
        Some(&claims.to_comment()),
        Some(&untrusted),
    )
    .map(|b| b.into_string())
    .map_err(|e| std::io::Error::other(e.to_string()))
}

/// minisign's algorithm tag for an Ed25519 signature over the message itself. A prehashed ("ED")
/// signature is one over the BLAKE2b-512 of the object: with that digest as the message, the same
/// signature checks under this tag.
const OVER_MESSAGE: &[u8; 2] = b"Ed";
/// The bytes of a signature line: algorithm (2), key number (8), Ed25519 signature (64).
const SIGNATURE_LINE: usize = 74;

/// A signature whose trusted comment has been checked: what it vouches for is known before the
/// object is read. The object's bytes go through `update`; `finish` checks the signature over
/// them.
pub struct Pending {
    key: PublicKey,
    body: SignatureBox,
    prehash: Blake2b512,
    claims: Claims,
    id: String,
}

/// Checks `sig_text` against the trusted keys and its trusted comment against its global
/// signature, and returns what it vouches for, pending the object itself. The error is the reason
/// to refuse the snapshot.
pub fn authenticate(keys: &[VerifyKey], sig_text: &str) -> Result<Pending, String> {
    let sig = SignatureBox::from_string(sig_text)
        .map_err(|e| format!("its signature is malformed: {e}"))?;
    let id = key_id(sig.keynum());
    let key = keys
        .iter()
        .find(|k| k.key.keynum() == sig.keynum())
        .ok_or_else(|| {
            let trusted: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
            format!(
                "it is signed by key {id}, which is not a trusted key (REPLICATOR_VERIFY_KEY: {})",
                trusted.join(", ")
            )
        })?;
    let refuse = |why: &str| {
        format!(
            "its signature by key {id} does not verify ({why}): the object was altered or truncated"
        )
    };
    if !sig.is_prehashed() {
        return Err(refuse("Legacy signatures are not accepted"));
    }
    let (line, global) = raw_lines(sig_text).ok_or_else(|| refuse("malformed signature lines"))?;
    let comment = sig
        .trusted_comment()
        .map_err(|e| format!("its signature has no trusted comment: {e}"))?;
    // The global signature is minisign's over the signature and the trusted comment.
    let mut signed = line[10..].to_vec();
    signed.extend_from_slice(comment.as_bytes());
    check(&key.key, &line[2..10], &global, &signed)
        .map_err(|_| refuse("Comment signature verification failed"))?;
    let claims = Claims::parse(&comment).ok_or_else(|| {
        format!("its signature by key {id} is valid but was not made by vault-replicator export")
    })?;
    let body = bones(&line[2..10], &line[10..]).map_err(|e| refuse(&e.to_string()))?;
    Ok(Pending {
        key: key.key.clone(),
        body,
        prehash: Blake2b512::new(),
        claims,
        id,
    })
}

impl Pending {
    /// What the signature vouches for; the object itself is not checked yet.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The next bytes of the object.
    pub fn update(&mut self, data: &[u8]) {
        self.prehash.update(data);
    }

    /// Checks the signature over every byte passed to `update`; returns the claims and the ID of
    /// the key that made it.
    pub fn finish(self) -> Result<(Claims, String), String> {
        let digest = self.prehash.finalize();
        minisign::verify(
            &self.key,
            &self.body,
            Cursor::new(&digest[..]),
            true,
            false,
            true,
        )
        .map_err(|e| {
            format!(
                "its signature by key {} does not verify ({e}): the object was altered or \
                     truncated",
                self.id
            )
        })?;
        Ok((self.claims, self.id))
    }
}

/// The signature line (decoded, `SIGNATURE_LINE` bytes) and global signature of a `.minisig`.
fn raw_lines(sig_text: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let lines: Vec<&str> = sig_text.lines().collect();
    let decode = |i: usize| {
        base64::engine::general_purpose::STANDARD
            .decode(lines.get(i)?.trim())
            .ok()
    };
    let (line, global) = (decode(1)?, decode(3)?);
    (line.len() == SIGNATURE_LINE && global.len() == 64).then_some((line, global))
}

/// A signature over `message` itself (no trusted comment), to be checked by `minisign::verify`.
fn bones(keynum: &[u8], sig: &[u8]) -> minisign::Result<SignatureBox> {
    let raw = [&OVER_MESSAGE[..], keynum, sig].concat();
    SignatureBones::from_bytes(&raw).map(SignatureBox::from)
}

/// Checks the Ed25519 signature `sig` by `key` over `message`, with `minisign::verify`.
fn check(key: &PublicKey, keynum: &[u8], sig: &[u8], message: &[u8]) -> minisign::Result<()> {
    minisign::verify(
        key,
        &bones(keynum, sig)?,
        Cursor::new(message),
        true,
        false,
        true,
    )
}

/// Checks `sig_text` over the object read from `data` against the trusted keys, and returns the
/// claims it carries and the ID of the key that made it. The error is the reason to refuse.
#[cfg(test)]
pub fn verify(
    keys: &[VerifyKey],
    mut data: impl Read,
    sig_text: &str,
) -> Result<(Claims, String), String> {
    let mut pending = authenticate(keys, sig_text)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match data.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => pending.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("its signature cannot be checked: {e}")),
        }
    }
    pending.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::claims::tests::claims;
    use crate::seal::keys;

    fn setup() -> (tempfile::TempDir, SigningKey, Vec<VerifyKey>) {
        let dir = tempfile::tempdir().unwrap();
        let g = keys::keygen(dir.path(), false).unwrap();
        let sk = keys::signing_key(&dir.path().join(keys::SIGNING_FILE), None).unwrap();
        (dir, sk, keys::verify_keys(&g.verify_key).unwrap())
    }

    /// A fresh key pair and its signature of `b"snapshot bytes"` (the directory the keys were
    /// made in lives as long as they are used).
    fn signed() -> (tempfile::TempDir, SigningKey, Vec<VerifyKey>, String) {
        let (dir, sk, vk) = setup();
        let sig = sign(&sk, &b"snapshot bytes"[..], &claims()).unwrap();
        (dir, sk, vk, sig)
    }

    #[test]
    fn a_signature_round_trips_and_binds_the_bytes() {
        let (_dir, sk, vk, sig) = signed();
        assert_eq!(
            verify(&vk, &b"snapshot bytes"[..], &sig).unwrap(),
            (claims(), sk.id.clone())
        );
        let err = verify(&vk, &b"snapshot bytez"[..], &sig).unwrap_err();
        assert!(err.contains("does not verify"), "{err}");
    }

    #[test]
    fn a_foreign_key_is_refused_by_id() {
        let (dir, sk, _) = setup();
        let (_other_dir, _, other_vk) = setup();
        let _keep = dir;
        let sig = sign(&sk, &b"x"[..], &claims()).unwrap();
        let err = verify(&other_vk, &b"x"[..], &sig).unwrap_err();
        assert!(
            err.contains(&sk.id) && err.contains("not a trusted key"),
            "{err}"
        );
    }

    #[test]
    fn the_trusted_comment_is_checked_before_the_object_and_binds_it() {
        let (_dir, sk, vk, sig) = signed();
        // What it vouches for is known, and authentic, before a byte of the object is read.
        let pending = authenticate(&vk, &sig).unwrap();
        assert_eq!(pending.claims(), &claims());
        // Another comment under the same signature is refused, before the object is read too.
        let forged = sig.replace(&"b".repeat(64), &"c".repeat(64));
        assert_ne!(forged, sig);
        let err = authenticate(&vk, &forged).err().unwrap();
        assert!(err.contains("does not verify"), "{err}");
        // The object is checked as it streams by, in whatever pieces it comes.
        let mut pending = authenticate(&vk, &sig).unwrap();
        for piece in [&b"snap"[..], b"shot ", b"bytes"] {
            pending.update(piece);
        }
        assert_eq!(pending.finish().unwrap(), (claims(), sk.id.clone()));
        let mut pending = authenticate(&vk, &sig).unwrap();
        pending.update(b"snapshot byte");
        let err = pending.finish().unwrap_err();
        assert!(
            err.contains("does not verify") && err.contains("truncated"),
            "{err}"
        );
    }

    #[test]
    fn what_is_checked_here_is_what_the_minisign_crate_checks_whole() {
        let (_dir, _, vk, sig) = signed();
        let parsed = SignatureBox::from_string(&sig).unwrap();
        let whole = |data: &'static [u8]| {
            minisign::verify(&vk[0].key, &parsed, Cursor::new(data), true, false, false).is_ok()
        };
        for data in [&b"snapshot bytes"[..], b"snapshot bytez", b""] {
            assert_eq!(verify(&vk, data, &sig).is_ok(), whole(data), "{data:?}");
        }
    }
}

//! minisign signatures over a snapshot object. The signed trusted comment binds the object's name
//! and the sha256 of the archive inside it and of its manifest, so a signature cannot be moved to
//! another object and a decrypted archive must be exactly the one that was signed.

use std::io::Read;

use minisign::SignatureBox;

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

/// Checks `sig_text` over the object read from `data` against the trusted keys, and returns the claims
/// it carries and the ID of the key that made it. The error is the reason to refuse the snapshot.
pub fn verify(
    keys: &[VerifyKey],
    data: impl Read,
    sig_text: &str,
) -> Result<(Claims, String), String> {
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
    minisign::verify(
        &key.key,
        &sig,
        Streamed(std::io::BufReader::with_capacity(1 << 16, data)),
        true,
        false,
        false,
    )
    .map_err(|e| {
        format!(
            "its signature by key {id} does not verify ({e}): the object was altered or truncated"
        )
    })?;
    let comment = sig
        .trusted_comment()
        .map_err(|e| format!("its signature has no trusted comment: {e}"))?;
    let claims = Claims::parse(&comment).ok_or_else(|| {
        format!("its signature by key {id} is valid but was not made by vault-replicator export")
    })?;
    Ok((claims, id))
}

/// A reader for `minisign::verify`, which asks for `Seek` but only seeks to echo the data
/// (`output`, never set here): the object is verified as it streams by.
struct Streamed<R>(R);

impl<R: Read> Read for Streamed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R> std::io::Seek for Streamed<R> {
    fn seek(&mut self, _: std::io::SeekFrom) -> std::io::Result<u64> {
        Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::keys;

    fn setup() -> (tempfile::TempDir, SigningKey, Vec<VerifyKey>) {
        let dir = tempfile::tempdir().unwrap();
        let g = keys::keygen(dir.path(), false).unwrap();
        let sk = keys::signing_key(&dir.path().join(keys::SIGNING_FILE), None).unwrap();
        (dir, sk, keys::verify_keys(&g.verify_key).unwrap())
    }

    fn claims() -> Claims {
        Claims {
            file: "20261120T214500Z.tar.gz.age".into(),
            archive_sha256: "a".repeat(64),
            manifest_sha256: "b".repeat(64),
            timestamp: 1,
            origin: None,
        }
    }

    #[test]
    fn a_signature_round_trips_and_binds_the_bytes() {
        let (dir, sk, vk) = setup();
        let _keep = dir;
        let sig = sign(&sk, &b"snapshot bytes"[..], &claims()).unwrap();
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
}

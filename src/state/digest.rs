//! The digests the importer's records hold of the snapshot entries they applied: keyed
//! (HMAC-SHA256 under a key only the importer's age identity derives), so that a reader of the
//! state mount, who can also read the rest of the configuration, cannot test guesses of a value
//! (a database password, say) against a record offline.

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::snapshot::entries::sha_key;

/// How records digest an entry. `Keyed`: HMAC-SHA256 over the first 16 bytes of the entry's
/// sha256 (what memory keeps of entries and records, so that the digest of a manifest's entry can
/// be made without its full sha256). `Plain`: the entry's sha256 itself, as every record of the
/// releases before keyed digests holds, and as an importer without an age identity (one that
/// takes plaintext snapshots) still writes.
#[derive(Clone)]
pub enum RecordKey {
    Plain,
    Keyed(Arc<Keyed>),
}

pub struct Keyed {
    mac: Hmac<Sha256>,
    id: KeyId,
}

/// What a record says of the key its digest was made with (4 bytes of a digest under it): it
/// tells records made with another key from entries that changed.
pub type KeyId = [u8; 4];

/// What a record holds of an entry: 32 bytes, keyed or plain as its `KeyId` says.
pub type Digest = [u8; 32];

impl fmt::Debug for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordKey::Plain => write!(f, "RecordKey(plain)"),
            RecordKey::Keyed(k) => write!(f, "RecordKey({}, <redacted>)", hex::encode(k.id)),
        }
    }
}

impl PartialEq for RecordKey {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl RecordKey {
    /// The key derived from `secret` (32 bytes the importer's age identity derives for records).
    pub fn keyed(secret: &[u8; 32]) -> RecordKey {
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        let tag = mac
            .clone()
            .chain_update(b"vault-replicator record key id")
            .finalize();
        let mut id = [0u8; 4];
        id.copy_from_slice(&tag.into_bytes()[..4]);
        RecordKey::Keyed(Arc::new(Keyed { mac, id }))
    }

    /// The key's ID, `None` for plain digests.
    pub fn id(&self) -> Option<KeyId> {
        match self {
            RecordKey::Plain => None,
            RecordKey::Keyed(k) => Some(k.id),
        }
    }

    /// What a record made now holds of the entry with this sha256.
    pub fn digest(&self, sha256: &[u8; 32]) -> Digest {
        match self {
            RecordKey::Plain => *sha256,
            RecordKey::Keyed(k) => k.mac(&sha_key(sha256)),
        }
    }

    /// What memory keeps of that digest (its first 16 bytes), from what memory keeps of an entry
    /// (the first 16 bytes of its sha256).
    pub fn short(&self, sha: &[u8; 16]) -> [u8; 16] {
        match self {
            RecordKey::Plain => *sha,
            RecordKey::Keyed(k) => sha_key(&k.mac(sha)),
        }
    }

    /// A record's digest under this key, from one made with `made_with`: a plain one is keyed
    /// now; one under another key cannot be (`None`).
    pub fn rekey(&self, digest: &Digest, made_with: Option<KeyId>) -> Option<Digest> {
        match (made_with, self.id()) {
            (made, now) if made == now => Some(*digest),
            (None, Some(_)) => Some(self.digest(digest)),
            _ => None,
        }
    }
}

impl Keyed {
    fn mac(&self, sha: &[u8; 16]) -> Digest {
        self.mac
            .clone()
            .chain_update(sha)
            .finalize()
            .into_bytes()
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_digests_depend_on_the_key_and_agree_with_what_memory_keeps() {
        let sha = [7u8; 32];
        let (a, b) = (RecordKey::keyed(&[1; 32]), RecordKey::keyed(&[2; 32]));
        assert_ne!(a.digest(&sha), sha);
        assert_ne!(a.digest(&sha), b.digest(&sha));
        assert_ne!(a.id(), b.id());
        assert_eq!(a, RecordKey::keyed(&[1; 32]));
        assert_eq!(a.digest(&sha), RecordKey::keyed(&[1; 32]).digest(&sha));
        for key in [&a, &RecordKey::Plain] {
            assert_eq!(sha_key(&key.digest(&sha)), key.short(&sha_key(&sha)));
        }
        assert_eq!(RecordKey::Plain.digest(&sha), sha);
        assert!(!format!("{a:?}").contains(&hex::encode(a.digest(&sha))));
    }

    #[test]
    fn plain_digests_are_keyed_on_load_and_foreign_ones_are_not() {
        let sha = [7u8; 32];
        let (a, b) = (RecordKey::keyed(&[1; 32]), RecordKey::keyed(&[2; 32]));
        assert_eq!(a.rekey(&sha, None), Some(a.digest(&sha)));
        let under_a = a.digest(&sha);
        assert_eq!(a.rekey(&under_a, a.id()), Some(under_a));
        assert_eq!(b.rekey(&under_a, a.id()), None);
        assert_eq!(RecordKey::Plain.rekey(&under_a, a.id()), None);
        assert_eq!(RecordKey::Plain.rekey(&sha, None), Some(sha));
    }
}

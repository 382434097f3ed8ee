//! The digest of a whole snapshot set (format 2): what every entry is, summed so that a delta
//! moves it in O(changes). Each entry contributes SHA-256 of its name and the first 16 bytes of
//! its sha256; the set's digest is their sum, lane by lane (four little-endian 64-bit lanes,
//! wrapping). A delta's importer takes its base's digest, takes out what the delta's changed and
//! removed entries were, adds what they are now, and must land on the digest the delta carries.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// A set's digest; `SetDigest::default()` is the empty set's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SetDigest([u64; 4]);

/// What one entry adds to its set's digest.
fn term(name: &str, sha16: &[u8; 16]) -> [u64; 4] {
    let mut h = Sha256::new();
    h.update(b"vault-replicator set v1\0");
    h.update(name.as_bytes());
    h.update([0u8]);
    h.update(sha16);
    let d: [u8; 32] = h.finalize().into();
    std::array::from_fn(|i| {
        let mut lane = [0u8; 8];
        lane.copy_from_slice(&d[i * 8..i * 8 + 8]);
        u64::from_le_bytes(lane)
    })
}

impl SetDigest {
    /// Adds the entry `name` whose sha256 starts with `sha16`.
    pub fn add(&mut self, name: &str, sha16: &[u8; 16]) {
        let t = term(name, sha16);
        for (lane, t) in self.0.iter_mut().zip(t) {
            *lane = lane.wrapping_add(t);
        }
    }

    /// Takes out the entry `name` whose sha256 started with `sha16`.
    pub fn remove(&mut self, name: &str, sha16: &[u8; 16]) {
        let t = term(name, sha16);
        for (lane, t) in self.0.iter_mut().zip(t) {
            *lane = lane.wrapping_sub(t);
        }
    }

    /// Adds another set's digest (disjoint entries).
    pub fn merge(&mut self, other: &SetDigest) {
        for (lane, o) in self.0.iter_mut().zip(other.0) {
            *lane = lane.wrapping_add(o);
        }
    }

    pub fn to_hex(self) -> String {
        self.0
            .iter()
            .map(|l| hex::encode(l.to_le_bytes()))
            .collect()
    }

    pub fn from_hex(s: &str) -> Option<SetDigest> {
        let bytes = hex::decode(s).ok().filter(|b| b.len() == 32)?;
        Some(SetDigest(std::array::from_fn(|i| {
            let mut lane = [0u8; 8];
            lane.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            u64::from_le_bytes(lane)
        })))
    }
}

impl std::fmt::Display for SetDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for SetDigest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for SetDigest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SetDigest::from_hex(&s).ok_or_else(|| serde::de::Error::custom("not a set digest"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_digest_does_not_depend_on_order_and_moves_with_changes() {
        let (a, b, c) = ([1u8; 16], [2u8; 16], [3u8; 16]);
        let mut one = SetDigest::default();
        one.add("x", &a);
        one.add("y", &b);
        let mut two = SetDigest::default();
        two.add("y", &b);
        two.add("x", &a);
        assert_eq!(one, two);
        // y changes from b to c: the delta's arithmetic lands on a fresh count.
        one.remove("y", &b);
        one.add("y", &c);
        let mut fresh = SetDigest::default();
        fresh.add("x", &a);
        fresh.add("y", &c);
        assert_eq!(one, fresh);
        assert_ne!(one, two);
        // The same digest under another name is another entry.
        let mut renamed = SetDigest::default();
        renamed.add("z", &a);
        renamed.add("y", &c);
        assert_ne!(renamed, fresh);
        assert_eq!(SetDigest::from_hex(&fresh.to_hex()), Some(fresh));
        assert_eq!(SetDigest::from_hex("00"), None);
    }
}

//! The manifest's list of entries as a reader keeps it: per entry, a 64-bit hash of its name and
//! the first 16 bytes of its sha256 (24 bytes an entry, whatever the names), parsed as the list
//! streams by so that the list itself is never held.

use std::hash::{DefaultHasher, Hash, Hasher};

use serde::Deserialize;
use serde::de::{Deserializer, SeqAccess, Visitor};

use super::manifest::EntryDigest;
use super::set::SetDigest;

/// A hash of an entry's name, for finding and matching entries in memory. Not stored anywhere.
pub fn name_key(name: &str) -> u64 {
    let mut h = DefaultHasher::new();
    name.hash(&mut h);
    h.finish()
}

/// The first 16 bytes of a sha256: 128 bits, so no entry can be made to match another's.
pub fn sha_key(sha: &[u8; 32]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&sha[..16]);
    out
}

/// One entry as the manifest lists it, in 24 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub name: u64,
    pub sha: [u8; 16],
}

impl Key {
    pub fn of(name: &str, sha: &[u8; 32]) -> Key {
        Key {
            name: name_key(name),
            sha: sha_key(sha),
        }
    }
}

/// The entries of a manifest, in its order, and the digest of them as a set (`SetDigest`),
/// taken as they streamed by.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entries(Vec<Key>, SetDigest);

impl Entries {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The digest of the entries as a set (`set`).
    pub fn set(&self) -> SetDigest {
        self.1
    }

    pub fn get(&self, i: usize) -> Option<&Key> {
        self.0.get(i)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Key> {
        self.0.iter()
    }

    /// Where the manifest lists `name` (its first place), if it does.
    pub fn position(&self, name: &str) -> Option<usize> {
        let k = name_key(name);
        self.0.iter().position(|e| e.name == k)
    }

    /// The name hashes the manifest lists more than once (sorted; empty in a sound manifest).
    pub fn listed_twice(&self) -> Vec<u64> {
        let names = self.sorted_names();
        let mut twice: Vec<u64> = names
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| w[0])
            .collect();
        twice.dedup();
        twice
    }

    /// Every name hash, sorted, to look names up by.
    pub fn sorted_names(&self) -> Vec<u64> {
        let mut names: Vec<u64> = self.0.iter().map(|k| k.name).collect();
        names.sort_unstable();
        names
    }
}

impl<'a> FromIterator<&'a EntryDigest> for Entries {
    fn from_iter<I: IntoIterator<Item = &'a EntryDigest>>(iter: I) -> Self {
        let mut set = SetDigest::default();
        let keys = iter
            .into_iter()
            .map(|e| {
                set.add(&e.name, &sha_key(&e.sha256));
                Key::of(&e.name, &e.sha256)
            })
            .collect();
        Entries(keys, set)
    }
}

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Each;
        impl<'de> Visitor<'de> for Each {
            type Value = Entries;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of entries")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entries, A::Error> {
                let mut keys = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                let mut set = SetDigest::default();
                while let Some(e) = seq.next_element::<EntryDigest>()? {
                    set.add(&e.name, &sha_key(&e.sha256));
                    keys.push(Key::of(&e.name, &e.sha256));
                }
                keys.shrink_to_fit();
                Ok(Entries(keys, set))
            }
        }
        d.deserialize_seq(Each)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_stream_into_keys_and_find_their_names() {
        let json = format!(
            r#"[{{"name":"a","size":1,"sha256":"{}"}},{{"name":"b","size":2,"sha256":"{}"}},{{"name":"a","size":1,"sha256":"{}"}}]"#,
            "01".repeat(32),
            "02".repeat(32),
            "01".repeat(32)
        );
        let e: Entries = serde_json::from_str(&json).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e.get(1), Some(&Key::of("b", &[2; 32])));
        assert_eq!(e.position("b"), Some(1));
        assert_eq!(e.position("c"), None);
        assert_eq!(e.listed_twice(), vec![name_key("a")]);
        assert_ne!(Key::of("a", &[1; 32]), Key::of("a", &[2; 32]));
        assert!(serde_json::from_str::<Entries>(r#"[{"name":"a"}]"#).is_err());
    }
}

//! One record in full, as the state mount saves it: the digest of the entry applied (keyed, and
//! the key's ID; see `digest`), the kind, and the path, namespace and API path that delete the
//! object, in one allocation.

use serde::{Deserialize, Serialize};

use super::digest::{Digest, KeyId};
use crate::objects::Kind;

/// What the importer knows about one object it brought to this cluster. In memory the three
/// strings share one allocation (a target holds one record per object it was given); in the shard
/// they are the fields of `RecordJson`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The digest of the snapshot entry that was applied (`RecordKey::digest`).
    pub sha: Digest,
    /// The key it was made with; `None`: the entry's plain sha256 (see `RecordKey`).
    pub key: Option<KeyId>,
    pub kind: Kind,
    /// The last import left the object as it found it (skipped, failed, or not reached), so the
    /// target may differ from `sha`: the next import compares it in full.
    pub unsettled: bool,
    /// The importer created the object (rather than finding it there already, equal or not).
    /// Only such mounts and namespaces may ever be pruned; records from before this flag existed
    /// say `false`.
    pub created: bool,
    has_delete: bool,
    /// Where `path` ends and `ns` ends in `text`; `delete` is the rest.
    ends: [u32; 2],
    text: Box<str>,
}

impl Record {
    /// `path` as plans show it; `ns` and `delete` are the namespace and API path that delete the
    /// object, `None` for kinds that are never pruned.
    pub fn new(sha: Digest, kind: Kind, path: &str, ns: &str, delete: Option<&str>) -> Self {
        let text = [path, ns, delete.unwrap_or_default()].concat();
        // Paths are far below 4 GiB; saturating keeps the accessors in bounds regardless.
        let end = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Record {
            sha,
            key: None,
            kind,
            unsettled: false,
            created: false,
            has_delete: delete.is_some(),
            ends: [end(path.len()), end(path.len() + ns.len())],
            text: text.into_boxed_str(),
        }
    }

    /// The record with its digest made with `key` (`None`: plain).
    pub fn made_with(mut self, key: Option<KeyId>) -> Self {
        self.key = key;
        self
    }

    fn part(&self, from: usize, to: usize) -> &str {
        self.text
            .get(from..to.min(self.text.len()))
            .unwrap_or_default()
    }

    pub fn path(&self) -> &str {
        self.part(0, self.ends[0] as usize)
    }

    pub fn ns(&self) -> &str {
        self.part(self.ends[0] as usize, self.ends[1] as usize)
    }

    pub fn delete(&self) -> Option<&str> {
        self.has_delete
            .then(|| self.part(self.ends[1] as usize, self.text.len()))
    }
}

/// A record as a shard stores it.
#[derive(Serialize, Deserialize)]
struct RecordJson<'a> {
    /// 64 hex digits.
    #[serde(with = "hex::serde")]
    sha: Digest,
    /// 8 hex digits: the key `sha` was made with; absent: a plain sha256.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "key_hex")]
    key: Option<KeyId>,
    kind: Kind,
    #[serde(borrow)]
    path: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    ns: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    delete: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    unsettled: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    created: bool,
}

impl Serialize for Record {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RecordJson {
            sha: self.sha,
            key: self.key,
            kind: self.kind,
            path: self.path().into(),
            ns: self.ns().into(),
            delete: self.delete().map(Into::into),
            unsettled: self.unsettled,
            created: self.created,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let j = RecordJson::deserialize(d)?;
        let mut r =
            Record::new(j.sha, j.kind, &j.path, &j.ns, j.delete.as_deref()).made_with(j.key);
        r.unsettled = j.unsettled;
        r.created = j.created;
        Ok(r)
    }
}

/// A key ID as 8 hex digits.
mod key_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::KeyId;

    pub fn serialize<S: Serializer>(key: &Option<KeyId>, s: S) -> Result<S::Ok, S::Error> {
        match key {
            Some(k) => s.serialize_str(&hex::encode(k)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<KeyId>, D::Error> {
        let Some(text) = Option::<std::borrow::Cow<'de, str>>::deserialize(d)? else {
            return Ok(None);
        };
        let mut key = [0u8; 4];
        hex::decode_to_slice(text.as_bytes(), &mut key).map_err(serde::de::Error::custom)?;
        Ok(Some(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_keeps_its_three_strings_and_its_json_fields() {
        let old = r#"{"sha":"0101010101010101010101010101010101010101010101010101010101010101","kind":"kv_secret","path":"secret/ü/a","ns":"team1/","delete":"secret/metadata/ü/a"}"#;
        let r: Record = serde_json::from_str(old).unwrap();
        assert_eq!(
            (r.path(), r.ns(), r.delete(), r.unsettled),
            ("secret/ü/a", "team1/", Some("secret/metadata/ü/a"), false)
        );
        assert_eq!(serde_json::to_string(&r).unwrap(), old);
        let none = Record::new([0; 32], Kind::Policy, "acl/app", "", None);
        assert_eq!(
            (none.path(), none.ns(), none.delete()),
            ("acl/app", "", None)
        );
        let json = serde_json::to_string(&none).unwrap();
        assert!(json.contains(r#""delete":null"#), "{json}");
        assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), none);
        let empty = Record::new([0; 32], Kind::Policy, "p", "", Some(""));
        assert_eq!(empty.delete(), Some(""));
    }

    #[test]
    fn a_keyed_record_says_its_key_and_a_plain_one_does_not() {
        let keyed =
            Record::new([1; 32], Kind::Policy, "acl/app", "", None).made_with(Some([0xab; 4]));
        let json = serde_json::to_string(&keyed).unwrap();
        assert!(json.contains(r#""key":"abababab""#), "{json}");
        assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), keyed);
        let plain = Record::new([1; 32], Kind::Policy, "acl/app", "", None);
        let json = serde_json::to_string(&plain).unwrap();
        assert!(!json.contains("key"), "{json}");
        assert_eq!(serde_json::from_str::<Record>(&json).unwrap().key, None);
    }
}

//! The importer's records, held once in the shards they are saved in (`written/<shard>`), each
//! shard packed as one string. A change that makes a record differ marks its shard dirty.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::objects::Kind;

pub(super) const SHARDS: usize = 64;

/// Records of one shard by entry name.
type Shard = BTreeMap<Box<str>, Record>;

/// What the importer knows about one object it brought to this cluster. In memory the three
/// strings share one allocation (a target holds one record per object it was given); in the shard
/// they are the fields of `RecordJson`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// sha256 of the snapshot entry that was applied.
    pub sha: [u8; 32],
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
    pub fn new(sha: [u8; 32], kind: Kind, path: &str, ns: &str, delete: Option<&str>) -> Self {
        let text = [path, ns, delete.unwrap_or_default()].concat();
        // Paths are far below 4 GiB; saturating keeps the accessors in bounds regardless.
        let end = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Record {
            sha,
            kind,
            unsettled: false,
            created: false,
            has_delete: delete.is_some(),
            ends: [end(path.len()), end(path.len() + ns.len())],
            text: text.into_boxed_str(),
        }
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
    sha: [u8; 32],
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
        let mut r = Record::new(j.sha, j.kind, &j.path, &j.ns, j.delete.as_deref());
        r.unsettled = j.unsettled;
        r.created = j.created;
        Ok(r)
    }
}

/// Records keyed by snapshot entry name, held once, in the shards they are saved in. A change
/// that makes a record differ marks its shard dirty; only dirty shards are written back.
#[derive(Debug, Clone, PartialEq)]
pub struct Records {
    pub(super) shards: Vec<Shard>,
    pub(super) dirty: Vec<bool>,
}

impl Default for Records {
    fn default() -> Self {
        Records {
            shards: vec![BTreeMap::new(); SHARDS],
            dirty: vec![false; SHARDS],
        }
    }
}

fn shard_of(entry: &str) -> usize {
    Sha256::digest(entry.as_bytes())[0] as usize % SHARDS
}

impl Records {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, entry: &str) -> Option<&Record> {
        self.shards[shard_of(entry)].get(entry)
    }

    pub fn contains_key(&self, entry: &str) -> bool {
        self.get(entry).is_some()
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(BTreeMap::is_empty)
    }

    /// Every record, shard by shard.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Record)> {
        self.shards.iter().flatten().map(|(k, v)| (&**k, v))
    }

    /// Whether any record changed since the records were loaded.
    pub fn is_dirty(&self) -> bool {
        self.dirty.contains(&true)
    }

    /// Sets an entry's record (the object was applied, or found equal). Once the importer
    /// created an object, its record keeps saying so.
    pub fn set(&mut self, entry: impl Into<Box<str>>, mut record: Record) {
        let entry = entry.into();
        let i = shard_of(&entry);
        record.created |= self.shards[i].get(&entry).is_some_and(|r| r.created);
        if self.shards[i].get(&entry) != Some(&record) {
            self.shards[i].insert(entry, record);
            self.dirty[i] = true;
        }
    }

    /// The last import left this object as it found it: compare it in full next time.
    pub fn unsettle(&mut self, entry: &str) {
        let i = shard_of(entry);
        if let Some(r) = self.shards[i].get_mut(entry)
            && !r.unsettled
        {
            r.unsettled = true;
            self.dirty[i] = true;
        }
    }

    /// The object was deleted from the target.
    pub fn remove(&mut self, entry: &str) {
        let i = shard_of(entry);
        if self.shards[i].remove(entry).is_some() {
            self.dirty[i] = true;
        }
    }

    /// Forgets which shards changed (they were just loaded or saved).
    pub(super) fn clean(&mut self) {
        self.dirty.iter_mut().for_each(|d| *d = false);
    }
}

impl<K: Into<Box<str>>> FromIterator<(K, Record)> for Records {
    fn from_iter<I: IntoIterator<Item = (K, Record)>>(iter: I) -> Self {
        let mut out = Records::new();
        for (entry, record) in iter {
            out.set(entry, record);
        }
        out
    }
}

/// A shard as one string (gzip'd JSON, base64): Vault limits how many strings a request may hold.
pub(super) fn pack(records: &Shard) -> std::io::Result<String> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&serde_json::to_vec(records)?)?;
    Ok(BASE64.encode(gz.finish()?))
}

pub(super) fn unpack(packed: &str) -> std::result::Result<Shard, String> {
    use std::io::Read;
    let bytes = BASE64.decode(packed).map_err(|e| e.to_string())?;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .take(256 << 20)
        .read_to_end(&mut json)
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&json).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u32) -> Record {
        Record::new(
            [i as u8; 32],
            Kind::KvSecret,
            &format!("secret/{i}"),
            "",
            None,
        )
    }

    #[test]
    fn records_spread_over_shards_and_pack_with_hex_digests() {
        let r: Records = (0..500)
            .map(|i| (format!("kv/secret/{i}.json"), rec(i)))
            .collect();
        assert_eq!(r.len(), 500);
        assert!(r.shards.iter().filter(|s| !s.is_empty()).count() > SHARDS / 2);
        let i = shard_of("kv/secret/7.json");
        assert!(r.shards[i].contains_key("kv/secret/7.json"));
        let packed = pack(&r.shards[i]).unwrap();
        assert_eq!(unpack(&packed).unwrap(), r.shards[i]);
        let json = serde_json::to_string(&rec(1)).unwrap();
        assert!(
            json.contains(&format!("\"sha\":\"{}\"", "01".repeat(32))),
            "{json}"
        );
        let err = unpack("not base64!").unwrap_err();
        assert!(err.starts_with("Invalid"), "not base64: {err}");
    }

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
    fn created_is_kept_once_set_and_older_records_were_not_created() {
        let old = r#"{"sha":"0101010101010101010101010101010101010101010101010101010101010101","kind":"mount","path":"apps/","ns":"","delete":"sys/mounts/apps"}"#;
        let r: Record = serde_json::from_str(old).unwrap();
        assert!(!r.created);
        let mut made = r.clone();
        made.created = true;
        let json = serde_json::to_string(&made).unwrap();
        assert!(json.contains(r#""created":true"#), "{json}");
        assert!(serde_json::from_str::<Record>(&json).unwrap().created);

        let mut records = Records::new();
        records.set("m", made);
        // Found equal by a later import: still the importer's creation.
        records.set("m", r.clone());
        assert!(records.get("m").unwrap().created);
        records.remove("m");
        records.set("m", r);
        assert!(!records.get("m").unwrap().created);
    }

    #[test]
    fn only_real_changes_mark_a_shard_dirty() {
        let mut r: Records = [("a".to_string(), rec(1))].into_iter().collect();
        r.clean();
        r.set("a", rec(1));
        r.remove("missing");
        r.unsettle("missing");
        assert!(!r.is_dirty());
        r.unsettle("a");
        assert!(r.get("a").unwrap().unsettled);
        assert_eq!(r.dirty.iter().filter(|d| **d).count(), 1);
        r.clean();
        r.remove("a");
        assert!(r.is_dirty() && r.is_empty());
    }
}

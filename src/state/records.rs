//! The importer's records, held once in the shards they are saved in (`written/<shard>`), each
//! shard packed as one string. A change that makes a record differ marks its shard dirty.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

use super::Record;

pub(super) const SHARDS: usize = 64;

/// Records keyed by snapshot entry name, held once, in the shards they are saved in. A change
/// that makes a record differ marks its shard dirty; only dirty shards are written back.
#[derive(Debug, Clone, PartialEq)]
pub struct Records {
    pub(super) shards: Vec<BTreeMap<String, Record>>,
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
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Record)> {
        self.shards.iter().flatten()
    }

    /// Whether any record changed since the records were loaded.
    pub fn is_dirty(&self) -> bool {
        self.dirty.contains(&true)
    }

    /// Sets an entry's record (the object was applied, or found equal).
    pub fn set(&mut self, entry: String, record: Record) {
        let i = shard_of(&entry);
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

impl FromIterator<(String, Record)> for Records {
    fn from_iter<I: IntoIterator<Item = (String, Record)>>(iter: I) -> Self {
        let mut out = Records::new();
        for (entry, record) in iter {
            out.set(entry, record);
        }
        out
    }
}

/// A shard as one string (gzip'd JSON, base64): Vault limits how many strings a request may hold.
pub(super) fn pack(records: &BTreeMap<String, Record>) -> std::io::Result<String> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&serde_json::to_vec(records)?)?;
    Ok(BASE64.encode(gz.finish()?))
}

pub(super) fn unpack(packed: &str) -> std::result::Result<BTreeMap<String, Record>, String> {
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
    use crate::objects::Kind;

    fn rec(i: u32) -> Record {
        Record {
            sha: [i as u8; 32],
            kind: Kind::KvSecret,
            path: format!("secret/{i}"),
            ns: String::new(),
            delete: None,
            unsettled: false,
        }
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
        assert!(unpack("not base64!").is_err());
    }

    #[test]
    fn only_real_changes_mark_a_shard_dirty() {
        let mut r: Records = [("a".to_string(), rec(1))].into_iter().collect();
        r.clean();
        r.set("a".into(), rec(1));
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

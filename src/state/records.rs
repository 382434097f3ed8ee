//! The importer's records. The state mount keeps each in full (`Record`: keyed digest, kind, path,
//! namespace, how to delete it) in 64 shards (`written/<shard>`, packed as one string each, plus
//! the deltas a long run saves on its way, `written/<shard>-<n>`). Memory keeps 27 bytes a record
//! (`Seen`, by a hash of the entry name) and the changes since the last save; the text of a
//! record is read back only when its shard is saved, or when a prune needs it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::objects::Kind;
use crate::snapshot::entries::{name_key, sha_key};

pub(super) const SHARDS: usize = 64;

/// Changes held before they are saved as a delta: about 250 bytes each in memory.
pub const FLUSH_AT: usize = 32 << 10;

pub use super::digest::{Digest, RecordKey};
pub use super::record::Record;

/// What memory holds of a record: enough to tell whether an entry is the one applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// The first 16 bytes of the record's digest of the entry that was applied.
    pub sha: [u8; 16],
    pub kind: Kind,
    pub unsettled: bool,
    pub created: bool,
}

impl Seen {
    pub fn of(r: &Record) -> Seen {
        Seen {
            sha: sha_key(&r.sha),
            kind: r.kind,
            unsettled: r.unsettled,
            created: r.created,
        }
    }

    /// Whether the record is of the entry with this digest (`RecordKey::digest`).
    pub fn is(&self, digest: &Digest) -> bool {
        self.sha == sha_key(digest)
    }
}

/// A change not saved yet.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Op {
    Set(Record),
    Remove,
    /// The saved record stays, marked unsettled.
    Unsettle,
}

/// One shard in memory: its saved records, sorted by name hash, and what changed since.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Shard {
    names: Vec<u64>,
    seen: Vec<Seen>,
    /// Changes by name hash (with the entry name).
    pub(super) ops: BTreeMap<u64, (Box<str>, Op)>,
    /// Deltas saved for this shard and not folded into it yet.
    pub(super) deltas: Vec<String>,
    /// Records of it were loaded with plain digests and keyed: it is saved again.
    pub(super) rekeyed: bool,
}

impl Shard {
    fn base(&self, key: u64) -> Option<usize> {
        self.names.binary_search(&key).ok()
    }

    /// The record as saved, before any change held.
    pub(super) fn saved(&self, key: u64) -> Option<Seen> {
        self.base(key).map(|i| self.seen[i])
    }

    fn get(&self, key: u64) -> Option<Seen> {
        match self.ops.get(&key) {
            Some((_, Op::Set(r))) => Some(Seen::of(r)),
            Some((_, Op::Remove)) => None,
            Some((_, Op::Unsettle)) => self.base(key).map(|i| Seen {
                unsettled: true,
                ..self.seen[i]
            }),
            None => self.base(key).map(|i| self.seen[i]),
        }
    }

    /// Takes the saved records of a shard as loaded (sorted by name hash).
    pub(super) fn load(&mut self, mut loaded: Vec<(u64, Seen)>) {
        loaded.sort_unstable_by_key(|(k, _)| *k);
        loaded.dedup_by_key(|(k, _)| *k);
        (self.names, self.seen) = loaded.into_iter().unzip();
    }

    /// Folds the changes in `done` (set or removed records) into the saved ones.
    pub(super) fn fold(&mut self, done: impl IntoIterator<Item = (u64, Option<Seen>)>) {
        let mut merged: BTreeMap<u64, Option<Seen>> = done.into_iter().collect();
        let base = std::mem::take(&mut self.names)
            .into_iter()
            .zip(std::mem::take(&mut self.seen));
        let mut out: Vec<(u64, Seen)> = Vec::with_capacity(base.len() + merged.len());
        for (k, s) in base {
            match merged.remove(&k) {
                Some(Some(new)) => out.push((k, new)),
                Some(None) => {}
                None => out.push((k, s)),
            }
        }
        out.extend(merged.into_iter().filter_map(|(k, s)| Some((k, s?))));
        self.load(out);
    }

    /// Folds every change held into the saved records, once they are saved.
    pub(super) fn fold_held(&mut self) {
        let done: Vec<(u64, Option<Seen>)> = std::mem::take(&mut self.ops)
            .into_iter()
            .map(|(k, (_, op))| match op {
                Op::Set(r) => (k, Some(Seen::of(&r))),
                Op::Remove => (k, None),
                Op::Unsettle => (
                    k,
                    self.saved(k).map(|s| Seen {
                        unsettled: true,
                        ..s
                    }),
                ),
            })
            .collect();
        self.fold(done);
    }

    pub(super) fn len(&self) -> usize {
        let added = self
            .ops
            .iter()
            .filter(|(k, (_, op))| matches!(op, Op::Set(_)) && self.base(**k).is_none())
            .count();
        let removed = self
            .ops
            .iter()
            .filter(|(k, (_, op))| matches!(op, Op::Remove) && self.base(**k).is_some())
            .count();
        self.names.len() + added - removed
    }

    /// Every record as memory holds it.
    fn seen(&self) -> impl Iterator<Item = (u64, Seen)> + '_ {
        let saved = self
            .names
            .iter()
            .filter(|k| !self.ops.contains_key(k))
            .map(|k| (*k, self.get(*k)));
        let changed = self.ops.keys().map(|k| (*k, self.get(*k)));
        saved.chain(changed).filter_map(|(k, s)| Some((k, s?)))
    }
}

/// Records keyed by snapshot entry name, in the shards they are saved in.
#[derive(Debug, Clone, PartialEq)]
pub struct Records {
    pub(super) shards: Vec<Shard>,
    /// Records kept in full when loaded (those a prune may delete).
    pub(super) kept: Vec<(Box<str>, Record)>,
    /// Records set and not saved yet.
    pub(super) pending: usize,
    /// What records made now digest entries with.
    key: RecordKey,
}

pub(super) fn shard_of(entry: &str) -> usize {
    Sha256::digest(entry.as_bytes())[0] as usize % SHARDS
}

impl Records {
    pub fn new(key: RecordKey) -> Self {
        Records {
            shards: vec![Shard::default(); SHARDS],
            kept: Vec::new(),
            pending: 0,
            key,
        }
    }

    /// What records made now digest entries with.
    pub fn key(&self) -> &RecordKey {
        &self.key
    }

    pub fn get(&self, entry: &str) -> Option<Seen> {
        self.shards[shard_of(entry)].get(name_key(entry))
    }

    pub fn contains_key(&self, entry: &str) -> bool {
        self.get(entry).is_some()
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(Shard::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every record as memory holds it: (hash of the entry name, what is known of it).
    pub fn seen(&self) -> impl Iterator<Item = (u64, Seen)> + '_ {
        self.shards.iter().flat_map(Shard::seen)
    }

    /// The saved records in name-hash order (a merge of the shards, nothing collected), when no
    /// change is held; `None` when one is.
    pub fn saved_in_order(&self) -> Option<impl Iterator<Item = (u64, Seen)> + '_> {
        if self.shards.iter().any(|s| !s.ops.is_empty()) {
            return None;
        }
        let mut heads: BinaryHeap<Reverse<(u64, usize, usize)>> = self
            .shards
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some(Reverse((*s.names.first()?, i, 0))))
            .collect();
        Some(std::iter::from_fn(move || {
            let Reverse((name, shard, at)) = heads.pop()?;
            let s = &self.shards[shard];
            if let Some(next) = s.names.get(at + 1) {
                heads.push(Reverse((*next, shard, at + 1)));
            }
            Some((name, s.seen[at]))
        }))
    }

    /// The records kept in full as they were loaded (see `ImporterState::records_keeping`).
    pub fn kept(&self) -> &[(Box<str>, Record)] {
        &self.kept
    }

    /// Whether anything changed since the records were loaded or saved.
    pub fn is_dirty(&self) -> bool {
        self.shards
            .iter()
            .any(|s| !s.ops.is_empty() || !s.deltas.is_empty() || s.rekeyed)
    }

    /// Records set and not yet saved: when they reach `FLUSH_AT`, a run saves them as deltas.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Sets an entry's record (the object was applied, or found equal). Once the importer
    /// created an object, its record keeps saying so. A record equal to the one held is no change.
    pub fn set(&mut self, entry: impl Into<Box<str>>, mut record: Record) {
        let entry = entry.into();
        let (shard, key) = (&mut self.shards[shard_of(&entry)], name_key(&entry));
        let held = shard.get(key);
        record.created |= held.is_some_and(|s| s.created);
        if held != Some(Seen::of(&record)) {
            let before = shard.ops.insert(key, (entry, Op::Set(record)));
            if !matches!(before, Some((_, Op::Set(_)))) {
                self.pending += 1;
            }
        }
    }

    /// The last import left this object as it found it: compare it in full next time.
    pub fn unsettle(&mut self, entry: &str) {
        let (shard, key) = (&mut self.shards[shard_of(entry)], name_key(entry));
        if shard.get(key).is_none_or(|s| s.unsettled) {
            return;
        }
        match shard.ops.get_mut(&key) {
            Some((_, Op::Set(r))) => r.unsettled = true,
            _ => {
                shard.ops.insert(key, (entry.into(), Op::Unsettle));
            }
        }
    }

    /// The object was deleted from the target.
    pub fn remove(&mut self, entry: &str) {
        let (shard, key) = (&mut self.shards[shard_of(entry)], name_key(entry));
        if shard.get(key).is_some() {
            let before = shard.ops.insert(key, (entry.into(), Op::Remove));
            if matches!(before, Some((_, Op::Set(_)))) {
                self.pending -= 1;
            }
        }
    }
}

#[cfg(test)]
impl Records {
    /// These records as a load would find them once saved.
    pub fn as_saved(&self) -> Records {
        let mut out = self.clone();
        out.shards.iter_mut().for_each(Shard::fold_held);
        out.pending = 0;
        out
    }
}

#[cfg(test)]
impl<K: Into<Box<str>>> FromIterator<(K, Record)> for Records {
    fn from_iter<I: IntoIterator<Item = (K, Record)>>(iter: I) -> Self {
        let mut out = Records::new(RecordKey::Plain);
        for (entry, record) in iter {
            out.set(entry, record);
        }
        out
    }
}

/// Records of one shard (or delta) as saved, by entry name.
pub(super) type Saved = BTreeMap<Box<str>, Record>;

/// Applies unsaved changes to a shard as saved.
pub(super) fn apply_ops<'a>(saved: &mut Saved, ops: impl Iterator<Item = &'a (Box<str>, Op)>) {
    for (entry, op) in ops {
        match op {
            Op::Set(r) => {
                saved.insert(entry.clone(), r.clone());
            }
            Op::Remove => {
                saved.remove(entry);
            }
            Op::Unsettle => {
                if let Some(r) = saved.get_mut(entry) {
                    r.unsettled = true;
                }
            }
        }
    }
}

/// A shard as one string (gzip'd JSON, base64): Vault limits how many strings a request may hold.
pub(super) fn pack<T: Serialize>(records: &T) -> std::io::Result<String> {
    use std::io::Write;
    // One write: flate2 zero-fills its output's spare room on every write it takes.
    let json = serde_json::to_vec(records)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&json)?;
    Ok(BASE64.encode(gz.finish()?))
}

pub(super) fn unpack(packed: &str) -> std::result::Result<Saved, String> {
    use std::io::Read;
    let bytes = BASE64.decode(packed).map_err(|e| e.to_string())?;
    let json = flate2::read::GzDecoder::new(bytes.as_slice()).take(256 << 20);
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(json));
    Saved::deserialize(&mut de).map_err(|e| e.to_string())
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;

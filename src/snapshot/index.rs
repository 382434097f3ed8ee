//! The exporter's index of the last snapshot it made, what a delta export compares against: per
//! entry its kind and name, its mark (`objects::Mark`) and the first 16 bytes of its sha256, in
//! the archive's order, with the set's digest and what made it (the tool's version and the walk's
//! settings). It lives next to its snapshot as `<key>.index`, gzip'd and sealed with
//! ChaCha20-Poly1305 under a key derived from the exporter's signing key, which only the export
//! side holds: readers of the bucket learn nothing from it, and an index that does not open, or
//! was made for another snapshot, release or settings, means a full export, never a wrong delta.
//! Layout: magic, nonce, then sealed in place (ciphertext and tag): the gzip'd records, the JSON
//! header, the header's length (u32 LE). Records are written and read where they lie: at a
//! million entries the index is tens of MiB, and it is never copied.

use std::io::{Read, Write};

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use super::entries::name_key;
use super::format::entry_name;
use super::set::SetDigest;
use crate::objects::{Kind, Known, Mark, Object};

/// The name of the index of the snapshot `key`.
pub fn index_key(snapshot: &str) -> String {
    format!("{snapshot}.index")
}

const MAGIC: &[u8] = b"vault-replicator index 2\n";
const NONCE: usize = 12;
const TAG: usize = 16;

/// What an index says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Header {
    /// The snapshot it describes.
    snapshot: String,
    set: SetDigest,
    /// The release and walk settings it was made with (`settings`).
    made_with: String,
    entries: u64,
}

/// One entry of an index.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub kind: Kind,
    pub name: String,
    pub mark: Mark,
    pub sha: [u8; 16],
}

impl Entry {
    pub fn key(&self) -> (Kind, &str) {
        (self.kind, &self.name)
    }
}

/// The index of the chain's newest snapshot, opened: what the walk asks (`Known`) and what the
/// writer merges its entries with.
pub struct BaseIndex {
    pub snapshot: String,
    pub set: SetDigest,
    /// (name hash, mark) of every entry, sorted.
    marks: Vec<(u64, Mark)>,
    /// The opened index, its gzip'd entries at `records`, to read again in order.
    body: Vec<u8>,
    records: std::ops::Range<usize>,
}

fn cipher(key: &[u8; 32]) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(&Key::from(*key))
}

impl BaseIndex {
    /// Opens the sealed index of `snapshot`, made with `made_with`, where it lies; why not, when
    /// it cannot be used (then the export is full).
    pub fn open(
        mut body: Vec<u8>,
        key: &[u8; 32],
        snapshot: &str,
        made_with: &str,
    ) -> Result<BaseIndex, String> {
        if !body.starts_with(MAGIC) {
            return Err("not an index".into());
        }
        let start = MAGIC.len() + NONCE;
        if body.len() < start + TAG + 4 {
            return Err("truncated".into());
        }
        let end = body.len() - TAG;
        let tag = Tag::clone_from_slice(&body[end..]);
        let nonce = Nonce::clone_from_slice(&body[MAGIC.len()..start]);
        cipher(key)
            .decrypt_in_place_detached(&nonce, snapshot.as_bytes(), &mut body[start..end], &tag)
            .map_err(|_| "it does not open with this signing key, or was made for another name")?;
        body.truncate(end);
        let mut len = [0u8; 4];
        len.copy_from_slice(&body[end - 4..]);
        let header_at = (end - 4)
            .checked_sub(u32::from_le_bytes(len) as usize)
            .filter(|at| *at >= start)
            .ok_or("no header")?;
        let header: Header = serde_json::from_slice(&body[header_at..end - 4])
            .map_err(|e| format!("bad header: {e}"))?;
        if header.snapshot != snapshot {
            return Err(format!("it describes {}", header.snapshot));
        }
        if header.made_with != made_with {
            return Err("it was made by another release or with other settings".into());
        }
        let mut index = BaseIndex {
            snapshot: header.snapshot,
            set: header.set,
            marks: Vec::new(),
            body,
            records: start..header_at,
        };
        let (mut set, mut marks) = (SetDigest::default(), Vec::new());
        marks.reserve_exact(usize::try_from(header.entries).unwrap_or(0).min(1 << 26));
        let mut entries = index.entries();
        while let Some(e) = entries.next_entry()? {
            set.add(&e.name, &e.sha);
            marks.push((name_key(&e.name), e.mark));
        }
        if set != index.set || marks.len() as u64 != header.entries {
            return Err("its entries do not add up to its digest".into());
        }
        marks.sort_unstable();
        index.marks = marks;
        Ok(index)
    }

    /// Its entries, in the archive's order.
    pub fn entries(&self) -> Entries<'_> {
        Entries(GzDecoder::new(&self.body[self.records.clone()]))
    }
}

impl Known for BaseIndex {
    fn unchanged(&self, stub: &Object, mark: &Mark) -> bool {
        let name = name_key(&entry_name(stub));
        let from = self.marks.partition_point(|(n, _)| *n < name);
        self.marks[from..]
            .iter()
            .take_while(|(n, _)| *n == name)
            .any(|(_, m)| m == mark)
    }
}

/// An index's entries as they are read back.
pub struct Entries<'a>(GzDecoder<&'a [u8]>);

impl Entries<'_> {
    pub fn next_entry(&mut self) -> Result<Option<Entry>, String> {
        let broken = |e: std::io::Error| format!("its entries are corrupt: {e}");
        let mut head = [0u8; 6];
        match self.0.read(&mut head[..1]).map_err(broken)? {
            0 => return Ok(None),
            _ => self.0.read_exact(&mut head[1..]).map_err(broken)?,
        }
        let kind = *Kind::ALL
            .get(usize::from(u16::from_le_bytes([head[0], head[1]])))
            .ok_or("an entry of an unknown kind")?;
        let len = u32::from_le_bytes([head[2], head[3], head[4], head[5]]) as usize;
        if len > 1 << 16 {
            return Err("an entry name is too long".into());
        }
        let mut name = vec![0u8; len];
        self.0.read_exact(&mut name).map_err(broken)?;
        let name = String::from_utf8(name).map_err(|_| "an entry name is not UTF-8")?;
        let (mut mark, mut sha) = ([0u8; 16], [0u8; 16]);
        self.0.read_exact(&mut mark).map_err(broken)?;
        self.0.read_exact(&mut sha).map_err(broken)?;
        Ok(Some(Entry {
            kind,
            name,
            mark,
            sha,
        }))
    }
}

/// Writes an index as a snapshot's entries go by.
pub struct IndexWriter {
    gz: GzEncoder<Vec<u8>>,
    entries: u64,
}

impl Default for IndexWriter {
    fn default() -> Self {
        // The records go where they will be sealed: after the magic and the nonce's room.
        let mut out = Vec::with_capacity(1 << 16);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[0u8; NONCE]);
        IndexWriter {
            gz: GzEncoder::new(out, Compression::fast()),
            entries: 0,
        }
    }
}

impl IndexWriter {
    pub fn push(
        &mut self,
        kind: Kind,
        name: &str,
        mark: &Mark,
        sha: &[u8; 16],
    ) -> std::io::Result<()> {
        self.gz.write_all(&(kind as u16).to_le_bytes())?;
        self.gz.write_all(&(name.len() as u32).to_le_bytes())?;
        self.gz.write_all(name.as_bytes())?;
        self.gz.write_all(mark)?;
        self.gz.write_all(sha)?;
        self.entries += 1;
        Ok(())
    }

    /// The sealed index of `snapshot`, whose set has digest `set`, sealed where it was written.
    pub fn seal(
        self,
        key: &[u8; 32],
        snapshot: &str,
        set: SetDigest,
        made_with: &str,
    ) -> std::io::Result<Vec<u8>> {
        let header = Header {
            snapshot: snapshot.to_string(),
            set,
            made_with: made_with.to_string(),
            entries: self.entries,
        };
        let header = serde_json::to_vec(&header).map_err(std::io::Error::other)?;
        let mut out = self.gz.finish()?;
        out.extend_from_slice(&header);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        let nonce: [u8; NONCE] = rand::random();
        let start = MAGIC.len() + NONCE;
        out[MAGIC.len()..start].copy_from_slice(&nonce);
        let tag = cipher(key)
            .encrypt_in_place_detached(
                Nonce::from_slice(&nonce),
                snapshot.as_bytes(),
                &mut out[start..],
            )
            .map_err(|_| std::io::Error::other("ChaCha20-Poly1305 refused the index"))?;
        out.extend_from_slice(&tag);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(entries: &[(&str, u8, u8)]) -> (Vec<u8>, SetDigest) {
        let mut w = IndexWriter::default();
        let mut set = SetDigest::default();
        for (name, mark, sha) in entries {
            w.push(Kind::KvSecret, name, &[*mark; 16], &[*sha; 16])
                .unwrap();
            set.add(name, &[*sha; 16]);
        }
        (w.seal(&[7; 32], "s.tar.gz.age", set, "v1").unwrap(), set)
    }

    #[test]
    fn an_index_opens_only_with_its_key_name_and_settings() {
        let (sealed, set) = write(&[("kv/a.json", 1, 2), ("kv/b.json", 3, 4)]);
        let index = BaseIndex::open(sealed.clone(), &[7; 32], "s.tar.gz.age", "v1").unwrap();
        assert_eq!(index.set, set);
        let mut all = Vec::new();
        let mut entries = index.entries();
        while let Some(e) = entries.next_entry().unwrap() {
            all.push((e.name, e.mark[0], e.sha[0]));
        }
        assert_eq!(
            all,
            vec![("kv/a.json".into(), 1, 2), ("kv/b.json".into(), 3, 4)]
        );
        for (key, name, made_with) in [
            ([8; 32], "s.tar.gz.age", "v1"),
            ([7; 32], "t.tar.gz.age", "v1"),
            ([7; 32], "s.tar.gz.age", "v2"),
        ] {
            assert!(BaseIndex::open(sealed.clone(), &key, name, made_with).is_err());
        }
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(BaseIndex::open(flipped, &[7; 32], "s.tar.gz.age", "v1").is_err());
        assert!(!sealed.windows(9).any(|w| w == b"kv/a.json"), "sealed");
    }
}

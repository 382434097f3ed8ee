//! The writer's external sort: each entry's index record (kind, name, size, sha256, spool offset)
//! is buffered up to a bound, and each full buffer is sorted and spilled as a run into a sealed
//! spool of its own; `Sorted::merge` then walks every run at once in (kind, name) order, holding
//! one sealed record of each run, as many times as the writer needs it.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::io::Write;

use super::spool::{Spool, SpoolReader};
use crate::error::{Error, Result};
use crate::objects::Kind;

/// Where one entry sits in the object spool, and its manifest line; or an entry carried over
/// unread from the last export (`carried`: nothing in the spool, its sha256 is the index's).
pub struct Record {
    pub kind: Kind,
    pub name: String,
    pub size: u64,
    pub sha256: [u8; 32],
    pub offset: u64,
    /// What tells its changes (`objects::Mark`), for the exporter's index.
    pub mark: [u8; 16],
    pub carried: bool,
}

/// After the kind and the name: size, sha256, offset, mark and whether it was carried.
const TAIL: usize = 8 + 32 + 8 + 16 + 1;

impl Record {
    pub(super) fn key(&self) -> (Kind, &str) {
        (self.kind, &self.name)
    }

    /// What the record costs in a run buffer.
    fn footprint(&self) -> usize {
        std::mem::size_of::<Record>() + self.name.capacity()
    }

    fn encode(&self, out: &mut impl Write) -> std::io::Result<()> {
        // A kind's discriminant is its place in `Kind::ALL`, which is also its order.
        out.write_all(&(self.kind as u16).to_le_bytes())?;
        out.write_all(&(self.name.len() as u32).to_le_bytes())?;
        out.write_all(self.name.as_bytes())?;
        out.write_all(&self.size.to_le_bytes())?;
        out.write_all(&self.sha256)?;
        out.write_all(&self.offset.to_le_bytes())?;
        out.write_all(&self.mark)?;
        out.write_all(&[u8::from(self.carried)])
    }
}

fn broken(what: &str) -> Error {
    Error::io(
        "read sort run",
        std::io::Error::other(format!("a sort run is corrupt: {what}")),
    )
}

pub struct Runs {
    spool: Spool,
    buffer: Vec<Record>,
    buffered: usize,
    bound: usize,
    /// Each spilled run's sealed records (offset, plaintext length), in order.
    runs: Vec<Vec<(u64, usize)>>,
}

impl Runs {
    /// Runs in a sealed spool file of their own; a buffer is spilled once it holds `bound` bytes.
    pub fn new(bound: usize) -> Result<Runs> {
        Ok(Runs {
            spool: Spool::new()?,
            buffer: Vec::new(),
            buffered: 0,
            bound,
            runs: Vec::new(),
        })
    }

    pub fn push(&mut self, record: Record) -> Result<()> {
        self.buffered += record.footprint();
        self.buffer.push(record);
        if self.buffered >= self.bound {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.buffer.sort_unstable_by(|a, b| a.key().cmp(&b.key()));
        let mut out = self.spool.chunked();
        for r in self.buffer.drain(..) {
            r.encode(&mut out)
                .map_err(|e| Error::io("write sort run", e))?;
        }
        self.runs.push(out.finish()?);
        self.buffered = 0;
        Ok(())
    }

    /// Spills what is left; the runs, to merge.
    pub fn finish(mut self) -> Result<Sorted> {
        self.spill()?;
        tracing::debug!(
            runs = self.runs.len(),
            bytes = self.spool.len(),
            "index sorted"
        );
        Ok(Sorted {
            reader: self.spool.into_reader()?,
            runs: self.runs,
        })
    }
}

pub struct Sorted {
    reader: SpoolReader,
    runs: Vec<Vec<(u64, usize)>>,
}

impl Sorted {
    /// A fresh walk over every record, in (kind, name) order.
    pub fn merge(&mut self) -> Result<Merge<'_>> {
        let mut cursors: Vec<Cursor> = self.runs.iter().map(|r| Cursor::new(r.clone())).collect();
        let mut heap = BinaryHeap::with_capacity(cursors.len());
        for (run, cursor) in cursors.iter_mut().enumerate() {
            if let Some(record) = cursor.next(&mut self.reader)? {
                heap.push(Reverse(Head { record, run }));
            }
        }
        Ok(Merge {
            reader: &mut self.reader,
            cursors,
            heap,
        })
    }
}

/// The smallest record a run has not handed out yet.
struct Head {
    record: Record,
    run: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.record.key(), self.run).cmp(&(other.record.key(), other.run))
    }
}

pub struct Merge<'a> {
    reader: &'a mut SpoolReader,
    cursors: Vec<Cursor>,
    heap: BinaryHeap<Reverse<Head>>,
}

impl Merge<'_> {
    /// The next record in (kind, name) order; two records of one name are an error.
    pub fn next(&mut self) -> Result<Option<Record>> {
        let Some(Reverse(Head { record, run })) = self.heap.pop() else {
            return Ok(None);
        };
        if let Some(next) = self.cursors[run].next(self.reader)? {
            self.heap.push(Reverse(Head { record: next, run }));
        }
        if let Some(Reverse(following)) = self.heap.peek()
            && following.record.name == record.name
        {
            return Err(Error::Object {
                kind: record.kind.as_str(),
                path: record.name,
                reason: "two objects map to the same snapshot entry".into(),
            });
        }
        Ok(Some(record))
    }
}

/// Reads one run back, one sealed record at a time.
struct Cursor {
    chunks: std::vec::IntoIter<(u64, usize)>,
    buf: Vec<u8>,
    pos: usize,
}

impl Cursor {
    fn new(chunks: Vec<(u64, usize)>) -> Cursor {
        Cursor {
            chunks: chunks.into_iter(),
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// Whether the run has nothing left, opening its next sealed record if need be.
    fn exhausted(&mut self, reader: &mut SpoolReader) -> Result<bool> {
        while self.pos == self.buf.len() {
            let Some((offset, len)) = self.chunks.next() else {
                return Ok(true);
            };
            self.buf = reader.get(offset, len as u64)?;
            self.pos = 0;
        }
        Ok(false)
    }

    fn read(&mut self, reader: &mut SpoolReader, mut out: &mut [u8]) -> Result<()> {
        while !out.is_empty() {
            if self.exhausted(reader)? {
                return Err(broken("it ends inside a record"));
            }
            let n = out.len().min(self.buf.len() - self.pos);
            out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            out = &mut out[n..];
        }
        Ok(())
    }

    fn next(&mut self, reader: &mut SpoolReader) -> Result<Option<Record>> {
        if self.exhausted(reader)? {
            return Ok(None);
        }
        let mut head = [0u8; 6];
        self.read(reader, &mut head)?;
        let kind = *Kind::ALL
            .get(usize::from(u16::from_le_bytes([head[0], head[1]])))
            .ok_or_else(|| broken("unknown kind"))?;
        let mut name = vec![0u8; u32::from_le_bytes([head[2], head[3], head[4], head[5]]) as usize];
        self.read(reader, &mut name)?;
        let name = String::from_utf8(name).map_err(|_| broken("a name is not UTF-8"))?;
        let mut tail = [0u8; TAIL];
        self.read(reader, &mut tail)?;
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&tail[at..at + 8]);
            u64::from_le_bytes(w)
        };
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(&tail[8..40]);
        let mut mark = [0u8; 16];
        mark.copy_from_slice(&tail[48..64]);
        Ok(Some(Record {
            kind,
            name,
            size: word(0),
            sha256,
            offset: word(40),
            mark,
            carried: tail[64] == 1,
        }))
    }
}

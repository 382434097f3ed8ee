//! The export's scratch files (in `TMPDIR`): every serialised object and the manifest in chunks,
//! and in a second one the sorted runs of the writer's index (`runs`), each sealed with
//! ChaCha20-Poly1305 under a key that exists only in this process's memory. A spool
//! on the node's disk therefore never holds a plaintext secret, and one altered under a running
//! export fails it instead of reaching the snapshot.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::error::{Error, Result};

/// What sealing adds to each record: the Poly1305 tag.
pub const OVERHEAD: u64 = 16;

/// The manifest is sealed in records of this many bytes, so it is never held whole.
const CHUNK: usize = 64 * 1024;

fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::io(context, e)
}

fn sealing_failed() -> Error {
    Error::io(
        "seal spool record",
        std::io::Error::other("ChaCha20-Poly1305 refused the record"),
    )
}

/// A record's nonce: its offset in the spool, which no other record under this key shares.
fn nonce(offset: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&offset.to_le_bytes());
    Nonce::from(n)
}

pub struct Spool {
    file: BufWriter<File>,
    len: u64,
    cipher: ChaCha20Poly1305,
}

impl Spool {
    /// An anonymous file in the temp directory, under a fresh random key.
    pub fn new() -> Result<Spool> {
        let file = tempfile::tempfile().map_err(io("create spool file in TMPDIR"))?;
        let key: [u8; 32] = rand::random();
        Ok(Spool {
            file: BufWriter::new(file),
            len: 0,
            cipher: ChaCha20Poly1305::new(&Key::from(key)),
        })
    }

    /// Bytes written so far (what the export's scratch space holds).
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Seals `plain` as one record; returns its offset. It reads back with `plain.len()`.
    pub fn put(&mut self, plain: &[u8]) -> Result<u64> {
        let offset = self.len;
        let sealed = self
            .cipher
            .encrypt(&nonce(offset), plain)
            .map_err(|_| sealing_failed())?;
        self.file
            .write_all(&sealed)
            .map_err(io("write spool file"))?;
        self.len += sealed.len() as u64;
        Ok(offset)
    }

    /// A writer that seals what goes through it in records, for the manifest.
    pub fn chunked(&mut self) -> Chunked<'_> {
        Chunked {
            spool: self,
            buf: Vec::with_capacity(CHUNK),
            records: Vec::new(),
        }
    }

    /// Done writing: the spool, to read back.
    pub fn into_reader(self) -> Result<SpoolReader> {
        let file = self
            .file
            .into_inner()
            .map_err(|e| Error::io("flush spool file", e.into_error()))?;
        Ok(SpoolReader {
            file,
            cipher: self.cipher,
        })
    }
}

/// Seals what is written through it in records of `CHUNK` bytes; `finish` says where they are.
pub struct Chunked<'a> {
    spool: &'a mut Spool,
    buf: Vec<u8>,
    records: Vec<(u64, usize)>,
}

impl Chunked<'_> {
    fn seal_buffer(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let offset = self.spool.put(&self.buf).map_err(std::io::Error::other)?;
        self.records.push((offset, self.buf.len()));
        self.buf.clear();
        Ok(())
    }

    /// The records written (offset, plaintext length), in order.
    pub fn finish(mut self) -> Result<Vec<(u64, usize)>> {
        self.seal_buffer().map_err(io("write spool file"))?;
        Ok(self.records)
    }
}

impl Write for Chunked<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.seal_buffer()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct SpoolReader {
    file: File,
    cipher: ChaCha20Poly1305,
}

impl SpoolReader {
    /// The record at `offset` whose plaintext is `len` bytes; an altered record is an error.
    pub fn get(&mut self, offset: u64, len: u64) -> Result<Vec<u8>> {
        let mut sealed = vec![0u8; (len + OVERHEAD) as usize];
        self.file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.read_exact(&mut sealed))
            .map_err(io("read spool file"))?;
        self.cipher
            .decrypt(&nonce(offset), sealed.as_slice())
            .map_err(|_| {
                Error::io(
                    "read spool file",
                    std::io::Error::other("a record was altered while the export ran"),
                )
            })
    }

    /// A reader over the records `chunks` (from `Chunked::finish`), opened one at a time.
    pub fn chunks(&mut self, chunks: Vec<(u64, usize)>) -> ChunkReader<'_> {
        ChunkReader {
            spool: self,
            chunks: chunks.into_iter(),
            current: std::io::Cursor::new(Vec::new()),
        }
    }
}

pub struct ChunkReader<'a> {
    spool: &'a mut SpoolReader,
    chunks: std::vec::IntoIter<(u64, usize)>,
    current: std::io::Cursor<Vec<u8>>,
}

impl Read for ChunkReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.current.read(out)?;
            if n > 0 || out.is_empty() {
                return Ok(n);
            }
            let Some((offset, len)) = self.chunks.next() else {
                return Ok(0);
            };
            let plain = self
                .spool
                .get(offset, len as u64)
                .map_err(std::io::Error::other)?;
            self.current = std::io::Cursor::new(plain);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_and_the_file_holds_no_plaintext() {
        let mut spool = Spool::new().unwrap();
        let a = spool.put(b"secret-value-0451").unwrap();
        let mut chunked = spool.chunked();
        let big: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        chunked.write_all(&big).unwrap();
        let records = chunked.finish().unwrap();
        assert_eq!(records.len(), big.len().div_ceil(CHUNK));
        let b = spool.put(b"").unwrap();
        assert_eq!(
            spool.len(),
            17 + 16 + big.len() as u64 + 16 * records.len() as u64 + 16
        );
        let mut reader = spool.into_reader().unwrap();
        let mut raw = Vec::new();
        reader.file.seek(SeekFrom::Start(0)).unwrap();
        reader.file.read_to_end(&mut raw).unwrap();
        assert!(!raw.windows(12).any(|w| w == b"secret-value"));
        assert_eq!(reader.get(a, 17).unwrap(), b"secret-value-0451");
        assert_eq!(reader.get(b, 0).unwrap(), b"");
        let mut back = Vec::new();
        reader.chunks(records).read_to_end(&mut back).unwrap();
        assert_eq!(back, big);
    }

    #[test]
    fn an_altered_record_fails_instead_of_reaching_the_snapshot() {
        let mut spool = Spool::new().unwrap();
        let a = spool.put(b"value").unwrap();
        let mut reader = spool.into_reader().unwrap();
        let mut byte = [0u8; 1];
        reader.file.seek(SeekFrom::Start(a + 1)).unwrap();
        reader.file.read_exact(&mut byte).unwrap();
        reader.file.seek(SeekFrom::Start(a + 1)).unwrap();
        reader.file.write_all(&[byte[0] ^ 0xff]).unwrap();
        let err = reader.get(a, 5).unwrap_err();
        assert!(err.to_string().contains("spool"), "{err}");
    }
}

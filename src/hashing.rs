//! A pass-through that hashes (sha256) and counts every byte read or written through it.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

pub struct Hashing<T> {
    inner: T,
    hasher: Sha256,
    len: u64,
}

impl<T> Hashing<T> {
    pub fn new(inner: T) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// The inner reader or writer, the sha256 (hex) and the byte count of what went through.
    pub fn finish(self) -> (T, String, u64) {
        (self.inner, hex::encode(self.hasher.finalize()), self.len)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

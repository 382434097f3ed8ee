//! The byte streams between the archive and the store: on export the tar.gz is hashed and age-
//! encrypted as it is written; on import it is decrypted and hashed as it is read.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

enum Sink<W: Write> {
    Plain(W),
    Age(age::stream::StreamWriter<W>),
}

/// Hashes the plaintext archive, then encrypts it (or not) into `W`.
pub struct SealWriter<W: Write> {
    sink: Sink<W>,
    hasher: Sha256,
}

impl<W: Write> SealWriter<W> {
    pub(super) fn plain(out: W) -> Self {
        SealWriter {
            sink: Sink::Plain(out),
            hasher: Sha256::new(),
        }
    }

    pub(super) fn age(out: age::stream::StreamWriter<W>) -> Self {
        SealWriter {
            sink: Sink::Age(out),
            hasher: Sha256::new(),
        }
    }

    /// Ends the age stream; returns the output and the sha256 (hex) of the plaintext.
    pub fn finish(self) -> io::Result<(W, String)> {
        let out = match self.sink {
            Sink::Plain(w) => w,
            Sink::Age(w) => w.finish()?,
        };
        Ok((out, hex::encode(self.hasher.finalize())))
    }
}

impl<W: Write> Write for SealWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match &mut self.sink {
            Sink::Plain(w) => w.write(buf)?,
            Sink::Age(w) => w.write(buf)?,
        };
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Plain(w) => w.flush(),
            Sink::Age(w) => w.flush(),
        }
    }
}

/// Hashes what is read through it.
pub struct HashReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> HashReader<R> {
    pub fn new(inner: R) -> Self {
        HashReader {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// Reads the rest (at most `limit` bytes more) and returns the sha256 (hex) of everything.
    pub fn finish(mut self, limit: u64) -> io::Result<String> {
        let rest = io::copy(&mut (&mut self).take(limit + 1), &mut io::sink())?;
        if rest > limit {
            return Err(io::Error::other("trailing data after the archive"));
        }
        Ok(hex::encode(self.hasher.finalize()))
    }
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

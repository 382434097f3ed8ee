//! Objects as streams. `RangeReader` reads a stored object in ranges of 1 MiB as a synchronous
//! consumer needs them, pinned to the version it started with, so a slow consumer (an import
//! applying as it reads) never holds a download open, nor the whole object. `pipe` feeds an
//! archive written on a blocking thread into `Store::put_stream` as it is produced.

use std::io::{Cursor, ErrorKind, Read, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures::Stream;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio_util::io::StreamReader;

use super::{ReadStore, Stat};
use crate::error::{Error, one_line};

/// Parts of a streamed upload: S3 needs at least 5 MiB for every part but the last.
pub const PART_SIZE: usize = 8 << 20;
const RANGE: u64 = 1 << 20;

/// The store error behind a failed read, if the store (not the bytes) was the problem.
#[derive(Clone, Default)]
pub struct StreamFailure(Arc<Mutex<Option<Error>>>);

impl StreamFailure {
    pub fn take(&self) -> Option<Error> {
        self.0.lock().ok()?.take()
    }

    fn set(&self, e: Error) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(e);
        }
    }
}

/// A blocking reader over one version of a stored object. Use it off the async runtime
/// (`spawn_blocking`); each range is fetched on `handle`.
pub struct RangeReader {
    store: Arc<dyn ReadStore>,
    key: String,
    stat: Stat,
    pos: u64,
    buf: Vec<u8>,
    at: usize,
    handle: Handle,
    failure: StreamFailure,
}

impl RangeReader {
    pub fn new(store: Arc<dyn ReadStore>, key: &str, stat: Stat, failure: StreamFailure) -> Self {
        RangeReader {
            store,
            key: key.to_string(),
            stat,
            pos: 0,
            buf: Vec::new(),
            at: 0,
            handle: Handle::current(),
            failure,
        }
    }
}

impl Read for RangeReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.buf.len() {
            if self.pos >= self.stat.size || out.is_empty() {
                return Ok(0);
            }
            let len = RANGE.min(self.stat.size - self.pos);
            let etag = self.stat.etag.as_deref();
            let got = self
                .handle
                .block_on(self.store.get_range(&self.key, self.pos, len, etag));
            match got {
                Ok(bytes) if bytes.len() as u64 == len => {
                    self.buf = bytes;
                    self.at = 0;
                    self.pos += len;
                }
                Ok(bytes) => {
                    let e = Error::Store {
                        location: self.store.location(),
                        message: format!(
                            "{}: read {} bytes at offset {}, expected {len}; it changed while \
                             being read",
                            self.key,
                            bytes.len(),
                            self.pos
                        ),
                    };
                    let message = one_line(&e);
                    self.failure.set(e);
                    return Err(std::io::Error::other(message));
                }
                Err(e) => {
                    let message = one_line(&e);
                    self.failure.set(e);
                    return Err(std::io::Error::other(message));
                }
            }
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The blocking end of a streamed upload: a `Write` the archive is produced into, on a blocking
/// thread. Dropped without `finish`, it makes the upload fail rather than complete short.
pub struct PipeWriter {
    tx: mpsc::Sender<std::io::Result<Cursor<Vec<u8>>>>,
    buf: Vec<u8>,
    finished: bool,
}

/// The async end of a streamed upload, for `Store::put_stream`.
pub type PipeReader = StreamReader<
    Pin<Box<dyn Stream<Item = std::io::Result<Cursor<Vec<u8>>>> + Send>>,
    Cursor<Vec<u8>>,
>;

const PIPE_CHUNK: usize = 256 << 10;

/// A pipe from a blocking producer to an upload, holding at most about 1 MiB in between.
pub fn pipe() -> (PipeWriter, PipeReader) {
    let (tx, rx) = mpsc::channel(4);
    let chunks = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let writer = PipeWriter {
        tx,
        buf: Vec::with_capacity(PIPE_CHUNK),
        finished: false,
    };
    (writer, StreamReader::new(Box::pin(chunks)))
}

impl PipeWriter {
    fn send(&mut self) -> std::io::Result<()> {
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(PIPE_CHUNK));
        self.tx
            .blocking_send(Ok(Cursor::new(chunk)))
            .map_err(|_| std::io::Error::new(ErrorKind::BrokenPipe, "the upload stopped"))
    }

    /// Sends what is left: the upload may complete.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.send()?;
        self.finished = true;
        Ok(())
    }
}

impl Write for PipeWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() >= PIPE_CHUNK {
            self.send()?;
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        if !self.finished {
            let why = std::io::Error::other("the snapshot archive was not finished");
            let _ = self.tx.try_send(Err(why));
        }
    }
}

//! Objects as streams. `RangeReader` reads a stored object in ranges of 1 MiB as a synchronous
//! consumer needs them (a few fetched ahead), pinned to the version it started with, so a slow
//! consumer (an import applying as it reads) never holds a download open, nor the whole object.
//! `chunks` hands what one blocking thread reads to another. `pipe` feeds an archive written on a
//! blocking thread into `Store::put_stream` as it is produced.

use std::collections::VecDeque;
use std::io::{Cursor, ErrorKind, Read, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures::Stream;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::io::StreamReader;

use super::{ReadStore, Stat};
use crate::error::{Error, Result, one_line};

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
/// (`spawn_blocking`); each range is fetched on `handle`, the next `AHEAD` while this one is read.
pub struct RangeReader {
    store: Arc<dyn ReadStore>,
    key: String,
    stat: Stat,
    /// Where the next range to fetch starts.
    pos: u64,
    /// Ranges being fetched, in order: offset, length, the fetch.
    ahead: VecDeque<(u64, u64, Fetch)>,
    buf: Vec<u8>,
    at: usize,
    handle: Handle,
    failure: StreamFailure,
}

/// One range being fetched.
type Fetch = JoinHandle<Result<Vec<u8>>>;

/// Ranges fetched ahead of the reader: a consumer that reads as fast as the store answers keeps
/// it busy, and at most this many MiB more are held.
const AHEAD: usize = 3;

impl RangeReader {
    pub fn new(store: Arc<dyn ReadStore>, key: &str, stat: Stat, failure: StreamFailure) -> Self {
        RangeReader {
            store,
            key: key.to_string(),
            stat,
            pos: 0,
            ahead: VecDeque::new(),
            buf: Vec::new(),
            at: 0,
            handle: Handle::current(),
            failure,
        }
    }

    /// Starts fetching ranges until `AHEAD` are under way or the object is all requested.
    fn fetch_ahead(&mut self) {
        while self.ahead.len() < AHEAD && self.pos < self.stat.size {
            let len = RANGE.min(self.stat.size - self.pos);
            let (store, key, etag) = (self.store.clone(), self.key.clone(), self.stat.etag.clone());
            let start = self.pos;
            let fetch = self
                .handle
                .spawn(async move { store.get_range(&key, start, len, etag.as_deref()).await });
            self.ahead.push_back((start, len, fetch));
            self.pos += len;
        }
    }

    /// The object's next range as it was fetched, or `None` at its end.
    pub fn next_range(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        self.fetch_ahead();
        let Some((start, len, fetch)) = self.ahead.pop_front() else {
            return Ok(None);
        };
        let got = self.handle.block_on(fetch).unwrap_or_else(|e| {
            Err(Error::Store {
                location: self.store.location(),
                message: format!("{}: the read at offset {start} stopped: {e}", self.key),
            })
        });
        self.fetch_ahead();
        let e = match got {
            Ok(bytes) if bytes.len() as u64 == len => return Ok(Some(bytes)),
            Ok(bytes) => Error::Store {
                location: self.store.location(),
                message: format!(
                    "{}: read {} bytes at offset {start}, expected {len}; it changed while being \
                     read",
                    self.key,
                    bytes.len(),
                ),
            },
            Err(e) => e,
        };
        let message = one_line(&e);
        self.failure.set(e);
        Err(std::io::Error::other(message))
    }
}

impl Drop for RangeReader {
    fn drop(&mut self) {
        for (_, _, fetch) in &self.ahead {
            fetch.abort();
        }
    }
}

impl Read for RangeReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.at == self.buf.len() {
            match self.next_range()? {
                Some(bytes) => (self.buf, self.at) = (bytes, 0),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The sending end of `chunks`: chunks of bytes in order, then `Chunk::End`.
pub type ChunkSender = std::sync::mpsc::SyncSender<Chunk>;

/// What goes through `chunks`.
pub enum Chunk {
    Data(Vec<u8>),
    /// The producer failed: the reader fails with this.
    Failed(std::io::Error),
    /// Every byte has been sent.
    End,
}

/// A bounded pipe between two blocking threads: what one thread reads (from a `RangeReader`) is
/// read again by the other, with at most `depth` chunks in between.
pub fn chunks(depth: usize) -> (ChunkSender, ChunkReader) {
    let (tx, rx) = std::sync::mpsc::sync_channel(depth);
    let reader = ChunkReader {
        rx,
        buf: Vec::new(),
        at: 0,
        ended: false,
    };
    (tx, reader)
}

/// The reading end of `chunks`. A producer that goes away without `Chunk::End` is an error.
pub struct ChunkReader {
    rx: std::sync::mpsc::Receiver<Chunk>,
    buf: Vec<u8>,
    at: usize,
    ended: bool,
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.buf.len() {
            if self.ended || out.is_empty() {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Chunk::Data(bytes)) => (self.buf, self.at) = (bytes, 0),
                Ok(Chunk::Failed(e)) => return Err(e),
                Ok(Chunk::End) => self.ended = true,
                Err(_) => return Err(std::io::Error::other("the object stopped streaming")),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, Store};

    #[test]
    fn chunks_end_only_at_their_end_and_fail_with_their_producer() {
        let (tx, mut rx) = chunks(2);
        tx.send(Chunk::Data(b"ab".to_vec())).unwrap();
        tx.send(Chunk::Data(b"c".to_vec())).unwrap();
        let sending = std::thread::spawn(move || tx.send(Chunk::End).unwrap());
        let mut got = Vec::new();
        rx.read_to_end(&mut got).unwrap();
        sending.join().unwrap();
        assert_eq!(got, b"abc");
        // A producer gone without `End` (a crash) is an error, not a short object.
        let (tx, mut rx) = chunks(2);
        tx.send(Chunk::Data(b"ab".to_vec())).unwrap();
        drop(tx);
        assert!(rx.read_to_end(&mut Vec::new()).is_err());
        let (tx, mut rx) = chunks(2);
        tx.send(Chunk::Failed(std::io::Error::other("store down")))
            .unwrap();
        let err = rx.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "store down");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_range_reader_reads_ahead_in_order_and_stops_at_the_end() {
        let store = Arc::new(MemoryStore::default());
        let data: Vec<u8> = (0..(5 * RANGE + 7)).map(|i| (i % 251) as u8).collect();
        store.put("obj", data.clone()).await.unwrap();
        let stat = store.stat("obj").await.unwrap();
        let reader = RangeReader::new(store, "obj", stat, StreamFailure::default());
        let read = tokio::task::spawn_blocking(move || {
            let mut reader = reader;
            let mut out = Vec::new();
            reader.read_to_end(&mut out).map(|_| out)
        });
        assert_eq!(read.await.unwrap().unwrap(), data);
    }
}

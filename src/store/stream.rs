//! Objects as streams. `RangeReader` reads a stored object in ranges of 1 MiB as a synchronous
//! consumer needs them (a few fetched ahead), pinned to the version it started with, so a slow
//! consumer (an import applying as it reads) never holds a download open, nor the whole object;
//! and, given the `RangeDigests` a first read noted, hands on only those very bytes whatever the
//! store does meanwhile. `pipe` feeds an archive written on a blocking thread into
//! `Store::put_stream` as it is produced.

use std::collections::VecDeque;
use std::io::{Cursor, ErrorKind, Read, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures::Stream;
use sha2::{Digest, Sha256};
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

/// The sha256 of each range of an object, as one read found them: later reads of it are held to
/// these bytes (`RangeReader::checked_against`). 32 bytes a MiB.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RangeDigests(Vec<[u8; 32]>);

impl RangeDigests {
    /// Notes the object's next range, as `RangeReader::next_range` returned it.
    pub fn note(&mut self, range: &[u8]) {
        self.0.push(Sha256::digest(range).into());
    }
}

/// A blocking reader over one version of a stored object. Use it off the async runtime
/// (`spawn_blocking`); each range is fetched on `handle`, the next few (`AHEAD`, or as
/// `reading_ahead` says) while this one is read.
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
    /// What each range must hash to.
    checked: Option<Arc<RangeDigests>>,
    /// How many ranges are fetched ahead.
    depth: usize,
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
            checked: None,
            depth: AHEAD,
        }
    }

    /// Fetches `ranges` ahead instead of `AHEAD`: a reader that only hashes what it reads keeps
    /// more requests in flight (and at most that many MiB more in memory).
    pub fn reading_ahead(mut self, ranges: usize) -> Self {
        self.depth = ranges.max(1);
        self
    }

    /// Hands on only the bytes an earlier read found (`digests`): a range that differs is a
    /// refusal of the object, whatever the store says of its version. Each range is checked as it
    /// arrives, on the runtime, not on the reading thread.
    pub fn checked_against(mut self, digests: Arc<RangeDigests>) -> Self {
        self.checked = Some(digests);
        self
    }

    /// Starts fetching ranges until `depth` are under way or the object is all requested.
    fn fetch_ahead(&mut self) {
        while self.ahead.len() < self.depth && self.pos < self.stat.size {
            let len = RANGE.min(self.stat.size - self.pos);
            let (store, key) = (self.store.clone(), self.key.clone());
            let start = self.pos;
            let range = self.stat.range(start, len);
            let noted = (self.checked.as_ref()).map(|d| d.0.get((start / RANGE) as usize).copied());
            let fetch = self.handle.spawn(async move {
                let bytes = store.get_range(&key, &range).await?;
                match noted {
                    Some(digest) if bytes.len() as u64 == len => check(&key, start, bytes, digest),
                    _ => Ok(bytes),
                }
            });
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

/// The range of `key` at `start`, if its sha256 is the one noted for it.
fn check(key: &str, start: u64, bytes: Vec<u8>, noted: Option<[u8; 32]>) -> Result<Vec<u8>> {
    if noted.is_some_and(|d| d == <[u8; 32]>::from(Sha256::digest(&bytes))) {
        return Ok(bytes);
    }
    Err(Error::refused(
        key,
        format!(
            "its {} bytes at offset {start} are not the ones its signature was checked over (it \
             changed while being imported)",
            bytes.len()
        ),
    ))
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

    /// A store holding `ranges` whole ranges and 7 bytes more at `obj`, those bytes and their stat.
    async fn stored(ranges: u64) -> (Arc<MemoryStore>, Vec<u8>, Stat) {
        let store = Arc::new(MemoryStore::default());
        let data: Vec<u8> = (0..(ranges * RANGE + 7)).map(|i| (i % 251) as u8).collect();
        store.put("obj", data.clone()).await.unwrap();
        let stat = store.stat("obj").await.unwrap();
        (store, data, stat)
    }

    /// All `reader` hands on, read on a blocking thread.
    async fn read_all(mut reader: RangeReader) -> std::io::Result<Vec<u8>> {
        let read = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            reader.read_to_end(&mut out).map(|_| out)
        });
        read.await.unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_range_reader_reads_ahead_in_order_and_stops_at_the_end() {
        let (store, data, stat) = stored(5).await;
        let reader = RangeReader::new(store, "obj", stat, StreamFailure::default());
        assert_eq!(read_all(reader).await.unwrap(), data);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_checked_range_reader_hands_on_only_the_bytes_noted_before() {
        let (store, data, stat) = stored(2).await;
        let mut noted = RangeDigests::default();
        for range in data.chunks(RANGE as usize) {
            noted.note(range);
        }
        let noted = Arc::new(noted);
        let read = |stat: Stat, failure: StreamFailure| {
            let reader = RangeReader::new(store.clone(), "obj", stat, failure);
            read_all(reader.checked_against(noted.clone()))
        };
        let ok = read(stat.clone(), StreamFailure::default());
        assert_eq!(ok.await.unwrap(), data);

        // Another object of the same size under the same tag (a store that does not notice).
        let mut swapped = data.clone();
        swapped[RANGE as usize + 1] ^= 1;
        store.put("obj", swapped).await.unwrap();
        let failure = StreamFailure::default();
        let untagged = Stat { etag: None, ..stat };
        let got = read(untagged, failure.clone()).await;
        assert!(got.is_err());
        let e = failure.take().unwrap();
        assert_eq!(e.exit_code(), crate::exit::REFUSED);
        assert!(e.to_string().contains(&format!("offset {RANGE}")), "{e}");
    }
}

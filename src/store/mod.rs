//! Where snapshots live: a read half (`ReadStore`) and a write half (`Store`), implemented for
//! S3-compatible object storage (`s3://BUCKET/PREFIX`), a local directory (`file:///DIR`) and
//! memory (unit tests). Keys are relative to the prefix. Encryption and signing wrap a store;
//! they never live inside an implementation.

mod file;
pub mod memory;
mod s3;
mod stream;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::io::AsyncRead;

use crate::error::{Error, Result};

pub use file::FileStore;
pub use memory::MemoryStore;
pub use s3::S3Store;
pub use stream::{
    PART_SIZE, PipeReader, PipeWriter, RangeDigests, RangeReader, StreamFailure, pipe,
};

#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub modified: Option<DateTime<Utc>>,
}

/// An object's size, and a tag that changes whenever the object does (the ETag on S3).
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    pub size: u64,
    pub etag: Option<String>,
}

impl Stat {
    /// `len` bytes from `start` of the version this describes.
    pub fn range(&self, start: u64, len: u64) -> ByteRange {
        ByteRange {
            start,
            len,
            etag: self.etag.clone(),
        }
    }
}

/// Part of one version of an object: `len` bytes from `start`, read only while the object is still
/// the one `etag` names (whichever version is there when `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct ByteRange {
    pub start: u64,
    pub len: u64,
    pub etag: Option<String>,
}

impl ByteRange {
    /// The refusal to hand on bytes of another version than the one asked for (`now` is the tag
    /// of the object read).
    pub(crate) fn same_version(
        &self,
        location: String,
        key: &str,
        now: Option<&str>,
    ) -> Result<()> {
        match &self.etag {
            Some(asked) if now != Some(asked.as_str()) => Err(Error::Store {
                location,
                message: format!("{key} changed while being read"),
            }),
            _ => Ok(()),
        }
    }
}

/// The most `Store::get` reads: `latest.json` and signatures are a few hundred bytes, and
/// whoever can write to the bucket must not be able to make a run buffer gigabytes.
pub const MAX_SMALL_OBJECT: u64 = 64 << 10;

/// The refusal of a small object over `MAX_SMALL_OBJECT`, before any of it is read.
pub(crate) fn too_large(key: &str, size: u64) -> Error {
    Error::refused(
        key,
        format!(
            "it has {size} bytes, over the {} KiB a pointer or signature may have; not read",
            MAX_SMALL_OBJECT >> 10
        ),
    )
}

/// A stream of bytes to upload.
pub type Body<'a> = &'a mut (dyn AsyncRead + Send + Unpin);

/// The read half: what `list`, `verify`, `status` and an import need.
#[async_trait]
pub trait ReadStore: Send + Sync {
    /// Where this store points, without credentials (`s3://bucket/prefix`).
    fn location(&self) -> String;
    /// The objects directly under the prefix.
    async fn list(&self) -> Result<Vec<ObjectInfo>>;
    /// A small object's bytes, or `None` if it does not exist. One over `MAX_SMALL_OBJECT` bytes
    /// is refused (`Error::Refused`) without being read.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// An object's size and tag; `Error::NotFound` if it does not exist.
    async fn stat(&self, key: &str) -> Result<Stat>;
    /// The bytes of `range` (fewer at the object's end); an error if the object is no longer the
    /// version the range names.
    async fn get_range(&self, key: &str, range: &ByteRange) -> Result<Vec<u8>>;
}

/// A store that can also be written: the read half plus the write half (what `export` and
/// retention need).
#[async_trait]
pub trait Store: ReadStore {
    async fn put(&self, key: &str, data: Vec<u8>) -> Result<()>;
    /// Writes `key` only while it is still the version `expected` tags (`None`: only while it
    /// does not exist): a conditional write (`If-Match` / `If-None-Match` on S3). When the object
    /// moved on, `Error::Conflict`, and nothing is written. By default a compare-then-write (a
    /// directory, memory), which narrows the race to the time between the two.
    async fn put_if(&self, key: &str, data: Vec<u8>, expected: Option<&str>) -> Result<()> {
        let now = match self.stat(key).await {
            Ok(stat) => stat.etag,
            Err(Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        if now.as_deref() != expected {
            return Err(Error::Conflict {
                location: self.location(),
                key: key.to_string(),
            });
        }
        self.put(key, data).await
    }
    /// Uploads a stream as it is produced (on S3 a multipart upload in parts of `PART_SIZE`);
    /// the object appears whole or not at all. Returns its size.
    async fn put_stream(&self, key: &str, body: Body<'_>) -> Result<u64>;
    async fn delete(&self, key: &str) -> Result<()>;
}

/// Opens the store a URL names.
pub async fn open(url: &str) -> Result<Box<dyn Store>> {
    if let Some(rest) = url.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::config(
                "REPLICATOR_STORE",
                format!("`{url}` has no bucket; expected s3://BUCKET/PREFIX"),
            ));
        }
        return Ok(Box::new(
            S3Store::new(bucket, prefix.trim_matches('/')).await?,
        ));
    }
    if let Some(dir) = url.strip_prefix("file://") {
        if !dir.starts_with('/') {
            return Err(Error::config(
                "REPLICATOR_STORE",
                format!("`{url}` is not an absolute path; expected file:///DIR"),
            ));
        }
        return Ok(Box::new(FileStore::new(dir)));
    }
    Err(Error::config(
        "REPLICATOR_STORE",
        format!("`{url}` is not supported; expected s3://BUCKET/PREFIX or file:///DIR"),
    ))
}

/// Opens the store a URL names, for reading only.
pub async fn open_read(url: &str) -> Result<Box<dyn ReadStore>> {
    Ok(open(url).await?)
}

/// The prefix a store URL publishes under: `PREFIX` of `s3://BUCKET/PREFIX`, the directory of
/// `file:///DIR`. Signatures made before they named the whole store (`published_at`) name this.
pub fn prefix_of(url: &str) -> String {
    let url = url.trim();
    if let Some(rest) = url.strip_prefix("s3://") {
        let prefix = rest.split_once('/').map_or("", |(_, p)| p);
        return prefix.trim_matches('/').to_string();
    }
    let dir = url.strip_prefix("file://").unwrap_or(url);
    match dir.trim_end_matches('/') {
        "" => "/".to_string(),
        d => d.to_string(),
    }
}

/// The source a store URL (or a prefix, as given) names to an importer: its prefix. What
/// `promote --source` and `status` take and show.
pub fn source_of(url_or_prefix: &str) -> String {
    match url_or_prefix.contains("://") {
        true => prefix_of(&published_at(url_or_prefix)),
        false => url_or_prefix.trim().trim_matches('/').to_string(),
    }
}

/// The store a URL publishes at, as a snapshot's signature names it: `s3://BUCKET/PREFIX` (no
/// surrounding slashes; `s3://BUCKET` at a bucket's root) or `file:///DIR`. That is all a store
/// URL holds here: credentials, region and endpoint come from the environment, and may differ
/// between the side that writes and the side that reads.
pub fn published_at(url: &str) -> String {
    let url = url.trim();
    match url.strip_prefix("s3://") {
        Some(rest) => with_prefix(url, rest.split_once('/').map_or("", |(_, p)| p)),
        None => format!("file://{}", prefix_of(url)),
    }
}

/// `published_at(url)` with another prefix (`dc`; a directory for a `file://` store).
pub fn with_prefix(url: &str, prefix: &str) -> String {
    let Some(rest) = url.trim().strip_prefix("s3://") else {
        return published_at(&format!("file://{prefix}"));
    };
    let bucket = rest.split_once('/').map_or(rest, |(b, _)| b);
    match prefix.trim_matches('/') {
        "" => format!("s3://{bucket}"),
        p => format!("s3://{bucket}/{p}"),
    }
}

/// A key must be one plain name: the layout is flat, and nothing may climb out of the prefix.
pub(crate) fn check_key(location: &str, key: &str) -> Result<()> {
    if key.is_empty() || key.contains('/') || key.contains('\\') || key == "." || key == ".." {
        return Err(Error::Store {
            location: location.to_string(),
            message: format!("refusing object key {key:?}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unsupported_urls_are_config_errors() {
        for url in ["http://x", "file://relative", "s3:///prefix"] {
            let err = open(url).await.err().map(|e| e.exit_code());
            assert_eq!(err, Some(crate::exit::USAGE), "{url}");
        }
    }

    #[test]
    fn the_published_store_names_the_bucket_and_prefix_only() {
        for (url, published) in [
            ("s3://bucket/prod/", "s3://bucket/prod"),
            (" s3://bucket//a/b/ ", "s3://bucket/a/b"),
            ("s3://bucket", "s3://bucket"),
            ("s3://bucket/", "s3://bucket"),
            ("file:///srv/snapshots/", "file:///srv/snapshots"),
            ("file:///", "file:///"),
        ] {
            assert_eq!(published_at(url), published, "{url}");
        }
        for (url, prefix, published) in [
            ("s3://bucket/prod", "/dc/", "s3://bucket/dc"),
            ("s3://bucket/prod", "", "s3://bucket"),
            ("file:///a", "/srv/x/", "file:///srv/x"),
        ] {
            assert_eq!(with_prefix(url, prefix), published, "{url} {prefix}");
        }
    }

    #[test]
    fn the_published_prefix_leaves_out_the_bucket() {
        for (url, prefix) in [
            ("s3://bucket/prod/", "prod"),
            ("s3://other-bucket//prod", "prod"),
            ("s3://bucket", ""),
            ("file:///srv/snapshots/", "/srv/snapshots"),
        ] {
            assert_eq!(prefix_of(url), prefix, "{url}");
        }
    }

    #[test]
    fn keys_cannot_escape_the_prefix() {
        for key in ["../etc", "a/b", "a\\b", "..", ""] {
            let err = check_key("x", key).unwrap_err();
            assert!(
                matches!(&err, Error::Store { location, message } if location == "x" && *message == format!("refusing object key {key:?}")),
                "{key}: {err:?}"
            );
        }
        check_key("x", "latest.json").unwrap();
    }
}

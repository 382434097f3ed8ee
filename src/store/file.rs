//! A snapshot store in a local directory (`file:///DIR`), for tests, demos and air-gapped copies.
//! Writes go to a temporary file first and are renamed into place, so readers never see half.

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{
    Body, ByteRange, MAX_SMALL_OBJECT, ObjectInfo, ReadStore, Stat, Store, check_key, too_large,
};
use crate::error::{Error, Result};

pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    pub fn new(dir: &str) -> Self {
        FileStore {
            dir: PathBuf::from(dir),
        }
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        check_key(&self.location(), key)?;
        Ok(self.dir.join(key))
    }

    fn err(&self, what: String, e: std::io::Error) -> Error {
        if e.kind() == std::io::ErrorKind::NotFound {
            return Error::NotFound {
                location: self.location(),
                what,
            };
        }
        Error::Store {
            location: self.location(),
            message: format!("{what}: {e}"),
        }
    }

    async fn write_atomically(&self, key: &str, data: Body<'_>) -> Result<u64> {
        let dest = self.path(key)?;
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| self.err("create directory".into(), e))?;
        let tmp = self.dir.join(format!(".{key}.partial"));
        let written = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            let n = tokio::io::copy(data, &mut file).await?;
            file.sync_all().await?;
            Ok::<_, std::io::Error>(n)
        }
        .await;
        let n = match written {
            Ok(n) => n,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(self.err(format!("write {key}"), e));
            }
        };
        tokio::fs::rename(&tmp, &dest)
            .await
            .map_err(|e| self.err(format!("rename into {key}"), e))?;
        Ok(n)
    }
}

/// A tag that changes when the file does: its length and modification time.
fn file_tag(meta: &std::fs::Metadata) -> Option<String> {
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!("{}-{}", meta.len(), mtime.as_nanos()))
}

#[async_trait]
impl ReadStore for FileStore {
    fn location(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    async fn list(&self) -> Result<Vec<ObjectInfo>> {
        let mut rd = tokio::fs::read_dir(&self.dir)
            .await
            .map_err(|e| self.err("directory".into(), e))?;
        let mut out = Vec::new();
        while let Some(entry) = rd
            .next_entry()
            .await
            .map_err(|e| self.err("directory".into(), e))?
        {
            let Ok(key) = entry.file_name().into_string() else {
                continue;
            };
            let Ok(meta) = entry.metadata().await else {
                continue;
            };
            if !meta.is_file() || key.starts_with('.') {
                continue;
            }
            out.push(ObjectInfo {
                key,
                size: meta.len(),
                modified: meta.modified().ok().map(DateTime::<Utc>::from),
            });
        }
        Ok(out)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let mut file = match tokio::fs::File::open(self.path(key)?).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.err(format!("read {key}"), e)),
        };
        let ctx = |e| self.err(format!("read {key}"), e);
        let size = file.metadata().await.map_err(ctx)?.len();
        if size > MAX_SMALL_OBJECT {
            return Err(too_large(key, size));
        }
        // The file may grow between the look and the read.
        let mut buf = Vec::new();
        (&mut file)
            .take(MAX_SMALL_OBJECT + 1)
            .read_to_end(&mut buf)
            .await
            .map_err(ctx)?;
        if buf.len() as u64 > MAX_SMALL_OBJECT {
            return Err(too_large(key, buf.len() as u64));
        }
        Ok(Some(buf))
    }

    async fn stat(&self, key: &str) -> Result<Stat> {
        let meta = tokio::fs::metadata(self.path(key)?)
            .await
            .map_err(|e| self.err(key.to_string(), e))?;
        Ok(Stat {
            size: meta.len(),
            etag: file_tag(&meta),
        })
    }

    async fn get_range(&self, key: &str, range: &ByteRange) -> Result<Vec<u8>> {
        let path = self.path(key)?;
        let read = async {
            let mut file = tokio::fs::File::open(&path).await?;
            let tag = file_tag(&file.metadata().await?);
            file.seek(std::io::SeekFrom::Start(range.start)).await?;
            let mut buf = Vec::with_capacity(range.len as usize);
            (&mut file).take(range.len).read_to_end(&mut buf).await?;
            Ok::<_, std::io::Error>((buf, tag))
        };
        let (buf, tag) = read.await.map_err(|e| self.err(key.to_string(), e))?;
        range.same_version(self.location(), key, tag.as_deref())?;
        Ok(buf)
    }
}

#[async_trait]
impl Store for FileStore {
    async fn put(&self, key: &str, data: Vec<u8>) -> Result<()> {
        self.write_atomically(key, &mut data.as_slice())
            .await
            .map(|_| ())
    }

    async fn put_stream(&self, key: &str, body: Body<'_>) -> Result<u64> {
        self.write_atomically(key, body).await
    }

    /// Compared, then written by a rename: conditional against any other writer that is not
    /// inside the same instant (a directory store serves one machine).
    async fn delete(&self, key: &str) -> Result<()> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(self.err(format!("delete {key}"), e))
            }
            _ => Ok(()),
        }
    }
}

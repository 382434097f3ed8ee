//! A snapshot store in a local directory (`file:///DIR`), for tests, demos and air-gapped copies.
//! Writes go to a temporary file first and are renamed into place, so readers never see half.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{ObjectInfo, Store, check_key};
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

    async fn write_atomically(&self, key: &str, data: WriteSource<'_>) -> Result<()> {
        let dest = self.path(key)?;
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| self.err("create directory".into(), e))?;
        let tmp = self.dir.join(format!(".{key}.partial"));
        let written = match data {
            WriteSource::Bytes(b) => tokio::fs::write(&tmp, b).await,
            WriteSource::File(src) => tokio::fs::copy(src, &tmp).await.map(|_| ()),
        };
        written.map_err(|e| self.err(format!("write {key}"), e))?;
        tokio::fs::rename(&tmp, &dest)
            .await
            .map_err(|e| self.err(format!("rename into {key}"), e))
    }
}

enum WriteSource<'a> {
    Bytes(Vec<u8>),
    File(&'a Path),
}

#[async_trait]
impl Store for FileStore {
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
        match tokio::fs::read(self.path(key)?).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.err(format!("read {key}"), e)),
        }
    }

    async fn get_file(&self, key: &str, dest: &Path) -> Result<u64> {
        tokio::fs::copy(self.path(key)?, dest)
            .await
            .map_err(|e| self.err(key.to_string(), e))
    }

    async fn put(&self, key: &str, data: Vec<u8>) -> Result<()> {
        self.write_atomically(key, WriteSource::Bytes(data)).await
    }

    async fn put_file(&self, key: &str, src: &Path) -> Result<()> {
        self.write_atomically(key, WriteSource::File(src)).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(self.err(format!("delete {key}"), e))
            }
            _ => Ok(()),
        }
    }
}

//! A store in memory (`memory://`), for unit tests: the same contract as the others (flat keys
//! checked the same way, the small-object limit, a tag that changes on every write), nothing kept
//! once it is dropped.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::io::AsyncReadExt;

use super::{
    Body, ByteRange, MAX_SMALL_OBJECT, ObjectInfo, ReadStore, Stat, Store, check_key, too_large,
};
use crate::error::{Error, Result};

struct Stored {
    data: Vec<u8>,
    generation: u64,
    modified: DateTime<Utc>,
}

#[derive(Default)]
struct Objects {
    by_key: BTreeMap<String, Stored>,
    writes: u64,
}

#[derive(Default)]
pub struct MemoryStore {
    objects: Mutex<Objects>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn objects(&self) -> Result<MutexGuard<'_, Objects>> {
        self.objects.lock().map_err(|_| Error::Store {
            location: self.location(),
            message: "a writer failed while holding the store".into(),
        })
    }

    fn not_found(&self, key: &str) -> Error {
        Error::NotFound {
            location: self.location(),
            what: key.to_string(),
        }
    }

    /// The keys held, in order.
    pub fn keys(&self) -> Result<Vec<String>> {
        Ok(self.objects()?.by_key.keys().cloned().collect())
    }

    fn insert(&self, key: &str, data: Vec<u8>) -> Result<()> {
        check_key(&self.location(), key)?;
        let mut objects = self.objects()?;
        objects.writes += 1;
        let generation = objects.writes;
        objects.by_key.insert(
            key.to_string(),
            Stored {
                data,
                generation,
                modified: Utc::now(),
            },
        );
        Ok(())
    }
}

#[async_trait]
impl ReadStore for MemoryStore {
    fn location(&self) -> String {
        "memory://".to_string()
    }

    async fn list(&self) -> Result<Vec<ObjectInfo>> {
        Ok(self
            .objects()?
            .by_key
            .iter()
            .map(|(key, o)| ObjectInfo {
                key: key.clone(),
                size: o.data.len() as u64,
                modified: Some(o.modified),
            })
            .collect())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        check_key(&self.location(), key)?;
        let objects = self.objects()?;
        let Some(o) = objects.by_key.get(key) else {
            return Ok(None);
        };
        if o.data.len() as u64 > MAX_SMALL_OBJECT {
            return Err(too_large(key, o.data.len() as u64));
        }
        Ok(Some(o.data.clone()))
    }

    async fn stat(&self, key: &str) -> Result<Stat> {
        check_key(&self.location(), key)?;
        let objects = self.objects()?;
        let o = objects.by_key.get(key).ok_or_else(|| self.not_found(key))?;
        Ok(Stat {
            size: o.data.len() as u64,
            etag: Some(o.generation.to_string()),
        })
    }

    async fn get_range(&self, key: &str, range: &ByteRange) -> Result<Vec<u8>> {
        check_key(&self.location(), key)?;
        let objects = self.objects()?;
        let o = objects.by_key.get(key).ok_or_else(|| self.not_found(key))?;
        range.same_version(self.location(), key, Some(&o.generation.to_string()))?;
        let from = usize::try_from(range.start)
            .unwrap_or(usize::MAX)
            .min(o.data.len());
        let to = usize::try_from(range.start.saturating_add(range.len))
            .unwrap_or(usize::MAX)
            .min(o.data.len());
        Ok(o.data[from..to].to_vec())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn put(&self, key: &str, data: Vec<u8>) -> Result<()> {
        self.insert(key, data)
    }

    async fn put_stream(&self, key: &str, body: Body<'_>) -> Result<u64> {
        check_key(&self.location(), key)?;
        let mut data = Vec::new();
        body.read_to_end(&mut data)
            .await
            .map_err(|e| Error::Store {
                location: self.location(),
                message: format!("write {key}: {e}"),
            })?;
        let n = data.len() as u64;
        self.insert(key, data)?;
        Ok(n)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        check_key(&self.location(), key)?;
        self.objects()?.by_key.remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_rewrite_changes_the_tag_and_ranges_stay_pinned() {
        let store = MemoryStore::new();
        store.put("a", b"hello world".to_vec()).await.unwrap();
        let stat = store.stat("a").await.unwrap();
        assert_eq!(stat.size, 11);
        let part = store.get_range("a", &stat.range(6, 100)).await;
        assert_eq!(part.unwrap(), b"world");
        store.put("a", b"changed".to_vec()).await.unwrap();
        let err = store.get_range("a", &stat.range(0, 1)).await;
        assert!(
            matches!(&err, Err(Error::Store { message, .. }) if message == "a changed while being read"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn missing_objects_and_bad_keys_are_told_apart() {
        let store = MemoryStore::new();
        assert_eq!(store.get("nope").await.unwrap(), None);
        assert!(matches!(
            store.stat("nope").await,
            Err(Error::NotFound { .. })
        ));
        let err = store.put("../x", vec![]).await;
        assert!(
            matches!(&err, Err(Error::Store { message, .. }) if message.starts_with("refusing object key")),
            "{err:?}"
        );
        store.delete("nope").await.unwrap();
    }

    #[tokio::test]
    async fn a_large_object_is_refused_by_get() {
        let store = MemoryStore::new();
        store
            .put("big", vec![0; MAX_SMALL_OBJECT as usize + 1])
            .await
            .unwrap();
        assert!(matches!(store.get("big").await, Err(Error::Refused { .. })));
    }
}

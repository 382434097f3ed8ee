//! The store layout: full snapshots named `<UTC timestamp>.tar.gz` and deltas
//! `<UTC timestamp>.delta.tar.gz`, sealed as `seal` names them (encrypted, next to their
//! signature), and `latest.json`, the pointer an import follows, which names the newest snapshot
//! and its chain. Locating a snapshot checks it against the pointer.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::seal;
use crate::store::{ObjectInfo, ReadStore, Stat, Store};

pub const LATEST: &str = "latest.json";
const SUFFIX: &str = ".tar.gz";
const DELTA: &str = ".delta";
const STAMP: &str = "%Y%m%dT%H%M%SZ";

/// `latest.json`: which snapshot an import should use, and what it must hash to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pointer {
    pub key: String,
    pub sha256: String,
    pub size: u64,
    pub created_at: DateTime<Utc>,
    /// The snapshots an import applies to get to `key`: the chain's full snapshot first, `key`
    /// last (`[key]` for a full one). A hint: every link is checked against the signed deltas.
    /// Absent in pointers of exporters before deltas.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<String>,
}

pub fn snapshot_key(at: DateTime<Utc>, encrypted: bool) -> String {
    sealed(format!("{}{SUFFIX}", at.format(STAMP)), encrypted)
}

/// The key of a delta made at `at`.
pub fn delta_key(at: DateTime<Utc>, encrypted: bool) -> String {
    sealed(format!("{}{DELTA}{SUFFIX}", at.format(STAMP)), encrypted)
}

fn sealed(plain: String, encrypted: bool) -> String {
    match encrypted {
        true => seal::encrypted_key(&plain),
        false => plain,
    }
}

/// Whether a snapshot key names a delta.
pub fn is_delta(key: &str) -> bool {
    seal::plain_name(key).ends_with(&format!("{DELTA}{SUFFIX}"))
}

/// The creation time encoded in a snapshot key (full or delta), or `None` if the key is not a
/// snapshot.
pub fn parse_snapshot_key(key: &str) -> Option<DateTime<Utc>> {
    let name = seal::plain_name(key).strip_suffix(SUFFIX)?;
    let stamp = name.strip_suffix(DELTA).unwrap_or(name);
    NaiveDateTime::parse_from_str(stamp, STAMP)
        .ok()
        .map(|t| t.and_utc())
}

/// The snapshots in the store, newest first.
pub async fn list_snapshots(store: &dyn ReadStore) -> Result<Vec<(DateTime<Utc>, ObjectInfo)>> {
    let mut snaps: Vec<_> = store
        .list()
        .await?
        .into_iter()
        .filter_map(|o| parse_snapshot_key(&o.key).map(|t| (t, o)))
        .collect();
    snaps.sort_by_key(|s| std::cmp::Reverse(s.0));
    Ok(snaps)
}

pub async fn read_pointer(store: &dyn ReadStore) -> Result<Option<Pointer>> {
    let Some(bytes) = store.get(LATEST).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::refused(LATEST, format!("not a valid pointer: {e}")))
}

fn pointer_bytes(store: &dyn Store, pointer: &Pointer) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(pointer).map_err(|e| Error::Store {
        location: store.location(),
        message: format!("cannot serialise {LATEST}: {e}"),
    })
}

pub async fn write_pointer(store: &dyn Store, pointer: &Pointer) -> Result<()> {
    store.put(LATEST, pointer_bytes(store, pointer)?).await
}

/// `latest.json` as it is now, with the tag of the version read (to extend the chain from it
/// with `extend_pointer`); `None` when there is none. Unreadable is `Error::Refused`.
pub async fn read_pointer_tagged(store: &dyn Store) -> Result<Option<(Pointer, Option<String>)>> {
    let tag = match store.stat(LATEST).await {
        Ok(stat) => stat.etag,
        Err(Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(pointer) = read_pointer(store).await? else {
        return Ok(None);
    };
    // Moved between the two reads: the tag may not be the pointer's.
    match store.stat(LATEST).await?.etag == tag {
        true => Ok(Some((pointer, tag))),
        false => Err(Error::Conflict {
            location: store.location(),
            key: LATEST.to_string(),
        }),
    }
}

/// Moves `latest.json` to a delta, only while it is still the version `tag` names (the delta's
/// base): two exports never interleave one chain. `Error::Conflict` when it moved. Some S3
/// stores ignore conditional writes (Garage 2.5 does): the pointer is read back as well, so an
/// export that another overtook there says so rather than claiming the chain.
pub async fn extend_pointer(store: &dyn Store, pointer: &Pointer, tag: Option<&str>) -> Result<()> {
    let bytes = pointer_bytes(store, pointer)?;
    store.put_if(LATEST, bytes, tag).await?;
    match read_pointer(store).await? {
        Some(now) if now.key == pointer.key => Ok(()),
        _ => Err(Error::Conflict {
            location: store.location(),
            key: LATEST.to_string(),
        }),
    }
}

/// Moves `latest.json` to `pointer`, unless it already names a newer snapshot (an export that
/// started later finished first): then it is left alone, and that newer key is returned. A
/// pointer dated in the future, or unreadable, is replaced.
pub async fn move_pointer(store: &dyn Store, pointer: &Pointer) -> Result<Option<String>> {
    let current = match read_pointer(store).await {
        Ok(p) => p,
        Err(e @ Error::Refused { .. }) => {
            tracing::warn!(error = %crate::error::one_line(&e), "replacing {LATEST}");
            None
        }
        Err(e) => return Err(e),
    };
    let now = Utc::now();
    let ours = parse_snapshot_key(&pointer.key);
    if let Some(c) = current
        && let (Some(theirs), Some(ours)) = (parse_snapshot_key(&c.key), ours)
        && theirs > ours
        && !seal::future_dated(theirs, now)
    {
        tracing::warn!(
            snapshot = %pointer.key,
            latest = %c.key,
            "{LATEST} already names a newer snapshot; left as it is"
        );
        return Ok(Some(c.key));
    }
    write_pointer(store, pointer).await.map(|()| None)
}

/// A snapshot found in the store: its size and tag, the pointer that named it (if one did), and
/// the bytes of its signature when it has one. Nothing of it is trusted yet.
pub struct Located {
    pub key: String,
    pub stat: Stat,
    pub pointer: Option<Pointer>,
    pub signature: Option<Vec<u8>>,
}

impl Located {
    /// Refuses the object when it came through `latest.json` and its sha256 is not the pointer's.
    pub fn check_pointer(&self, sha256: &str) -> Result<()> {
        let Some(p) = &self.pointer else {
            return Ok(());
        };
        if sha256 != p.sha256 || self.stat.size != p.size {
            return Err(Error::refused(
                &self.key,
                format!(
                    "it does not match {LATEST} (sha256 {}…, {} bytes; expected {}…, {} bytes)",
                    sha256.get(..12).unwrap_or(sha256),
                    self.stat.size,
                    p.sha256.get(..12).unwrap_or(&p.sha256),
                    p.size
                ),
            ));
        }
        Ok(())
    }
}

/// Whether `id` is a whole snapshot key (sealed or not) rather than a bare time stamp.
fn is_full_key(id: &str) -> bool {
    seal::plain_name(id).ends_with(SUFFIX)
}

/// The creation time an ID names (`20261120T214500Z` or a full key), or `None` for `latest`.
pub fn parse_id(id: &str) -> Result<Option<DateTime<Utc>>> {
    let id = id.trim();
    if id.is_empty() || id == "latest" {
        return Ok(None);
    }
    let key = if is_full_key(id) {
        id.to_string()
    } else {
        format!("{id}{SUFFIX}")
    };
    match parse_snapshot_key(&key) {
        Some(t) => Ok(Some(t)),
        None => Err(Error::config(
            "--snapshot",
            format!("`{id}` is not a snapshot ID such as 20261120T214500Z, nor `latest`"),
        )),
    }
}

/// The key `id` names, with its stat: a full key (`20261120T214500Z.tar.gz.age`) is that object
/// and no other; a bare ID is its sealed snapshot, or the plaintext one when there is no sealed
/// one. Nothing else with the same time stamp is ever picked.
async fn resolve(store: &dyn ReadStore, id: &str) -> Result<(String, Stat)> {
    let id = id.trim();
    let candidates = match is_full_key(id) {
        true => vec![id.to_string()],
        false => {
            let plain = format!("{id}{SUFFIX}");
            let delta = format!("{id}{DELTA}{SUFFIX}");
            vec![
                seal::encrypted_key(&plain),
                plain,
                seal::encrypted_key(&delta),
                delta,
            ]
        }
    };
    for key in candidates {
        match store.stat(&key).await {
            Ok(stat) => return Ok((key, stat)),
            Err(Error::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::NotFound {
        location: store.location(),
        what: format!("snapshot {id}"),
    })
}

/// Resolves `id` (`latest`, `20261120T214500Z` or a full key) and finds the object and its
/// signature. An object larger than `max_bytes`, or than its pointer says, is refused before any
/// of it is read.
pub async fn locate(store: &dyn ReadStore, id: &str, max_bytes: u64) -> Result<Located> {
    let (key, stat, pointer) = if parse_id(id)?.is_some() {
        let (key, stat) = resolve(store, id).await?;
        (key, stat, None)
    } else {
        let pointer = read_pointer(store).await?.ok_or_else(|| Error::NotFound {
            location: store.location(),
            what: format!("{LATEST} (no snapshot has been exported here yet)"),
        })?;
        if parse_snapshot_key(&pointer.key).is_none() {
            return Err(Error::refused(
                LATEST,
                format!(
                    "it points at `{}`, which is not a snapshot name",
                    pointer.key
                ),
            ));
        }
        let key = pointer.key.clone();
        let stat = store.stat(&key).await.map_err(|e| match e {
            Error::NotFound { location, .. } => Error::refused(
                LATEST,
                format!("it points at {key}, which is missing from {location}"),
            ),
            other => other,
        })?;
        (key, stat, Some(pointer))
    };
    let size = pointer
        .as_ref()
        .map_or(stat.size, |p| p.size.max(stat.size));
    if size > max_bytes {
        return Err(Error::refused(
            &key,
            format!(
                "it has {size} bytes, over the limit of {max_bytes} (REPLICATOR_MAX_ARCHIVE_SIZE)"
            ),
        ));
    }
    let signature = store.get(&seal::signature_key(&key)).await?;
    Ok(Located {
        key,
        stat,
        pointer,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use chrono::{TimeDelta, TimeZone};

    #[test]
    fn snapshot_keys_round_trip_and_reject_other_names() {
        let t = Utc.with_ymd_and_hms(2026, 11, 20, 21, 45, 0).unwrap();
        assert_eq!(snapshot_key(t, false), "20261120T214500Z.tar.gz");
        assert_eq!(snapshot_key(t, true), "20261120T214500Z.tar.gz.age");
        assert_eq!(parse_snapshot_key("20261120T214500Z.tar.gz"), Some(t));
        assert_eq!(parse_snapshot_key("20261120T214500Z.tar.gz.age"), Some(t));
        assert_eq!(
            parse_snapshot_key("20261120T214500Z.tar.gz.age.minisig"),
            None
        );
        assert_eq!(parse_snapshot_key("latest.json"), None);
        assert_eq!(delta_key(t, true), "20261120T214500Z.delta.tar.gz.age");
        assert_eq!(
            parse_snapshot_key("20261120T214500Z.delta.tar.gz.age"),
            Some(t)
        );
        assert!(is_delta("20261120T214500Z.delta.tar.gz") && !is_delta("20261120T214500Z.tar.gz"));
        assert_eq!(
            parse_snapshot_key("20261120T214500Z.delta.delta.tar.gz"),
            None
        );
        assert_eq!(parse_snapshot_key("../20261120T214500Z.tar.gz"), None);
    }

    /// The exporter's index and the signature sit next to their snapshot; neither is one.
    #[tokio::test]
    async fn sidecars_are_not_snapshots() {
        let t = Utc.with_ymd_and_hms(2026, 11, 20, 21, 45, 0).unwrap();
        let store = MemoryStore::new();
        for snapshot in [snapshot_key(t, true), delta_key(t, false)] {
            for key in [
                crate::snapshot::index::index_key(&snapshot),
                seal::signature_key(&snapshot),
                snapshot.clone(),
            ] {
                assert_eq!(parse_snapshot_key(&key).is_some(), key == snapshot, "{key}");
                store.put(&key, vec![0]).await.unwrap();
            }
        }
        let listed: Vec<String> = list_snapshots(&store)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, o)| o.key)
            .collect();
        assert_eq!(listed.len(), 2, "{listed:?}");
        assert!(
            listed
                .iter()
                .all(|k| k.ends_with(".tar.gz.age") || k.ends_with(".tar.gz"))
        );
    }

    #[tokio::test]
    async fn a_named_snapshot_is_exactly_that_object() {
        let store = MemoryStore::new();
        let id = "20261120T214500Z";
        for (name, len) in [(format!("{id}.tar.gz"), 1), (format!("{id}.tar.gz.age"), 2)] {
            store.put(&name, vec![0; len]).await.unwrap();
        }
        for (asked, found) in [
            (format!("{id}.tar.gz"), format!("{id}.tar.gz")),
            (format!("{id}.tar.gz.age"), format!("{id}.tar.gz.age")),
            (id.to_string(), format!("{id}.tar.gz.age")),
        ] {
            assert_eq!(resolve(&store, &asked).await.unwrap().0, found, "{asked}");
        }
        store.delete(&format!("{id}.tar.gz.age")).await.unwrap();
        assert_eq!(resolve(&store, id).await.unwrap().0, format!("{id}.tar.gz"));
        let missing = resolve(&store, &format!("{id}.tar.gz.age")).await;
        assert!(matches!(missing, Err(Error::NotFound { .. })));
    }

    #[tokio::test]
    async fn a_snapshot_that_does_not_match_latest_is_refused() {
        let store = MemoryStore::new();
        let at = Utc.with_ymd_and_hms(2026, 11, 20, 21, 45, 0).unwrap();
        let key = snapshot_key(at, true);
        store.put(&key, vec![1, 2, 3]).await.unwrap();
        store
            .put(&seal::signature_key(&key), b"sig".to_vec())
            .await
            .unwrap();
        let pointer = Pointer {
            key: key.clone(),
            sha256: "a".repeat(64),
            size: 3,
            created_at: at,
            chain: Vec::new(),
        };
        write_pointer(&store, &pointer).await.unwrap();
        let located = locate(&store, "latest", 1 << 20).await.unwrap();
        assert_eq!(located.signature.as_deref(), Some(&b"sig"[..]));
        let err = located.check_pointer(&"b".repeat(64)).unwrap_err();
        assert!(
            matches!(&err, Error::Refused { reason, .. } if reason.starts_with("it does not match latest.json")),
            "{err:?}"
        );
        let err = locate(&store, "latest", 2).await.err();
        assert!(
            matches!(&err, Some(Error::Refused { reason, .. }) if reason.contains("over the limit of 2")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn latest_never_moves_back_but_moves_past_a_future_dated_pointer() {
        let store = MemoryStore::new();
        let pointer = |at: DateTime<Utc>| Pointer {
            key: snapshot_key(at, true),
            sha256: "0".repeat(64),
            size: 1,
            created_at: at,
            chain: Vec::new(),
        };
        let now = Utc::now();
        let (older, newer) = (pointer(now - TimeDelta::minutes(1)), pointer(now));
        assert_eq!(move_pointer(&store, &newer).await.unwrap(), None);
        assert_eq!(
            move_pointer(&store, &older).await.unwrap(),
            Some(newer.key.clone())
        );
        assert_eq!(read_pointer(&store).await.unwrap(), Some(newer));
        let future = pointer(now + TimeDelta::days(1));
        write_pointer(&store, &future).await.unwrap();
        assert_eq!(move_pointer(&store, &older).await.unwrap(), None);
        assert_eq!(read_pointer(&store).await.unwrap(), Some(older));
    }

    #[tokio::test]
    async fn a_delta_extends_latest_only_while_it_is_the_version_read() {
        let store = MemoryStore::new();
        let pointer = |key: &str| Pointer {
            key: key.into(),
            sha256: "0".repeat(64),
            size: 1,
            created_at: Utc::now(),
            chain: vec![key.into()],
        };
        // No pointer yet: only a create succeeds.
        extend_pointer(&store, &pointer("a"), None).await.unwrap();
        let conflict = extend_pointer(&store, &pointer("b"), None).await;
        assert!(
            matches!(conflict, Err(Error::Conflict { .. })),
            "{conflict:?}"
        );
        let (read, tag) = read_pointer_tagged(&store).await.unwrap().unwrap();
        assert_eq!(read.key, "a");
        // Another export moved it since this one read it: refused, and theirs stays.
        write_pointer(&store, &pointer("other")).await.unwrap();
        let stale = extend_pointer(&store, &pointer("b"), tag.as_deref()).await;
        assert!(matches!(stale, Err(Error::Conflict { .. })), "{stale:?}");
        assert_eq!(read_pointer(&store).await.unwrap().unwrap().key, "other");
        let (_, tag) = read_pointer_tagged(&store).await.unwrap().unwrap();
        extend_pointer(&store, &pointer("b"), tag.as_deref())
            .await
            .unwrap();
        assert_eq!(read_pointer(&store).await.unwrap().unwrap().key, "b");
    }
}

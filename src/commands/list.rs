//! `list` and `verify`: what the store holds, and whether one snapshot would import. Neither
//! touches a Vault cluster; both only read the store. Each returns a value that `render` prints
//! as text or JSON.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use serde::Serialize;

use super::contents::Content;
use crate::config::{ListCheck, ListConfig, VerifyConfig};
use crate::error::{Error, Result, one_line};
use crate::seal::{self, Opener};
use crate::select::Selection;
use crate::snapshot::manifest::NotCopied;
use crate::snapshot::{Limits, catalog, reader, verify};
use crate::store::{self, RangeReader, ReadStore, Stat, StreamFailure};
use crate::vault::ClusterInfo;

/// The store's snapshots, newest first.
#[derive(Debug, Serialize)]
pub struct Listing {
    pub location: String,
    /// The snapshot `latest.json` points at.
    pub latest: Option<String>,
    pub snapshots: Vec<Listed>,
}

impl Listing {
    /// Whether `list --verify` refused any snapshot.
    pub fn any_refused(&self) -> bool {
        self.snapshots.iter().any(|s| s.check == Check::Refused)
    }
}

#[derive(Debug, Serialize)]
pub struct Listed {
    pub key: String,
    pub bytes: u64,
    pub created_at: DateTime<Utc>,
    pub latest: bool,
    /// Objects per kind, as its manifest says; `None` when it could not be read.
    pub counts: Option<BTreeMap<String, u64>>,
    /// Whether it was verified (`list --verify`); without, the counts are the unverified head's.
    #[serde(rename = "verification")]
    pub check: Check,
    /// Why it was refused, or why its counts could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    Unverified,
    Verified,
    Refused,
}

/// How many snapshots' heads are read at once.
const HEADS_AT_ONCE: usize = 4;

/// The snapshots, newest first, with size, age and object counts; `latest` is marked. With
/// `--verify` (`ListCheck::Verify`), each is verified in full (a refused one is listed as such, and the rest still are);
/// without, only the head of each is read, up to its manifest.
pub async fn list(config: &ListConfig) -> Result<Listing> {
    let store: Arc<dyn ReadStore> = store::open_read(&config.store_url).await?.into();
    let snaps = catalog::list_snapshots(store.as_ref()).await?;
    if snaps.is_empty() {
        return Err(Error::NotFound {
            location: store.location(),
            what: "snapshot".into(),
        });
    }
    let latest = catalog::read_pointer(store.as_ref())
        .await
        .ok()
        .flatten()
        .map(|p| p.key);
    let mut snapshots: Vec<Listed> = snaps
        .iter()
        .map(|(at, info)| Listed {
            key: info.key.clone(),
            bytes: info.size,
            created_at: *at,
            latest: latest.as_deref() == Some(info.key.as_str()),
            counts: None,
            check: Check::Unverified,
            reason: None,
        })
        .collect();
    match &config.check {
        ListCheck::Verify(verify) => verify_each(verify, &mut snapshots).await?,
        ListCheck::Heads { limits, opener } => {
            read_heads(*limits, opener, &store, &mut snapshots).await
        }
    }
    Ok(Listing {
        location: store.location(),
        latest,
        snapshots,
    })
}

/// Verifies every snapshot in full; a refusal is the snapshot's, any other error the run's.
async fn verify_each(config: &VerifyConfig, snapshots: &mut [Listed]) -> Result<()> {
    for s in snapshots {
        match verify::verify(config, &s.key).await {
            Ok((_, manifest)) => {
                s.counts = Some(manifest.counts);
                s.check = Check::Verified;
            }
            Err(Error::Refused { reason, .. }) => {
                s.check = Check::Refused;
                s.reason = Some(reason);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads the manifest at the head of each snapshot, a few at a time; one that cannot be read
/// keeps no counts and says why (all of them do, without an `opener`).
async fn read_heads(
    limits: Limits,
    opener: &std::result::Result<Arc<Opener>, String>,
    store: &Arc<dyn ReadStore>,
    snapshots: &mut [Listed],
) {
    let heads: Vec<_> = stream::iter(snapshots.iter())
        .map(|s| {
            let stat = Stat {
                size: s.bytes,
                etag: None,
            };
            head_counts(store.clone(), opener.clone(), limits, s.key.clone(), stat)
        })
        .buffered(HEADS_AT_ONCE)
        .collect()
        .await;
    for (s, head) in snapshots.iter_mut().zip(heads) {
        match head {
            Ok(counts) => s.counts = Some(counts),
            Err(reason) => s.reason = Some(reason),
        }
    }
}

/// The counts in the manifest of snapshot `key`: decrypts and inflates only up to it.
async fn head_counts(
    store: Arc<dyn ReadStore>,
    opener: std::result::Result<Arc<Opener>, String>,
    limits: Limits,
    key: String,
    stat: Stat,
) -> std::result::Result<BTreeMap<String, u64>, String> {
    let opener = opener?;
    let failure = StreamFailure::default();
    let data = RangeReader::new(store, &key, stat, failure.clone());
    let read = tokio::task::spawn_blocking(move || {
        let input = opener.open(&key, data).map_err(|e| one_line(&e))?;
        reader::read_head(input, limits).map(|m| m.counts)
    })
    .await
    .map_err(|e| format!("reader crashed: {e}"))?;
    // A store that failed mid-read is the store's error, not a fault of the snapshot.
    read.map_err(|e| failure.take().map_or(e, |f| one_line(&f)))
}

/// A snapshot that passed verification, and what it holds.
#[derive(Debug, Serialize)]
pub struct Verified {
    pub snapshot: String,
    /// Who signed it, when signed.
    pub signature: Option<Signature>,
    pub encrypted: bool,
    pub format_version: u32,
    pub created_at: DateTime<Utc>,
    pub source: ClusterInfo,
    pub entries: usize,
    pub counts: BTreeMap<String, u64>,
    pub not_copied: Vec<NotCopied>,
    /// With `--contents`: the objects it holds (those `--only` selects), in snapshot order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contents: Option<Vec<Content>>,
}

#[derive(Debug, Serialize)]
pub struct Signature {
    pub key_id: String,
    /// The source cluster's name (else its ID) and the store prefix the signature names.
    pub cluster: Option<String>,
    pub prefix: Option<String>,
    /// The store it names (`s3://BUCKET/PREFIX`), unless made before signatures named it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
}

/// Verifies one snapshot and describes it; with `contents`, lists the objects it holds (those
/// `only` selects).
pub async fn verify(
    config: &VerifyConfig,
    id: &str,
    contents: bool,
    only: Option<Selection>,
) -> Result<Verified> {
    let listed = Arc::new(Mutex::new(Vec::new()));
    let into = listed.clone();
    let (snapshot, m) = verify::verify_each(config, id, move |s| {
        if contents && only.as_ref().is_none_or(|o| o.matches(&s.object)) {
            let mut listed = into.lock().unwrap_or_else(|e| e.into_inner());
            listed.push(Content::of(&s.object));
        }
        true
    })
    .await?;
    let contents = contents.then(|| {
        let mut listed = listed.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *listed)
    });
    let signature = snapshot.signed.as_ref().map(|s| {
        let origin = s.claims.origin.as_ref();
        Signature {
            key_id: s.key_id.clone(),
            cluster: origin.map(|o| match o.source_name.is_empty() {
                true => o.source_id.clone(),
                false => o.source_name.clone(),
            }),
            prefix: origin.map(|o| o.prefix.clone()),
            store: origin.and_then(|o| o.store.clone()),
        }
    });
    Ok(Verified {
        encrypted: seal::is_encrypted(&snapshot.key),
        snapshot: snapshot.key,
        signature,
        format_version: m.format_version,
        created_at: m.created_at,
        source: m.source,
        entries: m.entries.len(),
        counts: m.counts,
        not_copied: m.not_copied,
        contents,
    })
}

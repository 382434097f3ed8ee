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
use crate::snapshot::manifest::{Manifest, NotCopied};
use crate::snapshot::{Limits, catalog, chain, reader, verify};
use crate::store::{self, RangeReader, ReadStore, Stat, StreamFailure};
use crate::vault::ClusterInfo;

/// The store's snapshots, newest first.
#[derive(Debug, Serialize)]
pub struct Listing {
    pub location: String,
    /// The snapshot `latest.json` points at.
    pub latest: Option<String>,
    /// The chain `latest.json` names (its full snapshot first, `latest` last); empty when it
    /// names none (a pointer made before deltas).
    pub latest_chain: Vec<String>,
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
    /// A full snapshot or a delta, as its name says.
    pub kind: SnapshotKind,
    /// Whether `latest.json`'s chain holds it (what an import applies to reach `latest`).
    pub in_latest_chain: bool,
    /// A delta's base: the key of the snapshot it applies to (its signature's `base` claim once
    /// verified, else its unverified manifest's); `None` for a full snapshot or when unread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// Objects per kind, as its manifest says; `None` when it could not be read. A delta's
    /// count only what it holds: the objects that are new or changed since its base.
    pub counts: Option<BTreeMap<String, u64>>,
    /// The objects a delta removes from its base; `None` for a full snapshot or when unread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<u64>,
    /// Whether it was verified (`list --verify`); without, the counts are the unverified head's.
    #[serde(rename = "verification")]
    pub check: Check,
    /// Why it was refused, or why its counts could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What a snapshot is: whole, or the changes since its base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotKind {
    Full,
    Delta,
}

/// What `list` shows of a snapshot's manifest.
struct Described {
    counts: BTreeMap<String, u64>,
    base: Option<String>,
    removed: Option<u64>,
}

impl Described {
    fn of(m: &Manifest) -> Described {
        Described {
            counts: m.counts.clone(),
            base: m.delta.as_ref().map(|d| d.base.key.clone()),
            removed: m.delta.as_ref().map(|d| d.removed.len() as u64),
        }
    }
}

impl Listed {
    fn describe(&mut self, d: Described) {
        self.counts = Some(d.counts);
        self.base = d.base;
        self.removed = d.removed;
    }
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

/// The snapshots, newest first, with size, age, object counts, full or delta (and a delta's
/// base); `latest` and its chain are marked. With `--verify` (`ListCheck::Verify`), each is
/// verified in full (a refused one is listed as such, and the rest still are); without, only the
/// head of each is read, up to its manifest.
pub async fn list(config: &ListConfig) -> Result<Listing> {
    let store: Arc<dyn ReadStore> = store::open_read(&config.store_url).await?.into();
    let snaps = catalog::list_snapshots(store.as_ref()).await?;
    if snaps.is_empty() {
        return Err(Error::NotFound {
            location: store.location(),
            what: "snapshot".into(),
        });
    }
    let pointer = catalog::read_pointer(store.as_ref()).await.ok().flatten();
    let (latest, latest_chain) = match pointer {
        Some(p) => (Some(p.key), p.chain),
        None => (None, Vec::new()),
    };
    let mut snapshots: Vec<Listed> = snaps
        .iter()
        .map(|(at, info)| Listed {
            key: info.key.clone(),
            bytes: info.size,
            created_at: *at,
            latest: latest.as_deref() == Some(info.key.as_str()),
            kind: match catalog::is_delta(&info.key) {
                true => SnapshotKind::Delta,
                false => SnapshotKind::Full,
            },
            in_latest_chain: latest_chain.contains(&info.key),
            base: None,
            counts: None,
            removed: None,
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
        latest_chain,
        snapshots,
    })
}

/// Verifies every snapshot in full; a refusal is the snapshot's, any other error the run's.
async fn verify_each(config: &VerifyConfig, snapshots: &mut [Listed]) -> Result<()> {
    for s in snapshots {
        match verify::verify(config, &s.key).await {
            Ok((snapshot, manifest)) => {
                let claimed = snapshot.signed.and_then(|signed| signed.claims.base);
                s.describe(Described::of(&manifest));
                s.base = claimed.or(s.base.take());
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
            head(store.clone(), opener.clone(), limits, s.key.clone(), stat)
        })
        .buffered(HEADS_AT_ONCE)
        .collect()
        .await;
    for (s, head) in snapshots.iter_mut().zip(heads) {
        match head {
            Ok(described) => s.describe(described),
            Err(reason) => s.reason = Some(reason),
        }
    }
}

/// What the manifest of snapshot `key` says of it: decrypts and inflates only up to it.
async fn head(
    store: Arc<dyn ReadStore>,
    opener: std::result::Result<Arc<Opener>, String>,
    limits: Limits,
    key: String,
    stat: Stat,
) -> std::result::Result<Described, String> {
    let opener = opener?;
    let failure = StreamFailure::default();
    let data = RangeReader::new(store, &key, stat, failure.clone());
    let read = tokio::task::spawn_blocking(move || {
        let input = opener.open(&key, data).map_err(|e| one_line(&e))?;
        reader::read_head(input, limits).map(|m| Described::of(&m))
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
    /// A delta's chain, verified link by link: its full snapshot first, this one last (empty
    /// for a full snapshot).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<String>,
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
    // A delta is only as good as its chain: each snapshot under it is verified, and linked.
    let chain = match m.is_delta() {
        true => chain::resolve(config, &snapshot.key, None).await?,
        false => Vec::new(),
    };
    let chain = chain.into_iter().map(|s| s.snapshot.key).collect();
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
        chain,
        contents,
    })
}

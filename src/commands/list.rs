//! `list` and `verify`: what the store holds, and whether one snapshot would import. Neither
//! touches a Vault cluster; both only read the store. Each returns a value that `render` prints
//! as text or JSON.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::import;
use crate::seal;
use crate::snapshot::catalog;
use crate::snapshot::manifest::NotCopied;
use crate::store;
use crate::vault::ClusterInfo;

/// The store's snapshots, newest first.
#[derive(Debug, Serialize)]
pub struct Listing {
    pub location: String,
    /// The snapshot `latest.json` points at.
    pub latest: Option<String>,
    pub snapshots: Vec<Listed>,
}

#[derive(Debug, Serialize)]
pub struct Listed {
    pub key: String,
    pub bytes: u64,
    pub created_at: DateTime<Utc>,
    pub latest: bool,
}

/// The snapshots, newest first, with size and age; `latest` is marked.
pub async fn list(settings: &Settings) -> Result<Listing> {
    let store = store::open_read(&settings.store_url()?).await?;
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
    let snapshots = snaps
        .iter()
        .map(|(at, info)| Listed {
            key: info.key.clone(),
            bytes: info.size,
            created_at: *at,
            latest: latest.as_deref() == Some(info.key.as_str()),
        })
        .collect();
    Ok(Listing {
        location: store.location(),
        latest,
        snapshots,
    })
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
}

#[derive(Debug, Serialize)]
pub struct Signature {
    pub key_id: String,
    /// The source cluster's name (else its ID) and the store prefix the signature names.
    pub cluster: Option<String>,
    pub prefix: Option<String>,
}

/// Verifies one snapshot and describes it.
pub async fn verify(settings: &Settings, id: &str) -> Result<Verified> {
    let (snapshot, m) = import::verify(settings, id).await?;
    let signature = snapshot.signed.as_ref().map(|s| {
        let origin = s.claims.origin.as_ref();
        Signature {
            key_id: s.key_id.clone(),
            cluster: origin.map(|o| match o.source_name.is_empty() {
                true => o.source_id.clone(),
                false => o.source_name.clone(),
            }),
            prefix: origin.map(|o| o.prefix.clone()),
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
    })
}

//! Whether an export cuts a delta, and on what: only on the snapshot `latest.json` names, when
//! that is the newest link of a chain whose full snapshot is the store's newest full one, young
//! enough (`REPLICATOR_FULL_EVERY`) and short enough (`REPLICATOR_MAX_CHAIN`), and when its
//! index opens with this exporter's key and was made with the same release and settings.
//! Anything else is a full snapshot, with the reason logged: a lost, stale or foreign index can
//! cost a full export, never a wrong delta.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::config::{ChainPolicy, WalkConfig};
use crate::error::{Error, Result};
use crate::snapshot::catalog::{self, Pointer};
use crate::snapshot::index::{BaseIndex, index_key};
use crate::store::Store;

/// The largest index read back (some 10 million entries).
const MAX_INDEX: u64 = 1 << 30;

/// What this export cuts: a delta on `base`, or a full snapshot and why.
pub struct Cut {
    /// The index of the snapshot `latest.json` names, for a delta.
    pub base: Option<Arc<BaseIndex>>,
    /// The chain up to the base, full snapshot first.
    pub chain: Vec<String>,
    /// The tag of the `latest.json` that named the base: the pointer moves only from it.
    pub tag: Option<String>,
    /// Why this is a full snapshot.
    pub full_because: Option<String>,
}

impl Cut {
    fn full(why: String) -> Cut {
        tracing::info!(because = %why, "cutting a full snapshot");
        Cut {
            base: None,
            chain: Vec::new(),
            tag: None,
            full_because: Some(why),
        }
    }
}

/// What an index must have been made with to be used: this release, the same walk settings and
/// the same source cluster (hex of a digest; nothing of it is secret, but it is kept short).
pub fn made_with(walk: &WalkConfig, source_id: &str) -> String {
    let settings = format!(
        "{}\n{}\n{:?}\n{}\n{:?}\n{source_id}",
        env!("CARGO_PKG_VERSION"),
        walk.kv_history,
        walk.filter,
        walk.state_mount,
        walk.escrow_mount,
    );
    hex::encode(&Sha256::digest(settings.as_bytes())[..16])
}

/// Decides what this export cuts.
pub async fn decide(
    store: &dyn Store,
    key: Option<&[u8; 32]>,
    made_with: &str,
    policy: &ChainPolicy,
    now: DateTime<Utc>,
) -> Result<Cut> {
    let Some(key) = key else {
        return Ok(Cut::full(
            "no signing key: the index a delta needs cannot be sealed".into(),
        ));
    };
    if policy.full_every.is_zero() {
        return Ok(Cut::full("REPLICATOR_FULL_EVERY is 0".into()));
    }
    let (pointer, tag) = match catalog::read_pointer_tagged(store).await {
        Ok(Some(found)) => found,
        Ok(None) => return Ok(Cut::full(format!("there is no {}", catalog::LATEST))),
        Err(e @ (Error::Refused { .. } | Error::Conflict { .. })) => {
            return Ok(Cut::full(crate::error::one_line(&e)));
        }
        Err(e) => return Err(e),
    };
    if let Some(why) = due(store, &pointer, policy, now).await? {
        return Ok(Cut::full(why));
    }
    let base = match read_index(store, key, &pointer.key, made_with).await? {
        Ok(index) => index,
        Err(why) => return Ok(Cut::full(format!("the index of {}: {why}", pointer.key))),
    };
    tracing::info!(base = %base.snapshot, "cutting a delta");
    Ok(Cut {
        base: Some(Arc::new(base)),
        chain: pointer.chain,
        tag,
        full_because: None,
    })
}

/// Why the chain `pointer` ends cannot take another delta, if it cannot.
async fn due(
    store: &dyn Store,
    pointer: &Pointer,
    policy: &ChainPolicy,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let (Some(full), Some(last)) = (pointer.chain.first(), pointer.chain.last()) else {
        return Ok(Some(format!("{} names no chain", catalog::LATEST)));
    };
    if *last != pointer.key || catalog::is_delta(full) {
        return Ok(Some(format!("{} names a broken chain", catalog::LATEST)));
    }
    let Some(cut) = catalog::parse_snapshot_key(full) else {
        return Ok(Some(format!("{full} is not a snapshot name")));
    };
    let age = (now - cut).to_std().unwrap_or_default();
    if age >= policy.full_every {
        return Ok(Some(format!(
            "the chain's full snapshot {full} is older than REPLICATOR_FULL_EVERY"
        )));
    }
    if pointer.chain.len() > policy.max_deltas {
        return Ok(Some(format!(
            "the chain holds {} deltas (REPLICATOR_MAX_CHAIN)",
            pointer.chain.len() - 1
        )));
    }
    // Retention keeps a delta's chain by the newest full snapshot before it: a chain on an
    // older full one would not be kept whole.
    let newest_full = catalog::list_snapshots(store)
        .await?
        .into_iter()
        .find(|(_, o)| !catalog::is_delta(&o.key));
    match newest_full {
        Some((_, o)) if o.key == *full => Ok(None),
        _ => Ok(Some(format!(
            "{full} is not the store's newest full snapshot"
        ))),
    }
}

/// The sealed index of `snapshot`, opened; `Err(why)` when it cannot be used.
async fn read_index(
    store: &dyn Store,
    key: &[u8; 32],
    snapshot: &str,
    made_with: &str,
) -> Result<std::result::Result<BaseIndex, String>> {
    let name = index_key(snapshot);
    let stat = match store.stat(&name).await {
        Ok(stat) => stat,
        Err(Error::NotFound { .. }) => return Ok(Err("missing".into())),
        Err(e) => return Err(e),
    };
    if stat.size > MAX_INDEX {
        return Ok(Err(format!("{} bytes, over {MAX_INDEX}", stat.size)));
    }
    let sealed = store.get_range(&name, &stat.range(0, stat.size)).await?;
    let opened = tokio::task::spawn_blocking({
        let (key, snapshot, made_with) = (*key, snapshot.to_string(), made_with.to_string());
        move || BaseIndex::open(sealed, &key, &snapshot, &made_with)
    })
    .await
    .map_err(|e| Error::io("open the last export's index", std::io::Error::other(e)))?;
    Ok(opened)
}

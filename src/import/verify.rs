//! Verifying a snapshot before anything is written: locate it (pointer or name), check its
//! signature and its origin and date over the bytes as they stream from the store, then stream
//! and check every entry against the signed manifest; `scan` streams it again for each later pass.
//! Also the rule that `latest.json` never takes a target back to an older snapshot.

use std::sync::Arc;

use chrono::Utc;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::hashing::Hashing;
use crate::seal::{self, HashReader, Opener, Signed};
use crate::snapshot::catalog;
use crate::snapshot::reader::Scanned;
use crate::snapshot::{Limits, Manifest, reader};
use crate::state::ImporterState;
use crate::store::{self, RangeReader, Stat, Store, StreamFailure};

/// A snapshot in the store whose signature has been checked. Every pass streams it from the
/// store again (pinned to the version that was checked), decrypts it and checks it against what
/// the signature vouches for; nothing of it lands on disk, and it is never held whole.
pub struct Snapshot {
    pub key: String,
    /// Bytes of the object as stored (encrypted).
    pub size: u64,
    pub signed: Option<Signed>,
    /// Entries besides the manifest, once verified.
    pub entries: u64,
    store: Arc<dyn Store>,
    stat: Stat,
    opener: Arc<Opener>,
    limits: Limits,
}

/// Downloads a snapshot, checks its signature, and verifies all of it. Any problem with the
/// snapshot is `Error::Refused`; nothing has been written to any Vault yet.
pub async fn verify(settings: &Settings, id: &str) -> Result<(Snapshot, Manifest)> {
    let opener = Arc::new(settings.opener()?);
    verify_with(settings, opener, settings.limits()?, id).await
}

pub(super) async fn verify_with(
    settings: &Settings,
    opener: Arc<Opener>,
    limits: Limits,
    id: &str,
) -> Result<(Snapshot, Manifest)> {
    verify_scanning(settings, opener, limits, id, |_| true).await
}

/// Verifies a snapshot as `verify` does, handing each object to `on_object` as the verifying pass
/// meets it (after its entry's digest is checked). The snapshot is only verified once this
/// returns `Ok`: whoever collects the objects must not use them before.
pub async fn verify_each(
    settings: &Settings,
    id: &str,
    on_object: impl FnMut(Scanned) -> bool + Send + 'static,
) -> Result<(Snapshot, Manifest)> {
    let opener = Arc::new(settings.opener()?);
    verify_scanning(settings, opener, settings.limits()?, id, on_object).await
}

async fn verify_scanning(
    settings: &Settings,
    opener: Arc<Opener>,
    limits: Limits,
    id: &str,
    on_object: impl FnMut(Scanned) -> bool + Send + 'static,
) -> Result<(Snapshot, Manifest)> {
    let store: Arc<dyn Store> = store::open(&settings.store_url()?).await?.into();
    let located = catalog::locate(store.as_ref(), id, limits.max_total_bytes).await?;
    // The signature is checked over the object as it streams by, and its digest compared with
    // the pointer's on the way, before anything parses it.
    let failure = StreamFailure::default();
    let reader = RangeReader::new(
        store.clone(),
        &located.key,
        located.stat.clone(),
        failure.clone(),
    );
    let (checker, key, sig) = (
        opener.clone(),
        located.key.clone(),
        located.signature.clone(),
    );
    let (signed, drained, sha256) = tokio::task::spawn_blocking(move || {
        let mut hashed = Hashing::new(reader);
        let signed = checker.check(&key, &mut hashed, sig.as_deref());
        let drained = std::io::copy(&mut hashed, &mut std::io::sink());
        let (_, sha256, _) = hashed.finish();
        (signed, drained, sha256)
    })
    .await
    .map_err(|e| Error::refused(&located.key, format!("reader crashed: {e}")))?;
    if let Some(e) = failure.take() {
        return Err(e);
    }
    drained.map_err(|e| Error::io(format!("read {}", located.key), e))?;
    located.check_pointer(&sha256)?;
    let signed = signed?;
    // What the signature vouches for: the prefix, the source and a date not ahead of the clock.
    let (expected, now) = (settings.expected_origin()?, Utc::now());
    if let Some(s) = &signed {
        expected.check(&located.key, &s.claims, now)?;
    }
    if let Some(at) = catalog::parse_snapshot_key(&located.key) {
        seal::check_not_future(&located.key, "name's", at, now)?;
    }
    let mut snapshot = Snapshot {
        key: located.key,
        size: located.stat.size,
        signed,
        entries: 0,
        store,
        stat: located.stat,
        opener,
        limits,
    };
    let manifest = scan(&snapshot, on_object).await?;
    let source = &manifest.source;
    let named = (
        source.cluster_name.as_deref().unwrap_or_default(),
        source.cluster_id.as_deref().unwrap_or_default(),
    );
    expected.check_manifest(&snapshot.key, named, manifest.created_at, now)?;
    snapshot.entries = manifest.entries.len() as u64;
    tracing::info!(
        snapshot = %snapshot.key,
        signed_by = snapshot.signed.as_ref().map(|s| s.key_id.as_str()).unwrap_or("nobody"),
        encrypted = snapshot.key.ends_with(seal::AGE_EXT),
        created_at = %manifest.created_at,
        source = %manifest.source.address,
        entries = manifest.entries.len(),
        "snapshot verified"
    );
    Ok((snapshot, manifest))
}

/// Trailing bytes tolerated after the gzip stream of an unsigned snapshot.
const MAX_TRAILER: u64 = 64 << 10;

pub(super) async fn scan(
    snap: &Snapshot,
    on_object: impl FnMut(Scanned) -> bool + Send + 'static,
) -> Result<Manifest> {
    let key = snap.key.clone();
    let (opener, limits, signed) = (snap.opener.clone(), snap.limits, snap.signed.clone());
    let failure = StreamFailure::default();
    let data = RangeReader::new(snap.store.clone(), &key, snap.stat.clone(), failure.clone());
    let scanned = tokio::task::spawn_blocking(move || {
        let refuse = |reason: String| Error::refused(&key, reason);
        let signed_manifest = signed.as_ref().map(|s| s.claims.manifest_sha256.as_str());
        let mut input = HashReader::new(opener.open(&key, data)?);
        let end = reader::scan(&mut input, limits, signed_manifest, on_object).map_err(refuse)?;
        let archive_sha256 = input
            .finish(MAX_TRAILER)
            .map_err(|e| refuse(format!("archive is corrupt or truncated: {e}")))?;
        if let Some(s) = signed {
            if s.claims.archive_sha256 != archive_sha256 {
                return Err(refuse("its archive is not the one that was signed".into()));
            }
            if s.claims.manifest_sha256 != end.manifest_sha256 {
                return Err(refuse("its manifest is not the one that was signed".into()));
            }
        }
        Ok(end.manifest)
    })
    .await
    .map_err(|e| Error::refused(&snap.key, format!("reader crashed: {e}")))?;
    // A store that failed mid-read is the store's error, not a fault of the snapshot.
    scanned.map_err(|e| failure.take().unwrap_or(e))
}

/// Refuses to follow `latest.json` back to a snapshot older than the one this target last
/// imported: an attacker who can write the pointer must not be able to roll DR back. An older
/// snapshot can still be imported by naming it with `--snapshot`.
pub(super) async fn check_not_older(state: &ImporterState, key: &str) -> Result<()> {
    let Some(last) = state.meta().await? else {
        return Ok(());
    };
    let (Some(this_at), Some(last_at)) = (
        catalog::parse_snapshot_key(key),
        catalog::parse_snapshot_key(&last.last_snapshot),
    ) else {
        return Ok(());
    };
    // A future-dated snapshot recorded by an older release must not block every later one.
    if seal::future_dated(last_at, Utc::now()) {
        tracing::warn!(
            last_snapshot = %last.last_snapshot,
            "the last import recorded here is dated in the future; not comparing with it"
        );
        return Ok(());
    }
    if this_at < last_at {
        return Err(Error::refused(
            key,
            format!(
                "{} points at it, but this cluster already imported the newer {}; import it \
                 with --snapshot if going back is intended",
                catalog::LATEST,
                last.last_snapshot
            ),
        ));
    }
    Ok(())
}

//! Verifying a snapshot before anything is written: locate it (pointer or name), check what its
//! signature vouches for (the object's name, origin and date, its archive's and manifest's
//! digests), then read the object's raw bytes once to check the signature over them, before any
//! of it is decrypted or parsed; then stream it again, held to those bytes, checking every entry
//! against the signed manifest. `scan` streams it again, so held, for each later pass. An import,
//! `verify`, `list --verify` and `diff` all verify through here. Also which snapshot in the store
//! is the newest one a trusted signature vouches for (what `latest.json` may never go behind).

use std::io::Read;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use sha2::{Digest, Sha256};

use super::catalog;
use super::reader::Scanned;
use super::{Limits, Manifest, reader};
use crate::error::{Error, Result};
use crate::seal::{self, Claims, Expected, HashReader, Opener, Signed};
use crate::store::{self, RangeDigests, RangeReader, Stat, Store, StreamFailure};

/// Where a snapshot is read from and how it is verified (`verify`, `list --verify`, `diff`,
/// `import`); `config` resolves it from the settings.
pub struct VerifyConfig {
    pub store_url: String,
    pub opener: Arc<Opener>,
    pub limits: Limits,
    /// The origin its signature must name.
    pub expected: Expected,
}

/// A snapshot in the store whose signature has been checked. Every pass streams it from the
/// store again (pinned to the version that was checked, and held to the bytes the signature was
/// checked over), decrypts it and checks it against what the signature vouches for; nothing of it
/// lands on disk, and it is never held whole.
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
    /// The bytes the signature was checked over, range by range.
    ranges: Arc<RangeDigests>,
}

impl Snapshot {
    /// A reader of the stored object, pinned to the version that was looked at; a store that
    /// fails under it leaves its error in `failure`.
    fn reader(&self, failure: &StreamFailure) -> RangeReader {
        let (store, stat) = (self.store.clone(), self.stat.clone());
        RangeReader::new(store, &self.key, stat, failure.clone())
    }

    /// Whether its signature names the store it was published at.
    pub fn names_its_store(&self) -> bool {
        self.origin().is_some_and(|o| o.store.is_some())
    }

    /// Whether its signature names only the store's prefix (an exporter before #25).
    pub fn names_only_its_prefix(&self) -> bool {
        self.origin().is_some_and(|o| o.store.is_none())
    }

    fn origin(&self) -> Option<&seal::Origin> {
        self.signed.as_ref()?.claims.origin.as_ref()
    }
}

/// Downloads a snapshot, checks its signature, and verifies all of it. Any problem with the
/// snapshot is `Error::Refused`; nothing has been written to any Vault yet.
pub async fn verify(config: &VerifyConfig, id: &str) -> Result<(Snapshot, Manifest)> {
    verify_scanning(config, id, |_| true).await
}

/// Verifies a snapshot as `verify` does, keeping the namespaces and mounts at its head (a few
/// objects), so that a pass that plans only those needs no second read. Like every object of the
/// verifying pass, they may be used only once this returns `Ok`.
pub async fn verify_keeping_heads(
    config: &VerifyConfig,
    id: &str,
) -> Result<(Snapshot, Manifest, Vec<Scanned>)> {
    let heads = Arc::new(Mutex::new((Vec::new(), false)));
    let into = heads.clone();
    let keep = move |s: Scanned| {
        if let Ok(mut kept) = into.lock() {
            let (heads, past) = &mut *kept;
            *past |= s.object.as_parent().is_none();
            if !*past {
                heads.push(s);
            }
        }
        true
    };
    let (snapshot, manifest) = verify_scanning(config, id, keep).await?;
    let heads = match heads.lock() {
        Ok(mut kept) => std::mem::take(&mut kept.0),
        Err(_) => return Err(Error::refused(&snapshot.key, "reader crashed")),
    };
    Ok((snapshot, manifest, heads))
}

/// Verifies a snapshot as `verify` does, handing each object to `on_object` as the verifying pass
/// meets it (after its entry's digest is checked). The snapshot is only verified once this
/// returns `Ok`: whoever collects the objects must not use them before.
pub async fn verify_each(
    config: &VerifyConfig,
    id: &str,
    on_object: impl FnMut(Scanned) -> bool + Send + 'static,
) -> Result<(Snapshot, Manifest)> {
    verify_scanning(config, id, on_object).await
}

async fn verify_scanning(
    config: &VerifyConfig,
    id: &str,
    on_object: impl FnMut(Scanned) -> bool + Send + 'static,
) -> Result<(Snapshot, Manifest)> {
    let (opener, limits) = (config.opener.clone(), config.limits);
    let store: Arc<dyn Store> = store::open(&config.store_url).await?.into();
    let located = catalog::locate(store.as_ref(), id, limits.max_total_bytes).await?;
    // The signature's trusted comment is checked before the object is read: what it vouches for
    // (the object's name, origin and date, its archive's and manifest's digests) is known first.
    let verifying = opener.check(&located.key, located.signature.as_deref())?;
    let (expected, now) = (&config.expected, Utc::now());
    let mut snapshot = Snapshot {
        key: located.key.clone(),
        size: located.stat.size,
        signed: None,
        entries: 0,
        store,
        stat: located.stat.clone(),
        opener,
        limits,
        ranges: Arc::default(),
    };
    // Nothing of the object is decrypted or parsed before the signature verifies over all of it:
    // whoever can write to the bucket can encrypt anything to this importer's recipient.
    let (signed, ranges) = authenticate(&snapshot, &located, verifying).await?;
    if let Some(s) = &signed {
        expected.check(&located.key, &s.claims, now)?;
    }
    if let Some(at) = catalog::parse_snapshot_key(&located.key) {
        seal::check_not_future(&located.key, "name's", at, now)?;
    }
    (snapshot.signed, snapshot.ranges) = (signed, Arc::new(ranges));
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

/// Reads the object's raw bytes once, parsing none of them: hashes them for the pointer, checks
/// the signature over them, and notes each range's digest for the passes that parse them later.
/// A crash of either hashing thread is an error, never a signature taken as checked.
/// A refusal is the store's error first, then the pointer's, then the signature's.
async fn authenticate(
    snapshot: &Snapshot,
    located: &catalog::Located,
    verifying: Option<seal::Verifying>,
) -> Result<(Option<Signed>, RangeDigests)> {
    let failure = StreamFailure::default();
    let reader = snapshot.reader(&failure).reading_ahead(RAW_AHEAD);
    let raw = tokio::task::spawn_blocking(move || read_raw(reader, verifying)).await;
    let crashed = |e| Error::refused(&located.key, format!("reader crashed: {e}"));
    let Raw {
        drained,
        sha256,
        verifying,
        ranges,
    } = raw.map_err(crashed)?;
    if let Some(e) = failure.take() {
        return Err(e);
    }
    drained.map_err(|e| Error::io(format!("read {}", located.key), e))?;
    located.check_pointer(&sha256)?;
    let signed = verifying.map(seal::Verifying::finish).transpose()?;
    Ok((signed, ranges))
}

/// Ranges (MiB) the read that only hashes the object fetches ahead (the scanning reads fetch 3):
/// with nothing but hashing to wait for, it keeps the store busier. At most twice as many MiB
/// are held, between the fetches and the signature's thread.
const RAW_AHEAD: usize = 6;

/// What reading the raw object found.
struct Raw {
    drained: std::io::Result<()>,
    /// sha256 of the object (hex), for the pointer.
    sha256: String,
    verifying: Option<seal::Verifying>,
    ranges: RangeDigests,
}

/// Reads the whole object, hashing it (sha256, for the pointer) and noting each range's digest,
/// while a second thread feeds it to the signature check (BLAKE2b, about as long as both sha256).
fn read_raw(mut reader: RangeReader, verifying: Option<seal::Verifying>) -> Raw {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Arc<Vec<u8>>>(RAW_AHEAD);
        let signed = verifying.is_some();
        let signature = scope.spawn(move || {
            let mut verifying = verifying;
            for range in rx {
                if let Some(v) = &mut verifying {
                    v.update(&range);
                }
            }
            verifying
        });
        let (mut sha256, mut ranges) = (Sha256::new(), RangeDigests::default());
        let mut drained = loop {
            match reader.next_range() {
                Ok(Some(bytes)) => {
                    let bytes = Arc::new(bytes);
                    if signed && tx.send(bytes.clone()).is_err() {
                        break Err(std::io::Error::other("the signature check stopped"));
                    }
                    sha256.update(&*bytes);
                    ranges.note(&bytes);
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        drop(tx);
        let verifying = signature.join().unwrap_or_else(|_| {
            drained = Err(std::io::Error::other("the signature check crashed"));
            None
        });
        Raw {
            drained,
            sha256: hex::encode(sha256.finalize()),
            verifying,
            ranges,
        }
    })
}

/// Trailing bytes tolerated after the gzip stream of an unsigned snapshot.
const MAX_TRAILER: u64 = 64 << 10;

/// Streams the snapshot, held to the bytes its signature was checked over, and checks every entry
/// (the verifying pass, then each later pass).
pub async fn scan(
    snap: &Snapshot,
    on_object: impl FnMut(Scanned) -> bool + Send + 'static,
) -> Result<Manifest> {
    let failure = StreamFailure::default();
    let data = snap.reader(&failure).checked_against(snap.ranges.clone());
    let claims = snap.signed.as_ref().map(|s| s.claims.clone());
    let scanned = scan_from(snap, claims, data, on_object).await;
    // A store that failed mid-read is the store's error, not a fault of the snapshot.
    scanned.map_err(|e| failure.take().unwrap_or(e))
}

/// Decrypts the object read from `data` and checks every entry of it, and the archive and its
/// manifest against what the signature vouches for (`claims`).
async fn scan_from(
    snap: &Snapshot,
    claims: Option<Claims>,
    data: impl Read + Send + 'static,
    on_object: impl FnMut(Scanned) -> bool + Send + 'static,
) -> Result<Manifest> {
    let key = snap.key.clone();
    let (opener, limits) = (snap.opener.clone(), snap.limits);
    tokio::task::spawn_blocking(move || {
        let refuse = |reason: String| Error::refused(&key, reason);
        let signed_manifest = claims.as_ref().map(|c| c.manifest_sha256.as_str());
        let mut input = HashReader::new(opener.open(&key, data)?);
        let end = reader::scan(&mut input, limits, signed_manifest, on_object).map_err(refuse)?;
        let archive_sha256 = input
            .finish(MAX_TRAILER)
            .map_err(|e| refuse(format!("archive is corrupt or truncated: {e}")))?;
        if let Some(c) = claims {
            if c.archive_sha256 != archive_sha256 {
                return Err(refuse("its archive is not the one that was signed".into()));
            }
            if c.manifest_sha256 != end.manifest_sha256 {
                return Err(refuse("its manifest is not the one that was signed".into()));
            }
        }
        Ok(end.manifest)
    })
    .await
    .map_err(|e| Error::refused(&snap.key, format!("reader crashed: {e}")))?
}

/// How many of the newest snapshots in the store are tried for one whose signature vouches
/// for it: names alone prove nothing, and a store may hold a few unsigned or foreign objects.
const NEWEST_TRIED: usize = 8;

/// The newest snapshot in the store (and its date) whose signature is by a trusted key, made
/// for it, with the expected origin and not dated ahead of the clock; `None` when there is none
/// among the newest few, or signatures are not checked (`REPLICATOR_ALLOW_UNSIGNED`).
pub async fn newest_vouched(
    snapshot: &Snapshot,
    expected: &Expected,
) -> Result<Option<(String, chrono::DateTime<Utc>)>> {
    let now = Utc::now();
    let listed = catalog::list_snapshots(snapshot.store.as_ref()).await?;
    for (at, info) in listed.into_iter().take(NEWEST_TRIED) {
        if seal::future_dated(at, now) {
            continue;
        }
        let Some(sig) = snapshot.store.get(&seal::signature_key(&info.key)).await? else {
            continue;
        };
        let vouched = match snapshot.opener.check(&info.key, Some(&sig)) {
            Ok(Some(v)) => expected.check(&info.key, v.claims(), now).is_ok(),
            Ok(None) => return Ok(None),
            Err(_) => false,
        };
        if vouched {
            return Ok(Some((info.key, at)));
        }
    }
    Ok(None)
}

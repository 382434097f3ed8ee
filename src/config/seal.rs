//! The keys and limits that guard snapshots: `REPLICATOR_AGE_*`, `REPLICATOR_SIGNING_KEY_*`,
//! `REPLICATOR_VERIFY_KEY`, `REPLICATOR_ALLOW_*`, `REPLICATOR_MAX_*_SIZE` and what an import
//! expects a snapshot's signature to name (`REPLICATOR_SOURCE_CLUSTER`, `REPLICATOR_SOURCE_STORE`
//! and its older form `REPLICATOR_SOURCE_PREFIX`).

use std::path::{Path, PathBuf};

use super::options::flag;
use super::{Settings, set};
use crate::error::{Error, Result};
use crate::seal::{self, Expected, Opener, Sealer};
use crate::snapshot::Limits;
use crate::state::RecordKey;
use crate::store;

fn path(value: &Option<String>) -> Option<PathBuf> {
    set(value).map(PathBuf::from)
}

/// A size such as `32MiB`, `8GiB`, `500KB` or a plain byte count.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KB" | "KiB" => 1 << 10,
        "M" | "MB" | "MiB" => 1 << 20,
        "G" | "GB" | "GiB" => 1 << 30,
        "T" | "TB" | "TiB" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult).filter(|v| *v > 0)
}

/// The store a snapshot must be published at, read from `own` (`REPLICATOR_STORE`), and the
/// setting that named another: `REPLICATOR_SOURCE_STORE`, or `REPLICATOR_SOURCE_PREFIX` (a store
/// URL, or a prefix of `own`'s bucket).
fn expected_store(
    own: &str,
    (source_store, source_prefix): (Option<&str>, Option<&str>),
) -> Result<(String, Option<&'static str>)> {
    Ok(match (source_store, source_prefix) {
        (Some(_), Some(_)) => {
            return Err(Error::config(
                "REPLICATOR_SOURCE_STORE",
                "set together with REPLICATOR_SOURCE_PREFIX; set only REPLICATOR_SOURCE_STORE \
                 (s3://BUCKET/PREFIX or file:///DIR)",
            ));
        }
        (Some(url), None) => (source_store_url(url)?, Some("REPLICATOR_SOURCE_STORE")),
        (None, Some(p)) if p.contains("://") => {
            (store::published_at(p), Some("REPLICATOR_SOURCE_PREFIX"))
        }
        (None, Some(p)) => (store::with_prefix(own, p), Some("REPLICATOR_SOURCE_PREFIX")),
        (None, None) => (store::published_at(own), None),
    })
}

/// `REPLICATOR_SOURCE_STORE` as signatures name a store.
fn source_store_url(url: &str) -> Result<String> {
    let bucket = url
        .strip_prefix("s3://")
        .map(|r| r.split('/').next().unwrap_or(""));
    match (bucket, url.starts_with("file:///")) {
        (Some(b), _) if !b.is_empty() => Ok(store::published_at(url)),
        (None, true) => Ok(store::published_at(url)),
        _ => Err(Error::config(
            "REPLICATOR_SOURCE_STORE",
            format!("`{url}` is not a store URL; expected s3://BUCKET/PREFIX or file:///DIR"),
        )),
    }
}

fn size(var: &'static str, value: Option<&str>, default: u64) -> Result<u64> {
    match value.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(v) => parse_size(v).ok_or_else(|| {
            Error::config(
                var,
                format!("expected a size such as 32MiB or 8GiB, got `{v}`"),
            )
        }),
    }
}

impl Settings {
    /// What export encrypts and signs with.
    pub(super) fn sealer(&self) -> Result<Sealer> {
        let r = &self.replicator;
        let recipients = seal::recipients(
            r.age_recipients.as_deref(),
            path(&r.age_recipients_file).as_deref(),
        )?;
        let signer = match path(&r.signing_key_file) {
            None => None,
            Some(p) => Some(seal::signing_key(&p, self.signing_password()?)?),
        };
        Sealer::new(
            recipients,
            signer,
            flag("REPLICATOR_ALLOW_PLAINTEXT", r.allow_plaintext.as_deref())?,
            flag("REPLICATOR_ALLOW_UNSIGNED", r.allow_unsigned.as_deref())?,
        )
    }

    fn signing_password(&self) -> Result<Option<String>> {
        let r = &self.replicator;
        if let Some(p) = path(&r.signing_key_password_file) {
            let text = std::fs::read_to_string(&p).map_err(|e| {
                Error::config(
                    "REPLICATOR_SIGNING_KEY_PASSWORD_FILE",
                    format!("{}: {e}", p.display()),
                )
            })?;
            return Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()));
        }
        Ok(r.signing_key_password.clone().filter(|p| !p.is_empty()))
    }

    /// What import decrypts with and which signatures it trusts.
    pub(super) fn opener(&self) -> Result<Opener> {
        let r = &self.replicator;
        let identities = path(&r.age_identity_file)
            .map(|p| seal::identities(Path::new(&p)))
            .transpose()?;
        let verify_keys = match r.verify_key.as_deref() {
            Some(v) => seal::verify_keys(v)?,
            None => Vec::new(),
        };
        Opener::new(
            identities,
            verify_keys,
            flag("REPLICATOR_ALLOW_PLAINTEXT", r.allow_plaintext.as_deref())?,
            flag("REPLICATOR_ALLOW_UNSIGNED", r.allow_unsigned.as_deref())?,
        )
    }

    /// What the importer's records digest snapshot entries with: a key derived from the first
    /// identity of `REPLICATOR_AGE_IDENTITY_FILE`, which readers of the target's state mount do
    /// not hold. Without an identity (plaintext snapshots only), plain sha256 digests, as the
    /// snapshots themselves are plain.
    pub(super) fn record_key(&self) -> Result<RecordKey> {
        let Some(file) = path(&self.replicator.age_identity_file) else {
            tracing::warn!(
                "no REPLICATOR_AGE_IDENTITY_FILE: the importer's records hold plain sha256 \
                 digests of the snapshot entries, which let a reader of the state mount test \
                 guesses of a value offline (as plaintext snapshots let a reader of the bucket)"
            );
            return Ok(RecordKey::Plain);
        };
        let secret = seal::identity_secret(&file, "vault-replicator records v1")?;
        Ok(RecordKey::keyed(&secret))
    }

    /// The origin an import requires: the store it reads (`store_url`, or the one
    /// `REPLICATOR_SOURCE_STORE` names, for a copy or a migrated bucket;
    /// `REPLICATOR_SOURCE_PREFIX`, its older form, names a prefix of this bucket or a store URL)
    /// and, when pinned, the source cluster's name or ID (`REPLICATOR_SOURCE_CLUSTER`).
    pub(super) fn expected_origin(&self, store_url: &str) -> Result<Expected> {
        let r = &self.replicator;
        let pins = (set(&r.source_store), set(&r.source_prefix));
        let (store, pinned_by) = expected_store(store_url, pins)?;
        Ok(Expected {
            prefix: store::prefix_of(&store),
            store,
            pinned_by,
            source: set(&r.source_cluster).map(String::from),
        })
    }

    /// How large a snapshot may expand (`REPLICATOR_MAX_ENTRY_SIZE`, `REPLICATOR_MAX_ARCHIVE_SIZE`).
    pub(super) fn limits(&self) -> Result<Limits> {
        let r = &self.replicator;
        let d = Limits::default();
        Ok(Limits {
            max_entry_bytes: size(
                "REPLICATOR_MAX_ENTRY_SIZE",
                r.max_entry_size.as_deref(),
                d.max_entry_bytes,
            )?,
            max_total_bytes: size(
                "REPLICATOR_MAX_ARCHIVE_SIZE",
                r.max_archive_size.as_deref(),
                d.max_total_bytes,
            )?,
            ..d
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{expected_store, parse_size};

    #[test]
    fn the_expected_store_is_the_own_one_unless_a_setting_names_another() {
        let own = "s3://prod/dc/";
        let store = |pins| expected_store(own, pins).map_err(|e| e.to_string());
        assert_eq!(store((None, None)), Ok(("s3://prod/dc".into(), None)));
        let pinned = Some("REPLICATOR_SOURCE_STORE");
        assert_eq!(
            store((Some("s3://staging/dc"), None)),
            Ok(("s3://staging/dc".into(), pinned))
        );
        assert_eq!(
            store((Some("file:///srv/x/"), None)),
            Ok(("file:///srv/x".into(), pinned))
        );
        let by_prefix = Some("REPLICATOR_SOURCE_PREFIX");
        // A prefix names one of this bucket; a URL names a whole store, bucket included.
        assert_eq!(
            store((None, Some("dr"))),
            Ok(("s3://prod/dr".into(), by_prefix))
        );
        assert_eq!(
            store((None, Some("s3://old/dc"))),
            Ok(("s3://old/dc".into(), by_prefix))
        );
        for bad in ["dc", "s3:///dc", "http://x/dc", "file://relative"] {
            let e = store((Some(bad), None)).unwrap_err();
            assert!(e.contains("REPLICATOR_SOURCE_STORE"), "{bad}: {e}");
        }
        let e = store((Some("s3://a/b"), Some("b"))).unwrap_err();
        assert!(e.contains("set only REPLICATOR_SOURCE_STORE"), "{e}");
    }

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("32MiB"), Some(32 << 20));
        assert_eq!(parse_size("8G"), Some(8 << 30));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_size("12 parsecs"), None);
    }
}

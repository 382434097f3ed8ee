//! What a snapshot's signature vouches for (its signed trusted comment), and what an importer
//! expects of it: the object's name and digests, when it was made, the source cluster it was made
//! from and the store (bucket and prefix) it was published at. A signature from one deployment
//! thus cannot be replayed in another that shares its keys, nor a future-dated one stall later
//! imports.

use chrono::{DateTime, TimeDelta, Utc};

use crate::error::{Error, Result};

/// How far ahead of this machine's clock a snapshot may be dated before it is refused.
pub const MAX_CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);

/// Whether `at` lies further ahead of `now` than clocks can disagree.
pub fn future_dated(at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    at > now + MAX_CLOCK_SKEW
}

/// What the exporter vouches for.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    /// The object key the signature belongs to.
    pub file: String,
    pub archive_sha256: String,
    pub manifest_sha256: String,
    pub timestamp: i64,
    /// Where it came from; `None` when signed by an exporter that predates these claims.
    pub origin: Option<Origin>,
    /// A delta's base: the key of the snapshot it applies to (`None` for a full snapshot).
    pub base: Option<String>,
}

/// The source cluster (as `sys/seal-status` names it; empty when it does not) and the store a
/// snapshot was exported to: its prefix (`s3://BUCKET/PREFIX`: `PREFIX`; `file:///DIR`: `/DIR`),
/// and the store itself (`store::published_at`: `s3://BUCKET/PREFIX`, `file:///DIR`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Origin {
    pub source_id: String,
    pub source_name: String,
    pub prefix: String,
    /// `None` when signed by an exporter that named the prefix alone (before #25).
    pub store: Option<String>,
}

impl Origin {
    /// The source cluster's `cluster_id` and `cluster_name` (empty when it has none), and where
    /// the snapshot is published.
    pub fn new(source_id: &str, source_name: &str, prefix: &str, store: &str) -> Self {
        Origin {
            source_id: source_id.to_string(),
            source_name: source_name.to_string(),
            prefix: prefix.to_string(),
            store: Some(store.to_string()),
        }
    }
}

/// A value made safe for one tab-separated comment line (`%`, tab, CR and LF percent-encoded).
fn escape(v: &str) -> String {
    v.replace('%', "%25")
        .replace('\t', "%09")
        .replace('\n', "%0A")
        .replace('\r', "%0D")
}

fn unescape(v: &str) -> String {
    v.replace("%09", "\t")
        .replace("%0A", "\n")
        .replace("%0D", "\r")
        .replace("%25", "%")
}

impl Claims {
    /// The trusted comment, in minisign's own `key:value` tab-separated style.
    pub fn to_comment(&self) -> String {
        let mut out = format!(
            "timestamp:{}\tfile:{}\tarchive_sha256:{}\tmanifest_sha256:{}",
            self.timestamp, self.file, self.archive_sha256, self.manifest_sha256
        );
        if let Some(o) = &self.origin {
            out.push_str(&format!(
                "\tsource_id:{}\tsource_name:{}\tprefix:{}",
                escape(&o.source_id),
                escape(&o.source_name),
                escape(&o.prefix)
            ));
            if let Some(store) = &o.store {
                out.push_str(&format!("\tstore:{}", escape(store)));
            }
        }
        if let Some(base) = &self.base {
            out.push_str(&format!("\tbase:{}", escape(base)));
        }
        out
    }

    /// The claims in a trusted comment, or `None` when it was not made by `export`. Fields this
    /// version does not know are ignored, so that older importers accept newer comments.
    pub fn parse(comment: &str) -> Option<Claims> {
        let field = |name: &str| {
            comment
                .split('\t')
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix(':'))
                .map(str::to_string)
        };
        let hex64 =
            |s: String| (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())).then_some(s);
        let origin = match (field("source_id"), field("source_name"), field("prefix")) {
            (Some(id), Some(name), Some(prefix)) => Some(Origin {
                source_id: unescape(&id),
                source_name: unescape(&name),
                prefix: unescape(&prefix),
                store: field("store").map(|s| unescape(&s)),
            }),
            _ => None,
        };
        Some(Claims {
            file: field("file")?,
            archive_sha256: hex64(field("archive_sha256")?)?,
            manifest_sha256: hex64(field("manifest_sha256")?)?,
            timestamp: field("timestamp")?.parse().ok()?,
            origin,
            base: field("base").map(|b| unescape(&b)),
        })
    }
}

/// What an importer requires of a snapshot's origin: the store it was published at (its own, or
/// the one `REPLICATOR_SOURCE_STORE` names) and, when pinned, the source cluster's name or ID
/// (`REPLICATOR_SOURCE_CLUSTER`).
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// As `store::published_at` names it: `s3://BUCKET/PREFIX`, `file:///DIR`.
    pub store: String,
    /// The store's prefix: all that signatures made before they named the store say of it.
    pub prefix: String,
    /// The setting that named the store, when it is not the one the importer reads.
    pub pinned_by: Option<&'static str>,
    pub source: Option<String>,
}

impl Expected {
    /// Refuses signed claims that lack an origin, name another store (or, made before signatures
    /// named the store, another prefix) or another source than the pinned one, or are dated too
    /// far ahead of `now`.
    pub fn check(&self, key: &str, claims: &Claims, now: DateTime<Utc>) -> Result<()> {
        let refuse = |reason: String| Err(Error::refused(key, reason));
        let Some(origin) = &claims.origin else {
            return refuse(
                "its signature does not name the source cluster and store prefix: it was made by \
                 an exporter older than this importer; upgrade the exporter (vault-replicator on \
                 the exporting side), then export again (docs/runbook.md, \"Upgrades\")"
                    .into(),
            );
        };
        self.check_store(key, origin)?;
        self.check_source(key, &origin.source_name, &origin.source_id)?;
        match DateTime::from_timestamp(claims.timestamp, 0) {
            Some(at) => check_not_future(key, "signed", at, now),
            None => refuse(format!(
                "its signed timestamp {} is invalid",
                claims.timestamp
            )),
        }
    }

    /// Refuses a snapshot published at another store than the expected one. A signature that
    /// names only the prefix (an exporter before #25) is held to the prefix alone.
    fn check_store(&self, key: &str, origin: &Origin) -> Result<()> {
        let (published, expected) = match &origin.store {
            Some(store) => (store, &self.store),
            None => (&origin.prefix, &self.prefix),
        };
        if published == expected {
            if origin.store.is_none() {
                tracing::warn!(
                    snapshot = %key,
                    "its signature names the store prefix but not the bucket (an exporter older \
                     than this importer made it): upgrade the exporter (docs/runbook.md, \
                     \"Upgrades\")"
                );
            }
            return Ok(());
        }
        let (what, var) = match origin.store {
            Some(_) => ("store", "REPLICATOR_SOURCE_STORE"),
            None => ("prefix", "REPLICATOR_SOURCE_PREFIX"),
        };
        let how = match self.pinned_by {
            Some(setting) => setting.to_string(),
            None => format!(
                "this store's; if it was published there and moved or copied here, set \
                 {var}={published}"
            ),
        };
        Err(Error::refused(
            key,
            format!("it was published under {what} `{published}`, not `{expected}` ({how})"),
        ))
    }

    /// Refuses a snapshot whose source is not the pinned one (`REPLICATOR_SOURCE_CLUSTER`).
    pub fn check_source(&self, key: &str, name: &str, id: &str) -> Result<()> {
        match &self.source {
            Some(pin) if pin != name && pin != id => Err(Error::refused(
                key,
                format!(
                    "it was made from cluster `{}` ({}), not REPLICATOR_SOURCE_CLUSTER=`{pin}`",
                    if name.is_empty() { "unnamed" } else { name },
                    if id.is_empty() { "no cluster ID" } else { id },
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The checks that also apply to an unsigned snapshot, from its manifest once verified.
    pub fn check_manifest(
        &self,
        key: &str,
        (source_name, source_id): (&str, &str),
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.check_source(key, source_name, source_id)?;
        check_not_future(key, "manifest", created_at, now)
    }
}

/// Refuses a snapshot dated (by `what`: its name, signature or manifest) beyond the clock skew.
pub fn check_not_future(
    key: &str,
    what: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    if !future_dated(at, now) {
        return Ok(());
    }
    Err(Error::refused(
        key,
        format!(
            "its {what} date {} is ahead of this machine's clock ({}) by more than {} minutes: \
             check the exporter's clock",
            at.format("%Y-%m-%dT%H:%M:%SZ"),
            now.format("%Y-%m-%dT%H:%M:%SZ"),
            MAX_CLOCK_SKEW.num_minutes()
        ),
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The claims of a snapshot as export writes them (with its origin).
    pub(crate) fn claims() -> Claims {
        Claims {
            file: "20261120T214500Z.tar.gz.age".into(),
            archive_sha256: "a".repeat(64),
            manifest_sha256: "b".repeat(64),
            timestamp: 1,
            origin: Some(Origin::new("6300991a", "dc\tone%", "prod", "s3://b/prod")),
            base: None,
        }
    }

    #[test]
    fn a_deltas_base_is_claimed_and_read_back() {
        let delta = Claims {
            base: Some("20261120T214000Z.delta.tar.gz.age".into()),
            ..claims()
        };
        assert_eq!(Claims::parse(&delta.to_comment()), Some(delta));
        assert_eq!(
            Claims::parse(&claims().to_comment()).map(|c| c.base),
            Some(None)
        );
    }

    fn expected(prefix: &str, source: Option<&str>) -> Expected {
        Expected {
            store: format!("s3://b/{prefix}"),
            prefix: prefix.into(),
            pinned_by: None,
            source: source.map(String::from),
        }
    }

    #[test]
    fn claims_parse_only_what_export_writes_and_escape_their_values() {
        let c = claims();
        assert!(!c.to_comment().contains("dc\tone"));
        assert_eq!(Claims::parse(&c.to_comment()), Some(c.clone()));
        assert_eq!(Claims::parse("timestamp:1\tfile:x"), None);
        assert_eq!(Claims::parse(&c.to_comment().replace('a', "z")), None);
        let old = Claims { origin: None, ..c };
        assert_eq!(Claims::parse(&old.to_comment()), Some(old));
    }

    #[test]
    fn origin_prefix_source_and_time_are_checked() {
        let now = Utc::now();
        let c = claims();
        let k = "k";
        assert!(expected("prod", None).check(k, &c, now).is_ok());
        assert!(expected("prod", Some("6300991a")).check(k, &c, now).is_ok());
        assert!(expected("prod", Some("dc\tone%")).check(k, &c, now).is_ok());
        let e = expected("staging", None).check(k, &c, now).unwrap_err();
        assert!(
            e.to_string()
                .contains("store `s3://b/prod`, not `s3://b/staging`"),
            "{e}"
        );
        let e = expected("prod", Some("dr")).check(k, &c, now).unwrap_err();
        assert!(e.to_string().contains("REPLICATOR_SOURCE_CLUSTER"), "{e}");
        let old = Claims {
            origin: None,
            ..claims()
        };
        let e = expected("prod", None).check(k, &old, now).unwrap_err();
        assert!(e.to_string().contains("upgrade the exporter"), "{e}");
        let ahead = Claims {
            timestamp: (now + TimeDelta::minutes(6)).timestamp(),
            ..claims()
        };
        let e = expected("prod", None).check(k, &ahead, now).unwrap_err();
        assert_eq!(e.exit_code(), crate::exit::REFUSED);
        let skewed = Claims {
            timestamp: (now + TimeDelta::minutes(4)).timestamp(),
            ..claims()
        };
        assert!(expected("prod", None).check(k, &skewed, now).is_ok());
    }

    // #25 (6): `s3://staging/dc` and `s3://prod/dc` both signed the prefix `dc` alone.
    #[test]
    fn the_bucket_is_checked_and_a_prefix_only_signature_is_held_to_its_prefix() {
        let (now, k) = (Utc::now(), "k");
        let other_bucket = Expected {
            store: "s3://other/prod".into(),
            ..expected("prod", None)
        };
        let e = other_bucket.check(k, &claims(), now).unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains("store `s3://b/prod`, not `s3://other/prod`")
                && e.contains("set REPLICATOR_SOURCE_STORE=s3://b/prod"),
            "{e}"
        );
        let pinned = Expected {
            pinned_by: Some("REPLICATOR_SOURCE_STORE"),
            ..other_bucket.clone()
        };
        let e = pinned.check(k, &claims(), now).unwrap_err().to_string();
        assert!(e.ends_with("(REPLICATOR_SOURCE_STORE)"), "{e}");

        // Signed by the exporter before: its prefix is all it says, and all that is checked.
        let mut old = claims();
        old.origin.as_mut().unwrap().store = None;
        assert_eq!(Claims::parse(&old.to_comment()), Some(old.clone()));
        assert!(!old.to_comment().contains("store:"));
        assert!(other_bucket.check(k, &old, now).is_ok());
        let e = expected("staging", None).check(k, &old, now).unwrap_err();
        assert!(
            e.to_string().contains("prefix `prod`, not `staging`")
                && e.to_string().contains("REPLICATOR_SOURCE_PREFIX=prod"),
            "{e}"
        );
    }
}

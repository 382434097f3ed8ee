//! Typed settings parsed from `REPLICATOR_*` values: mount filters and the importer's safety
//! rails (prune guard, drift mode, lease timing).

use std::fmt;
use std::time::Duration;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::parse_bool;
use crate::error::{Error, Result};
use crate::objects::auth::NewUserPassword;
use crate::objects::database::DatabaseOptions;

/// How many deletions the imports of one `REPLICATOR_MAX_DELETE_WINDOW` may make together: a
/// count, or a percentage of the objects the importer held on the target when the window began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxDelete {
    Count(u64),
    Percent(u64),
}

impl super::Settings {
    /// The KV-v2 mount that keeps write-only fields (`REPLICATOR_ESCROW_MOUNT`), with its
    /// trailing slash; `None` when unset.
    pub(super) fn escrow_mount(&self) -> Result<Option<String>> {
        let Some(raw) = self.replicator.escrow_mount.as_deref().map(str::trim) else {
            return Ok(None);
        };
        let mount = raw.trim_matches('/');
        if mount.is_empty() {
            return Ok(None);
        }
        if mount
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return Err(Error::config(
                "REPLICATOR_ESCROW_MOUNT",
                format!("`{raw}` is not a mount path"),
            ));
        }
        Ok(Some(format!("{mount}/")))
    }

    /// What an import may do to database engines (`REPLICATOR_DATABASE_VERIFY_CONNECTION`,
    /// `REPLICATOR_DATABASE_STATIC_ROLES`; both off by default).
    pub(super) fn database_options(&self) -> Result<DatabaseOptions> {
        let r = &self.replicator;
        Ok(DatabaseOptions {
            verify_connection: flag(
                "REPLICATOR_DATABASE_VERIFY_CONNECTION",
                r.database_verify_connection.as_deref(),
            )?,
            static_roles: flag(
                "REPLICATOR_DATABASE_STATIC_ROLES",
                r.database_static_roles.as_deref(),
            )?,
        })
    }
}

impl MaxDelete {
    pub fn parse(s: &str) -> Option<Self> {
        match s.strip_suffix('%') {
            Some(p) => p
                .trim()
                .parse()
                .ok()
                .filter(|p| *p <= 100)
                .map(MaxDelete::Percent),
            None => s.parse().ok().map(MaxDelete::Count),
        }
    }

    /// The limit for a target where the importer owns `owned` objects.
    pub fn limit(self, owned: u64) -> u64 {
        match self {
            MaxDelete::Count(n) => n,
            MaxDelete::Percent(p) => owned * p / 100,
        }
    }
}

impl std::fmt::Display for MaxDelete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxDelete::Count(n) => write!(f, "{n}"),
            MaxDelete::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// What to do with an object that changed on the target since the importer wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDrift {
    Overwrite,
    Skip,
    Fail,
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub prune: bool,
    pub prune_mounts: bool,
    pub max_delete: MaxDelete,
    pub on_drift: OnDrift,
    pub state_mount: String,
    pub lease_wait: Duration,
    /// How long a lease lasts without renewal: a killed run blocks others at most this long.
    pub lease_ttl: Duration,
    pub userpass: NewUserPassword,
    /// What an import may do to database engines.
    pub database: DatabaseOptions,
    /// Compare every object with the target on every this many imports (1: always). In between,
    /// an object whose snapshot entry is the one the importer last applied is not read at all.
    pub full_check_every: u32,
    /// This run compares every object (`--full-check`, or decided from the state).
    pub full_check: bool,
    /// Records an import holds in memory before it saves them to the state mount as a delta
    /// (`REPLICATOR_RECORDS_BATCH`, default 32,768: about 8 MiB).
    pub records_batch: usize,
    /// `REPLICATOR_MAX_DELETE` holds over this long (default 24h; 0: each run on its own).
    pub max_delete_window: Duration,
    /// `REPLICATOR_MAP` / `--map`: where the objects go (empty: where they are in the source).
    pub map: crate::map::PathMap,
}

pub(super) fn flag(var: &'static str, value: Option<&str>) -> Result<bool> {
    match value {
        None => Ok(false),
        Some(v) => parse_bool(v)
            .ok_or_else(|| Error::config(var, format!("expected true or false, got `{v}`"))),
    }
}

/// The longest duration any setting takes: longer is a typo, and sums with it must not overflow.
const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Every duration setting goes through here. The forms Vault and kubectl write (`250ms`, `90s`,
/// `1h30m`, `7d`; also `2h 5m`, `1w`) are read by humantime; a plain number is seconds. A value
/// over 100 years is an error, never wrapped or capped silently.
pub(super) fn duration(var: &'static str, value: Option<&str>) -> Result<Duration> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(Duration::ZERO);
    };
    let too_long = || Error::config(var, format!("`{v}` is longer than 100 years"));
    let d = if v.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(v.parse::<u64>().map_err(|_| too_long())?)
    } else {
        humantime::parse_duration(v).map_err(|e| match e {
            humantime::DurationError::UnknownUnit { .. } => {
                Error::config(var, format!("unknown unit in `{v}`; use ms, s, m, h or d"))
            }
            humantime::DurationError::NumberOverflow => too_long(),
            _ => Error::config(
                var,
                format!("expected a duration such as 90s, 1h30m or 7d, got `{v}`"),
            ),
        })?
    };
    if d > MAX_DURATION {
        return Err(too_long());
    }
    Ok(d)
}

/// Include and exclude globs over `namespace/mount` paths (`secret/`, `team1/secret/`,
/// `auth/userpass/`). `*` matches across `/`. With no include, everything is included.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub(super) include: Option<GlobSet>,
    pub(super) exclude: Option<GlobSet>,
}

impl Filter {
    /// Whether a mount path (with its trailing slash) is replicated.
    pub fn allows(&self, path: &str) -> bool {
        let bare = path.trim_end_matches('/');
        let hit = |set: &GlobSet| set.is_match(path) || set.is_match(bare);
        self.include.as_ref().is_none_or(hit) && !self.exclude.as_ref().is_some_and(hit)
    }
}

pub fn globs(var: &'static str, value: Option<&str>) -> Result<Option<GlobSet>> {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    let mut set = GlobSetBuilder::new();
    for pattern in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let glob = GlobBuilder::new(pattern)
            .literal_separator(false)
            .build()
            .map_err(|e| Error::config(var, format!("`{pattern}`: {e}")))?;
        set.add(glob);
    }
    set.build()
        .map(Some)
        .map_err(|e| Error::config(var, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_mount_paths_with_or_without_the_slash() {
        let f = Filter {
            include: globs("X", Some("team1/*, secret")).unwrap(),
            exclude: globs("X", Some("team1/scratch*")).unwrap(),
        };
        assert!(f.allows("secret/"));
        assert!(f.allows("team1/apps/"));
        assert!(!f.allows("team1/scratch/"));
        assert!(!f.allows("other/"));
        assert!(Filter::default().allows("anything/"));
        let err = globs("X", Some("[")).unwrap_err();
        assert!(
            matches!(&err, Error::Config { var: "X", message } if message.starts_with("`[`: ")),
            "{err:?}"
        );
    }

    #[test]
    fn max_delete_takes_counts_and_percentages() {
        assert_eq!(MaxDelete::parse("50"), Some(MaxDelete::Count(50)));
        assert_eq!(MaxDelete::parse("10%"), Some(MaxDelete::Percent(10)));
        assert_eq!(MaxDelete::parse("101%"), None);
        assert_eq!(MaxDelete::parse("lots"), None);
        assert_eq!(MaxDelete::Percent(10).limit(1000), 100);
        assert_eq!(MaxDelete::Count(3).limit(1000), 3);
    }

    #[test]
    fn durations_read_like_kubectl() {
        assert_eq!(duration("X", Some("90s")).unwrap().as_secs(), 90);
        assert_eq!(duration("X", Some("5m")).unwrap().as_secs(), 300);
        assert_eq!(duration("X", Some("7")).unwrap().as_secs(), 7);
        assert_eq!(duration("X", Some("1h30m")).unwrap().as_secs(), 5400);
        assert_eq!(duration("X", Some("7d")).unwrap().as_secs(), 7 * 86_400);
        assert_eq!(duration("X", Some("250ms")).unwrap().as_millis(), 250);
        assert_eq!(duration("X", Some(" ")).unwrap(), Duration::ZERO);
        let err = duration("X", Some("5 parsecs")).unwrap_err();
        assert!(
            matches!(&err, Error::Config { var: "X", message } if message == "unknown unit in `5 parsecs`; use ms, s, m, h or d"),
            "{err:?}"
        );
    }

    /// Regression (#17): `99999999999999999d` wrapped around in the hand-written parser.
    #[test]
    fn durations_never_overflow_silently() {
        for v in [
            "99999999999999999d",
            "36501d",
            "99999999999999999999",
            "5000000000h",
        ] {
            let err = duration("REPLICATOR_MAX_AGE", Some(v)).unwrap_err();
            assert!(
                matches!(&err, Error::Config { var: "REPLICATOR_MAX_AGE", message } if message.contains("longer than 100 years")),
                "{v}: {err:?}"
            );
        }
        for v in ["1h30", "h", "-5m", "1.5.h"] {
            let err = duration("X", Some(v)).unwrap_err();
            assert!(
                matches!(&err, Error::Config { var: "X", .. }),
                "{v}: {err:?}"
            );
        }
    }
}

//! Settings for running the tool as a scheduled job: retention (`REPLICATOR_KEEP_LAST`,
//! `REPLICATOR_KEEP_WITHIN`), the RPO check (`REPLICATOR_MAX_AGE`), metrics
//! (`REPLICATOR_PUSHGATEWAY_URL`, `REPLICATOR_METRICS_INSTANCE`) and progress lines
//! (`REPLICATOR_PROGRESS_INTERVAL`).

use std::time::Duration;

use super::options::duration;
use super::{Settings, set};
use crate::error::{Error, Result};

/// Which snapshots to keep. With neither rule set, every snapshot is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Retention {
    /// Keep the newest N.
    pub keep_last: Option<usize>,
    /// Keep those created within this long of the newest one (as `restic --keep-within`).
    pub keep_within: Option<Duration>,
}

impl Retention {
    pub fn is_set(&self) -> bool {
        self.keep_last.is_some() || self.keep_within.is_some()
    }
}

/// When an export cuts a full snapshot rather than a delta (`REPLICATOR_FULL_EVERY`,
/// `REPLICATOR_MAX_CHAIN`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChainPolicy {
    /// A full snapshot once the chain's full one is this old; zero: every export is full.
    pub full_every: Duration,
    /// A full snapshot once the chain holds this many deltas.
    pub max_deltas: usize,
}

impl Default for ChainPolicy {
    fn default() -> Self {
        ChainPolicy {
            full_every: Duration::from_secs(24 * 3600),
            max_deltas: 400,
        }
    }
}

/// `host` or `host:port` of an `http(s)://` address.
fn address_host(addr: &str) -> Option<String> {
    let url = reqwest::Url::parse(addr).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    })
}

fn optional_duration(var: &'static str, value: Option<&str>) -> Result<Option<Duration>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => match duration(var, Some(v))? {
            d if d.is_zero() => Err(Error::config(var, "must be more than 0")),
            d => Ok(Some(d)),
        },
    }
}

impl Settings {
    pub(super) fn chain_policy(&self) -> Result<ChainPolicy> {
        let r = &self.replicator;
        let mut policy = ChainPolicy::default();
        if let Some(v) = set(&r.full_every) {
            policy.full_every = duration("REPLICATOR_FULL_EVERY", Some(v))?;
        }
        if let Some(v) = set(&r.max_chain) {
            policy.max_deltas = v.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                Error::config(
                    "REPLICATOR_MAX_CHAIN",
                    format!("expected a count of at least 1, got `{v}`"),
                )
            })?;
        }
        Ok(policy)
    }

    pub(super) fn retention(&self) -> Result<Retention> {
        let r = &self.replicator;
        let keep_last = match set(&r.keep_last) {
            None => None,
            Some(v) => Some(v.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                Error::config(
                    "REPLICATOR_KEEP_LAST",
                    format!("expected a count of at least 1, got `{v}`"),
                )
            })?),
        };
        Ok(Retention {
            keep_last,
            keep_within: optional_duration("REPLICATOR_KEEP_WITHIN", r.keep_within.as_deref())?,
        })
    }

    /// The oldest `latest` may be before `status` fails (`REPLICATOR_MAX_AGE`).
    pub(super) fn max_age(&self) -> Result<Option<Duration>> {
        optional_duration("REPLICATOR_MAX_AGE", self.replicator.max_age.as_deref())
    }

    /// Where to push metrics, when set (`REPLICATOR_PUSHGATEWAY_URL`).
    pub(super) fn pushgateway_url(&self) -> Result<Option<String>> {
        match set(&self.replicator.pushgateway_url) {
            None => Ok(None),
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                Ok(Some(u.trim_end_matches('/').to_string()))
            }
            Some(u) => Err(Error::config(
                "REPLICATOR_PUSHGATEWAY_URL",
                format!("expected an http:// or https:// URL, got `{u}`"),
            )),
        }
    }

    /// The labels the metrics are grouped by besides the command: `instance` is
    /// `REPLICATOR_METRICS_INSTANCE`, else the Vault address's host (and port, when it names one),
    /// else absent; `prefix` is the store prefix (`dc`, `failback`, a directory).
    pub(super) fn metrics_grouping(&self) -> Result<crate::metrics::Grouping> {
        let instance = match set(&self.replicator.metrics_instance) {
            Some(name) => Some(name.to_string()),
            None => self.vault().ok().and_then(|v| address_host(&v.addr)),
        };
        Ok(crate::metrics::Grouping {
            instance,
            prefix: crate::store::prefix_of(&self.store_url()?),
        })
    }

    /// How often long runs log a progress line (`REPLICATOR_PROGRESS_INTERVAL`, default 10s).
    pub(super) fn progress_interval(&self) -> Result<Duration> {
        Ok(optional_duration(
            "REPLICATOR_PROGRESS_INTERVAL",
            self.replicator.progress_interval.as_deref(),
        )?
        .unwrap_or(Duration::from_secs(10)))
    }
}

//! The environment contract (read with envy) merged with command-line flags.
//!
//! The CronJob sets environment variables; flags override them for ad-hoc runs (`cli` hands them
//! over as plain `Flags`). `Settings` holds both, raw; each command's configuration is resolved
//! from it once, at the edge (`commands.rs`: `ExportConfig`, `ImportConfig`, ...), reading only
//! the settings that command uses, so `list` works without a Vault token. A bad setting is an
//! `Error::Config` naming the variable (exit code 2).

use std::fmt;

use serde::Deserialize;

mod auth;
mod commands;
mod operations;
mod options;
mod retry;
mod seal;
mod unknown;
mod vault;

use crate::error::{Error, Result};
use crate::objects::auth::NewUserPassword;
pub use crate::vault::{Auth, RateLimit, Tls, Token, VaultConfig};
pub use commands::{
    ClusterConfig, DiffSide, ExportConfig, ImportConfig, ListCheck, ListConfig, MetricsConfig,
    PromoteConfig, PruneConfig, RunConfig, StateConfig, StatusConfig, VerifyConfig, WalkConfig,
};
pub use operations::{ChainPolicy, Retention};
pub use options::globs;
pub use options::{Filter, ImportOptions, MaxDelete, OnDrift};
use options::{duration, flag};
pub use unknown::UnknownVar;
use vault::VaultEnv;

pub const DEFAULT_CONCURRENCY: usize = 32;
/// How long deletions count against `REPLICATOR_MAX_DELETE`.
pub const DEFAULT_MAX_DELETE_WINDOW: std::time::Duration = std::time::Duration::from_secs(86_400);
/// How long an import's lease lasts without renewal (`REPLICATOR_LEASE_TTL`): a killed import
/// holds up the next one at most this long, which with imports every 5 minutes must stay well
/// under one cycle. The watcher renews it every third of it, and a third of it is the most one
/// request may take (`Lease::request_budget`).
pub const DEFAULT_LEASE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// `REPLICATOR_*` variables.
#[derive(Deserialize, Default)]
struct ReplicatorEnv {
    store: Option<String>,
    concurrency: Option<String>,
    log_format: Option<String>,
    include: Option<String>,
    exclude: Option<String>,
    kv_history: Option<String>,
    escrow_mount: Option<String>,
    database_verify_connection: Option<String>,
    database_static_roles: Option<String>,
    userpass_password: Option<String>,
    prune: Option<String>,
    prune_mounts: Option<String>,
    max_delete: Option<String>,
    on_drift: Option<String>,
    state_mount: Option<String>,
    lease_wait: Option<String>,
    lease_ttl: Option<String>,
    age_recipients: Option<String>,
    age_recipients_file: Option<String>,
    age_identity_file: Option<String>,
    allow_plaintext: Option<String>,
    signing_key_file: Option<String>,
    signing_key_password: Option<String>,
    signing_key_password_file: Option<String>,
    verify_key: Option<String>,
    source_cluster: Option<String>,
    source_prefix: Option<String>,
    source_store: Option<String>,
    allow_unsigned: Option<String>,
    max_entry_size: Option<String>,
    max_archive_size: Option<String>,
    auth: Option<String>,
    auth_mount: Option<String>,
    auth_role: Option<String>,
    kubernetes_token_file: Option<String>,
    jwt_file: Option<String>,
    approle_role_id: Option<String>,
    approle_role_id_file: Option<String>,
    approle_secret_id: Option<String>,
    approle_secret_id_file: Option<String>,
    keep_last: Option<String>,
    keep_within: Option<String>,
    max_age: Option<String>,
    pushgateway_url: Option<String>,
    metrics_instance: Option<String>,
    progress_interval: Option<String>,
    full_check_every: Option<String>,
    records_batch: Option<String>,
    retry_max_wait: Option<String>,
    max_delete_window: Option<String>,
    full_every: Option<String>,
    max_chain: Option<String>,
    map: Option<String>,
    map_only: Option<String>,
}

/// The command line's global flags, as plain values; each overrides its variable.
#[derive(Debug, Default)]
pub struct Flags {
    pub address: Option<String>,
    pub namespace: Option<String>,
    pub store: Option<String>,
    pub concurrency: Option<usize>,
    pub log_format: Option<LogFormat>,
}

/// How log lines on stderr are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

/// Whether text log lines on stderr are coloured: only on a terminal, and never when `NO_COLOR` is
/// set to anything but the empty string (no-color.org, as `bao`, `kubectl` and `restic` do).
pub fn log_colour(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// All settings, read once at start, raw: each command resolves its configuration from them
/// (`commands.rs`).
#[derive(Debug)]
pub struct Settings {
    vault: VaultEnv,
    bao: VaultEnv,
    replicator: ReplicatorEnv,
    flags: Flags,
    /// Set variables that look meant for the tool but are not read (names only).
    unknown: Vec<UnknownVar>,
}

impl fmt::Debug for ReplicatorEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplicatorEnv")
            .field("store", &self.store)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

fn from_env<T: for<'de> Deserialize<'de> + Default>(prefix: &str) -> Result<T> {
    // Every field is an optional string, so envy fails only on non-UTF-8 values.
    envy::prefixed(prefix)
        .from_env::<T>()
        .map_err(|e| Error::config("environment", format!("{prefix}*: {e}")))
}

impl Settings {
    pub fn load(flags: Flags) -> Result<Self> {
        Ok(Settings {
            vault: from_env("VAULT_")?,
            bao: from_env("BAO_")?,
            replicator: from_env("REPLICATOR_")?,
            flags,
            unknown: unknown::unknown_vars(
                std::env::vars_os().filter_map(|(k, _)| k.into_string().ok()),
            ),
        })
    }

    /// Set variables the tool does not read, each with the known one it was probably meant to be;
    /// `main` logs a warning for each.
    pub fn unknown_vars(&self) -> &[UnknownVar] {
        &self.unknown
    }

    /// The log format: flag, then `REPLICATOR_LOG_FORMAT`, then json (text on a terminal).
    pub fn log_format(&self, stderr_is_terminal: bool) -> Result<LogFormat> {
        if let Some(f) = self.flags.log_format {
            return Ok(f);
        }
        match self.replicator.log_format.as_deref().map(str::trim) {
            None | Some("") => Ok(if stderr_is_terminal {
                LogFormat::Text
            } else {
                LogFormat::Json
            }),
            Some("json") => Ok(LogFormat::Json),
            Some("text") => Ok(LogFormat::Text),
            Some(other) => Err(Error::config(
                "REPLICATOR_LOG_FORMAT",
                format!("expected `json` or `text`, got `{other}`"),
            )),
        }
    }

    pub(super) fn concurrency(&self) -> Result<usize> {
        let n = match (self.flags.concurrency, &self.replicator.concurrency) {
            (Some(n), _) => n,
            (None, Some(s)) => s.trim().parse::<usize>().map_err(|_| {
                Error::config(
                    "REPLICATOR_CONCURRENCY",
                    format!("expected a whole number, got `{s}`"),
                )
            })?,
            (None, None) => DEFAULT_CONCURRENCY,
        };
        if n == 0 || n > 1024 {
            return Err(Error::config(
                "REPLICATOR_CONCURRENCY",
                format!("must be between 1 and 1024, got {n}"),
            ));
        }
        Ok(n)
    }

    /// Which mounts to replicate (`REPLICATOR_INCLUDE` / `REPLICATOR_EXCLUDE`).
    pub(super) fn filter(&self) -> Result<Filter> {
        Ok(Filter {
            include: globs("REPLICATOR_INCLUDE", self.replicator.include.as_deref())?,
            exclude: globs("REPLICATOR_EXCLUDE", self.replicator.exclude.as_deref())?,
        })
    }

    /// Whether to export every KV-v2 version (`REPLICATOR_KV_HISTORY=all`) or the latest only.
    pub(super) fn kv_history(&self) -> Result<bool> {
        match self.replicator.kv_history.as_deref().map(str::trim) {
            None | Some("") | Some("latest") => Ok(false),
            Some("all") => Ok(true),
            Some(other) => Err(Error::config(
                "REPLICATOR_KV_HISTORY",
                format!("expected `latest` or `all`, got `{other}`"),
            )),
        }
    }

    /// What a new userpass user gets on the target (`REPLICATOR_USERPASS_PASSWORD`).
    pub(super) fn userpass_password(&self) -> Result<NewUserPassword> {
        match self.replicator.userpass_password.as_deref().map(str::trim) {
            None | Some("") | Some("random") => Ok(NewUserPassword::Random),
            Some("skip") => Ok(NewUserPassword::Skip),
            Some(other) => Err(Error::config(
                "REPLICATOR_USERPASS_PASSWORD",
                format!("expected `random` or `skip`, got `{other}`"),
            )),
        }
    }

    /// Everything the importer's safety rails need.
    pub(super) fn import_options(&self) -> Result<ImportOptions> {
        let r = &self.replicator;
        Ok(ImportOptions {
            prune: flag("REPLICATOR_PRUNE", r.prune.as_deref())?,
            prune_mounts: flag("REPLICATOR_PRUNE_MOUNTS", r.prune_mounts.as_deref())?,
            max_delete: match r.max_delete.as_deref().map(str::trim) {
                None | Some("") => MaxDelete::Percent(10),
                Some(v) => MaxDelete::parse(v).ok_or_else(|| {
                    Error::config(
                        "REPLICATOR_MAX_DELETE",
                        format!(
                            "expected a count such as 50 or a percentage such as 10%, got `{v}`"
                        ),
                    )
                })?,
            },
            on_drift: match r.on_drift.as_deref().map(str::trim) {
                None | Some("") | Some("overwrite") => OnDrift::Overwrite,
                Some("skip") => OnDrift::Skip,
                Some("fail") => OnDrift::Fail,
                Some(other) => {
                    return Err(Error::config(
                        "REPLICATOR_ON_DRIFT",
                        format!("expected overwrite, skip or fail, got `{other}`"),
                    ));
                }
            },
            state_mount: self.state_mount()?,
            lease_wait: duration("REPLICATOR_LEASE_WAIT", r.lease_wait.as_deref())?,
            lease_ttl: self.lease_ttl()?,
            userpass: self.userpass_password()?,
            database: self.database_options()?,
            full_check_every: match r.full_check_every.as_deref().map(str::trim) {
                None | Some("") => 6,
                Some(v) => v.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    Error::config(
                        "REPLICATOR_FULL_CHECK_EVERY",
                        format!("expected a count of at least 1, got `{v}`"),
                    )
                })?,
            },
            full_check: false,
            records_batch: match r.records_batch.as_deref().map(str::trim) {
                None | Some("") => crate::state::FLUSH_AT,
                Some(v) => v.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    Error::config(
                        "REPLICATOR_RECORDS_BATCH",
                        format!("expected a count of at least 1, got `{v}`"),
                    )
                })?,
            },
            max_delete_window: match set(&r.max_delete_window) {
                None => DEFAULT_MAX_DELETE_WINDOW,
                Some(v) => duration("REPLICATOR_MAX_DELETE_WINDOW", Some(v))?,
            },
            map: self.path_map()?,
        })
    }

    /// `REPLICATOR_MAP` (`FROM=TO,...`) and `REPLICATOR_MAP_ONLY`: where an import puts what it
    /// reads (`--map` and `--map-only` replace them).
    pub fn path_map(&self) -> Result<crate::map::PathMap> {
        let r = &self.replicator;
        let rules: Vec<String> = r.map.iter().cloned().collect();
        let only = flag("REPLICATOR_MAP_ONLY", r.map_only.as_deref())?;
        if only && rules.iter().all(|r| r.trim().is_empty()) {
            return Err(Error::config(
                "REPLICATOR_MAP_ONLY",
                "goes with REPLICATOR_MAP",
            ));
        }
        crate::map::PathMap::parse("REPLICATOR_MAP", &rules, only)
    }

    /// The mount that keeps the importer's state on a target (`REPLICATOR_STATE_MOUNT`), with its
    /// trailing slash.
    pub(super) fn state_mount(&self) -> Result<String> {
        let mount = self.replicator.state_mount.as_deref();
        match mount.map(|m| m.trim().trim_matches('/')) {
            None | Some("") => Ok(crate::state::DEFAULT_MOUNT.to_string()),
            Some(m) if m.contains("..") || m.starts_with("sys") => Err(Error::config(
                "REPLICATOR_STATE_MOUNT",
                format!("`{m}` cannot hold the importer's state"),
            )),
            Some(m) => Ok(format!("{m}/")),
        }
    }

    /// How long an import's lease lasts without renewal (`REPLICATOR_LEASE_TTL`, default
    /// `DEFAULT_LEASE_TTL`).
    pub(super) fn lease_ttl(&self) -> Result<std::time::Duration> {
        match duration("REPLICATOR_LEASE_TTL", self.replicator.lease_ttl.as_deref())? {
            d if d.is_zero() => Ok(DEFAULT_LEASE_TTL),
            d => Ok(d),
        }
    }

    /// The store URL (`REPLICATOR_STORE` or `--store`).
    pub(super) fn store_url(&self) -> Result<String> {
        let url = self
            .flags
            .store
            .clone()
            .or_else(|| self.replicator.store.clone())
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                Error::config(
                    "REPLICATOR_STORE",
                    "not set; expected s3://BUCKET/PREFIX or file:///DIR",
                )
            })?;
        Ok(url.trim().to_string())
    }
}

/// A variable's value when it is set to something other than blanks, trimmed.
fn set(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Booleans as Go's `strconv.ParseBool` reads them, which is what `vault` accepts.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_bool_accepts_go_spellings_only() {
        assert_eq!(parse_bool("1"), Some(true));
        assert_eq!(parse_bool("True"), Some(true));
        assert_eq!(parse_bool("false"), Some(false));
        assert_eq!(parse_bool("yes"), None);
    }

    #[test]
    fn no_color_set_to_anything_turns_colour_off() {
        use std::ffi::OsStr;
        assert!(log_colour(true, None));
        assert!(log_colour(true, Some(OsStr::new(""))));
        assert!(!log_colour(true, Some(OsStr::new("1"))));
        assert!(!log_colour(true, Some(OsStr::new("false"))));
        assert!(!log_colour(false, None));
    }
}

//! Each command's configuration, resolved once at the edge (`crate::run`) from the environment
//! and flags into the lower layers' types, which is all those layers see. A command reads exactly
//! the settings it uses, in the order it has always checked them: a setting that only another
//! command reads never fails it (`list` needs no Vault token, `verify` no Vault at all).

use std::sync::Arc;
use std::time::Duration;

use super::options::duration;
use super::{Filter, ImportOptions, Retention, Settings};
use crate::error::{Error, Result, one_line};
use crate::metrics::Grouping;
use crate::seal::{Expected, Opener, Sealer};
use crate::snapshot::Limits;
use crate::state::RecordKey;
use crate::vault::VaultConfig;

/// What the export's walk of a cluster reads (`export`, and `diff`'s `cluster` side).
#[derive(Debug, Clone)]
pub struct WalkConfig {
    /// Every KV-v2 version (`REPLICATOR_KV_HISTORY=all`), or the latest only.
    pub kv_history: bool,
    /// Which mounts (`REPLICATOR_INCLUDE` / `REPLICATOR_EXCLUDE`).
    pub filter: Filter,
    /// The importer's own bookkeeping mount, which is never exported.
    pub state_mount: String,
    /// The KV-v2 mount that keeps write-only fields (`REPLICATOR_ESCROW_MOUNT`), with its slash.
    pub escrow_mount: Option<String>,
}

/// The live cluster at VAULT_ADDR, walked as an export walks it (`diff`'s `cluster` side).
pub struct ClusterConfig {
    pub vault: VaultConfig,
    pub walk: WalkConfig,
}

/// `export`.
pub struct ExportConfig {
    pub vault: VaultConfig,
    pub store_url: String,
    pub sealer: Sealer,
    /// Applied once the new snapshot is `latest`.
    pub retention: Retention,
    pub walk: WalkConfig,
}

/// Where a snapshot is read from and how it is verified (`verify`, `list --verify`, `diff`,
/// `import`).
pub struct VerifyConfig {
    pub store_url: String,
    pub opener: Arc<Opener>,
    pub limits: Limits,
    /// The origin its signature must name.
    pub expected: Expected,
}

/// `import`.
pub struct ImportConfig {
    pub verify: VerifyConfig,
    /// What the importer's records digest snapshot entries with.
    pub record_key: RecordKey,
    pub vault: VaultConfig,
    pub options: ImportOptions,
}

/// `list`.
pub struct ListConfig {
    pub store_url: String,
    pub check: ListCheck,
}

/// How far `list` reads each snapshot.
pub enum ListCheck {
    /// The head only, up to the manifest's counts. Without an opener (its error, on one line),
    /// each snapshot says why it has no counts, and the list goes on.
    Heads {
        limits: Limits,
        opener: std::result::Result<Arc<Opener>, String>,
    },
    /// All of it, verified (`--verify`).
    Verify(VerifyConfig),
}

/// `diff`'s side: the live cluster, or a snapshot of the store (both snapshot sides share one).
pub enum DiffSide {
    Cluster(Arc<ClusterConfig>),
    Snapshot(Arc<VerifyConfig>),
}

/// The importer's state on the cluster at VAULT_ADDR (`status`, `promote`, `demote`).
pub struct StateConfig {
    pub vault: VaultConfig,
    pub state_mount: String,
}

/// `promote`.
pub struct PromoteConfig {
    /// How long to wait for a running import to stop (`--timeout`, else the lease TTL and 1m).
    pub timeout: Duration,
    pub state: StateConfig,
}

/// `status`.
pub struct StatusConfig {
    /// `REPLICATOR_MAX_AGE`: the RPO check.
    pub max_age: Option<Duration>,
    /// The cluster at VAULT_ADDR, when an address is set.
    pub target: Option<StateConfig>,
    /// The store, when one is set.
    pub store_url: Option<String>,
}

/// `prune`: snapshot retention on demand.
pub struct PruneConfig {
    pub retention: Retention,
    pub store_url: String,
}

/// What every run needs besides its command's configuration.
pub struct RunConfig {
    /// How often long runs log a progress line.
    pub progress_interval: Duration,
    /// Set for a command that pushes metrics when `REPLICATOR_PUSHGATEWAY_URL` is set.
    pub metrics: Option<MetricsConfig>,
}

/// Where a run's metrics go, and the labels they are grouped by: when those cannot be told,
/// the run goes on and its metrics are not pushed (`Err`, said in a warning).
pub struct MetricsConfig {
    pub url: String,
    pub grouping: Result<Grouping>,
}

impl Settings {
    /// What every run needs; `pushes_metrics` for the commands that push them (export, import,
    /// prune).
    pub fn run(&self, pushes_metrics: bool) -> Result<RunConfig> {
        let url = match pushes_metrics {
            true => self.pushgateway_url()?,
            false => None,
        };
        let progress_interval = self.progress_interval()?;
        Ok(RunConfig {
            progress_interval,
            metrics: url.map(|url| MetricsConfig {
                url,
                grouping: self.metrics_grouping(),
            }),
        })
    }

    pub fn export(&self) -> Result<ExportConfig> {
        Ok(ExportConfig {
            vault: self.vault()?,
            store_url: self.store_url()?,
            sealer: self.sealer()?,
            retention: self.retention()?,
            walk: self.walk()?,
        })
    }

    fn walk(&self) -> Result<WalkConfig> {
        Ok(WalkConfig {
            kv_history: self.kv_history()?,
            filter: self.filter()?,
            state_mount: self.state_mount()?,
            escrow_mount: self.escrow_mount()?,
        })
    }

    /// Keys and limits come before the Vault settings, so that a bad one costs no Vault request.
    pub fn import(&self) -> Result<ImportConfig> {
        let store_url = self.store_url()?;
        let opener = Arc::new(self.opener()?);
        let record_key = self.record_key()?;
        let limits = self.limits()?;
        let vault = self.vault()?;
        let options = self.import_options()?;
        let expected = self.expected_origin(&store_url)?;
        Ok(ImportConfig {
            verify: VerifyConfig {
                store_url,
                opener,
                limits,
                expected,
            },
            record_key,
            vault,
            options,
        })
    }

    pub fn verify(&self) -> Result<VerifyConfig> {
        let opener = Arc::new(self.opener()?);
        let limits = self.limits()?;
        let store_url = self.store_url()?;
        let expected = self.expected_origin(&store_url)?;
        Ok(VerifyConfig {
            store_url,
            opener,
            limits,
            expected,
        })
    }

    /// `list`, and with `verify` (`--verify`) each snapshot verified in full.
    pub fn list(&self, verify: bool) -> Result<ListConfig> {
        let store_url = self.store_url()?;
        let check = match verify {
            true => ListCheck::Verify(self.verify()?),
            false => ListCheck::Heads {
                limits: self.limits()?,
                opener: self.opener().map(Arc::new).map_err(|e| one_line(&e)),
            },
        };
        Ok(ListConfig { store_url, check })
    }

    /// `diff`'s two sides in order, each the live cluster when `cluster` says so, else a snapshot.
    pub fn diff(&self, cluster: [bool; 2]) -> Result<[DiffSide; 2]> {
        let (mut live, mut stored) = (None, None);
        let mut side = |cluster: bool| -> Result<DiffSide> {
            Ok(match cluster {
                true => DiffSide::Cluster(shared(&mut live, || self.cluster())?),
                false => DiffSide::Snapshot(shared(&mut stored, || self.verify())?),
            })
        };
        Ok([side(cluster[0])?, side(cluster[1])?])
    }

    fn cluster(&self) -> Result<ClusterConfig> {
        Ok(ClusterConfig {
            vault: self.vault()?,
            walk: self.walk()?,
        })
    }

    /// `demote`, and what `status` and `promote` read the importer's state with.
    pub fn state(&self) -> Result<StateConfig> {
        Ok(StateConfig {
            vault: self.vault()?,
            state_mount: self.state_mount()?,
        })
    }

    /// `promote`, waiting `timeout` (the `--timeout` flag, as written) for a running import.
    pub fn promote(&self, timeout: Option<&str>) -> Result<PromoteConfig> {
        let timeout = match timeout {
            Some(t) => duration("--timeout", Some(t))?,
            None => self.lease_ttl()? + Duration::from_secs(60),
        };
        Ok(PromoteConfig {
            timeout,
            state: self.state()?,
        })
    }

    /// `status` looks at the cluster when an address is set and at the store when one is set,
    /// and needs one of them.
    pub fn status(&self) -> Result<StatusConfig> {
        let max_age = self.max_age()?;
        let target = match self.vault_addr_set() {
            true => Some(self.state()?),
            false => None,
        };
        let store_url = self.store_url().ok();
        if target.is_none() && store_url.is_none() {
            return Err(Error::config(
                "REPLICATOR_STORE",
                "status needs REPLICATOR_STORE, VAULT_ADDR, or both",
            ));
        }
        Ok(StatusConfig {
            max_age,
            target,
            store_url,
        })
    }

    /// `prune` needs a retention rule to prune by.
    pub fn prune(&self) -> Result<PruneConfig> {
        let retention = self.retention()?;
        if !retention.is_set() {
            return Err(Error::config(
                "REPLICATOR_KEEP_LAST",
                "neither REPLICATOR_KEEP_LAST nor REPLICATOR_KEEP_WITHIN is set: nothing to prune by",
            ));
        }
        Ok(PruneConfig {
            retention,
            store_url: self.store_url()?,
        })
    }

    /// The importer's state mount. Read with the rest of the import's options, as it always was,
    /// so that a command reading the state fails on a malformed import option as it did before.
    fn state_mount(&self) -> Result<String> {
        Ok(self.import_options()?.state_mount)
    }

    fn lease_ttl(&self) -> Result<Duration> {
        Ok(self.import_options()?.lease_ttl)
    }
}

/// The value in `slot`, resolved the first time it is asked for.
fn shared<T>(slot: &mut Option<Arc<T>>, resolve: impl FnOnce() -> Result<T>) -> Result<Arc<T>> {
    if let Some(v) = slot {
        return Ok(Arc::clone(v));
    }
    Ok(Arc::clone(slot.insert(Arc::new(resolve()?))))
}

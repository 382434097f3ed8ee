//! Each command's configuration, resolved once at the edge (`crate::run`) from the environment
//! and flags into the lower layers' types, which is all those layers see. A command reads exactly
//! the settings it uses, in the order it has always checked them: a setting that only another
//! command reads never fails it (`list` needs no Vault token, `verify` no Vault at all).

use std::sync::Arc;
use std::time::Duration;

use super::options::duration;
use super::{ChainPolicy, Filter, ImportOptions, Retention, Settings};
use crate::error::{Error, Result, one_line};
use crate::metrics::Grouping;
use crate::seal::{Opener, Sealer};
use crate::snapshot::Limits;
pub use crate::snapshot::verify::VerifyConfig;
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
    /// When a full snapshot is cut rather than a delta.
    pub chain: ChainPolicy,
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
            chain: self.chain_policy()?,
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
}

/// The value in `slot`, resolved the first time it is asked for.
fn shared<T>(slot: &mut Option<Arc<T>>, resolve: impl FnOnce() -> Result<T>) -> Result<Arc<T>> {
    if let Some(v) = slot {
        return Ok(Arc::clone(v));
    }
    Ok(Arc::clone(slot.insert(Arc::new(resolve()?))))
}

#[cfg(test)]
mod tests {
    use super::super::ReplicatorEnv;
    use super::super::vault::VaultEnv;
    use super::*;

    /// Settings as a run with these `REPLICATOR_*` variables and this Vault would read them.
    fn settings(replicator: ReplicatorEnv, vault: Option<&str>) -> Settings {
        Settings {
            vault: VaultEnv {
                addr: vault.map(String::from),
                token: vault.map(|_| "t".to_string()),
                ..VaultEnv::default()
            },
            bao: VaultEnv::default(),
            replicator,
            flags: super::super::Flags::default(),
            unknown: Vec::new(),
        }
    }

    /// A store and no keys, snapshots being plaintext and unsigned.
    fn plain() -> ReplicatorEnv {
        ReplicatorEnv {
            store: Some("file:///tmp/x".into()),
            allow_plaintext: Some("true".into()),
            allow_unsigned: Some("true".into()),
            ..ReplicatorEnv::default()
        }
    }

    fn var_of<T>(resolved: Result<T>) -> &'static str {
        match resolved {
            Err(Error::Config { var, .. }) => var,
            Err(e) => panic!("not a configuration error: {e}"),
            Ok(_) => panic!("resolved"),
        }
    }

    #[test]
    fn list_and_verify_need_no_vault_and_list_no_keys() {
        let store_only = ReplicatorEnv {
            store: Some("file:///tmp/x".into()),
            ..ReplicatorEnv::default()
        };
        let listed = settings(store_only, None).list(false).unwrap();
        match listed.check {
            ListCheck::Heads { opener: Err(e), .. } => {
                assert!(e.contains("REPLICATOR_AGE_IDENTITY_FILE"), "{e}")
            }
            _ => panic!("a listing without keys still lists"),
        }
        settings(plain(), None).verify().unwrap();
        let verifying = settings(plain(), None).list(true).unwrap();
        assert!(matches!(verifying.check, ListCheck::Verify(_)));
    }

    #[test]
    fn a_setting_of_another_command_fails_none_of_these() {
        // Read only by export (the walk, retention), status and the metrics of a run, or only
        // by import (which reads the state mount and the lease TTL as the others do).
        let others = ReplicatorEnv {
            kv_history: Some("every".into()),
            include: Some("[".into()),
            escrow_mount: Some("a/../b".into()),
            keep_last: Some("0".into()),
            max_age: Some("soon".into()),
            pushgateway_url: Some("ftp://x".into()),
            ..plain()
        };
        let s = settings(others, Some("http://127.0.0.1:1"));
        s.import().unwrap();
        let imports_only = ReplicatorEnv {
            max_delete: Some("lots".into()),
            on_drift: Some("sometimes".into()),
            userpass_password: Some("always".into()),
            records_batch: Some("0".into()),
            ..plain()
        };
        let i = settings(imports_only, Some("http://127.0.0.1:1"));
        i.export().unwrap();
        i.state().unwrap();
        i.promote(None).unwrap();
        i.status().unwrap();
        i.diff([true, true]).unwrap();
        assert_eq!(var_of(i.import()), "REPLICATOR_MAX_DELETE");
        s.verify().unwrap();
        s.list(false).unwrap();
        s.state().unwrap();
        s.diff([false, false]).unwrap();
        s.run(false).unwrap();
        assert_eq!(var_of(s.export()), "REPLICATOR_KEEP_LAST");
        assert_eq!(var_of(s.status()), "REPLICATOR_MAX_AGE");
        assert_eq!(var_of(s.prune()), "REPLICATOR_KEEP_LAST");
        assert_eq!(var_of(s.run(true)), "REPLICATOR_PUSHGATEWAY_URL");
        assert_eq!(var_of(s.diff([false, true])), "REPLICATOR_KV_HISTORY");
    }

    #[test]
    fn settings_are_checked_in_the_order_each_command_always_checked_them() {
        let empty = settings(ReplicatorEnv::default(), None);
        assert_eq!(var_of(empty.export()), "VAULT_ADDR");
        assert_eq!(var_of(empty.import()), "REPLICATOR_STORE");
        assert_eq!(var_of(empty.verify()), "REPLICATOR_AGE_IDENTITY_FILE");
        assert_eq!(var_of(empty.status()), "REPLICATOR_STORE");
        assert_eq!(var_of(empty.prune()), "REPLICATOR_KEEP_LAST");
        assert_eq!(var_of(empty.promote(Some("soon"))), "--timeout");
        let no_vault = settings(plain(), None);
        assert_eq!(var_of(no_vault.import()), "VAULT_ADDR");
        assert_eq!(var_of(no_vault.diff([false, true])), "VAULT_ADDR");
    }

    #[test]
    fn diff_resolves_what_its_sides_share_once() {
        let s = settings(plain(), Some("http://127.0.0.1:1"));
        let [DiffSide::Snapshot(a), DiffSide::Snapshot(b)] = s.diff([false, false]).unwrap() else {
            panic!("two snapshot sides");
        };
        assert!(Arc::ptr_eq(&a, &b));
        let [DiffSide::Cluster(_), DiffSide::Snapshot(_)] = s.diff([true, false]).unwrap() else {
            panic!("the cluster, then a snapshot");
        };
    }

    #[test]
    fn status_needs_a_store_or_a_cluster_and_promote_waits_a_lease_and_a_minute() {
        let cluster_only = settings(ReplicatorEnv::default(), Some("http://127.0.0.1:1"));
        let status = cluster_only.status().unwrap();
        assert!(status.target.is_some() && status.store_url.is_none());
        let promote = cluster_only.promote(None).unwrap();
        assert_eq!(promote.timeout, Duration::from_secs(120));
        let promote = cluster_only.promote(Some("90s")).unwrap();
        assert_eq!(promote.timeout, Duration::from_secs(90));
    }
}

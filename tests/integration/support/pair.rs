//! The source (DC) and target (DR) most integration tests drive: two OpenBao dev servers with a
//! file store between them, each optionally behind a proxy that answers as HashiCorp Vault does.
//! Tests drive it with `sync` (export, then import) and check it with `assert_converged`.

use std::time::Duration;

use serde_json::json;

use super::{Bao, Run, VaultProxy, env_for, file_store, replicator};

pub struct Pair {
    pub src: Bao,
    pub dst: Bao,
    pub dir: tempfile::TempDir,
    /// The Vault-shaped proxies in front of the source and the target, which the tool then
    /// talks to (tests seed and compare the servers directly).
    pub proxies: Option<(VaultProxy, VaultProxy)>,
}

impl Pair {
    pub fn new() -> Pair {
        Pair {
            src: Bao::start(),
            dst: Bao::start(),
            dir: tempfile::tempdir().unwrap(),
            proxies: None,
        }
    }

    /// A pair the tool sees as two HashiCorp Vault Community servers: each behind a
    /// `VaultProxy`, whose GET answers of `inject`'s paths carry its Vault-only fields.
    pub fn vault_shaped(src_inject: serde_json::Value, dst_inject: serde_json::Value) -> Pair {
        let mut p = Pair::new();
        let proxies = (
            VaultProxy::start(&p.src, &src_inject),
            VaultProxy::start(&p.dst, &dst_inject),
        );
        p.proxies = Some(proxies);
        p
    }

    /// The environment for a run against `bao`, with the shared store and keys, plus `extra`.
    pub fn env(&self, bao: &Bao, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let extra: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut env = env_for(bao, &file_store(self.dir.path()), &extra);
        if let Some((src, dst)) = &self.proxies {
            let proxy = [(&self.src, src), (&self.dst, dst)]
                .into_iter()
                .find(|(b, _)| b.addr == bao.addr);
            if let Some((_, proxy)) = proxy {
                env.push(("VAULT_ADDR".into(), proxy.addr.clone()));
            }
        }
        env
    }

    /// Exports the source; waits a second first, since snapshots are named by the second.
    pub fn export(&self) {
        std::thread::sleep(Duration::from_millis(1050));
        replicator(&["export"], &self.env(&self.src, &[])).assert_code(0);
    }

    pub fn import(&self, extra: &[(&str, &str)]) -> Run {
        self.import_args(&["import"], extra)
    }

    /// Runs the tool against the target with these arguments.
    pub fn import_args(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        replicator(args, &self.env(&self.dst, extra))
    }

    /// Exports the source and imports it into the target; the import's exit code is checked.
    #[track_caller]
    pub fn sync(&self, extra: &[(&str, &str)], code: i32) -> Run {
        // Snapshots are named by the second.
        std::thread::sleep(Duration::from_millis(1050));
        replicator(&["export"], &self.env(&self.src, extra)).assert_code(0);
        let run = replicator(&["import"], &self.env(&self.dst, extra));
        run.assert_code(code);
        run
    }

    /// A full-check import of the latest snapshot must find nothing to write.
    #[track_caller]
    pub fn assert_converged(&self) {
        let again = replicator(&["import", "--full-check"], &self.env(&self.dst, &[]));
        again.assert_code(0);
        assert!(again.stdout.contains("(0 writes)"), "{}", again.stdout);
    }

    /// A pair with a transit mount on both sides.
    pub fn with_transit() -> Pair {
        let p = Pair::new();
        for b in [&p.src, &p.dst] {
            b.write("sys/mounts/transit", json!({"type": "transit"}));
        }
        p
    }
}

/// The `N writes` of an import's first line.
pub fn writes(run: &Run) -> u64 {
    run.stdout
        .split_once(" writes)")
        .and_then(|(head, _)| head.rsplit('(').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no write count in:\n{}", run.stdout))
}

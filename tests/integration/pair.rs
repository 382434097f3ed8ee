//! The source (DC) and target (DR) most integration tests drive: two OpenBao dev servers with a
//! file store between them. Test files add their own helpers in `impl Pair` blocks of their own.

use std::time::Duration;

use super::support::{Bao, Run, env_for, file_store, replicator};

pub struct Pair {
    pub src: Bao,
    pub dst: Bao,
    pub dir: tempfile::TempDir,
}

impl Pair {
    pub fn new() -> Pair {
        Pair {
            src: Bao::start(),
            dst: Bao::start(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The environment for a run against `bao`, with the shared store and keys, plus `extra`.
    pub fn env(&self, bao: &Bao, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let extra: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env_for(bao, &file_store(self.dir.path()), &extra)
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
}

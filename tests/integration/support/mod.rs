//! The test rig, shared by every test file: real OpenBao dev servers (one per test, `bao`), real
//! non-dev ones initialised and unsealed with their own keys (`real`), and
//! one real Garage (per test binary, `garage`), all on 127.0.0.1; a runner for the real
//! `vault-replicator` binary; the source/target `Pair` and the Vault-answering proxy in front of
//! it; and the seeds, views and stand-ins several test files use. Test files import from here
//! only, never from each other.

mod auth;
mod bao;
pub mod ca;
mod fault;
mod garage;
mod kube;
mod kube_tokens;
pub mod matrix;
mod oidc;
mod pair;
mod postgres;
mod proxy;
mod pushgateway;
mod rabbit;
mod real;
pub mod sealed;
mod seed;
mod ssh;
mod trust;

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use auth::{assert_same_auth, auth_defaults, auth_tuned, auth_view, some_cert};
pub use bao::Bao;
pub use fault::{Fault, FaultProxy};
pub use garage::garage;
pub use kube::{KubeApi, role, shipped_policy};
pub use kube_tokens::KubeTokens;
pub use oidc::{Provider, oidc_config, oidc_mount};
pub use pair::{Pair, writes};
pub use postgres::Postgres;
pub use proxy::VaultProxy;
pub use pushgateway::Pushgateway;
pub use rabbit::RabbitApi;
pub use real::Storage;
pub use seed::{accessor, data, group_view, id_of, seed, words};
pub use ssh::ssh_ca_role_tuned;
pub use trust::{STAMP, VALUE, aws, latest, latest_key, owned, repoint, run, s3_env};

/// Kills the child when this test process dies, however it dies.
pub(crate) fn die_with_parent(cmd: &mut Command) -> &mut Command {
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        })
    }
}

/// The first of `n` consecutive free ports on 127.0.0.1. `bao server -dev` also binds the port
/// after its API port (cluster listener) and Garage the two after its S3 port, so servers need
/// runs of ports. Runs are handed out once per process, below the kernel's ephemeral range.
pub fn free_ports(n: u16) -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = 20_000 + (std::process::id() % 400) * 30;
    for _ in 0..2000 {
        let offset = NEXT.fetch_add(u32::from(n), Ordering::Relaxed) % 12_000;
        let first = (base + offset) as u16;
        if (first..first + n).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return first;
        }
    }
    panic!("no run of {n} free ports on 127.0.0.1");
}

pub fn free_port() -> u16 {
    free_ports(1)
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique within this test run.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The last line of stderr, which is the error line of a failed run.
    pub fn last_error_line(&self) -> &str {
        self.stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
    }
}

/// An empty directory that stands for the home of the user running the binary.
pub fn empty_home() -> std::path::PathBuf {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("a home directory"))
        .path()
        .to_path_buf()
}

/// The real binary with only the given environment (plus PATH and TMPDIR).
pub fn command<K: AsRef<str>, V: AsRef<str>>(args: &[&str], env: &[(K, V)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vault-replicator"));
    cmd.args(args).env_clear();
    for var in ["PATH", "TMPDIR"] {
        if let Ok(v) = std::env::var(var) {
            cmd.env(var, v);
        }
    }
    // A home of its own: the developer's ~/.vault-token must not log the tool in.
    cmd.env("HOME", empty_home());
    cmd.env("RUST_BACKTRACE", "1")
        .env("REPLICATOR_LOG_FORMAT", "text");
    for (k, v) in env {
        cmd.env(k.as_ref(), v.as_ref());
    }
    cmd
}

/// Runs the real binary to the end.
pub fn replicator<K: AsRef<str>, V: AsRef<str>>(args: &[&str], env: &[(K, V)]) -> Run {
    finish(command(args, env).output().expect("run vault-replicator"))
}

/// Collects a finished run and checks that it did not panic.
pub fn finish(out: std::process::Output) -> Run {
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked") && !run.stderr.contains("stack backtrace"),
        "the binary panicked:\n{}",
        run.stderr
    );
    run
}

/// A helper process (a stand-in service, a TLS dev server), killed when dropped.
pub struct Background(pub Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a stand-in written in Python (`script` gets `args`) and waits until it listens on `port`.
pub fn python_stand_in(script: &str, port: u16, args: &[&str]) -> Background {
    let child = Command::new("python3")
        .args(["-c", script, &port.to_string()])
        .args(args)
        .spawn()
        .expect("python3");
    let started = Background(child);
    wait_for_port(port, Duration::from_secs(10));
    started
}

/// Waits until something listens on 127.0.0.1:`port`.
pub fn wait_for_port(port: u16, limit: Duration) {
    let deadline = Instant::now() + limit;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A key set made by `vault-replicator keygen`, in a directory that lives as long as the process.
pub struct Keys {
    pub dir: PathBuf,
    pub recipient: String,
    pub verify_key: String,
}

impl Keys {
    pub fn generate() -> Keys {
        let dir = tempfile::tempdir().expect("key dir").keep();
        replicator(
            &["keygen", "--dir", dir.to_str().unwrap()],
            &[] as &[(&str, &str)],
        )
        .assert_code(0);
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("read key");
        let verify_key = read("signing.pub")
            .lines()
            .nth(1)
            .expect("key line")
            .to_string();
        Keys {
            recipient: read("age.pub").trim().to_string(),
            verify_key,
            dir,
        }
    }

    /// Everything both sides need: the exporter's recipient and signing key, the importer's
    /// identity and verify key.
    pub fn env(&self) -> Vec<(String, String)> {
        let file = |name: &str| self.dir.join(name).display().to_string();
        vec![
            ("REPLICATOR_AGE_RECIPIENTS".into(), self.recipient.clone()),
            ("REPLICATOR_SIGNING_KEY_FILE".into(), file("signing.key")),
            ("REPLICATOR_AGE_IDENTITY_FILE".into(), file("age.key")),
            ("REPLICATOR_VERIFY_KEY".into(), self.verify_key.clone()),
        ]
    }
}

/// The key set most tests share.
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(Keys::generate)
}

/// Environment for one source or target cluster plus a store, with the shared keys. Later
/// entries in `extra` override earlier ones.
pub fn env_for(bao: &Bao, store: &str, extra: &[(String, String)]) -> Vec<(String, String)> {
    let mut env = bao.env();
    env.push(("REPLICATOR_STORE".into(), store.to_string()));
    env.extend(keys().env());
    env.extend(extra.iter().cloned());
    env
}

pub fn file_store(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

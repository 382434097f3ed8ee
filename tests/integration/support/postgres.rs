//! A real PostgreSQL (Debian's `postgresql` package: `initdb` and `postgres` on the PATH) for the
//! database engine's application-level checks: a throwaway cluster on 127.0.0.1 with password
//! (scram) logins, run as the `postgres` user when the tests run as root, and `psql` to log in
//! with the credentials DR issues.

use std::os::unix::fs::chown;
use std::process::Command;
use std::time::Duration;

use super::{Background, die_with_parent, free_port, wait_for_port};

pub struct Postgres {
    pub port: u16,
    /// The superuser Vault connects as, and its password.
    pub admin: (&'static str, &'static str),
    _server: Background,
    _dir: tempfile::TempDir,
}

/// Runs `cmd` as the `postgres` user when this process is root (PostgreSQL refuses root).
fn as_postgres(cmd: &str) -> Command {
    // SAFETY: getuid has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    match root {
        true => {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=postgres", "--regid=postgres", "--init-groups", cmd]);
            c
        }
        false => Command::new(cmd),
    }
}

impl Postgres {
    /// Whether this machine can run one (else the tests that need it say so and pass).
    pub fn available() -> bool {
        ["initdb", "postgres", "psql"].iter().all(|b| {
            Command::new("sh")
                .args(["-c", &format!("command -v {b}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
    }

    pub fn start() -> Postgres {
        let dir = tempfile::tempdir().unwrap();
        let owner = Command::new("id")
            .args(["-u", "postgres"])
            .output()
            .unwrap();
        let uid: Option<u32> = String::from_utf8_lossy(&owner.stdout).trim().parse().ok();
        // SAFETY: getuid has no preconditions.
        if unsafe { libc::getuid() } == 0 {
            chown(dir.path(), uid, None).unwrap();
        }
        let data = dir.path().join("data");
        let admin = ("admin", "admin-pw-dc");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, admin.1).unwrap();
        if let Some(uid) = uid.filter(|_| unsafe { libc::getuid() } == 0) {
            chown(&pwfile, Some(uid), None).unwrap();
        }
        let init = as_postgres("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", admin.0, "--auth=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .unwrap();
        assert!(init.status.success(), "initdb: {init:?}");
        let port = free_port();
        let mut cmd = as_postgres("postgres");
        cmd.arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-k")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let server = Background(die_with_parent(&mut cmd).spawn().unwrap());
        wait_for_port(port, Duration::from_secs(20));
        Postgres {
            port,
            admin,
            _server: server,
            _dir: dir,
        }
    }

    /// The templated URL Vault's postgresql plugin connects with.
    pub fn url(&self) -> String {
        format!(
            "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    /// A URL with the superuser's credentials, for OpenBao's `postgresql` storage backend.
    pub fn storage_url(&self) -> String {
        format!(
            "postgresql://{}:{}@127.0.0.1:{}/postgres?sslmode=disable",
            self.admin.0, self.admin.1, self.port
        )
    }

    /// Runs `sql` as `user` with `password` over TCP: `Ok(output)` when the login and query work.
    pub fn psql(&self, user: &str, password: &str, sql: &str) -> Result<String, String> {
        let out = Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", user])
            .args(["-d", "postgres", "-tAc", sql])
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "5")
            .output()
            .unwrap();
        match out.status.success() {
            true => Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()),
            false => Err(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        }
    }
}

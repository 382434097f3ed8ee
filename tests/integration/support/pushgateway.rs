//! A real Prometheus Pushgateway on 127.0.0.1 (Debian's prometheus-pushgateway, which
//! `scripts/deps.sh` unpacks), and what it serves to a scrape.

use std::process::{Command, Stdio};
use std::time::Duration;

use super::{Background, free_port, wait_for_port};

pub struct Pushgateway {
    pub url: String,
    _process: Background,
}

impl Pushgateway {
    pub fn start() -> Pushgateway {
        let cached =
            dirs_home().join(".cache/vault-replicator/pushgateway/usr/bin/prometheus-pushgateway");
        let binary = match cached.exists() {
            true => cached.into_os_string(),
            false => "prometheus-pushgateway".into(),
        };
        let port = free_port();
        let child = Command::new(&binary)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-pushgateway (make deps installs it)");
        let process = Background(child);
        wait_for_port(port, Duration::from_secs(10));
        Pushgateway {
            url: format!("http://127.0.0.1:{port}"),
            _process: process,
        }
    }

    /// The samples a Prometheus scrape of the Pushgateway gets whose name starts with `prefix`,
    /// as `name{labels} value` lines.
    pub fn samples(&self, prefix: &str) -> Vec<String> {
        let text = reqwest::blocking::get(format!("{}/metrics", self.url))
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.text())
            .expect("scrape the Pushgateway");
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .map(String::from)
            .collect()
    }

    /// The value of `name` in the group whose labels include every one of `labels`.
    pub fn value(&self, name: &str, labels: &[&str]) -> Option<f64> {
        self.samples(name).iter().find_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let bare = series.split('{').next()?;
            (bare == name && labels.iter().all(|want| series.contains(want)))
                .then(|| value.parse().ok())?
        })
    }
}

fn dirs_home() -> std::path::PathBuf {
    std::env::var_os("HOME").map_or_else(|| "/root".into(), Into::into)
}

//! Prometheus metrics pushed to a Pushgateway (`REPLICATOR_PUSHGATEWAY_URL`) when an export,
//! import or prune ends: when it last succeeded, how long it took, objects by kind and result,
//! the snapshot's size, and whether it failed. Grouped as `job="vault-replicator"` plus the
//! command, and pushed with POST, so a failed run leaves the last success time in place.

use std::fmt::Write as _;
use std::time::Duration;

use crate::error::{Error, Result};

/// One run, as the metrics see it.
#[derive(Debug, Default)]
pub struct RunMetrics {
    pub command: &'static str,
    /// The exit code: 0 is success.
    pub exit_code: u8,
    pub seconds: f64,
    /// (kind, result, count), for example ("kv_secret", "created", 12).
    pub objects: Vec<(String, String, u64)>,
    pub snapshot_bytes: Option<u64>,
}

fn gauge(out: &mut String, name: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, v) in samples {
        let _ = writeln!(out, "{name}{labels} {v}");
    }
}

/// The text exposition format of one run's metrics, at Unix time `now`.
pub fn render(m: &RunMetrics, now: i64) -> String {
    let mut out = String::new();
    let ok = m.exit_code == 0;
    let at = [(String::new(), now as f64)];
    if ok {
        gauge(
            &mut out,
            "vault_replicator_last_success_timestamp_seconds",
            "Unix time of the last successful run.",
            &at,
        );
    } else {
        gauge(
            &mut out,
            "vault_replicator_last_failure_timestamp_seconds",
            "Unix time of the last failed run.",
            &at,
        );
    }
    gauge(
        &mut out,
        "vault_replicator_last_run_timestamp_seconds",
        "Unix time of the last run.",
        &at,
    );
    gauge(
        &mut out,
        "vault_replicator_last_run_success",
        "1 if the last run succeeded, else 0.",
        &[(String::new(), if ok { 1.0 } else { 0.0 })],
    );
    gauge(
        &mut out,
        "vault_replicator_last_exit_code",
        "Exit code of the last run (see the README).",
        &[(String::new(), m.exit_code as f64)],
    );
    gauge(
        &mut out,
        "vault_replicator_duration_seconds",
        "Duration of the last run.",
        &[(String::new(), m.seconds)],
    );
    if !m.objects.is_empty() {
        let samples: Vec<(String, f64)> = m
            .objects
            .iter()
            .map(|(kind, result, n)| {
                (
                    format!("{{kind=\"{kind}\",result=\"{result}\"}}"),
                    *n as f64,
                )
            })
            .collect();
        gauge(
            &mut out,
            "vault_replicator_objects",
            "Objects handled by the last run, by kind and result.",
            &samples,
        );
    }
    if let Some(b) = m.snapshot_bytes {
        gauge(
            &mut out,
            "vault_replicator_snapshot_bytes",
            "Size of the snapshot the last run wrote or read.",
            &[(String::new(), b as f64)],
        );
    }
    out
}

/// Pushes `m` to the Pushgateway at `url`. A failure is reported to the caller, who logs it: the
/// run's own outcome stands.
pub async fn push(url: &str, m: &RunMetrics) -> Result<()> {
    let target = format!("{url}/metrics/job/vault-replicator/command/{}", m.command);
    let body = render(m, chrono::Utc::now().timestamp());
    let failed = |message: String| Error::Store {
        location: url.to_string(),
        message: format!("cannot push metrics: {message}"),
    };
    let resp = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| failed(e.to_string()))?
        .post(&target)
        .header("Content-Type", "text/plain; version=0.0.4")
        .body(body)
        .send()
        .await
        .map_err(|e| failed(crate::error::one_line(&e.without_url())))?;
    if !resp.status().is_success() {
        return Err(failed(format!("HTTP {}", resp.status().as_u16())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_success_carries_its_timestamp_objects_and_size() {
        let m = RunMetrics {
            command: "import",
            exit_code: 0,
            seconds: 1.5,
            objects: vec![("kv_secret".into(), "created".into(), 12)],
            snapshot_bytes: Some(4096),
        };
        let text = render(&m, 1_700_000_000);
        assert!(text.contains("vault_replicator_last_success_timestamp_seconds 1700000000\n"));
        assert!(
            text.contains("vault_replicator_objects{kind=\"kv_secret\",result=\"created\"} 12\n")
        );
        assert!(text.contains("vault_replicator_snapshot_bytes 4096\n"));
        assert!(text.contains("vault_replicator_last_run_success 1\n"));
    }

    #[test]
    fn a_failure_leaves_the_success_timestamp_alone() {
        let m = RunMetrics {
            command: "export",
            exit_code: 4,
            ..Default::default()
        };
        let text = render(&m, 1);
        assert!(!text.contains("last_success_timestamp"));
        assert!(text.contains("vault_replicator_last_failure_timestamp_seconds 1\n"));
        assert!(text.contains("vault_replicator_last_exit_code 4\n"));
    }
}

//! Prometheus metrics pushed to a Pushgateway (`REPLICATOR_PUSHGATEWAY_URL`) when an export,
//! import or prune ends: when it last succeeded, how long it took, objects by kind and result,
//! the snapshot's size, whether it failed, and after a complete import the source time of the
//! data the target now holds (the data age on DR is `time()` minus it). Grouped as `job="vault-replicator"`, the command,
//! the deployment (`instance`, `REPLICATOR_METRICS_INSTANCE`) and the store prefix (`prefix`), so
//! that a DC export, a failback export and several Vault pairs keep their own groups; pushed with
//! POST, so a failed run leaves the last success time in place.

use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::error::{Error, Result};

/// What a URI path segment may carry unencoded besides letters and digits (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The labels, besides `job`, that name a run's group on the Pushgateway.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grouping {
    /// Which deployment pushed: `REPLICATOR_METRICS_INSTANCE`, else the Vault address's host.
    pub instance: Option<String>,
    /// The store prefix (`store::prefix_of`): `dc`, `failback`, or a directory.
    pub prefix: String,
}

/// One `/name/value` pair of a grouping key, as the Pushgateway reads it: a value that is empty
/// or holds a `/` or a space goes as `name@base64/VALUE` (URL-safe alphabet; `=` for empty), any
/// other percent-encoded.
fn label_segment(name: &str, value: &str) -> String {
    if value.is_empty() {
        return format!("/{name}@base64/=");
    }
    if value.contains('/') || value.contains(' ') {
        let encoded = base64::engine::general_purpose::URL_SAFE.encode(value);
        return format!("/{name}@base64/{encoded}");
    }
    format!("/{name}/{}", utf8_percent_encode(value, SEGMENT))
}

/// The URL a run of `command` pushes to: `<url>/metrics/job/vault-replicator/command/<command>`,
/// then `instance` (when known) and `prefix`.
pub fn push_url(url: &str, command: &str, grouping: &Grouping) -> String {
    let mut target = format!("{url}/metrics/job/vault-replicator");
    target.push_str(&label_segment("command", command));
    if let Some(instance) = &grouping.instance {
        target.push_str(&label_segment("instance", instance));
    }
    target.push_str(&label_segment("prefix", &grouping.prefix));
    target
}

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
    /// Unix time the source was read at for the snapshot a complete import applied (its key's
    /// stamp); not pushed otherwise, so the Pushgateway keeps the last value.
    pub data_timestamp: Option<i64>,
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
    let optional = [
        (
            "vault_replicator_snapshot_bytes",
            "Size of the snapshot the last run wrote or read.",
            m.snapshot_bytes.map(|b| b as f64),
        ),
        (
            "vault_replicator_import_data_timestamp_seconds",
            "Unix time the source was exported at for the data the target holds (last complete import).",
            m.data_timestamp.map(|t| t as f64),
        ),
    ];
    for (name, help, value) in optional {
        if let Some(v) = value {
            gauge(&mut out, name, help, &[(String::new(), v)]);
        }
    }
    out
}

/// Pushes `m` to the Pushgateway at `url`. A failure is reported to the caller, who logs it: the
/// run's own outcome stands.
pub async fn push(url: &str, grouping: &Grouping, m: &RunMetrics) -> Result<()> {
    let target = push_url(url, m.command, grouping);
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
            data_timestamp: Some(1_699_999_700),
        };
        let text = render(&m, 1_700_000_000);
        assert!(text.contains("vault_replicator_import_data_timestamp_seconds 1699999700\n"));
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
        assert!(
            !text.contains("data_timestamp"),
            "the last complete import's value stays"
        );
        assert!(text.contains("vault_replicator_last_failure_timestamp_seconds 1\n"));
        assert!(text.contains("vault_replicator_last_exit_code 4\n"));
    }

    fn grouping(instance: Option<&str>, prefix: &str) -> Grouping {
        Grouping {
            instance: instance.map(String::from),
            prefix: prefix.to_string(),
        }
    }

    #[test]
    fn the_url_names_command_instance_and_prefix() {
        assert_eq!(
            push_url("http://gw:9091", "export", &grouping(Some("dc"), "dc")),
            "http://gw:9091/metrics/job/vault-replicator/command/export/instance/dc/prefix/dc"
        );
        assert_eq!(
            push_url(
                "http://gw:9091",
                "import",
                &grouping(Some("vault.vault.svc:8200"), "failback")
            ),
            "http://gw:9091/metrics/job/vault-replicator/command/import\
             /instance/vault.vault.svc%3A8200/prefix/failback"
        );
        assert_eq!(
            push_url("http://gw", "prune", &grouping(None, "dr")),
            "http://gw/metrics/job/vault-replicator/command/prune/prefix/dr"
        );
    }

    #[test]
    fn slashes_spaces_and_empty_values_go_as_base64() {
        // `/srv/snapshots`, URL-safe base64 with padding, as the Pushgateway decodes it.
        assert_eq!(
            label_segment("prefix", "/srv/snapshots"),
            "/prefix@base64/L3Nydi9zbmFwc2hvdHM="
        );
        // The URL-safe alphabet: `-` and `_` where standard base64 has `+` and `/`.
        assert_eq!(label_segment("prefix", "a/~~~"), "/prefix@base64/YS9-fn4=");
        assert_eq!(label_segment("prefix", "x/??>"), "/prefix@base64/eC8_Pz4=");
        assert_eq!(
            label_segment("instance", "site a"),
            "/instance@base64/c2l0ZSBh"
        );
        // An empty prefix (`s3://bucket`): a single `=`, which the Pushgateway requires.
        assert_eq!(label_segment("prefix", ""), "/prefix@base64/=");
        assert_eq!(
            label_segment("instance", "dc-1_a.b~"),
            "/instance/dc-1_a.b~"
        );
        assert_eq!(label_segment("instance", "100%"), "/instance/100%25");
    }
}

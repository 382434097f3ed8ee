//! The DR drill, end to end, exactly as docs/runbook.md tells an operator to do it and with the
//! command lines and environment the CronJobs get from the rendered kustomize overlays: export on
//! DC, import on DR, promotion (a resumed import is refused), a write on DR, reverse replication
//! into a freshly initialised DC, demotion, and the normal direction again.
//!
//! Only what differs on this machine is substituted: Vault and S3 addresses, the bucket, the S3
//! credentials, and the places where Kubernetes mounts Secrets and the projected token. Everything
//! else (store prefixes, auth method and roles, retention, limits, log format) is the manifests'.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use super::support::{
    Bao, Keys, KubeApi, Run, garage, replicator, repo_root, role, shipped_policy,
};

/// The objects one overlay renders to.
fn render(overlay: &str) -> Vec<Value> {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/k8s-render.sh"))
        .arg(repo_root().join("k8s/overlays").join(overlay))
        .output()
        .expect("run scripts/k8s-render.sh");
    assert!(
        out.status.success(),
        "render {overlay}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The Secrets an operator created in one cluster's `vault` namespace: name -> key -> value.
type Secrets = BTreeMap<String, BTreeMap<String, String>>;

/// One Kubernetes cluster of the drill: its Vault and its Secrets.
struct Cluster<'a> {
    name: &'static str,
    bao: &'a Bao,
    secrets: Secrets,
    scratch: tempfile::TempDir,
    /// The `cluster_name` of the cluster this side imports from, which the operator writes into
    /// `REPLICATOR_SOURCE_CLUSTER` in place of the overlay's placeholder (runbook).
    source: Option<String>,
}

impl Cluster<'_> {
    /// Runs the CronJob `cronjob` of `overlay` once, as `kubectl create job --from=cronjob/...`
    /// would; `args` replaces the container's arguments when given (runbook: promote, demote).
    fn run(&self, overlay: &str, cronjob: &str, args: Option<&[&str]>) -> Run {
        let objects = render(overlay);
        let cj = objects
            .iter()
            .find(|o| o["kind"] == "CronJob" && o["metadata"]["name"] == cronjob)
            .unwrap_or_else(|| panic!("{overlay} renders no CronJob {cronjob}"));
        let pod = &cj["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        let mut env: Vec<(String, String)> = Vec::new();
        for from in container["envFrom"].as_array().unwrap() {
            let name = from["configMapRef"]["name"].as_str().unwrap();
            let cm = objects
                .iter()
                .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == name)
                .unwrap();
            for (k, v) in cm["data"].as_object().unwrap() {
                env.push((k.clone(), v.as_str().unwrap().to_string()));
            }
        }
        for e in container["env"].as_array().into_iter().flatten() {
            let value = match e.get("value") {
                Some(v) => v.as_str().unwrap().to_string(),
                None => {
                    let r = &e["valueFrom"]["secretKeyRef"];
                    self.secret(r["name"].as_str().unwrap(), r["key"].as_str().unwrap())
                }
            };
            env.push((e["name"].as_str().unwrap().to_string(), value));
        }
        let mounts = self.mount_volumes(pod, container);
        let env: Vec<(String, String)> = env
            .into_iter()
            .filter_map(|(k, v)| self.localise(&k, &v, &mounts).map(|v| (k, v)))
            .collect();
        let args: Vec<String> = match args {
            Some(a) => a.iter().map(|s| s.to_string()).collect(),
            None => container["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect(),
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        replicator(&args, &env)
    }

    fn secret(&self, name: &str, key: &str) -> String {
        self.secrets
            .get(name)
            .and_then(|s| s.get(key))
            .unwrap_or_else(|| panic!("{}: no Secret {name} with key {key}", self.name))
            .clone()
    }

    /// Materialises the pod's Secret and projected-token volumes in a local directory each, and
    /// returns (mount path, local directory) pairs.
    fn mount_volumes(&self, pod: &Value, container: &Value) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        for m in container["volumeMounts"].as_array().unwrap() {
            let name = m["name"].as_str().unwrap();
            let vol = pod["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == name)
                .unwrap();
            let dir = self.scratch.path().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            if let Some(secret) = vol["secret"]["secretName"].as_str() {
                for (k, v) in self.secrets.get(secret).into_iter().flatten() {
                    std::fs::write(dir.join(k), v).unwrap();
                }
            }
            for src in vol["projected"]["sources"].as_array().into_iter().flatten() {
                let path = src["serviceAccountToken"]["path"].as_str().unwrap();
                let sa = pod["serviceAccountName"].as_str().unwrap();
                std::fs::write(dir.join(path), KubeApi::token("vault", sa)).unwrap();
            }
            out.push((m["mountPath"].as_str().unwrap().to_string(), dir));
        }
        out
    }

    /// A value as it must be on this machine, or `None` to leave the variable out.
    fn localise(&self, key: &str, value: &str, mounts: &[(String, PathBuf)]) -> Option<String> {
        let g = garage();
        let from_garage = |k: &str| g.env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match key {
            "VAULT_ADDR" => return Some(self.bao.addr.clone()),
            // The dev servers speak plain HTTP; TLS is tested on its own (access.rs).
            "VAULT_CACERT" => return None,
            "AWS_ENDPOINT_URL" | "AWS_REGION" => return from_garage(key),
            "REPLICATOR_SOURCE_CLUSTER" => {
                let source = self.source.clone();
                return Some(source.expect("an importing side knows its source (importing_from)"));
            }
            "REPLICATOR_STORE" => {
                let prefix = value
                    .strip_prefix("s3://vault-snapshots/")
                    .expect("store in bucket vault-snapshots");
                return Some(format!("s3://{}/{prefix}", bucket()));
            }
            // The container's scratch is an emptyDir; here, the test's own temp directory.
            "TMPDIR" => return Some(std::env::temp_dir().display().to_string()),
            _ => {}
        }
        for (mount, dir) in mounts {
            if let Some(rest) = value.strip_prefix(mount.as_str()) {
                return Some(format!("{}{rest}", dir.display()));
            }
        }
        Some(value.to_string())
    }
}

fn bucket() -> &'static str {
    static BUCKET: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BUCKET.get_or_init(|| garage().bucket())
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// The Secrets of one side of a direction, from a `keygen` key set (runbook, "Install").
fn secrets(keys: &Keys, exporter: bool, suffix: &str) -> Secrets {
    let g = garage();
    let aws = |k: &str| g.env.iter().find(|(n, _)| n == k).unwrap().1.clone();
    let mut s = Secrets::new();
    s.insert(
        format!("vault-replicator-s3{suffix}"),
        [
            ("AWS_ACCESS_KEY_ID", aws("AWS_ACCESS_KEY_ID")),
            ("AWS_SECRET_ACCESS_KEY", aws("AWS_SECRET_ACCESS_KEY")),
        ]
        .map(|(k, v)| (k.to_string(), v))
        .into(),
    );
    let key_set: BTreeMap<String, String> = if exporter {
        [
            ("signing.key", read(&keys.dir.join("signing.key"))),
            ("age-recipients", keys.recipient.clone()),
        ]
        .map(|(k, v)| (k.to_string(), v))
        .into()
    } else {
        [
            ("age.key", read(&keys.dir.join("age.key"))),
            ("verify-key", keys.verify_key.clone()),
        ]
        .map(|(k, v)| (k.to_string(), v))
        .into()
    };
    s.insert(format!("vault-replicator-keys{suffix}"), key_set);
    s
}

/// One cluster with the Secrets of one side of a direction: `exporter` or importer, `suffix`
/// `""` for the normal direction and `"-failback"` for the reverse one.
fn side<'a>(
    name: &'static str,
    bao: &'a Bao,
    keys: &Keys,
    exporter: bool,
    suffix: &str,
) -> Cluster<'a> {
    Cluster {
        name,
        bao,
        secrets: secrets(keys, exporter, suffix),
        scratch: tempfile::tempdir().unwrap(),
        source: None,
    }
}

impl Cluster<'_> {
    /// The side that imports from `source`: its `REPLICATOR_SOURCE_CLUSTER` set as the runbook
    /// says (`bao read -field=cluster_name sys/seal-status` against the source).
    fn importing_from(mut self, source: &Bao) -> Self {
        let status = source.read("sys/seal-status").expect("seal status");
        self.source = Some(status["cluster_name"].as_str().unwrap().to_string());
        self
    }
}

/// Vault's side of the install (runbook): Kubernetes auth, the shipped policies, and the roles the
/// overlays log in as, bound to both the forward and the failback service account.
fn install_vault(bao: &Bao, api: &KubeApi) {
    api.configure(bao);
    shipped_policy(bao, "vault-replicator-exporter", "exporter.hcl");
    shipped_policy(bao, "vault-replicator-importer", "importer.hcl");
    let accounts = ["vault-replicator", "vault-replicator-failback"];
    role(
        bao,
        "vault-replicator-exporter",
        &accounts,
        "vault-replicator-exporter",
    );
    role(
        bao,
        "vault-replicator-importer",
        &accounts,
        "vault-replicator-importer",
    );
}

#[test]
fn dr_drill_promotion_and_failback_run_the_cronjobs_exactly() {
    let api = KubeApi::start();
    let (dc, dr) = (Bao::start(), Bao::start());
    install_vault(&dc, &api);
    install_vault(&dr, &api);
    dc.kv_put("secret", "app/db", json!({"password": "from-dc-1"}));
    dc.write(
        "sys/policies/acl/app-read",
        json!({"policy": "path \"secret/data/app/*\" { capabilities = [\"read\"] }"}),
    );
    let forward = Keys::generate();
    let dr_side = side("dr", &dr, &forward, false, "").importing_from(&dc);

    // Normal operation: the export on DC, the import on DR (both every 5 minutes).
    side("dc", &dc, &forward, true, "")
        .run("dc", "vault-replicator-export", None)
        .assert_code(0);
    dr_side
        .run("dr", "vault-replicator-import", None)
        .assert_code(0);
    assert_eq!(
        dr.kv_get("secret", "app/db"),
        Some(json!({"password": "from-dc-1"}))
    );
    assert!(dr.read("sys/policies/acl/app-read").is_some());
    dr_side
        .run("dr", "vault-replicator-import", Some(&["status"]))
        .assert_code(0);
    // The daily full check: the import with `--full-check`, a CronJob of its own.
    let full = dr_side.run("dr", "vault-replicator-import-full-check", None);
    full.assert_code(0);
    assert!(
        full.stderr.contains("\"full_check\":true"),
        "{}",
        full.stderr
    );

    // DC is lost. Promote DR: (suspend the CronJob, which a test cannot show) and fence it.
    drop(dc);
    dr_side
        .run("dr", "vault-replicator-import", Some(&["promote"]))
        .assert_code(0);
    for cronjob in [
        "vault-replicator-import",
        "vault-replicator-import-full-check",
    ] {
        let resumed = dr_side.run("dr", cronjob, None);
        resumed.assert_code(4);
        assert!(
            resumed.last_error_line().contains("promoted"),
            "{cronjob}: {}",
            resumed.stderr
        );
    }

    // Life goes on on DR.
    dr.kv_put("secret", "app/db", json!({"password": "changed-on-dr"}));
    dr.kv_put("secret", "new-on-dr", json!({"k": "v"}));

    // Failback: a freshly initialised DC, a key set for the reverse direction, export on DR into
    // the dr/ prefix, import on DC.
    let dc2 = Bao::start();
    install_vault(&dc2, &api);
    let reverse = Keys::generate();
    let dr_failback = side("dr", &dr, &reverse, true, "-failback");
    let dc2_failback = side("dc", &dc2, &reverse, false, "-failback").importing_from(&dr);
    dr_failback
        .run(
            "failback-dr-export",
            "vault-replicator-export-failback",
            None,
        )
        .assert_code(0);
    dc2_failback
        .run(
            "failback-dc-import",
            "vault-replicator-import-failback",
            None,
        )
        .assert_code(0);
    assert_eq!(
        dc2.kv_get("secret", "app/db"),
        Some(json!({"password": "changed-on-dr"}))
    );
    assert_eq!(dc2.kv_get("secret", "new-on-dr"), Some(json!({"k": "v"})));
    assert!(dc2.read("sys/policies/acl/app-read").is_some());

    // Demote DR and resume the normal direction: DC exports, DR imports, nothing is lost.
    dr_side
        .run("dr", "vault-replicator-import", Some(&["demote"]))
        .assert_code(0);
    dc2.kv_put("secret", "after-failback", json!({"k": "dc2"}));
    side("dc", &dc2, &forward, true, "")
        .run("dc", "vault-replicator-export", None)
        .assert_code(0);
    // The new DC is another cluster: DR's pin names it now (runbook, failback).
    let dr_side = side("dr", &dr, &forward, false, "").importing_from(&dc2);
    let back = dr_side.run("dr", "vault-replicator-import", None);
    back.assert_code(0);
    assert_eq!(
        dr.kv_get("secret", "after-failback"),
        Some(json!({"k": "dc2"}))
    );
    assert_eq!(
        dr.kv_get("secret", "app/db"),
        Some(json!({"password": "changed-on-dr"}))
    );
    assert_eq!(dr.kv_get("secret", "new-on-dr"), Some(json!({"k": "v"})));
    let status = dr_side.run("dr", "vault-replicator-import", Some(&["status"]));
    status.assert_code(0);
    assert!(status.stdout.contains("not fenced"), "{}", status.stdout);
    assert!(
        api.reviews()
            .contains("system:serviceaccount:vault:vault-replicator-failback")
    );
}

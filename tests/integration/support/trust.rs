//! Helpers of the snapshot-trust tests (`trust.rs`, `trust_store.rs`): runs against a store, the
//! store's `latest.json` read and repointed as a bucket writer could, and the stock `aws` CLI
//! against the test Garage.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Bao, Run, env_for, garage, replicator};

pub const VALUE: &str = "trusted-value-0451";
pub const STAMP: &str = "%Y%m%dT%H%M%SZ";

pub fn owned(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn run(args: &[&str], bao: &Bao, store: &str, extra: &[(&str, &str)]) -> Run {
    replicator(args, &env_for(bao, store, &owned(extra)))
}

/// The store environment for a Garage bucket (`extra` first, so it can add to it).
pub fn s3_env(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = garage().env.clone();
    env.extend(owned(extra));
    env
}

pub fn latest(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("latest.json")).unwrap()).unwrap()
}

pub fn latest_key(dir: &Path) -> String {
    latest(dir)["key"].as_str().unwrap().to_string()
}

/// Points `latest.json` at `key`, with that object's true digest, as a bucket writer could.
pub fn repoint(dir: &Path, key: &str) {
    let bytes = std::fs::read(dir.join(key)).unwrap();
    let mut p = latest(dir);
    p["key"] = json!(key);
    p["sha256"] = json!(hex::encode(Sha256::digest(&bytes)));
    p["size"] = json!(bytes.len());
    std::fs::write(dir.join("latest.json"), serde_json::to_vec(&p).unwrap()).unwrap();
}

pub fn aws(args: &[&str]) {
    let out = Command::new("aws")
        .args(args)
        .env_clear()
        .envs(garage().env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        // Checksums only where S3 requires them, as the tool itself does for Garage.
        .env("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
        .env("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_required")
        .output()
        .expect("aws cli");
    assert!(
        out.status.success(),
        "aws {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

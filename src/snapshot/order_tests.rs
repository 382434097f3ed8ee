//! The writer's external sort against the in-memory algorithm it replaced: the same objects, in
//! any add order and however many sort runs, give the same archive bytes; and two objects with
//! one entry name are refused even when they land in different runs.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use flate2::write::GzEncoder;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::format::{FORMAT_VERSION, MANIFEST_NAME, entry_name};
use super::manifest::NotCopied;
use super::tests::secret_in as secret;
use super::writer::{self, SnapshotWriter};
use crate::objects::namespaces::Namespace;
use crate::objects::policies::{Policy, PolicyType};
use crate::objects::{Kind, Object};
use crate::vault::ClusterInfo;

/// A few thousand objects of several kinds and namespaces, in a scrambled order.
fn objects() -> Vec<Object> {
    let mut all: Vec<Object> = (0..3_000u64)
        .map(|i| {
            let ns = ["", "team1/", "team1/sub/"][(i % 3) as usize];
            let value = hex::encode(Sha256::digest(i.to_le_bytes()));
            let path = format!("f{}/s{i}", i % 37);
            secret(ns, &format!("kv{}/", i % 2), &path, json!({"v": value}))
        })
        .collect();
    all.extend((0..40u64).map(|i| {
        Object::Policy(Policy {
            namespace: String::new(),
            policy_type: PolicyType::Acl,
            name: format!("p{i}"),
            policy: format!("path \"kv0/f{i}/*\" {{ capabilities = [\"read\"] }}"),
        })
    }));
    all.push(Object::Namespace(Namespace::new("team1/sub/")));
    all.push(Object::Namespace(Namespace::new("team1/")));
    // A fixed shuffle (multiplication by a unit modulo the length).
    let n = all.len();
    (0..n).map(|k| all[k * 7_919 % n].clone()).collect()
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
}

fn not_copied() -> Vec<(Kind, &'static str, &'static str)> {
    vec![
        (Kind::KvSecret, "kv1/gone", "deleted"),
        (Kind::Mount, "team1/db/", "mount settings copied"),
        (Kind::KvSecret, "kv0/also-gone", "deleted"),
    ]
}

fn write_with(objects: &[Object], run_bytes: usize) -> Result<Vec<u8>, crate::Error> {
    let mut w = SnapshotWriter::with_run_bytes(run_bytes)?;
    for o in objects {
        w.add(o)?;
    }
    for (kind, path, reason) in not_copied() {
        w.not_copied(kind, path.into(), reason.into());
    }
    let mut out = Vec::new();
    let manifest = w.finish(ClusterInfo::default(), at(), &mut out)?.manifest;
    // The entries went into the archive, not into the manifest handed back.
    assert!(manifest.entries.is_empty());
    Ok(out)
}

/// The v1 manifest as the writer serialised it before the external sort (`Manifest` then).
#[derive(Serialize)]
struct OldManifest {
    format_version: u32,
    created_at: DateTime<Utc>,
    tool_version: String,
    source: ClusterInfo,
    counts: BTreeMap<String, u64>,
    namespaces: Vec<String>,
    not_copied: Vec<NotCopied>,
    entries: Vec<OldEntry>,
}

#[derive(Serialize)]
struct OldEntry {
    name: String,
    size: u64,
    #[serde(with = "hex::serde")]
    sha256: [u8; 32],
}

/// The algorithm before the external sort: every entry held, sorted, the manifest built whole.
fn reference(objects: &[Object]) -> Vec<u8> {
    let mut entries: Vec<(Kind, String, Vec<u8>)> = objects
        .iter()
        .map(|o| (o.kind(), entry_name(o), writer::serialise(o).unwrap()))
        .collect();
    entries.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut counts: BTreeMap<String, u64> = Kind::ALL
        .iter()
        .map(|k| (k.as_str().to_string(), 0))
        .collect();
    for e in &entries {
        *counts.get_mut(e.0.as_str()).unwrap() += 1;
    }
    let mut namespaces: Vec<String> = objects
        .iter()
        .filter_map(|o| match o {
            Object::Namespace(n) => Some(n.path.clone()),
            _ => None,
        })
        .collect();
    namespaces.sort();
    let mut not_copied: Vec<NotCopied> = not_copied()
        .into_iter()
        .map(|(k, p, r)| NotCopied {
            kind: k.as_str().into(),
            path: p.into(),
            reason: r.into(),
        })
        .collect();
    not_copied.sort_by(|a, b| (&a.kind, &a.path).cmp(&(&b.kind, &b.path)));
    let manifest = OldManifest {
        format_version: FORMAT_VERSION,
        created_at: at(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        source: ClusterInfo::default(),
        counts,
        namespaces,
        not_copied,
        entries: entries
            .iter()
            .map(|(_, name, bytes)| OldEntry {
                name: name.clone(),
                size: bytes.len() as u64,
                sha256: Sha256::digest(bytes).into(),
            })
            .collect(),
    };
    let json = serde_json::to_vec_pretty(&manifest).unwrap();
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), writer::COMPRESSION));
    let mut append = |name: &str, data: &[u8], mtime: u64| {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o600);
        header.set_mtime(mtime);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, name, data).unwrap();
    };
    append(MANIFEST_NAME, &json, at().timestamp() as u64);
    for (_, name, bytes) in &entries {
        append(name, bytes, 0);
    }
    tar.into_inner().unwrap().finish().unwrap()
}

#[test]
fn many_sort_runs_give_the_bytes_of_the_in_memory_sort() {
    let all = objects();
    let expected = reference(&all);
    // About a dozen records a run: hundreds of runs, merged twice.
    let many = write_with(&all, 2_048).unwrap();
    assert!(many == expected, "the archive differs from the reference");
    // One run, and the default bound: the same bytes again.
    assert!(write_with(&all, usize::MAX).unwrap() == expected);
    assert!(write_with(&all, writer::RUN_BYTES).unwrap() == expected);
    let mut reversed = all.clone();
    reversed.reverse();
    assert!(write_with(&reversed, 2_048).unwrap() == expected);
}

#[test]
fn an_empty_snapshot_is_its_manifest_alone() {
    assert!(write_with(&[], 2_048).unwrap() == reference(&[]));
}

#[test]
fn two_objects_with_one_entry_name_are_refused_across_runs() {
    let mut all = vec![secret("", "kv0/", "dup", json!({"v": 1}))];
    all.extend(objects());
    all.push(secret("", "kv0/", "dup", json!({"v": 2})));
    let err = write_with(&all, 2_048).unwrap_err().to_string();
    assert!(
        err.contains("two objects map to the same snapshot entry"),
        "{err}"
    );
    assert!(err.contains("kv/kv0/dup.json"), "{err}");
    // Within one run too.
    let err = write_with(&all, usize::MAX).unwrap_err().to_string();
    assert!(
        err.contains("two objects map to the same snapshot entry"),
        "{err}"
    );
}

//! Round trips through the writer and reader, and crafted archives the reader must refuse.

use chrono::{TimeZone, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::format::entry_name;
use super::manifest::{EntryDigest, Manifest};
use super::reader::{Limits, read_head, scan};
use super::writer::SnapshotWriter;
use crate::objects::kv::{Secret, State};
use crate::objects::mounts::Mount;
use crate::objects::policies::{Policy, PolicyType};
use crate::objects::{Kind, Object};
use crate::vault::{ClusterInfo, MountEntry, Table};

pub(super) fn secret(mount: &str, path: &str, v: serde_json::Value) -> Object {
    secret_in("", mount, path, v)
}

/// A live KV-v2 secret in namespace `ns` holding `v`.
pub(super) fn secret_in(ns: &str, mount: &str, path: &str, v: serde_json::Value) -> Object {
    Object::KvSecret(Secret {
        namespace: ns.into(),
        mount: mount.into(),
        path: path.into(),
        kv_version: 2,
        data: v.as_object().cloned(),
        state: State::Live,
        metadata: None,
        history: None,
    })
}

/// Numbers that deflate poorly.
fn pad() -> Vec<u64> {
    (0..14u64).map(|i| (i * 7919 + 13) % 100_003).collect()
}

fn sample() -> Vec<Object> {
    vec![
        secret("secret/", "z/last", json!({"k": "v"})),
        secret("secret/", "a", json!({"k": 1})),
        // Padded so that the middle of the archive falls where `a_bit_flip_is_refused` and
        // `a_truncated_archive_is_refused` expect it; the manifest grows with every kind the
        // registry lists, so a new kind (or another gzip level: 14 numbers since level 1) may need
        // the padding resized.
        secret(
            "secret/",
            "a/b",
            json!({"nested": {"x": [1, 2]}, "pad": pad()}),
        ),
        Object::Policy(Policy {
            namespace: String::new(),
            policy_type: PolicyType::Acl,
            name: "app".into(),
            policy: "path \"secret/*\" { capabilities = [\"read\"] }".into(),
        }),
        Object::Mount(Mount::from_entry(
            "",
            Table::Secret,
            &MountEntry {
                path: "secret/".into(),
                kind: "kv".into(),
                options: [("version".to_string(), "2".to_string())].into(),
                ..Default::default()
            },
        )),
    ]
}

fn write(objects: &[Object]) -> Vec<u8> {
    let mut w = SnapshotWriter::new().unwrap();
    for o in objects {
        w.add(o).unwrap();
    }
    w.not_copied(Kind::KvSecret, "secret/gone".into(), "deleted".into());
    let mut out = Vec::new();
    // A fixed time, so that the bytes (and where a flipped bit lands) are the same every run.
    let at = Utc.with_ymd_and_hms(2026, 11, 20, 21, 45, 0).unwrap();
    w.finish(ClusterInfo::default(), at, &mut out).unwrap();
    out
}

pub(super) fn scan_bytes(bytes: &[u8], limits: Limits) -> Result<(Manifest, Vec<Object>), String> {
    let mut seen = Vec::new();
    let end = scan(bytes, limits, None, |o| {
        seen.push(o.object);
        true
    })?;
    assert_eq!(end.manifest_sha256.len(), 64);
    Ok((end.manifest, seen))
}

/// Builds a tar.gz with raw entry names (bypassing the tar crate's own path checks).
fn raw_archive(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    for (name, data) in entries {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(data.len() as u64);
        h.set_mode(0o600);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        tar.append(&h, data.as_slice()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// A manifest that vouches for `entries` exactly as given.
fn manifest_for(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let m = Manifest {
        format_version: 1,
        created_at: Utc::now(),
        tool_version: "test".into(),
        source: ClusterInfo::default(),
        counts: Default::default(),
        namespaces: vec![],
        not_copied: vec![],
        entries: Default::default(),
        set: None,
        delta: None,
    };
    let digests: Vec<EntryDigest> = entries
        .iter()
        .map(|(n, d)| EntryDigest {
            name: n.to_string(),
            size: d.len() as u64,
            sha256: Sha256::digest(d).into(),
        })
        .collect();
    let mut v = serde_json::to_value(&m).unwrap();
    v["entries"] = serde_json::to_value(digests).unwrap();
    serde_json::to_vec(&v).unwrap()
}

fn hostile(entries: Vec<(&str, Vec<u8>)>) -> String {
    hostile_with_limit(entries, Limits::default().max_entry_bytes)
}

fn obj_bytes(o: &Object) -> Vec<u8> {
    serde_json::to_vec(o).unwrap()
}

#[test]
fn round_trip_keeps_every_object_in_kind_then_name_order() {
    let (m, seen) = scan_bytes(&write(&sample()), Limits::default()).unwrap();
    assert_eq!(m.counts["kv_secret"], 3);
    assert_eq!(m.counts["mount"], 1);
    assert_eq!(m.not_copied.len(), 1);
    let names: Vec<String> = seen.iter().map(entry_name).collect();
    assert_eq!(
        names,
        [
            "mounts/secret.json",
            "policies/acl/app.json",
            "kv/secret/a.json",
            "kv/secret/a/b.json",
            "kv/secret/z/last.json"
        ]
    );
    let mut expected = sample();
    expected.sort_by_key(|o| (o.kind(), entry_name(o)));
    assert_eq!(seen, expected);
}

#[test]
fn the_head_of_an_archive_is_its_manifest_read_without_the_rest() {
    // Enough entries that the archive is many times the reader's buffers.
    let noise = |i: u64| -> Vec<String> {
        (0..16u64)
            .map(|j| hex::encode(Sha256::digest((i * 100 + j).to_le_bytes())))
            .collect()
    };
    let many: Vec<Object> = (0..400u64)
        .map(|i| secret("secret/", &format!("s{i}"), json!({ "pad": noise(i) })))
        .collect();
    let bytes = write(&many);
    let full = scan_bytes(&bytes, Limits::default()).unwrap().0;
    // Counts the bytes the head read takes: it stops after the manifest's entry.
    let mut input = crate::hashing::Hashing::new(bytes.as_slice());
    let head = read_head(&mut input, Limits::default()).unwrap();
    assert_eq!(head, full);
    let (_, _, read) = input.finish();
    assert!(read < bytes.len() as u64 / 2, "{read} of {}", bytes.len());
    assert_eq!(
        read_head(&bytes[..20], Limits::default()).unwrap_err(),
        "archive is corrupt or truncated: incomplete deflate stream"
    );
}

#[test]
fn two_exports_of_the_same_objects_hold_the_same_entries() {
    let mut reversed = sample();
    reversed.reverse();
    let a = scan_bytes(&write(&sample()), Limits::default()).unwrap().0;
    let b = scan_bytes(&write(&reversed), Limits::default()).unwrap().0;
    assert_eq!(a.entries, b.entries);
}

#[test]
fn a_bit_flip_is_refused() {
    let bytes = write(&sample());
    let flipped = |at: usize| {
        let mut b = bytes.clone();
        b[at] ^= 0x40;
        scan_bytes(&b, Limits::default()).unwrap_err()
    };
    // In the compressed stream: inflate fails, or inflates into bytes that are not the entry's
    // (which of the two depends on the deflate backend and level).
    let early = flipped(30);
    assert!(
        early.starts_with("archive is corrupt or truncated: "),
        "{early}"
    );
    // Where a flip lands in the inflated bytes moves as the manifest grows (one count per kind):
    // the first flip from the middle on that changes an entry's bytes is refused by its digest.
    let entry = (bytes.len() / 2..bytes.len() - 8)
        .map(flipped)
        .find(|e| e.starts_with("entry ") && e.ends_with("sha256"));
    let entry = entry.expect("a flip in the second half reaches an entry's bytes");
    assert!(
        entry.starts_with("entry kv/secret/") && entry.ends_with(".json does not match its sha256"),
        "{entry}"
    );
    // In gzip's trailer: the CRC no longer matches what was inflated.
    assert_eq!(
        flipped(bytes.len() - 6),
        "archive is corrupt or truncated: corrupt gzip stream does not have a matching checksum"
    );
}

#[test]
fn a_truncated_archive_is_refused() {
    let bytes = write(&sample());
    let cut = |len: usize| scan_bytes(&bytes[..len], Limits::default()).unwrap_err();
    assert_eq!(
        cut(bytes.len() - 4),
        "archive is corrupt or truncated: unexpected end of file"
    );
    assert_eq!(
        cut(10),
        "archive is corrupt or truncated: incomplete deflate stream"
    );
    // Cut inside the manifest, the JSON parser is the one that meets the end of the stream.
    let err = cut(bytes.len() / 2);
    assert!(
        err.starts_with("manifest.json is not valid: incomplete deflate stream"),
        "{err}"
    );
}

#[test]
fn dot_dot_and_absolute_entry_names_are_refused() {
    let o = secret("secret/", "a", json!({}));
    let err = hostile(vec![("kv/../../etc/passwd.json", obj_bytes(&o))]);
    assert!(err.contains("not allowed"), "{err}");
    let err = hostile(vec![("/etc/passwd", obj_bytes(&o))]);
    assert!(err.contains("not allowed"), "{err}");
}

#[test]
fn a_secret_aimed_at_sys_is_refused() {
    let o = secret(
        "sys/",
        "policies/acl/admin",
        json!({"policy": "path \"*\" {}"}),
    );
    let err = hostile(vec![("kv/sys/policies/acl/admin.json", obj_bytes(&o))]);
    assert!(err.contains("reserved"), "{err}");
}

#[test]
fn an_entry_stored_under_another_objects_name_is_refused() {
    let o = secret("secret/", "prod/db", json!({"pw": "x"}));
    let err = hostile(vec![("kv/secret/harmless.json", obj_bytes(&o))]);
    assert!(err.contains("belongs at kv/secret/prod/db.json"), "{err}");
}

#[test]
fn duplicate_entries_are_refused() {
    let o = secret("secret/", "a", json!({}));
    let e = ("kv/secret/a.json", obj_bytes(&o));
    let manifest = manifest_for(std::slice::from_ref(&e));
    let bytes = raw_archive(&[("manifest.json", manifest), e.clone(), e]);
    let err = scan_bytes(&bytes, Limits::default()).unwrap_err();
    assert!(err.contains("appears twice"), "{err}");
}

#[test]
fn a_manifest_that_disagrees_with_the_entries_is_refused() {
    let o = secret("secret/", "a", json!({"v": 1}));
    let other = secret("secret/", "a", json!({"v": 2}));
    let manifest = manifest_for(&[("kv/secret/a.json", obj_bytes(&o))]);
    let bytes = raw_archive(&[
        ("manifest.json", manifest.clone()),
        ("kv/secret/a.json", obj_bytes(&other)),
    ]);
    let err = scan_bytes(&bytes, Limits::default()).unwrap_err();
    assert_eq!(err, "entry kv/secret/a.json does not match its sha256");
    // An entry the manifest lists but the archive lacks.
    let bytes = raw_archive(&[("manifest.json", manifest)]);
    let err = scan_bytes(&bytes, Limits::default()).unwrap_err();
    assert_eq!(err, "manifest.json lists 1 entries, the archive holds 0");
}

#[test]
fn the_manifest_must_come_first() {
    let o = secret("secret/", "a", json!({}));
    let e = ("kv/secret/a.json", obj_bytes(&o));
    let bytes = raw_archive(&[e.clone(), ("manifest.json", manifest_for(&[e]))]);
    let err = scan_bytes(&bytes, Limits::default()).unwrap_err();
    assert!(err.contains("first entry"), "{err}");
}

#[test]
fn entries_over_the_size_limit_are_refused() {
    let big = secret("secret/", "big", json!({"blob": "x".repeat(4096)}));
    let err = hostile_with_limit(vec![("kv/secret/big.json", obj_bytes(&big))], 1024);
    assert!(err.contains("over the limit"), "{err}");
}

fn hostile_with_limit(entries: Vec<(&str, Vec<u8>)>, max_entry: u64) -> String {
    let mut all = vec![("manifest.json", manifest_for(&entries))];
    all.extend(entries);
    let limits = Limits {
        max_entry_bytes: max_entry,
        ..Limits::default()
    };
    scan_bytes(&raw_archive(&all), limits).unwrap_err()
}

#[test]
fn garbage_is_refused_as_corrupt() {
    let err = scan_bytes(b"this is not gzip", Limits::default()).unwrap_err();
    assert!(err.contains("corrupt"), "{err}");
}

#[test]
fn entries_out_of_the_manifests_order_or_listed_twice_are_refused() {
    let a = (
        "kv/secret/a.json",
        obj_bytes(&secret("secret/", "a", json!({}))),
    );
    let b = (
        "kv/secret/b.json",
        obj_bytes(&secret("secret/", "b", json!({}))),
    );
    let manifest = manifest_for(&[a.clone(), b.clone()]);
    let bytes = raw_archive(&[("manifest.json", manifest.clone()), b.clone(), a.clone()]);
    let err = scan_bytes(&bytes, Limits::default()).unwrap_err();
    assert!(err.contains("kv/secret/b.json is not where"), "{err}");
    let bytes = raw_archive(&[("manifest.json", manifest), a.clone(), b.clone()]);
    assert_eq!(scan_bytes(&bytes, Limits::default()).unwrap().1.len(), 2);

    let twice = manifest_for(&[a.clone(), a.clone()]);
    let bytes = raw_archive(&[("manifest.json", twice), a.clone(), a]);
    let err = scan_bytes(&bytes, Limits::default()).unwrap_err();
    assert!(err.contains("lists entry kv/secret/a.json twice"), "{err}");
}

#[test]
fn a_manifest_other_than_the_signed_one_is_refused_before_any_entry() {
    let bytes = write(&sample());
    let mut handed_out = 0;
    let err = scan(
        bytes.as_slice(),
        Limits::default(),
        Some(&"0".repeat(64)),
        |_| {
            handed_out += 1;
            true
        },
    )
    .err();
    assert_eq!(
        err.as_deref(),
        Some("its manifest is not the one that was signed")
    );
    assert_eq!(handed_out, 0);
}

//! Deltas through the writer and reader: only what differs from the last export's index goes in,
//! and the set's digest a delta carries is the one a full snapshot of the same objects has.

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use super::index::BaseIndex;
use super::manifest::Manifest;
use super::reader::Limits;
use super::tests::{scan_bytes, secret};
use super::writer::SnapshotWriter;
use crate::objects::{Object, Sink};
use crate::vault::ClusterInfo;

const KEY: [u8; 32] = [9; 32];

/// Writes `objects` (against `base` when given); the archive, and the sealed index of it as
/// snapshot `name`.
fn write(objects: &[Object], base: Option<Arc<BaseIndex>>, name: &str) -> (Vec<u8>, Vec<u8>) {
    let mut w = SnapshotWriter::new().unwrap().indexed(base);
    for o in objects {
        w.add(o).unwrap();
    }
    let mut out = Vec::new();
    let finished = w
        .finish(ClusterInfo::default(), Utc::now(), &mut out)
        .unwrap();
    let (index, set) = finished.index.unwrap();
    assert_eq!(finished.manifest.set, Some(set));
    (out, index.seal(&KEY, name, set, "test").unwrap())
}

fn open(sealed: &[u8], name: &str) -> Arc<BaseIndex> {
    Arc::new(BaseIndex::open(sealed.to_vec(), &KEY, name, "test").unwrap())
}

fn paths(objects: &[Object]) -> Vec<String> {
    objects.iter().map(Object::path).collect()
}

fn manifest(archive: &[u8]) -> (Manifest, Vec<Object>) {
    scan_bytes(archive, Limits::default()).unwrap()
}

#[test]
fn a_delta_holds_what_changed_and_adds_up_to_the_full_set() {
    let (a, b, c) = (
        secret("secret/", "a", json!({"v": 1})),
        secret("secret/", "b", json!({"v": 1})),
        secret("secret/", "c", json!({"v": 1})),
    );
    let (full, sealed) = write(&[a.clone(), b.clone(), c.clone()], None, "full");
    let (full_manifest, _) = manifest(&full);
    assert!(full_manifest.delta.is_none());
    let b2 = secret("secret/", "b", json!({"v": 2}));
    let d = secret("secret/", "d", json!({"v": 1}));
    let now = [a.clone(), b2.clone(), d.clone()];
    let (delta, sealed2) = write(&now, Some(open(&sealed, "full")), "d1");
    let (m, objects) = manifest(&delta);
    assert_eq!(paths(&objects), vec!["secret/b", "secret/d"]);
    let info = m.delta.clone().unwrap();
    assert_eq!(info.base.key, "full");
    assert_eq!(info.base.set, full_manifest.set.unwrap());
    let names = |w: &[super::Was]| w.iter().map(|w| w.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&info.changed), vec!["kv/secret/b.json"]);
    assert_eq!(names(&info.removed), vec!["kv/secret/c.json"]);
    // The same objects exported whole have the set digest the delta claims.
    let (whole, _) = write(&now, None, "whole");
    assert_eq!(manifest(&whole).0.set, m.set);
    // Nothing changed since: an empty delta, with the same set.
    let (empty, _) = write(&now, Some(open(&sealed2, "d1")), "d2");
    let (e, objects) = manifest(&empty);
    assert!(objects.is_empty());
    assert_eq!((e.set, e.delta.unwrap().base.set), (m.set, m.set.unwrap()));
}

#[test]
fn an_unread_secret_is_carried_and_a_delta_that_does_not_add_up_is_refused() {
    let a = secret("secret/", "a", json!({"v": 1}));
    let b = secret("secret/", "b", json!({"v": 1}));
    let mut w = SnapshotWriter::new().unwrap().indexed(None);
    w.add_marked(a.clone(), [1; 16]).unwrap();
    w.add_marked(b.clone(), [1; 16]).unwrap();
    let mut out = Vec::new();
    let finished = w
        .finish(ClusterInfo::default(), Utc::now(), &mut out)
        .unwrap();
    let (index, set) = finished.index.unwrap();
    let base = open(&index.seal(&KEY, "full", set, "test").unwrap(), "full");
    // `a` left unread (its mark is known), `b`'s mark moved: read again, same content.
    let stub = secret("secret/", "a", json!(null));
    assert!(crate::objects::Known::unchanged(&*base, &stub, &[1; 16]));
    let mut w = SnapshotWriter::new().unwrap().indexed(Some(base));
    w.carry(stub, [1; 16]).unwrap();
    w.add_marked(b, [2; 16]).unwrap();
    let mut delta = Vec::new();
    let m = w
        .finish(ClusterInfo::default(), Utc::now(), &mut delta)
        .unwrap()
        .manifest;
    assert_eq!(m.set, Some(set), "nothing differs: the set is the base's");
    assert_eq!(m.counts.values().sum::<u64>(), 0);
    // A delta whose claimed set does not add up is refused by the reader.
    let mut forged = m.clone();
    forged.delta.as_mut().unwrap().base.set = Default::default();
    assert!(forged.check_set().is_err());
    // A carried entry the base does not have is an error, not a silent gap.
    let mut w = SnapshotWriter::new().unwrap().indexed(None);
    assert!(w.carry(a, [1; 16]).is_err());
}

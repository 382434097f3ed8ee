//! Unit tests of the records as memory keeps them.

use super::*;

fn rec(i: u32) -> Record {
    Record::new(
        [i as u8; 32],
        Kind::KvSecret,
        &format!("secret/{i}"),
        "",
        None,
    )
}

fn saved(r: &Records) -> Records {
    r.as_saved()
}

#[test]
fn records_spread_over_shards_and_pack_with_hex_digests() {
    let r: Records = (0..500)
        .map(|i| (format!("kv/secret/{i}.json"), rec(i)))
        .collect();
    assert_eq!((r.len(), r.pending()), (500, 500));
    assert!(r.shards.iter().filter(|s| !s.ops.is_empty()).count() > SHARDS / 2);
    let i = shard_of("kv/secret/7.json");
    let mut shard = Saved::new();
    apply_ops(&mut shard, r.shards[i].ops.values());
    assert!(shard.contains_key("kv/secret/7.json"));
    let packed = pack(&shard).unwrap();
    assert_eq!(unpack(&packed).unwrap(), shard);
    let json = serde_json::to_string(&rec(1)).unwrap();
    assert!(
        json.contains(&format!("\"sha\":\"{}\"", "01".repeat(32))),
        "{json}"
    );
    let err = unpack("not base64!").unwrap_err();
    assert!(err.starts_with("Invalid"), "not base64: {err}");
}

#[test]
fn saved_records_answer_from_memory_as_held_ones_did() {
    let held: Records = (0..300)
        .map(|i| (format!("kv/secret/{i}.json"), rec(i)))
        .collect();
    let mut r = saved(&held);
    assert!(!r.is_dirty());
    assert_eq!(r.len(), 300);
    let seen = r.get("kv/secret/7.json").unwrap();
    assert!(seen.is(&[7; 32]) && !seen.is(&[8; 32]) && !seen.unsettled);
    assert_eq!(r.seen().count(), 300);
    // Equal again: no change. A new digest, a removal and an unsettle are changes.
    r.set("kv/secret/7.json", rec(7));
    assert!(!r.is_dirty());
    r.set("kv/secret/7.json", rec(9));
    r.remove("kv/secret/8.json");
    r.unsettle("kv/secret/9.json");
    r.set("kv/secret/new.json", rec(1));
    assert_eq!((r.len(), r.pending()), (300, 2));
    assert!(r.get("kv/secret/7.json").unwrap().is(&[9; 32]));
    assert!(r.get("kv/secret/8.json").is_none());
    assert!(r.get("kv/secret/9.json").unwrap().unsettled);
    let r = saved(&r);
    assert_eq!(r.len(), 300);
    assert!(r.get("kv/secret/8.json").is_none());
    assert!(r.get("kv/secret/9.json").unwrap().unsettled);
    assert!(r.get("kv/secret/new.json").is_some());
}

#[test]
fn created_is_kept_once_set_and_older_records_were_not_created() {
    let old = r#"{"sha":"0101010101010101010101010101010101010101010101010101010101010101","kind":"mount","path":"apps/","ns":"","delete":"sys/mounts/apps"}"#;
    let r: Record = serde_json::from_str(old).unwrap();
    assert!(!r.created);
    let mut made = r.clone();
    made.created = true;
    let json = serde_json::to_string(&made).unwrap();
    assert!(json.contains(r#""created":true"#), "{json}");
    assert!(serde_json::from_str::<Record>(&json).unwrap().created);

    let mut records = Records::new(RecordKey::Plain);
    records.set("m", made);
    let mut records = saved(&records);
    // Found equal by a later import: still the importer's creation.
    records.set("m", r.clone());
    assert!(records.get("m").unwrap().created);
    assert!(!records.is_dirty());
    records.remove("m");
    records.set("m", r);
    assert!(!records.get("m").unwrap().created);
}

#[test]
fn only_real_changes_mark_a_shard_dirty() {
    let r: Records = [("a".to_string(), rec(1))].into_iter().collect();
    let mut r = saved(&r);
    r.set("a", rec(1));
    r.remove("missing");
    r.unsettle("missing");
    assert!(!r.is_dirty());
    r.unsettle("a");
    assert!(r.get("a").unwrap().unsettled);
    assert_eq!(r.shards.iter().filter(|s| !s.ops.is_empty()).count(), 1);
    let mut r = saved(&r);
    r.remove("a");
    assert!(r.is_dirty() && r.is_empty());
}

#[test]
fn saved_records_come_in_name_hash_order_only_when_nothing_is_held() {
    let held: Records = (0..500)
        .map(|i| (format!("kv/secret/{i}.json"), rec(i)))
        .collect();
    assert!(held.saved_in_order().is_none());
    let r = saved(&held);
    let names: Vec<u64> = r.saved_in_order().unwrap().map(|(k, _)| k).collect();
    assert_eq!(names.len(), 500);
    assert!(names.windows(2).all(|w| w[0] < w[1]));
}

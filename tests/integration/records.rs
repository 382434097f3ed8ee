//! The importer's records against real OpenBao when a run holds more of them than
//! `REPLICATOR_RECORDS_BATCH`: saved on the way as deltas (`written/<shard>-<n>`), folded into
//! their shards at the end, read back in order after a run that stopped before folding them, and
//! what a prune reads exactly as before.

use serde_json::json;

use super::support::{Pair, sealed, writes};

const STATE: &str = "vault-replicator/metadata/written";

impl Pair {
    /// The keys under the importer's `written/`.
    fn written(&self) -> Vec<String> {
        self.dst.list(STATE)
    }
}

fn seed(p: &Pair, n: usize) {
    for i in 0..n {
        p.src
            .kv_put("secret", &format!("app/f{}/s{i}", i % 7), json!({ "i": i }));
    }
}

#[test]
fn records_saved_in_batches_fold_into_their_shards_and_prune_as_before() {
    let p = Pair::new();
    seed(&p, 150);
    p.export();
    let run = p.import(&[("REPLICATOR_RECORDS_BATCH", "20")]);
    run.assert_code(0);
    let saves = run.stderr.matches("saving records on the way").count();
    assert!(saves >= 5, "{}", run.stderr);
    let keys = p.written();
    assert!(keys.len() > 10 && keys.len() <= 64, "{keys:?}");
    assert!(
        keys.iter().all(|k| !k.contains('-')),
        "deltas left: {keys:?}"
    );
    // Every record was saved: nothing is written again, and a full check agrees.
    let again = p.import(&[("REPLICATOR_RECORDS_BATCH", "20")]);
    again.assert_code(0);
    assert_eq!(writes(&again), 0, "{}", again.stdout);
    p.assert_converged();

    for i in 0..10 {
        p.src
            .delete(&format!("secret/metadata/app/f{}/s{i}", i % 7));
    }
    p.dst.kv_put("secret", "dr-own", json!({"v": "DR's"}));
    p.export();
    let prune = [
        ("REPLICATOR_PRUNE", "true"),
        ("REPLICATOR_MAX_DELETE", "100%"),
        ("REPLICATOR_RECORDS_BATCH", "3"),
    ];
    let run = p.import(&prune);
    run.assert_code(0);
    let left = p.dst.kv_keys("secret");
    assert_eq!(left.len(), 141, "{left:?}");
    assert!(left.contains(&"dr-own".to_string()));
    assert!(!left.contains(&"app/f0/s0".to_string()));
    assert!(p.written().iter().all(|k| !k.contains('-')));
}

/// A run that stopped after saving deltas (killed, or its lease lost) leaves them: the next run
/// reads each shard with its deltas, in order, and folds them in when it saves.
#[test]
fn deltas_a_stopped_run_left_are_read_in_order_and_folded() {
    let p = Pair::new();
    seed(&p, 40);
    p.export();
    p.import(&[]).assert_code(0);
    // Each shard's records move to a delta, as a run stopped before folding would leave them.
    for key in p.written() {
        let path = format!("vault-replicator/data/written/{key}");
        let records = p.dst.read(&path).unwrap()["data"]["data"].clone();
        p.dst.delete(&format!("{STATE}/{key}"));
        p.dst.write(
            &format!("vault-replicator/data/written/{key}-000001"),
            json!({ "data": records }),
        );
    }
    assert!(p.written().iter().all(|k| k.contains('-')));
    // A change on the source, so the run saves (and folds) its records.
    p.src.kv_put("secret", "app/f0/s0", json!({"i": "changed"}));
    p.export();
    let run = p.import(&[]);
    run.assert_code(0);
    assert_eq!(writes(&run), 1, "{}", run.stdout);
    assert!(
        p.written().iter().all(|k| !k.contains('-')),
        "{:?}",
        p.written()
    );
    let again = p.import(&[]);
    assert_eq!(writes(&again), 0, "{}", again.stdout);
    p.assert_converged();
}

/// Every record as the state mount holds it: (shard key, entry name, record).
fn saved(p: &Pair) -> Vec<(String, String, serde_json::Value)> {
    use base64::Engine as _;
    use std::io::Read as _;
    let mut out = Vec::new();
    for key in p.written() {
        let data = p
            .dst
            .read(&format!("vault-replicator/data/written/{key}"))
            .unwrap();
        let packed = data["data"]["data"]["records"]
            .as_str()
            .unwrap()
            .to_string();
        let gz = base64::engine::general_purpose::STANDARD
            .decode(packed)
            .unwrap();
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_end(&mut json)
            .unwrap();
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&json).unwrap();
        out.extend(map.into_iter().map(|(e, r)| (key.clone(), e, r)));
    }
    out
}

/// Writes records back into their shards, packed as the importer packs them.
fn save(p: &Pair, records: &[(String, String, serde_json::Value)]) {
    use base64::Engine as _;
    use std::io::Write as _;
    let mut shards: std::collections::BTreeMap<&str, serde_json::Map<String, serde_json::Value>> =
        Default::default();
    for (key, entry, record) in records {
        shards
            .entry(key)
            .or_default()
            .insert(entry.clone(), record.clone());
    }
    for (key, map) in shards {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&serde_json::to_vec(&map).unwrap()).unwrap();
        let packed = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        p.dst.write(
            &format!("vault-replicator/data/written/{key}"),
            json!({ "data": { "records": packed } }),
        );
    }
}

/// The sha256 (hex) of every entry of the latest snapshot, by entry name.
fn entry_digests(p: &Pair) -> std::collections::BTreeMap<String, String> {
    use sha2::Digest as _;
    let key = super::support::latest_key(p.dir.path());
    let plain = sealed::age_decrypt(&p.dir.path().join(key), super::support::keys());
    sealed::entries(&plain)
        .into_iter()
        .map(|(name, data)| (name, hex::encode(sha2::Sha256::digest(&data))))
        .collect()
}

// #25 (7): a record held the plain sha256 of its snapshot entry, so whoever reads DR's state
// mount could test guesses of a low-entropy value offline against the rest of the entry.
#[test]
fn records_hold_no_digest_an_entry_can_be_guessed_against() {
    let p = Pair::new();
    p.src
        .kv_put("secret", "app", json!({"user": "app", "pw": "summer2024"}));
    p.export();
    p.import(&[]).assert_code(0);
    let digests = entry_digests(&p);
    let records = saved(&p);
    let app = records
        .iter()
        .find(|(_, e, _)| e == "kv/secret/app.json")
        .expect("the secret's record");
    let held = app.2["sha"].as_str().unwrap();
    // What a reader of the state mount could do: rebuild the entry around each guess and hash it.
    let entry = String::from_utf8(
        sealed::entries(&sealed::age_decrypt(
            &p.dir.path().join(super::support::latest_key(p.dir.path())),
            super::support::keys(),
        ))
        .into_iter()
        .find(|(n, _)| n == "kv/secret/app.json")
        .unwrap()
        .1,
    )
    .unwrap();
    let guessed = ["password", "letmein", "summer2024"].iter().any(|guess| {
        use sha2::Digest as _;
        let candidate = entry.replace("summer2024", guess);
        hex::encode(sha2::Sha256::digest(candidate.as_bytes())) == held
    });
    assert!(!guessed, "the record's digest confirms a guessed password");
    for (_, entry, record) in &records {
        let sha = record["sha"].as_str().unwrap();
        assert!(
            !digests.values().any(|d| d[..32] == sha[..32]),
            "the record of {entry} holds a snapshot entry's sha256"
        );
    }
}

// #25 (7): records saved by the release before keyed digests hold plain sha256s. They still say
// what the last import applied (a no-op stays a no-op, nothing is written), and the next save
// replaces every one of them.
#[test]
fn records_of_the_previous_release_are_rekeyed_without_a_write() {
    let p = Pair::new();
    seed(&p, 30);
    p.export();
    p.import(&[]).assert_code(0);
    let digests = entry_digests(&p);
    let old: Vec<_> = saved(&p)
        .into_iter()
        .map(|(key, entry, mut record)| {
            let record_of = record.as_object_mut().unwrap();
            record_of.retain(|k, _| {
                [
                    "sha",
                    "kind",
                    "path",
                    "ns",
                    "delete",
                    "unsettled",
                    "created",
                ]
                .contains(&k.as_str())
            });
            record_of.insert("sha".into(), json!(digests[&entry]));
            (key, entry, record)
        })
        .collect();
    save(&p, &old);

    let run = p.import(&[]);
    run.assert_code(0);
    assert_eq!(writes(&run), 0, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("only namespaces and mounts are planned"),
        "the no-op shortcut still applies: {}",
        run.stderr
    );
    let now = saved(&p);
    assert_eq!(now.len(), old.len());
    for (_, entry, record) in &now {
        assert_ne!(
            record["sha"].as_str(),
            Some(digests[entry].as_str()),
            "{entry}"
        );
    }
    let again = p.import(&[]);
    assert_eq!(writes(&again), 0, "{}", again.stdout);
    p.assert_converged();
}

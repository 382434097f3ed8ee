//! The importer's records against real OpenBao when a run holds more of them than
//! `REPLICATOR_RECORDS_BATCH`: saved on the way as deltas (`written/<shard>-<n>`), folded into
//! their shards at the end, read back in order after a run that stopped before folding them, and
//! what a prune reads exactly as before.

use serde_json::json;

use super::support::{Pair, writes};

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

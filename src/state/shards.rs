//! Reading and saving the importer's records in the state mount: `written/<shard>` holds a
//! shard's records, `written/<shard>-<n>` the deltas a long run saved on its way (every
//! `FLUSH_AT` records set), folded into the shard when the run saves at its end. Loading reads a
//! shard and its deltas in order, one shard at a time, and keeps 27 bytes a record. Plain digests
//! (records saved before they were keyed) are keyed as they are read, and saved so.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::ImporterState;
use super::records::{
    Op, Record, RecordKey, Records, SHARDS, Saved, Seen, apply_ops, pack, unpack,
};
use crate::error::{Error, Result};
use crate::snapshot::entries::name_key;

/// A key under `written/`: its shard and its delta number (0 for the shard itself).
fn parse_key(key: &str) -> Option<(usize, u32)> {
    let (shard, delta) = match key.split_once('-') {
        Some((s, d)) => (s, d.parse().ok()?),
        None => (key, 0),
    };
    let shard = usize::from_str_radix(shard, 16).ok()?;
    (shard < SHARDS).then_some((shard, delta))
}

fn delta_key(shard: usize, n: u32) -> String {
    format!("{shard:02x}-{n:06}")
}

impl ImporterState {
    /// Every record, as memory keeps it, with digests under `key`.
    pub async fn records(&self, key: RecordKey) -> Result<Records> {
        self.records_keeping(key, |_, _| false).await
    }

    /// Every record, as memory keeps it, with digests under `key`; those `keep` takes are kept in
    /// full too (`Records::kept`).
    pub async fn records_keeping(
        &self,
        key: RecordKey,
        keep: impl Fn(&str, &Record) -> bool,
    ) -> Result<Records> {
        let mut out = Records::new(key);
        if !self.mount_exists().await? {
            return Ok(out);
        }
        let listed = self
            .client
            .list(&format!("{}metadata/{}written", self.mount, self.base))
            .await?;
        let mut keys: Vec<(usize, u32, String)> = listed
            .into_iter()
            .filter_map(|k| parse_key(&k).map(|(s, d)| (s, d, k)))
            .collect();
        keys.sort();
        let mut kept: BTreeMap<Box<str>, Record> = BTreeMap::new();
        let mut foreign = 0;
        for shard in 0..SHARDS {
            let mut seen: BTreeMap<u64, Seen> = BTreeMap::new();
            for (_, delta, key) in keys.iter().filter(|(s, _, _)| *s == shard) {
                let Some(mut saved) = self.read_shard(key).await? else {
                    continue;
                };
                let (rekeyed, other) = rekey(out.key(), &mut saved);
                out.shards[shard].rekeyed |= rekeyed;
                foreign += other;
                if *delta > 0 {
                    out.shards[shard].deltas.push(key.clone());
                }
                for (entry, record) in saved {
                    seen.insert(name_key(&entry), Seen::of(&record));
                    match keep(&entry, &record) {
                        true => kept.insert(entry, record),
                        false => kept.remove(&entry),
                    };
                }
            }
            out.shards[shard].load(seen.into_iter().collect());
        }
        if foreign > 0 {
            tracing::warn!(
                records = foreign,
                "records made with another key (REPLICATOR_AGE_IDENTITY_FILE changed): their \
                 objects are compared in full once, and drift on them cannot be told this time"
            );
        }
        out.kept = kept.into_iter().collect();
        Ok(out)
    }

    /// Calls `each` with every record saved (a record a long run saved twice, twice), one shard
    /// in memory at a time.
    pub(super) async fn each_record(&self, mut each: impl FnMut(&Record)) -> Result<()> {
        if !self.mount_exists().await? {
            return Ok(());
        }
        let listed = self
            .client
            .list(&format!("{}metadata/{}written", self.mount, self.base))
            .await?;
        for key in listed.iter().filter(|k| parse_key(k).is_some()) {
            for record in self.read_shard(key).await?.unwrap_or_default().values() {
                each(record);
            }
        }
        Ok(())
    }

    /// The records saved under `written/<key>`, if it holds any.
    async fn read_shard(&self, key: &str) -> Result<Option<Saved>> {
        let (data, _) = self.get(&format!("written/{key}")).await?;
        let packed = data
            .as_ref()
            .and_then(|d| d.get("records"))
            .and_then(Value::as_str);
        let Some(packed) = packed else {
            return Ok(None);
        };
        unpack(packed)
            .map(Some)
            .map_err(|message| Error::VaultResponse {
                method: "GET",
                path: format!("{}data/{}written/{key}", self.mount, self.base),
                message: format!("state shard is not readable: {message}"),
            })
    }

    /// Writes records as `written/<key>`, packed.
    async fn write_shard(&self, key: &str, records: &impl serde::Serialize) -> Result<()> {
        let packed = pack(records).map_err(|e| Error::io("pack state shard", e))?;
        self.put(
            &format!("written/{key}"),
            &json!({ "records": packed }),
            None,
        )
        .await
    }

    /// Saves the records set since the last save as one delta per shard, so that memory holds
    /// no more than `FLUSH_AT` of them. `hold` runs before each write (see `save_records`).
    pub async fn flush_records(
        &self,
        records: &mut Records,
        mut hold: impl AsyncFnMut() -> Result<()>,
    ) -> Result<()> {
        self.ensure_mount().await?;
        tracing::info!(records = records.pending, "saving records on the way");
        for (i, shard) in records.shards.iter_mut().enumerate() {
            let set: BTreeMap<&str, &Record> = shard
                .ops
                .values()
                .filter_map(|(e, op)| match op {
                    Op::Set(r) => Some((&**e, r)),
                    _ => None,
                })
                .collect();
            if set.is_empty() {
                continue;
            }
            let n = shard
                .deltas
                .iter()
                .filter_map(|k| parse_key(k).map(|(_, d)| d))
                .max()
                .unwrap_or(0)
                + 1;
            let key = delta_key(i, n);
            hold().await?;
            self.write_shard(&key, &set).await?;
            shard.deltas.push(key);
            let folded: Vec<(u64, Option<Seen>)> = set
                .iter()
                .map(|(e, r)| (name_key(e), Some(Seen::of(r))))
                .collect();
            shard.fold(folded);
            shard.ops.retain(|_, (_, op)| !matches!(op, Op::Set(_)));
        }
        records.pending = 0;
        Ok(())
    }

    /// Saves every shard that changed since the records were loaded (its records as saved, its
    /// deltas and the changes held, as one), then `meta` (when given). `hold` runs before each
    /// write and fails when the run no longer holds the import lease, so that a run that lost it
    /// never saves over the bookkeeping of the run that took it.
    pub async fn save_records(
        &self,
        records: &mut Records,
        meta: Option<&super::Meta>,
        mut hold: impl AsyncFnMut() -> Result<()>,
    ) -> Result<()> {
        self.ensure_mount().await?;
        let records_key = records.key().clone();
        for (i, shard) in records.shards.iter_mut().enumerate() {
            if shard.ops.is_empty() && shard.deltas.is_empty() && !shard.rekeyed {
                continue;
            }
            let base = format!("{i:02x}");
            let mut saved = self.read_shard(&base).await?.unwrap_or_default();
            for delta in &shard.deltas {
                saved.extend(self.read_shard(delta).await?.unwrap_or_default());
            }
            rekey(&records_key, &mut saved);
            apply_ops(&mut saved, shard.ops.values());
            hold().await?;
            self.write_shard(&base, &saved).await?;
            drop(saved);
            for delta in std::mem::take(&mut shard.deltas) {
                hold().await?;
                let path = format!("{}metadata/{}written/{delta}", self.mount, self.base);
                self.client.delete(&path).await?;
            }
            shard.fold_held();
            shard.rekeyed = false;
        }
        records.pending = 0;
        match meta {
            Some(meta) => {
                hold().await?;
                self.put("meta", &self.stamped(meta), None).await
            }
            None => Ok(()),
        }
    }
}

/// Keys the plain digests of `saved` (records of a release before keyed digests). Returns
/// whether any was, and how many records were made with another key (left as they are: no entry
/// matches them, so their objects are compared in full once and recorded anew).
fn rekey(key: &RecordKey, saved: &mut Saved) -> (bool, usize) {
    let (mut rekeyed, mut foreign) = (false, 0);
    for record in saved.values_mut() {
        match key.rekey(&record.sha, record.key) {
            Some(digest) if record.key != key.id() => {
                record.sha = digest;
                record.key = key.id();
                rekeyed = true;
            }
            Some(_) => {}
            None => foreign += 1,
        }
    }
    (rekeyed, foreign)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_keys_name_their_shard_and_delta() {
        assert_eq!(parse_key("0a"), Some((10, 0)));
        assert_eq!(parse_key(&delta_key(10, 7)), Some((10, 7)));
        assert_eq!(parse_key("3f-000012"), Some((63, 12)));
        assert_eq!(parse_key("40"), None);
        assert_eq!(parse_key("zz"), None);
        assert_eq!(parse_key("01-x"), None);
        let mut keys = vec![delta_key(1, 10), delta_key(1, 9), "01".to_string()];
        keys.sort_by_key(|k| parse_key(k));
        assert_eq!(keys, ["01", "01-000009", "01-000010"]);
    }
}

//! The importer's bookkeeping, kept in the target cluster itself: a KV-v2 mount (default
//! `vault-replicator/`, `REPLICATOR_STATE_MOUNT`) created `local: true`, so the exporter never
//! carries it anywhere, and a DR cluster rebuilt from scratch starts clean.
//!
//! - `meta`: the last snapshot applied and when;
//! - `fence`: present while the cluster is promoted; every import refuses then;
//! - `lease`: who is importing right now, until when (check-and-set, so two runs cannot both win);
//! - `written/<shard>`: for each object the importer wrote (or found already equal), the sha256 of
//!   its snapshot entry and how to delete it. Prune and drift detection read these.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::objects::Kind;
use crate::vault::{Table, VaultClient, mount_table};

pub const DEFAULT_MOUNT: &str = "vault-replicator/";
const SHARDS: usize = 64;

/// What the importer knows about one object it brought to this cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// sha256 of the snapshot entry that was applied (64 hex digits in the shard).
    #[serde(with = "hex::serde")]
    pub sha: [u8; 32],
    pub kind: Kind,
    /// The object's path as plans show it.
    pub path: String,
    /// Namespace and API path that delete the object; `None` for kinds that are never pruned.
    pub ns: String,
    pub delete: Option<String>,
    /// The last import left the object as it found it (skipped, failed, or not reached), so the
    /// target may differ from `sha`: the next import compares it in full.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unsettled: bool,
}

/// Records keyed by snapshot entry name, held once, in the shards they are saved in. A change
/// that makes a record differ marks its shard dirty; only dirty shards are written back.
#[derive(Debug, Clone, PartialEq)]
pub struct Records {
    shards: Vec<BTreeMap<String, Record>>,
    dirty: Vec<bool>,
}

impl Default for Records {
    fn default() -> Self {
        Records {
            shards: vec![BTreeMap::new(); SHARDS],
            dirty: vec![false; SHARDS],
        }
    }
}

fn shard_of(entry: &str) -> usize {
    Sha256::digest(entry.as_bytes())[0] as usize % SHARDS
}

impl Records {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, entry: &str) -> Option<&Record> {
        self.shards[shard_of(entry)].get(entry)
    }

    pub fn contains_key(&self, entry: &str) -> bool {
        self.get(entry).is_some()
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(BTreeMap::is_empty)
    }

    /// Every record, shard by shard.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Record)> {
        self.shards.iter().flatten()
    }

    /// Whether any record changed since the records were loaded.
    pub fn is_dirty(&self) -> bool {
        self.dirty.contains(&true)
    }

    /// Sets an entry's record (the object was applied, or found equal).
    pub fn set(&mut self, entry: String, record: Record) {
        let i = shard_of(&entry);
        if self.shards[i].get(&entry) != Some(&record) {
            self.shards[i].insert(entry, record);
            self.dirty[i] = true;
        }
    }

    /// The last import left this object as it found it: compare it in full next time.
    pub fn unsettle(&mut self, entry: &str) {
        let i = shard_of(entry);
        if let Some(r) = self.shards[i].get_mut(entry)
            && !r.unsettled
        {
            r.unsettled = true;
            self.dirty[i] = true;
        }
    }

    /// The object was deleted from the target.
    pub fn remove(&mut self, entry: &str) {
        let i = shard_of(entry);
        if self.shards[i].remove(entry).is_some() {
            self.dirty[i] = true;
        }
    }

    /// Forgets which shards changed (they were just loaded or saved).
    fn clean(&mut self) {
        self.dirty.iter_mut().for_each(|d| *d = false);
    }
}

impl FromIterator<(String, Record)> for Records {
    fn from_iter<I: IntoIterator<Item = (String, Record)>>(iter: I) -> Self {
        let mut out = Records::new();
        for (entry, record) in iter {
            out.set(entry, record);
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub last_snapshot: String,
    pub applied_at: DateTime<Utc>,
    pub complete: bool,
    /// Imports since the last one that compared every object with the target.
    #[serde(default)]
    pub runs_since_full_check: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fence {
    pub promoted_at: DateTime<Utc>,
    pub by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LeaseData {
    holder: String,
    expires_at: DateTime<Utc>,
}

/// The state mount of one target cluster.
#[derive(Debug, Clone)]
pub struct State {
    client: VaultClient,
    mount: String,
}

impl State {
    pub fn new(client: VaultClient, mount: &str) -> Self {
        State {
            client,
            mount: format!("{}/", mount.trim_matches('/')),
        }
    }

    /// Creates the state mount if it is missing: KV-v2, local, one version kept per key.
    pub async fn ensure_mount(&self) -> Result<()> {
        let table = mount_table(&self.client, Table::Secret).await?;
        if table.contains_key(&self.mount) {
            return Ok(());
        }
        let path = self.mount.trim_end_matches('/');
        let body = json!({
            "type": "kv", "local": true, "options": {"version": "2"},
            "description": "vault-replicator bookkeeping (never replicated)",
        });
        self.client
            .write(&format!("sys/mounts/{path}"), &body)
            .await?;
        self.client
            .write(
                &format!("{}config", self.mount),
                &json!({"max_versions": 1}),
            )
            .await?;
        Ok(())
    }

    /// The data and current version of a key; `(None, v)` when absent or deleted.
    async fn get(&self, key: &str) -> Result<(Option<Value>, u64)> {
        let Some(body) = self
            .client
            .read(&format!("{}data/{key}", self.mount))
            .await?
        else {
            let version = self
                .client
                .read(&format!("{}metadata/{key}", self.mount))
                .await?
                .and_then(|m| m.pointer("/data/current_version").and_then(Value::as_u64))
                .unwrap_or(0);
            return Ok((None, version));
        };
        let version = body
            .pointer("/data/metadata/version")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        Ok((body.pointer("/data/data").cloned(), version))
    }

    async fn put(&self, key: &str, data: &impl Serialize, cas: Option<u64>) -> Result<()> {
        let mut body = json!({ "data": data });
        if let Some(v) = cas {
            body["options"] = json!({ "cas": v });
        }
        self.client
            .write(&format!("{}data/{key}", self.mount), &body)
            .await
            .map(|_| ())
    }

    async fn mount_exists(&self) -> Result<bool> {
        Ok(mount_table(&self.client, Table::Secret)
            .await?
            .contains_key(&self.mount))
    }

    pub async fn fence(&self) -> Result<Option<Fence>> {
        if !self.mount_exists().await? {
            return Ok(None);
        }
        let (data, _) = self.get("fence").await?;
        Ok(data.and_then(|d| serde_json::from_value(d).ok()))
    }

    pub async fn set_fence(&self, fence: &Fence) -> Result<()> {
        self.ensure_mount().await?;
        self.put("fence", fence, None).await
    }

    pub async fn clear_fence(&self) -> Result<()> {
        if self.mount_exists().await? {
            self.client
                .delete(&format!("{}metadata/fence", self.mount))
                .await?;
        }
        Ok(())
    }

    pub async fn meta(&self) -> Result<Option<Meta>> {
        if !self.mount_exists().await? {
            return Ok(None);
        }
        let (data, _) = self.get("meta").await?;
        Ok(data.and_then(|d| serde_json::from_value(d).ok()))
    }

    /// Takes the import lease, or says who holds it. Returns the version to renew with.
    pub async fn acquire(&self, holder: &str, ttl: Duration) -> Result<Result<u64, String>> {
        let (data, version) = self.get("lease").await?;
        if let Some(lease) = data.and_then(|d| serde_json::from_value::<LeaseData>(d).ok())
            && !lease.holder.is_empty()
            && lease.expires_at > Utc::now()
            && lease.holder != holder
        {
            return Ok(Err(format!(
                "another import holds the lease on this cluster ({}, until {})",
                lease.holder,
                lease.expires_at.format("%Y-%m-%dT%H:%M:%SZ")
            )));
        }
        match self.write_lease(holder, ttl, version).await {
            Ok(v) => Ok(Ok(v)),
            Err(Error::Vault { status: 400, .. }) => Ok(Err(
                "another import took the lease at the same moment".to_string(),
            )),
            Err(e) => Err(e),
        }
    }

    /// Writes the lease with check-and-set; the new version on success.
    pub async fn write_lease(&self, holder: &str, ttl: Duration, cas: u64) -> Result<u64> {
        let expires_at = Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default();
        let lease = LeaseData {
            holder: holder.to_string(),
            expires_at,
        };
        self.put("lease", &lease, Some(cas)).await?;
        Ok(cas + 1)
    }

    /// Gives the lease up (check-and-set, so a lease someone else took over is left alone).
    pub async fn release(&self, cas: u64) -> Result<()> {
        let lease = LeaseData {
            holder: String::new(),
            expires_at: Utc::now(),
        };
        self.put("lease", &lease, Some(cas)).await
    }

    /// Every record, from all shards.
    pub async fn records(&self) -> Result<Records> {
        let mut out = Records::new();
        if !self.mount_exists().await? {
            return Ok(out);
        }
        for shard in self
            .client
            .list(&format!("{}metadata/written", self.mount))
            .await?
        {
            let (data, _) = self.get(&format!("written/{shard}")).await?;
            let packed = data
                .as_ref()
                .and_then(|d| d.get("records"))
                .and_then(Value::as_str);
            let Some(packed) = packed else { continue };
            let part = unpack(packed).map_err(|message| Error::VaultResponse {
                method: "GET",
                path: format!("{}data/written/{shard}", self.mount),
                message: format!("state shard is not readable: {message}"),
            })?;
            for (entry, record) in part {
                out.set(entry, record);
            }
        }
        out.clean();
        Ok(out)
    }

    /// Saves the shards that changed since the records were loaded, then `meta`.
    pub async fn save_records(&self, records: &mut Records, meta: &Meta) -> Result<()> {
        self.ensure_mount().await?;
        for i in 0..SHARDS {
            if records.dirty[i] {
                let packed =
                    pack(&records.shards[i]).map_err(|e| Error::io("pack state shard", e))?;
                let body = json!({ "records": packed });
                self.put(&format!("written/{i:02x}"), &body, None).await?;
                records.dirty[i] = false;
            }
        }
        self.put("meta", meta, None).await
    }
}

/// A shard as one string (gzip'd JSON, base64): Vault limits how many strings a request may hold.
fn pack(records: &BTreeMap<String, Record>) -> std::io::Result<String> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&serde_json::to_vec(records)?)?;
    Ok(BASE64.encode(gz.finish()?))
}

fn unpack(packed: &str) -> std::result::Result<BTreeMap<String, Record>, String> {
    use std::io::Read;
    let bytes = BASE64.decode(packed).map_err(|e| e.to_string())?;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .take(256 << 20)
        .read_to_end(&mut json)
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&json).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u32) -> Record {
        Record {
            sha: [i as u8; 32],
            kind: Kind::KvSecret,
            path: format!("secret/{i}"),
            ns: String::new(),
            delete: None,
            unsettled: false,
        }
    }

    #[test]
    fn records_spread_over_shards_and_pack_with_hex_digests() {
        let r: Records = (0..500)
            .map(|i| (format!("kv/secret/{i}.json"), rec(i)))
            .collect();
        assert_eq!(r.len(), 500);
        assert!(r.shards.iter().filter(|s| !s.is_empty()).count() > SHARDS / 2);
        let i = shard_of("kv/secret/7.json");
        assert!(r.shards[i].contains_key("kv/secret/7.json"));
        let packed = pack(&r.shards[i]).unwrap();
        assert_eq!(unpack(&packed).unwrap(), r.shards[i]);
        let json = serde_json::to_string(&rec(1)).unwrap();
        assert!(
            json.contains(&format!("\"sha\":\"{}\"", "01".repeat(32))),
            "{json}"
        );
        assert!(unpack("not base64!").is_err());
    }

    #[test]
    fn only_real_changes_mark_a_shard_dirty() {
        let mut r: Records = [("a".to_string(), rec(1))].into_iter().collect();
        r.clean();
        r.set("a".into(), rec(1));
        r.remove("missing");
        r.unsettle("missing");
        assert!(!r.is_dirty());
        r.unsettle("a");
        assert!(r.get("a").unwrap().unsettled);
        assert_eq!(r.dirty.iter().filter(|d| **d).count(), 1);
        r.clean();
        r.remove("a");
        assert!(r.is_dirty() && r.is_empty());
    }
}

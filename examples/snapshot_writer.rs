//! Measures the snapshot writer alone, without a server: adds N synthetic KV-v2 secrets (values of
//! 100-3,000 characters, in the bench's folder shape, in a scrambled order) and writes the archive
//! to nowhere, then prints the seconds, the CPU-seconds and the peak RSS. Not part of the tool.
//!
//!   snapshot_writer N

use std::time::Instant;

use chrono::Utc;
use serde_json::json;
use vault_replicator::objects::Object;
use vault_replicator::objects::kv::{Secret, State};
use vault_replicator::snapshot::SnapshotWriter;
use vault_replicator::vault::ClusterInfo;

/// A cheap deterministic generator (splitmix64).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn secret(i: u64) -> Object {
    let r = mix(i);
    let len = 100 + (r % 2_901) as usize;
    let note: String = (0..len)
        .map(|j| char::from(b'a' + (mix(r ^ j as u64) % 26) as u8))
        .collect();
    let namespace = if i.is_multiple_of(2) { "" } else { "team1/" };
    let folder = if i % 4 < 2 {
        i / 40
    } else {
        1_000_000 + i / 20_000
    };
    Object::KvSecret(Secret {
        namespace: namespace.into(),
        mount: format!("kv{}/", i % 3),
        path: format!("f{folder}/s{i}"),
        kv_version: 2,
        data: json!({"user": format!("u{i}"), "password": format!("pw-{r:x}"), "note": note})
            .as_object()
            .cloned(),
        state: State::Live,
        metadata: None,
        history: None,
    })
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|t| t.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    ticks / 100.0
}

fn main() -> vault_replicator::Result<()> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let started = Instant::now();
    let mut writer = SnapshotWriter::new()?;
    // A stride coprime with n visits every index once, out of order.
    let stride = (1..)
        .map(|k| 7_919 * k + 1)
        .find(|s| gcd(*s, n) == 1)
        .unwrap_or(1);
    for k in 0..n {
        writer.add(&secret(k * stride % n))?;
    }
    let added = started.elapsed().as_secs_f64();
    let manifest = writer
        .finish(ClusterInfo::default(), Utc::now(), std::io::sink())?
        .manifest;
    println!(
        "secrets {} add_s {added:.2} total_s {:.2} cpu_s {:.2} peak_rss_mib {:.1}",
        manifest.counts["kv_secret"],
        started.elapsed().as_secs_f64(),
        cpu_seconds(),
        vault_replicator::progress::peak_rss_kib().unwrap_or(0) as f64 / 1024.0
    );
    Ok(())
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

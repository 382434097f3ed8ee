//! Talking to Vault/OpenBao: the HTTP client and cluster-level facts (health, mount table).

mod client;
mod cluster;

pub use client::{Counters, VaultClient, encode_path};
pub use cluster::{ClusterInfo, MountEntry, cluster_info, mount_table};

//! Talking to Vault/OpenBao: the HTTP client, TLS, a rate cap, logging in, and cluster-level facts (health,
//! mount tables, namespaces).

mod answer;
mod api;
mod client;
mod cluster;
mod gate;
mod op;
mod path;
mod rate;
mod retry;
mod session;
mod settings;
mod tls;

pub use api::{MemoryVault, VaultApi};
pub use client::{Counters, VaultClient};
pub use cluster::{ClusterInfo, MountEntry, Table, cluster_info, mount_table, namespaces};
pub use gate::WriteGate;
pub use path::{dot_segment, encode_path};
pub use retry::RetryPolicy;
pub use session::Session;
pub use settings::{Auth, DEFAULT_CLIENT_TIMEOUT, RateLimit, Tls, Token, VaultConfig};

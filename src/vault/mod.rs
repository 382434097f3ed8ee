//! Talking to Vault/OpenBao: the client (a stack of layers over the HTTP transport: retries, a
//! rate cap, counters, a budget, a write gate, read-only for dry runs), TLS, logging in, and
//! cluster-level facts (health, mount tables, namespaces). `MemoryVault`, a cluster in memory,
//! exists in unit tests only.

mod answer;
mod api;
mod client;
mod cluster;
mod gate;
mod http;
mod layers;
#[cfg(test)]
mod memory;
mod op;
mod path;
mod rate;
mod retry;
mod session;
mod settings;
mod tls;

pub use api::{Request, VaultApi};
pub use client::{Counters, VaultClient};
pub use cluster::{ClusterInfo, MountEntry, Table, cluster_info, mount_table, namespaces};
pub use gate::WriteGate;
#[cfg(test)]
pub use memory::{MemoryVault, Stub};
pub use op::Op;
pub use path::{dot_segment, encode_path};
pub use retry::RetryPolicy;
pub use session::Session;
pub use settings::{Auth, DEFAULT_CLIENT_TIMEOUT, RateLimit, Tls, Token, VaultConfig};

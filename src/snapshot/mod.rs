//! Snapshots: the archive format (full snapshots and deltas), its manifest, the streaming writer and the verifying reader,
//! and the store layout (`<timestamp>.tar.gz` plus the `latest.json` pointer).

pub mod catalog;
pub mod chain;
pub mod entries;
pub mod format;
pub mod index;
mod join;
pub mod manifest;
mod manifest_out;
pub mod reader;
mod runs;
pub mod set;
pub mod spool;
pub mod verify;
pub mod writer;

#[cfg(test)]
mod delta_tests;
#[cfg(test)]
mod order_tests;
#[cfg(test)]
mod tests;

pub use manifest::{Base, Delta, Manifest, NotCopied, Was};
pub use reader::Limits;
pub use set::SetDigest;
pub use writer::SnapshotWriter;

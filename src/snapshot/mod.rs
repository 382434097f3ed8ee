//! Snapshots: the v1 archive format, its manifest, the streaming writer and the verifying reader,
//! and the store layout (`<timestamp>.tar.gz` plus the `latest.json` pointer).

pub mod catalog;
pub mod entries;
pub mod format;
pub mod manifest;
pub mod reader;
mod runs;
pub mod spool;
pub mod verify;
pub mod writer;

#[cfg(test)]
mod order_tests;
#[cfg(test)]
mod tests;

pub use manifest::{Manifest, NotCopied};
pub use reader::Limits;
pub use writer::SnapshotWriter;

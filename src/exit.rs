//! The documented exit codes. A CronJob's alerting keys off these, so they never change meaning.

/// Everything worked.
pub const OK: u8 = 0;
/// The run failed (Vault or the store unreachable, permission denied, ...). Nothing was imported
/// past the point of failure; `latest` was not moved.
pub const FAILED: u8 = 1;
/// Usage or configuration error: a flag or environment variable is missing or malformed.
pub const USAGE: u8 = 2;
/// Partial: some objects failed or were refused, the rest were applied. Re-running converges.
pub const PARTIAL: u8 = 3;
/// Refused: the snapshot failed verification. Nothing was written.
pub const REFUSED: u8 = 4;
/// `status`: the newest snapshot or import is older than `REPLICATOR_MAX_AGE` (the RPO check).
pub const STALE: u8 = 5;

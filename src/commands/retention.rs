//! `prune`: snapshot retention on demand (`REPLICATOR_KEEP_LAST`, `REPLICATOR_KEEP_WITHIN`), the
//! same pass an export runs after it publishes. It deletes snapshots (and their sidecars) from
//! the store, keeping chains whole, never objects from a cluster (that is the importer's prune).

use std::fmt::Write as _;

use crate::config::PruneConfig;
use crate::error::Result;
use crate::retention;
use crate::store;

/// `prune`: applies the retention rules to the store on demand.
pub async fn retention(config: &PruneConfig, dry_run: bool) -> Result<String> {
    let store = store::open(&config.store_url).await?;
    let selection = retention::apply(store.as_ref(), config.retention, dry_run).await?;
    let verb = if dry_run { "would delete" } else { "deleted" };
    let mut out = String::new();
    for key in selection.deleted.iter().chain(&selection.orphans) {
        let _ = writeln!(out, "{verb} {key}");
    }
    let chained = match selection.chained.len() {
        0 => String::new(),
        n => format!(" ({n} of them only to keep a chain whole)"),
    };
    let _ = writeln!(
        out,
        "{} snapshots kept{chained}, {} {verb}{}",
        selection.kept.len(),
        selection.deleted.len(),
        if dry_run {
            " (dry run: nothing was deleted)"
        } else {
            ""
        }
    );
    Ok(out)
}

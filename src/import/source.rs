//! Which of the target's states an import uses: its source's (see `state::sources`), found by
//! the store prefix its snapshots are signed under, with a state saved before sources were told
//! apart taken over when this source made it.

use crate::error::{Error, Result};
use crate::state::ImporterState;

/// The state, in the cluster `state` is of, of the source whose snapshots are signed as
/// published under the store prefix `source` and read from `store_url` (see `state::sources`).
/// A source is its prefix: the bucket may change (a storage migration), the prefix names the
/// source, as the metrics' grouping does.
pub async fn source_state(
    state: ImporterState,
    source: &str,
    store_url: &str,
) -> Result<ImporterState> {
    state
        .of_source(source, async |m| made_here(store_url, m).await)
        .await
}

/// Whether the state `m`, saved before sources were told apart, is this source's: its last
/// snapshot is in this source's store.
async fn made_here(store_url: &str, m: &crate::state::Meta) -> Result<bool> {
    let store = crate::store::open_read(store_url).await?;
    match store.stat(&m.last_snapshot).await {
        Ok(_) => Ok(true),
        Err(Error::NotFound { .. }) => {
            tracing::warn!(
                last_snapshot = %m.last_snapshot,
                "the importer's state here was made from another store: this source keeps its own"
            );
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

//! The rule that `latest.json` never takes a target back: a snapshot older than the one the
//! target last imported, or (on a fresh target too) older than the newest one in the store whose
//! signature vouches for it, is refused. Going back is for `--snapshot`, named by the operator.

use chrono::Utc;

use crate::error::{Error, Result};
use crate::seal::{self, Expected};
use crate::snapshot::catalog;
use crate::snapshot::verify::{Snapshot, newest_vouched};
use crate::state::ImporterState;

/// Refuses to take the target back through `latest.json`: to a snapshot older than the one it
/// last imported (`meta`), or, on a fresh target too, older than the newest snapshot in the store
/// whose signature vouches for it. Going back is for `--snapshot`, named by the operator.
pub(super) async fn check_not_older(
    state: &ImporterState,
    snapshot: &Snapshot,
    expected: &Expected,
) -> Result<()> {
    let key = &snapshot.key;
    let Some(this_at) = catalog::parse_snapshot_key(key) else {
        return Ok(());
    };
    if let Some(last) = state.meta().await?
        && let Some(last_at) = catalog::parse_snapshot_key(&last.last_snapshot)
    {
        // A future-dated snapshot recorded by an older release must not block every later one.
        if seal::future_dated(last_at, Utc::now()) {
            tracing::warn!(
                last_snapshot = %last.last_snapshot,
                "the last import recorded here is dated in the future; not comparing with it"
            );
        } else if this_at < last_at {
            return Err(back(
                key,
                "this cluster already imported the newer",
                &last.last_snapshot,
            ));
        }
    }
    match newest_vouched(snapshot, expected).await? {
        Some((newer, at)) if at > this_at => Err(back(
            key,
            "the store holds the newer, signed",
            &format!("{newer} (or an export is publishing it right now: then retry)"),
        )),
        _ => Ok(()),
    }
}

/// The refusal of a pointer that points back.
fn back(key: &str, why: &str, newer: &str) -> Error {
    Error::refused(
        key,
        format!(
            "{} points at it, but {why} {newer}; import it with --snapshot if going back is \
             intended",
            catalog::LATEST
        ),
    )
}

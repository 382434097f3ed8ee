//! What an import reads from and leaves in the target's `meta`: whether this run compares every
//! object (a full check: asked for, due, after an unfinished run, or once the settings that decide
//! what it writes changed) and the `meta` the next run starts from.

use chrono::Utc;

use crate::snapshot::verify::Snapshot;
use crate::state::Meta;

/// The options of this run: between full checks, objects the importer already applied are
/// trusted to be as it left them; a full check every `REPLICATOR_FULL_CHECK_EVERY` runs, and
/// after a run that did not finish.
pub(super) fn this_run(
    opts: &crate::config::ImportOptions,
    before: Option<&Meta>,
) -> crate::config::ImportOptions {
    let mut opts = opts.clone();
    opts.full_check |= due_full_check(&opts, before);
    opts
}

/// Whether this run must compare every object (a full check, from the chain's full snapshot):
/// asked for, never imported here, the last import unfinished, or `REPLICATOR_FULL_CHECK_EVERY`
/// runs since the last full check, or the settings that decide what it writes changed.
pub(super) fn due_full_check(opts: &crate::config::ImportOptions, before: Option<&Meta>) -> bool {
    before.is_none_or(|m| {
        !m.complete
            || m.runs_since_full_check + 1 >= opts.full_check_every
            || m.settings.as_deref() != Some(settings_mark(opts).as_str())
    })
}

/// The `meta` an import of `snapshot` leaves.
pub(super) fn next_meta(
    snapshot: &Snapshot,
    opts: &crate::config::ImportOptions,
    before: Option<Meta>,
    complete: bool,
    set: Option<crate::snapshot::SetDigest>,
) -> Meta {
    Meta {
        set: set.map(|s| s.to_hex()),
        settings: Some(settings_mark(opts)),
        last_snapshot: snapshot.key.clone(),
        applied_at: Utc::now(),
        complete,
        runs_since_full_check: match opts.full_check {
            true => 0,
            false => before.as_ref().map_or(0, |m| m.runs_since_full_check + 1),
        },
        store_bound: before.as_ref().is_some_and(|m| m.store_bound) || snapshot.names_its_store(),
        source: before.as_ref().and_then(|m| m.source.clone()),
    }
}

/// A digest of the settings that decide which objects an import writes (drift, users'
/// passwords, database engines): objects a run left alone under other settings are compared
/// again once they change. (A prune goes by the records, whatever the run compares.)
pub(super) fn settings_mark(opts: &crate::config::ImportOptions) -> String {
    use sha2::Digest;
    let o = opts;
    let mut settings = format!("{:?} {:?} {:?}", o.on_drift, o.userpass, o.database);
    // Where things go, once a map is set (a cluster without one keeps the mark it had).
    if !o.map.is_empty() {
        settings.push_str(&format!(" map {}", o.map.spec()));
    }
    hex::encode(&sha2::Sha256::digest(settings.as_bytes())[..8])
}

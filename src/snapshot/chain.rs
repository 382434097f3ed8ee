//! The chain a snapshot needs, verified: a full snapshot is one alone; a delta needs its base,
//! back to a given starting point (the snapshot an import last applied, with its set digest) or
//! else to the chain's full snapshot. Every step is verified (signature, archive, manifest) and
//! every link checked before anyone uses it: a delta whose base is not the step before it, with
//! that step's set digest, or whose signed base is not its manifest's, is refused (a missing,
//! reordered or grafted delta); a base missing from the store is refused too, naming it.
//! `import` applies the steps in order; `verify` and `diff` read them as one view.

use super::catalog;
use super::entries::name_key;
use super::reader::Scanned;
use super::verify::{Snapshot, VerifyConfig, verify_keeping_heads};
use super::{Manifest, SetDigest};
use crate::error::{Error, Result};

/// One snapshot of a chain, verified.
pub struct Step {
    pub snapshot: Snapshot,
    pub manifest: Manifest,
    /// The namespaces and mounts at its head.
    pub heads: Vec<Scanned>,
}

/// The most snapshots one import walks back through before it gives up on a chain.
const MAX_STEPS: usize = 2000;

/// Verifies `id` and the chain it needs, in apply order: from the step after `start` (a snapshot
/// already applied, and its set digest) when the chain passes through it, else from the chain's
/// full snapshot.
pub async fn resolve(
    config: &VerifyConfig,
    id: &str,
    start: Option<(&str, SetDigest)>,
) -> Result<Vec<Step>> {
    let head = step(config, id).await?;
    let last = start;
    // The snapshot applied last, asked for again: itself alone (what it holds is in place).
    let again =
        last.is_some_and(|(key, set)| key == head.snapshot.key && Some(set) == head.manifest.set);
    let mut steps = vec![head];
    if again {
        return Ok(steps);
    }
    // A full snapshot starts the chain.
    while let Some(delta) = steps.last().and_then(|s| s.manifest.delta.as_ref()) {
        let base = delta.base.clone();
        if last.is_some_and(|(key, set)| key == base.key && set == base.set) {
            break;
        }
        if steps.len() >= MAX_STEPS {
            return Err(broken(
                &steps,
                "its chain is longer than an import walks back",
            ));
        }
        let step = match step(config, &base.key).await {
            Err(Error::NotFound { .. }) => {
                let why = format!(
                    "its chain is broken: its base {} is missing from the store (expired, or \
                     never published); the next full export repairs it",
                    base.key
                );
                return Err(broken(&steps, &why));
            }
            other => other?,
        };
        steps.push(step);
    }
    steps.reverse();
    check_links(&steps, last.map(|(_, set)| set))?;
    Ok(steps)
}

/// For each step, the entries a later step replaces or removes (name hashes, sorted): the step
/// leaves them to it.
pub fn superseded(steps: &[Step]) -> Vec<Vec<u64>> {
    let mut later: Vec<u64> = Vec::new();
    let mut out = Vec::with_capacity(steps.len());
    for s in steps.iter().rev() {
        out.push(later.clone());
        later.extend(s.manifest.entries.iter().map(|k| k.name));
        if let Some(d) = &s.manifest.delta {
            later.extend(d.removed.iter().map(|w| name_key(&w.name)));
        }
        later.sort_unstable();
        later.dedup();
    }
    out.reverse();
    out
}

fn broken(steps: &[Step], why: &str) -> Error {
    let key = steps.first().map_or("", |s| s.snapshot.key.as_str());
    Error::refused(key, why)
}

/// Verifies one snapshot, named by `id`, and checks that its name, its signature and its
/// manifest agree on whether it is a delta and on what.
async fn step(config: &VerifyConfig, id: &str) -> Result<Step> {
    let (snapshot, manifest, heads) = verify_keeping_heads(config, id).await?;
    let refuse = |why: &str| Err(Error::refused(&snapshot.key, why));
    let named_delta = catalog::is_delta(&snapshot.key);
    if named_delta != manifest.is_delta() {
        return refuse("its name and its manifest disagree on whether it is a delta");
    }
    let signed_base = snapshot.signed.as_ref().map(|s| s.claims.base.as_deref());
    let base = manifest.delta.as_ref().map(|d| d.base.key.as_str());
    if signed_base.is_some_and(|signed| signed != base) {
        return refuse("its signature and its manifest name different bases");
    }
    Ok(Step {
        snapshot,
        manifest,
        heads,
    })
}

/// Refuses a chain whose links do not hold: each delta's base must be the step before it, with
/// that step's set digest (the first delta's, `start`'s when the chain starts after the last
/// import).
fn check_links(steps: &[Step], start: Option<SetDigest>) -> Result<()> {
    let mut before: Option<(&str, Option<SetDigest>)> = None;
    for s in steps {
        let key = &s.snapshot.key;
        if let Some(d) = &s.manifest.delta {
            let expected = match before {
                Some((k, set)) => (k, set),
                None => (d.base.key.as_str(), start),
            };
            if d.base.key != expected.0 {
                return Err(Error::refused(
                    key,
                    format!("its base is {}, not {}", d.base.key, expected.0),
                ));
            }
            if expected.1 != Some(d.base.set) {
                return Err(Error::refused(
                    key,
                    format!(
                        "its base {} is not the one it was made on (another set of entries): a \
                         delta of another chain",
                        d.base.key
                    ),
                ));
            }
        } else if before.is_some() {
            return Err(Error::refused(key, "a full snapshot inside a chain"));
        }
        before = Some((key, s.manifest.set));
    }
    Ok(())
}

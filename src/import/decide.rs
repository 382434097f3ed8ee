//! What the importer decides for one object: the kind's own decision against the target, then
//! drift (the importer's records say it wrote this very entry, yet the target differs: handled as
//! REPLICATOR_ON_DRIFT says), and escrowed fields, which no read can compare (written unless the
//! last import applied this very entry).

use super::plan::Change;
use crate::config::{ImportOptions, OnDrift};
use crate::error::one_line;
use crate::model::{Action, Decision};
use crate::objects::{Object, Ops, Target};

/// Plans one object against the target; a read failure fails this object only.
/// `recorded` is whether the importer's record of this object matches the snapshot entry: when
/// it does and the target still differs, the target drifted. `applied`: the last import applied
/// this very entry; unless it did, an object with escrowed (write-only) fields is written even
/// when everything readable is equal, since no read of the target can show them change.
pub(super) async fn plan_one(
    target: &Target,
    obj: Object,
    (recorded, applied): (Option<bool>, Option<bool>),
    opts: &ImportOptions,
) -> Change {
    let mut d = match obj.plan(target).await {
        Ok(d) => d,
        Err(e) => Decision::new(Action::Failed, Some(one_line(&e))),
    };
    let drifted = recorded == Some(true) && matches!(d.action, Action::Create | Action::Update);
    if !drifted {
        if d.action == Action::Unchanged && applied != Some(true) && obj.carries_write_only() {
            d.action = Action::Update;
            d.reason = Some(
                "its escrowed fields cannot be compared, and the last import did not write them: \
                 written"
                    .into(),
            );
        }
        return Change::decided(obj, d);
    }
    let what = d
        .reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    let d = match opts.on_drift {
        OnDrift::Overwrite => Decision {
            reason: Some(format!(
                "drift: changed on the target since the last import{what}; overwriting"
            )),
            drift: true,
            ..d
        },
        OnDrift::Skip | OnDrift::Fail => Decision {
            action: match opts.on_drift {
                OnDrift::Skip => Action::Skipped,
                _ => Action::Refused,
            },
            reason: Some(format!(
                "drift: changed on the target since the last import{what}; left as it is"
            )),
            drift: true,
            ops: Ops::default(),
        },
    };
    Change::decided(obj, d)
}

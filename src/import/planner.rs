//! Builds the import plan while the verified snapshot streams by: one decision per object, with
//! namespaces and mounts decided first so that the objects inside them know whether their parent
//! is new or refused, and drift flagged from the importer's records.

use std::collections::HashMap;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;

use super::{Snapshot, scan};
use crate::config::{ImportOptions, OnDrift};
use crate::error::{Error, one_line};
use crate::objects::{self, Detail, Object, Parent, Target};
use crate::plan::{Action, Change, Plan};
use crate::snapshot::reader::Scanned;
use crate::state::{Record, Records};

type Decision = (Action, Option<String>);

/// The plan, and the record each snapshot object will have once applied.
pub struct Planned {
    pub plan: Plan,
    pub seen: Records,
}

pub async fn build_plan(
    target: &Target,
    snapshot: &Snapshot,
    concurrency: usize,
    records: &Records,
    opts: &ImportOptions,
) -> crate::Result<Planned> {
    let (tx, rx) = mpsc::channel::<Scanned>(concurrency * 4);
    let reading = scan(snapshot, move |s| tx.blocking_send(s).is_ok());
    let planning = async move {
        let mut rx = rx;
        let mut out = Planned {
            plan: Plan::default(),
            seen: Records::new(),
        };
        let mut decisions: HashMap<Parent, Decision> = HashMap::new();
        let mut running: FuturesUnordered<BoxFuture<'_, Change>> = FuturesUnordered::new();
        let mut input_open = true;
        loop {
            while input_open && running.len() < concurrency {
                let Some(scanned) = rx.recv().await else {
                    input_open = false;
                    break;
                };
                let Scanned {
                    object,
                    entry,
                    sha256,
                } = scanned;
                if let Some((ns, delete)) = object.delete_target() {
                    let record = Record {
                        sha: sha256.clone(),
                        kind: object.kind(),
                        path: object.path(),
                        ns,
                        delete: Some(delete),
                        unsettled: false,
                    };
                    out.seen.insert(entry.clone(), record);
                }
                let record = records.get(&entry);
                let recorded = record.map(|r| r.sha == sha256);
                let trusted = recorded == Some(true) && record.is_some_and(|r| !r.unsettled);
                let inherited = inherited(target, &object, &decisions, &opts.state_mount);
                let own = object.as_parent();
                if let (None, Some(p)) = (&inherited, &own) {
                    // A parent: decide now, before its children arrive.
                    let change = plan_one(target, object, recorded, opts).await;
                    decisions.insert(p.clone(), (change.action, change.reason.clone()));
                    note(&mut out.plan, change);
                    continue;
                }
                if let (Some(p), Some((action, reason, _))) = (&own, &inherited) {
                    decisions.insert(p.clone(), (*action, reason.clone()));
                }
                if inherited.is_none() && trusted && !opts.full_check {
                    // Applied by an earlier import and unchanged in the source since: not read.
                    note(
                        &mut out.plan,
                        Change::with_detail(object, Action::Unchanged, None, Detail::None),
                    );
                    continue;
                }
                running.push(Box::pin(async move {
                    match inherited {
                        Some((action, reason, detail)) => {
                            Change::with_detail(object, action, reason, detail)
                        }
                        None => plan_one(target, object, recorded, opts).await,
                    }
                }));
            }
            match running.next().await {
                Some(change) => note(&mut out.plan, change),
                None if !input_open => break,
                None => {}
            }
        }
        Ok::<_, Error>(out)
    };
    let (read, planned) = tokio::join!(reading, planning);
    // Planning ends first on its own error (dropping the channel stops the reader), so its
    // error is the one worth reporting.
    let mut planned = match (read, planned) {
        (_, Err(e)) | (Err(e), Ok(_)) => return Err(e),
        (Ok(_), Ok(p)) => p,
    };
    planned.plan.sort();
    Ok(planned)
}

fn note(plan: &mut Plan, change: Change) {
    if change
        .reason
        .as_deref()
        .is_some_and(|r| r.starts_with(DRIFT))
    {
        plan.drifted += 1;
        tracing::warn!(kind = %change.kind, path = %change.path, action = ?change.action, "drift: changed on the target since the last import");
    }
    plan.push(change);
}

const DRIFT: &str = "drift";

/// A decision an object takes over from its parent (new, refused) or from the state mount guard.
fn inherited(
    target: &Target,
    obj: &Object,
    decisions: &HashMap<Parent, Decision>,
    state_mount: &str,
) -> Option<(Action, Option<String>, Detail)> {
    let own_state = match obj {
        Object::Mount(m) => m.namespace.is_empty() && m.path == state_mount,
        Object::KvSecret(s) => s.namespace.is_empty() && s.mount == state_mount,
        _ => false,
    };
    if own_state {
        let why = "the importer's own state mount is never written from a snapshot";
        return Some((Action::Refused, Some(why.into()), Detail::None));
    }
    match obj.parent().and_then(|p| decisions.get(&p)).cloned() {
        Some((Action::Create, _)) => Some(objects::plan_under_new_parent(target, obj)),
        Some((Action::Refused, why)) => Some((
            Action::Refused,
            Some(format!(
                "its parent is refused: {}",
                why.unwrap_or_default()
            )),
            Detail::None,
        )),
        _ => None,
    }
}

/// Plans one object against the target; a read failure fails this object only.
/// `recorded` is whether the importer's record of this object matches the snapshot entry: when
/// it does and the target still differs, the target drifted.
async fn plan_one(
    target: &Target,
    obj: Object,
    recorded: Option<bool>,
    opts: &ImportOptions,
) -> Change {
    let (action, reason, detail) = match objects::plan(target, &obj).await {
        Ok(p) => p,
        Err(e) => (Action::Failed, Some(one_line(&e)), Detail::None),
    };
    let drifted = recorded == Some(true) && matches!(action, Action::Create | Action::Update);
    if !drifted {
        return Change::with_detail(obj, action, reason, detail);
    }
    let what = reason.map(|r| format!(" ({r})")).unwrap_or_default();
    match opts.on_drift {
        OnDrift::Overwrite => Change::with_detail(
            obj,
            action,
            Some(format!(
                "{DRIFT}: changed on the target since the last import{what}; overwriting"
            )),
            detail,
        ),
        OnDrift::Skip | OnDrift::Fail => Change::with_detail(
            obj,
            if opts.on_drift == OnDrift::Skip {
                Action::Skipped
            } else {
                Action::Refused
            },
            Some(format!(
                "{DRIFT}: changed on the target since the last import{what}; left as it is"
            )),
            Detail::None,
        ),
    }
}

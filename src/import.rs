//! `import` and `verify`: fetch a snapshot, verify all of it before anything is written, plan
//! against the target, then apply the plan (or print it with `--dry-run`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::objects::{self, Detail, Object, Parent, Target};
use crate::plan::{self, Action, Change, Plan, Summary};
use crate::snapshot::catalog::{self, Fetched};
use crate::snapshot::{Limits, Manifest, reader};
use crate::store;
use crate::vault::VaultClient;

pub struct ImportOutcome {
    pub snapshot: String,
    pub plan: Option<Plan>,
    pub summary: Summary,
    pub writes: u64,
}

/// Downloads and fully verifies a snapshot. Any problem is `Error::Refused`.
pub async fn verify(settings: &Settings, id: &str) -> Result<(Fetched, Manifest)> {
    let store = store::open(&settings.store_url()?).await?;
    let fetched = catalog::fetch(store.as_ref(), id).await?;
    let manifest = scan(&fetched, |_| true).await?;
    tracing::info!(
        snapshot = %fetched.key,
        created_at = %manifest.created_at,
        source = %manifest.source.address,
        entries = manifest.entries.len(),
        "snapshot verified"
    );
    Ok((fetched, manifest))
}

async fn scan(
    fetched: &Fetched,
    on_object: impl FnMut(Object) -> bool + Send + 'static,
) -> Result<Manifest> {
    let path: PathBuf = fetched.file.to_path_buf();
    tokio::task::spawn_blocking(move || reader::scan(&path, Limits::default(), on_object))
        .await
        .map_err(|e| Error::refused(&fetched.key, format!("reader crashed: {e}")))?
        .map_err(|reason| Error::refused(&fetched.key, reason))
}

pub async fn run(settings: &Settings, id: &str, dry_run: bool) -> Result<ImportOutcome> {
    let vcfg = settings.vault()?;
    let userpass = settings.userpass_password()?;
    let client = VaultClient::new(&vcfg)?;
    let (fetched, manifest) = verify(settings, id).await?;
    let target = Target::load(client.clone(), &manifest.namespaces, userpass).await?;
    let plan = build_plan(&target, &fetched, vcfg.concurrency).await?;
    let writes_before = client.counters().writes.load(Ordering::Relaxed);
    let (plan, mut summary) = if dry_run {
        let summary = plan.summary();
        (Some(plan), summary)
    } else {
        (None, plan::apply(&target, plan, vcfg.concurrency).await)
    };
    summary.not_copied = manifest.not_copied;
    let writes = client.counters().writes.load(Ordering::Relaxed) - writes_before;
    tracing::info!(
        snapshot = %fetched.key,
        dry_run,
        writes,
        summary = %serde_json::to_string(&summary).unwrap_or_default(),
        "import finished"
    );
    Ok(ImportOutcome {
        snapshot: fetched.key,
        plan,
        summary,
        writes,
    })
}

type Decision = (Action, Option<String>);

/// Streams the verified snapshot and decides, object by object, what the target needs.
/// Namespaces and mounts are planned one at a time as they arrive (they come first), so that the
/// objects inside them know whether their parent is new or refused.
async fn build_plan(target: &Target, fetched: &Fetched, concurrency: usize) -> Result<Plan> {
    let (tx, rx) = mpsc::channel::<Object>(concurrency * 4);
    let reading = scan(fetched, move |obj| tx.blocking_send(obj).is_ok());
    let planning = async move {
        let mut rx = rx;
        let mut plan = Plan::default();
        let mut decisions: HashMap<Parent, Decision> = HashMap::new();
        let mut running: FuturesUnordered<BoxFuture<'_, Result<Change>>> = FuturesUnordered::new();
        let mut input_open = true;
        loop {
            while input_open && running.len() < concurrency {
                let Some(obj) = rx.recv().await else {
                    input_open = false;
                    break;
                };
                let inherited = obj.parent().and_then(|p| decisions.get(&p)).cloned();
                let ready = match inherited {
                    Some((Action::Create, _)) => Some(objects::plan_under_new_parent(target, &obj)),
                    Some((Action::Refused, why)) => Some((
                        Action::Refused,
                        Some(format!(
                            "its parent is refused: {}",
                            why.unwrap_or_default()
                        )),
                        Detail::None,
                    )),
                    _ => None,
                };
                let own = obj.as_parent();
                if let (None, Some(p)) = (&ready, &own) {
                    // A parent: decide now, before its children arrive.
                    let (action, reason, detail) = objects::plan(target, &obj).await?;
                    decisions.insert(p.clone(), (action, reason.clone()));
                    plan.push(Change::with_detail(obj, action, reason, detail));
                    continue;
                }
                if let (Some(p), Some((action, reason, _))) = (&own, &ready) {
                    decisions.insert(p.clone(), (*action, reason.clone()));
                }
                running.push(Box::pin(async move {
                    let (action, reason, detail) = match ready {
                        Some(r) => r,
                        None => objects::plan(target, &obj).await?,
                    };
                    Ok(Change::with_detail(obj, action, reason, detail))
                }));
            }
            match running.next().await {
                Some(change) => plan.push(change?),
                None if !input_open => break,
                None => {}
            }
        }
        Ok::<_, Error>(plan)
    };
    let (read, plan) = tokio::join!(reading, planning);
    // Planning ends first on its own error (dropping the channel stops the reader), so its
    // error is the one worth reporting.
    let mut plan = match (read, plan) {
        (_, Err(e)) | (Err(e), Ok(_)) => return Err(e),
        (Ok(_), Ok(plan)) => plan,
    };
    plan.sort();
    Ok(plan)
}

//! `import` and `verify`: fetch a snapshot, verify all of it before anything is written, plan
//! against the target, then apply the plan (or print it with `--dry-run`).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::objects::{Object, kv, mounts, policies};
use crate::plan::{self, Action, Change, Plan, Summary};
use crate::snapshot::catalog::{self, Fetched};
use crate::snapshot::{Limits, Manifest, reader};
use crate::store;
use crate::vault::{MountEntry, VaultClient, mount_table};

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
    let client = VaultClient::new(&vcfg)?;
    let (fetched, _manifest) = verify(settings, id).await?;
    let plan = build_plan(&client, &fetched, vcfg.concurrency).await?;
    let writes_before = client.counters().writes.load(Ordering::Relaxed);
    let (plan, summary) = if dry_run {
        let summary = plan.summary();
        (Some(plan), summary)
    } else {
        (None, plan::apply(&client, plan, vcfg.concurrency).await)
    };
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

/// Streams the verified snapshot and decides, object by object, what the target needs.
async fn build_plan(client: &VaultClient, fetched: &Fetched, concurrency: usize) -> Result<Plan> {
    let table = mount_table(client).await?;
    let (tx, mut rx) = mpsc::channel::<Object>(concurrency * 4);
    let reading = scan(fetched, move |obj| tx.blocking_send(obj).is_ok());

    let table = &table;
    let planning = async move {
        let mut plan = Plan::default();
        // Decisions on the snapshot's mounts; they arrive before the secrets inside them.
        let mut mount_actions: HashMap<String, (Action, Option<String>)> = HashMap::new();
        let mut running: FuturesUnordered<BoxFuture<'_, Result<Change>>> = FuturesUnordered::new();
        let mut input_open = true;
        loop {
            while input_open && running.len() < concurrency {
                match rx.recv().await {
                    Some(obj) => running.push(plan_one(client, table, &mut mount_actions, obj)),
                    None => input_open = false,
                }
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

fn plan_one<'a>(
    client: &'a VaultClient,
    table: &'a BTreeMap<String, MountEntry>,
    mount_actions: &mut HashMap<String, (Action, Option<String>)>,
    obj: Object,
) -> BoxFuture<'a, Result<Change>> {
    match obj {
        Object::Mount(m) => {
            let (action, reason) = mounts::diff(&m, table.get(&m.path));
            mount_actions.insert(m.path.clone(), (action, reason.clone()));
            Box::pin(async move { Ok(Change::new(Object::Mount(m), action, reason)) })
        }
        Object::Policy(p) => Box::pin(async move {
            let current = policies::current(client, &p.name).await?;
            let (action, reason) = policies::diff(&p, current.as_deref());
            Ok(Change::new(Object::Policy(p), action, reason))
        }),
        Object::KvSecret(s) => {
            let mount = mount_decision(mount_actions, table, &s.mount);
            Box::pin(async move {
                let (action, reason) = match mount {
                    (Action::Create, _) => (Action::Create, None),
                    (Action::Refused, why) => (
                        Action::Refused,
                        Some(format!(
                            "mount {} refused: {}",
                            s.mount,
                            why.unwrap_or_default()
                        )),
                    ),
                    _ => {
                        let current = kv::current(client, &s.mount, &s.path).await?;
                        kv::diff(&s, current.as_ref())
                    }
                };
                Ok(Change::new(Object::KvSecret(s), action, reason))
            })
        }
    }
}

/// What the plan does with a secret's mount: the decision on the snapshot's own mount entry, or,
/// for a mount the snapshot does not carry, whether the target already has it as KV-v2.
fn mount_decision(
    mount_actions: &HashMap<String, (Action, Option<String>)>,
    table: &BTreeMap<String, MountEntry>,
    mount: &str,
) -> (Action, Option<String>) {
    if let Some(decided) = mount_actions.get(mount) {
        return decided.clone();
    }
    match table.get(mount) {
        Some(m) if m.is_kv_v2() && !m.local => (Action::Unchanged, None),
        _ => (
            Action::Refused,
            Some("its mount is neither in the snapshot nor a kv-v2 mount on the target".into()),
        ),
    }
}

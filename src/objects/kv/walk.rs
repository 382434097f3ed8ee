//! The export walk of one KV mount: recursive listing and reading with at most `concurrency`
//! requests in flight, handing each secret on as soon as it is read.

use std::collections::VecDeque;

use futures::stream::{FuturesUnordered, StreamExt};
use serde_json::{Map, Value};

use super::listing::{self, Lister, Page};
use super::{MetaInfo, Secret, State, Version, meta};
use crate::error::Result;
use crate::objects::{Known, Mark, Object};
use crate::vault::VaultClient;

/// What the walk finds at one key.
pub enum Found {
    /// A secret read, with its metadata's mark (KV-v2).
    Secret(Box<Secret>, Option<Mark>),
    /// A secret whose metadata has the mark the last export saw (`Known`): not read, and named
    /// only (no data, state or metadata).
    Unchanged(Box<Secret>, Mark),
    /// Something about a key that could not be copied, with the reason.
    NotCopied { path: String, reason: String },
}

enum Work {
    /// A folder, from the key after `after` when it is not the first page.
    List {
        folder: String,
        after: Option<String>,
    },
    /// A key, with its metadata when the listing gave it.
    Read(String, Option<MetaInfo>),
}

enum Done {
    Listed(String, Page),
    Read(Vec<Found>),
}

/// What to walk: which mount, in which namespace, and how much of each secret.
pub struct Walk<'a> {
    pub client: &'a VaultClient,
    pub namespace: &'a str,
    pub mount: &'a str,
    pub kv_version: u8,
    pub history: bool,
    /// What the last export saw, for a delta export (`Source::known`).
    pub known: Option<&'a dyn Known>,
}

/// Walks every key of the mount, handing each secret to `sink`.
pub async fn export_mount(
    walk: &Walk<'_>,
    concurrency: usize,
    mut sink: impl FnMut(Found) -> Result<()>,
) -> Result<()> {
    let (lister, root) = listing::first_page(walk.client, walk.mount, walk.kv_version).await?;
    let mut queue = VecDeque::new();
    let mut running = FuturesUnordered::new();
    let mut listed = Some(Done::Listed(String::new(), root));
    loop {
        match listed.take() {
            Some(Done::Listed(folder, page)) => {
                if let Some(after) = page.next {
                    queue.push_back(Work::List {
                        folder: folder.clone(),
                        after: Some(after),
                    });
                }
                for (key, meta) in page.keys {
                    let full = format!("{folder}{key}");
                    if key.ends_with('/') {
                        queue.push_back(Work::List {
                            folder: full,
                            after: None,
                        });
                    } else {
                        // Reads go first, so the queue holds folders rather than every key.
                        queue.push_front(Work::Read(full, meta));
                    }
                }
            }
            Some(Done::Read(found)) => {
                for f in found {
                    sink(f)?;
                }
            }
            None => {}
        }
        while running.len() < concurrency.max(1) {
            let Some(work) = queue.pop_front() else { break };
            running.push(run(walk, lister, work));
        }
        let Some(done) = running.next().await else {
            break;
        };
        listed = Some(done?);
    }
    Ok(())
}

async fn run(walk: &Walk<'_>, lister: Lister, work: Work) -> Result<Done> {
    match work {
        Work::List { folder, after } => {
            let (client, mount) = (walk.client, walk.mount);
            let page = match listing::page(client, mount, lister, &folder, after.as_deref()).await {
                // A subtree the token may not list with metadata is listed plainly.
                Err(e) if lister == Lister::Detailed && after.is_none() && e.is_forbidden() => {
                    listing::page(client, mount, Lister::Plain, &folder, None).await?
                }
                page => page?,
            };
            Ok(Done::Listed(folder, page))
        }
        Work::Read(path, meta) => Ok(Done::Read(match walk.kv_version {
            2 => read_v2(walk, path, meta).await?,
            _ => read_v1(walk, path).await?.into_iter().collect(),
        })),
    }
}

fn secret(walk: &Walk<'_>, path: String) -> Secret {
    Secret {
        namespace: walk.namespace.to_string(),
        mount: walk.mount.to_string(),
        path,
        kv_version: walk.kv_version,
        data: None,
        state: State::Live,
        metadata: None,
        history: None,
    }
}

async fn read_v1(walk: &Walk<'_>, path: String) -> Result<Option<Found>> {
    let data = read_data(walk.client, &format!("{}{path}", walk.mount), "", "/data").await?;
    Ok(data.map(|d| {
        let mut s = secret(walk, path);
        s.data = Some(d);
        Found::Secret(Box::new(s), None)
    }))
}

async fn read_v2(walk: &Walk<'_>, path: String, listed: Option<MetaInfo>) -> Result<Vec<Found>> {
    let listed = match listed {
        Some(m) => Some(m),
        None => meta::read(walk.client, walk.mount, &path).await?,
    };
    let Some(meta) = listed else {
        return Ok(Vec::new()); // deleted between list and read
    };
    let mut found = Vec::new();
    if let Some(known) = walk.known {
        let stub = Object::from(secret(walk, path.clone()));
        if known.unchanged(&stub, &meta.mark) {
            if walk.history {
                found.extend(unread_versions(walk, &path, &meta));
            }
            found.push(Found::Unchanged(Box::new(secret(walk, path)), meta.mark));
            return Ok(found);
        }
    }
    let mut s = secret(walk, path);
    s.metadata = Some(meta.metadata.clone());
    s.state = meta.latest_state().unwrap_or(State::Deleted);
    if s.state == State::Live {
        s.data = read_version(walk, &s.path, meta.current_version).await?;
        if s.data.is_none() {
            // Deleted or destroyed since its metadata was read: copied as deleted, never empty.
            s.state = State::Deleted;
        }
    }
    if walk.history {
        let mut history = Vec::with_capacity(meta.versions.len());
        for (version, state) in &meta.versions {
            let data = match state {
                State::Live if *version == meta.current_version => s.data.clone(),
                State::Live => read_version(walk, &s.path, *version).await?,
                State::Deleted => {
                    found.push(soft_deleted(&s, *version));
                    None
                }
                State::Destroyed => None,
            };
            history.push(Version {
                version: *version,
                state: *state,
                data,
            });
        }
        s.history = Some(history);
    }
    found.push(Found::Secret(Box::new(s), Some(meta.mark)));
    Ok(found)
}

/// What a history export says of a soft-deleted version of `s`.
fn soft_deleted(s: &Secret, version: u64) -> Found {
    Found::NotCopied {
        path: format!("{}@{version}", s.full_path()),
        reason: "a soft-deleted version's data cannot be read; replayed as deleted".into(),
    }
}

/// What a history export says of an unchanged secret's versions without reading any: the same
/// as when it read them.
fn unread_versions(walk: &Walk<'_>, path: &str, meta: &MetaInfo) -> Vec<Found> {
    let s = secret(walk, path.to_string());
    let deleted = meta.versions.iter().filter(|(_, st)| *st == State::Deleted);
    deleted.map(|(v, _)| soft_deleted(&s, *v)).collect()
}

async fn read_version(
    walk: &Walk<'_>,
    path: &str,
    version: u64,
) -> Result<Option<Map<String, Value>>> {
    let api = format!("{}data/{path}", walk.mount);
    read_data(
        walk.client,
        &api,
        &format!("version={version}"),
        "/data/data",
    )
    .await
}

/// GETs `path` and takes the object at `pointer`, if any.
pub(super) async fn read_data(
    client: &VaultClient,
    path: &str,
    query: &str,
    pointer: &str,
) -> Result<Option<Map<String, Value>>> {
    Ok(client.read_query(path, query).await?.and_then(|mut b| {
        match b.pointer_mut(pointer).map(Value::take) {
            Some(Value::Object(m)) => Some(m),
            _ => None,
        }
    }))
}

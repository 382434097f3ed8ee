//! What an import knows about the target's KV-v2 secrets before reading any of them. A mount that
//! was empty when first asked holds none of the snapshot's secrets; on OpenBao, a folder's
//! `detailed-metadata/` listing shows which secrets exist, with their metadata. Either way one
//! request stands in for a metadata read per secret. The writes that follow carry `cas` set to
//! the version seen, so a secret that changed in the meantime makes its write fail, not vanish.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

use super::listing::{self, Lister};
use super::{MetaInfo, Secret};
use crate::error::Result;
use crate::vault::VaultClient;

/// Folder listings held at once: the snapshot is sorted by name, so a folder's secrets arrive
/// together and only the few in flight are needed.
const FOLDERS_HELD: usize = 16;

/// What is known about one secret on the target.
#[derive(Debug, Clone, PartialEq)]
pub enum Known {
    Absent,
    Present(MetaInfo),
    /// Not known without reading it.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MountState {
    Empty,
    /// Its folders can be listed with their metadata.
    Detailed,
    Plain,
}

/// A folder's secrets and their metadata (`None` where the listing's entry did not read as
/// metadata); `None` when the folder is over one page.
type Folder = Option<HashMap<String, Option<MetaInfo>>>;
type Once<T> = Arc<OnceCell<T>>;
/// Namespace, mount, and (for folders) the folder inside it.
type Key = (String, String, String);

/// The import's knowledge of the target's KV-v2 mounts and of the folders it listed lately.
#[derive(Default)]
pub struct TargetKv {
    mounts: Mutex<HashMap<Key, Once<MountState>>>,
    folders: Mutex<Held>,
}

/// The folders listed lately, oldest first in `order`.
#[derive(Default)]
struct Held {
    by_key: HashMap<Key, Once<Folder>>,
    order: VecDeque<Key>,
}

impl TargetKv {
    /// Forgets what was found so far (a new pass over the snapshot starts).
    pub fn forget(&self) {
        *self.mounts.lock().unwrap_or_else(PoisonError::into_inner) = HashMap::new();
        *self.folders.lock().unwrap_or_else(PoisonError::into_inner) = Default::default();
    }

    /// What the target holds at `s`, as far as it is known without reading the secret itself.
    pub async fn known(&self, client: &VaultClient, s: &Secret) -> Result<Known> {
        if s.kv_version != 2 {
            return Ok(Known::Unknown);
        }
        match self.mount_state(client, s).await? {
            MountState::Empty => return Ok(Known::Absent),
            MountState::Plain => return Ok(Known::Unknown),
            MountState::Detailed => {}
        }
        let (folder, name) = match s.path.rsplit_once('/') {
            Some((f, n)) => (format!("{f}/"), n),
            None => (String::new(), s.path.as_str()),
        };
        let key = (s.namespace.clone(), s.mount.clone(), folder);
        let cell = {
            let mut held = self.folders.lock().unwrap_or_else(PoisonError::into_inner);
            if !held.by_key.contains_key(&key) {
                if held.order.len() >= FOLDERS_HELD
                    && let Some(oldest) = held.order.pop_front()
                {
                    held.by_key.remove(&oldest);
                }
                held.order.push_back(key.clone());
            }
            Arc::clone(held.by_key.entry(key.clone()).or_default())
        };
        let folder = cell
            .get_or_try_init(|| async {
                let page =
                    match listing::page(client, &s.mount, Lister::Detailed, &key.2, None).await {
                        // A subtree the token may not list with metadata: read each secret.
                        Err(e) if e.is_forbidden() => return Ok(None),
                        page => page?,
                    };
                let listed = page.next.is_none().then(|| {
                    page.keys
                        .into_iter()
                        .filter(|(k, _)| !k.ends_with('/'))
                        .collect::<HashMap<_, _>>()
                });
                Ok::<_, crate::Error>(listed)
            })
            .await?;
        Ok(match folder {
            None => Known::Unknown,
            Some(secrets) => match secrets.get(name) {
                None => Known::Absent,
                Some(Some(meta)) => Known::Present(meta.clone()),
                Some(None) => Known::Unknown,
            },
        })
    }

    /// Whether the mount was empty, and how its folders can be listed, found out once.
    async fn mount_state(&self, client: &VaultClient, s: &Secret) -> Result<MountState> {
        let cell = {
            let mut mounts = self.mounts.lock().unwrap_or_else(PoisonError::into_inner);
            let key = (s.namespace.clone(), s.mount.clone(), String::new());
            Arc::clone(mounts.entry(key).or_default())
        };
        let state = cell
            .get_or_try_init(|| async {
                let detailed = format!("{}detailed-metadata/", s.mount);
                match client.list_query(&detailed, "limit=1").await {
                    Ok(Some(body)) if body.pointer("/data/key_info").is_some() => {
                        return Ok(MountState::Detailed);
                    }
                    Ok(_) => {}
                    Err(e) if e.is_forbidden() => {}
                    Err(e) => return Err(e),
                }
                match client
                    .list_query(&format!("{}metadata/", s.mount), "limit=1")
                    .await
                {
                    Ok(None) => Ok(MountState::Empty),
                    Ok(Some(_)) => Ok(MountState::Plain),
                    // Not allowed to look: read each secret instead.
                    Err(e) if e.is_forbidden() => Ok(MountState::Plain),
                    Err(e) => Err(e),
                }
            })
            .await?;
        Ok(*state)
    }
}

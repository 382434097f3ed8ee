//! KV-v2 secrets: a recursive, bounded-concurrency walk of a mount on export; a read-compare-write
//! of the latest version on import, so a secret that already matches gets no new version.

use std::collections::VecDeque;
use std::fmt;

use futures::stream::{FuturesUnordered, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::Result;
use crate::plan::Action;
use crate::vault::VaultClient;

/// The latest data of one KV-v2 secret. Its `Debug` never shows the values.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Secret {
    /// Mount path with its trailing slash, e.g. `secret/`.
    pub mount: String,
    /// Key inside the mount, e.g. `team/app/db`.
    pub path: String,
    pub data: Map<String, Value>,
}

impl Secret {
    pub fn full_path(&self) -> String {
        format!("{}{}", self.mount, self.path)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("mount", &self.mount)
            .field("path", &self.path)
            .field(
                "data",
                &format_args!("<{} redacted fields>", self.data.len()),
            )
            .finish()
    }
}

/// What the walk finds at one key.
pub enum Found {
    Secret(Secret),
    /// A key that is listed but has no readable latest data, with the reason.
    Skipped {
        path: String,
        reason: String,
    },
}

enum Work {
    List(String),
    Read(String),
}

enum Done {
    Listed(String, Vec<String>),
    Read(String, Option<Map<String, Value>>),
}

/// Walks every key of a KV-v2 mount, keeping at most `concurrency` requests in flight, and hands
/// each secret to `sink` as soon as it is read.
pub async fn export_mount(
    client: &VaultClient,
    mount: &str,
    concurrency: usize,
    mut sink: impl FnMut(Found) -> Result<()>,
) -> Result<()> {
    let mut queue = VecDeque::from([Work::List(String::new())]);
    let mut running = FuturesUnordered::new();
    loop {
        while running.len() < concurrency.max(1) {
            let Some(work) = queue.pop_front() else { break };
            running.push(run(client, mount, work));
        }
        let Some(done) = running.next().await else {
            break;
        };
        match done? {
            Done::Listed(prefix, keys) => {
                for key in keys {
                    let full = format!("{prefix}{key}");
                    if key.ends_with('/') {
                        queue.push_back(Work::List(full));
                    } else {
                        // Reads go first, so the queue holds folders rather than every key.
                        queue.push_front(Work::Read(full));
                    }
                }
            }
            Done::Read(path, Some(data)) => sink(Found::Secret(Secret {
                mount: mount.to_string(),
                path,
                data,
            }))?,
            Done::Read(path, None) => sink(Found::Skipped {
                path: format!("{mount}{path}"),
                reason: "latest version is deleted or destroyed".into(),
            })?,
        }
    }
    Ok(())
}

async fn run(client: &VaultClient, mount: &str, work: Work) -> Result<Done> {
    match work {
        Work::List(prefix) => {
            let keys = client.list(&format!("{mount}metadata/{prefix}")).await?;
            Ok(Done::Listed(prefix, keys))
        }
        Work::Read(path) => {
            let data = current(client, mount, &path).await?;
            Ok(Done::Read(path, data))
        }
    }
}

/// The latest data of a secret, or `None` when it does not exist or its latest version is
/// deleted or destroyed.
pub async fn current(
    client: &VaultClient,
    mount: &str,
    path: &str,
) -> Result<Option<Map<String, Value>>> {
    let body = client.read(&format!("{mount}data/{path}")).await?;
    Ok(
        body.and_then(|mut b| match b.pointer_mut("/data/data").map(Value::take) {
            Some(Value::Object(m)) => Some(m),
            _ => None,
        }),
    )
}

pub fn diff(desired: &Secret, current: Option<&Map<String, Value>>) -> (Action, Option<String>) {
    match current {
        None => (Action::Create, None),
        Some(cur) if *cur == desired.data => (Action::Unchanged, None),
        Some(_) => (Action::Update, Some("data differs".into())),
    }
}

pub async fn apply(client: &VaultClient, desired: &Secret) -> Result<()> {
    let path = format!("{}data/{}", desired.mount, desired.path);
    client
        .write(&path, &json!({ "data": desired.data }))
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(v: Value) -> Secret {
        Secret {
            mount: "secret/".into(),
            path: "a/b".into(),
            data: v.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn diff_compares_whole_data_maps() {
        let s = secret(json!({"user": "u", "pass": "p"}));
        assert_eq!(diff(&s, None).0, Action::Create);
        let same = json!({"pass": "p", "user": "u"});
        assert_eq!(diff(&s, same.as_object()).0, Action::Unchanged);
        let changed = json!({"user": "u", "pass": "q"});
        assert_eq!(diff(&s, changed.as_object()).0, Action::Update);
        let extra = json!({"user": "u", "pass": "p", "x": 1});
        assert_eq!(diff(&s, extra.as_object()).0, Action::Update);
    }

    #[test]
    fn debug_hides_values() {
        let s = secret(json!({"pass": "hunter2"}));
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("a/b"));
    }
}

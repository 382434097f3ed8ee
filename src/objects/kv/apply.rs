//! Import of one KV secret: read what the target has, work out the smallest set of writes, and
//! make them with `cas` pinned to the version the plan saw.

use serde_json::{Map, Value, json};

use super::walk::read_data;
use super::{Known, MetaInfo, Secret, State, Version, meta};
use crate::error::Result;
use crate::model::Action;
use crate::vault::VaultClient;

/// What a KV secret's import has to do, decided at plan time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KvOps {
    /// The target's current version, sent as `cas` with the first data write.
    pub cas: u64,
    pub write_data: bool,
    /// Delete or destroy the (new) latest version afterwards, to match the source.
    pub end_state: Option<State>,
    pub write_meta: bool,
    /// Replay every version of the snapshot's history (the target has no such secret yet).
    pub replay: bool,
    /// Older versions to delete or destroy, to match the source's history.
    pub older: Vec<(u64, State)>,
}

/// The secret as the target has it.
#[derive(Debug, Default)]
pub struct Current {
    pub meta: Option<MetaInfo>,
    pub data: Option<Map<String, Value>>,
}

/// Reads what the target holds at `s`, starting from what is `known` about it already.
pub async fn current(client: &VaultClient, s: &Secret, known: Known) -> Result<Current> {
    if s.kv_version != 2 {
        let data = read_data(client, &format!("{}{}", s.mount, s.path), "", "/data").await?;
        return Ok(Current { meta: None, data });
    }
    let meta = match known {
        Known::Absent => return Ok(Current::default()),
        Known::Present(m) => Some(m),
        Known::Unknown => meta::read(client, &s.mount, &s.path).await?,
    };
    let data = match &meta {
        Some(m) if m.latest_state() == Some(State::Live) => {
            let api = format!("{}data/{}", s.mount, s.path);
            let query = format!("version={}", m.current_version);
            read_data(client, &api, &query, "/data/data").await?
        }
        _ => None,
    };
    Ok(Current { meta, data })
}

pub fn diff(desired: &Secret, cur: &Current) -> (Action, Option<String>, KvOps) {
    let mut ops = KvOps::default();
    if desired.kv_version != 2 {
        return match &cur.data {
            None => (Action::Create, None, ops),
            Some(d) if Some(d) == desired.data.as_ref() => (Action::Unchanged, None, ops),
            Some(_) => (Action::Update, Some("data differs".into()), ops),
        };
    }
    let exists = cur.meta.is_some();
    ops.cas = cur.meta.as_ref().map_or(0, |m| m.current_version);
    let target_state = cur.meta.as_ref().and_then(MetaInfo::latest_state);
    let target_live = target_state == Some(State::Live);
    let desired_meta = desired.metadata.clone().unwrap_or_default().normalized();
    if !exists && desired.history.as_ref().is_some_and(|h| !h.is_empty()) {
        ops.replay = true;
        ops.write_meta = !desired_meta.is_default();
        return (Action::Create, Some("replaying history".into()), ops);
    }
    let mut reasons = Vec::new();
    if desired.state == State::Live {
        if !target_live || cur.data != desired.data {
            ops.write_data = true;
            reasons.push("data differs");
        }
    } else if target_live {
        ops.end_state = Some(desired.state);
        reasons.push(if desired.state == State::Destroyed {
            "latest version destroyed on the source"
        } else {
            "latest version deleted on the source"
        });
    } else if desired.state == State::Destroyed && target_state == Some(State::Deleted) {
        // A soft-deleted version can be undeleted: its data is gone only once destroyed.
        ops.end_state = Some(State::Destroyed);
        reasons.push("latest version destroyed on the source");
    }
    if let (Some(history), Some(m)) = (&desired.history, &cur.meta) {
        ops.older = older_ends(history, m);
        if !ops.older.is_empty() {
            reasons.push("older versions deleted or destroyed on the source");
        }
    }
    ops.write_meta = match &cur.meta {
        Some(m) => m.metadata.normalized() != desired_meta,
        None => !desired_meta.is_default(),
    };
    if ops.write_meta {
        reasons.push("metadata differs");
    }
    let action = match (reasons.is_empty(), exists) {
        (true, _) => Action::Unchanged,
        (false, false) => Action::Create,
        (false, true) => Action::Update,
    };
    let reason = (exists && !reasons.is_empty()).then(|| reasons.join(", "));
    (action, reason, ops)
}

/// With history, the states of older versions follow too, but only while the target's versions
/// are the source's one for one (the same numbers: it was replayed and kept step since), so that a
/// version number names the same data on both sides. Otherwise older versions are left alone.
fn older_ends(history: &[Version], target: &MetaInfo) -> Vec<(u64, State)> {
    let same = history.len() == target.versions.len()
        && history
            .iter()
            .zip(&target.versions)
            .all(|(h, (n, _))| h.version == *n);
    if !same {
        return Vec::new();
    }
    history
        .iter()
        .zip(&target.versions)
        .filter(|(_, (n, _))| *n != target.current_version)
        .filter_map(|(h, (n, theirs))| match (h.state, theirs) {
            (State::Destroyed, State::Live | State::Deleted) => Some((*n, State::Destroyed)),
            (State::Deleted, State::Live) => Some((*n, State::Deleted)),
            _ => None,
        })
        .collect()
}

pub async fn apply(client: &VaultClient, s: &Secret, ops: &KvOps) -> Result<()> {
    if s.kv_version != 2 {
        let body = Value::Object(s.data.clone().unwrap_or_default());
        return client
            .write(&format!("{}{}", s.mount, s.path), &body)
            .await
            .map(|_| ());
    }
    if ops.write_meta {
        let m = s.metadata.clone().unwrap_or_default();
        let body = serde_json::to_value(&m).unwrap_or_default();
        client
            .write(&format!("{}metadata/{}", s.mount, s.path), &body)
            .await?;
    }
    if ops.replay {
        for (i, v) in s.history.iter().flatten().enumerate() {
            let version = i as u64 + 1;
            write_version(client, s, v.data.clone().unwrap_or_default(), i as u64).await?;
            end_version(client, s, v.state, version).await?;
        }
        return Ok(());
    }
    let mut latest = ops.cas;
    if ops.write_data {
        write_version(client, s, s.data.clone().unwrap_or_default(), ops.cas).await?;
        latest += 1;
    }
    if let Some(state) = ops.end_state {
        end_version(client, s, state, latest).await?;
    }
    for (version, state) in &ops.older {
        end_version(client, s, *state, *version).await?;
    }
    Ok(())
}

async fn write_version(
    client: &VaultClient,
    s: &Secret,
    data: Map<String, Value>,
    cas: u64,
) -> Result<()> {
    let path = format!("{}data/{}", s.mount, s.path);
    let body = json!({ "data": data, "options": { "cas": cas } });
    match client.write(&path, &body).await {
        Ok(_) => Ok(()),
        // An earlier attempt of this very write may have landed with its answer lost, and the
        // retry found the version moved on: the version after `cas` holding this data is it.
        Err(e) if e.is_cas_mismatch() && version_holds(client, &path, cas + 1, &data).await => {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Whether `version` of the secret at `path` (its `data/` path) holds exactly `data`.
async fn version_holds(
    client: &VaultClient,
    path: &str,
    version: u64,
    data: &Map<String, Value>,
) -> bool {
    let read = client.read_query(path, &format!("version={version}")).await;
    read.ok()
        .flatten()
        .and_then(|r| r.pointer("/data/data").cloned())
        .is_some_and(|d| d.as_object() == Some(data))
}

async fn end_version(client: &VaultClient, s: &Secret, state: State, version: u64) -> Result<()> {
    let verb = match state {
        State::Live => return Ok(()),
        State::Deleted => "delete",
        State::Destroyed => "destroy",
    };
    client
        .write(
            &format!("{}{verb}/{}", s.mount, s.path),
            &json!({ "versions": [version] }),
        )
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::super::Metadata;
    use super::*;

    fn secret(state: State, data: Option<Value>) -> Secret {
        Secret {
            namespace: String::new(),
            mount: "secret/".into(),
            path: "a".into(),
            kv_version: 2,
            data: data.and_then(|d| d.as_object().cloned()),
            state,
            metadata: Some(Metadata::default()),
            history: None,
        }
    }

    fn target(version: u64, state: State, data: Option<Value>) -> Current {
        Current {
            meta: Some(MetaInfo {
                current_version: version,
                metadata: Metadata::default(),
                versions: vec![(version, state)],
                mark: [0; 16],
            }),
            data: data.and_then(|d| d.as_object().cloned()),
        }
    }

    #[test]
    fn equal_live_secret_is_unchanged() {
        let v = json!({"k": "v"});
        let (action, _, ops) = diff(
            &secret(State::Live, Some(v.clone())),
            &target(4, State::Live, Some(v)),
        );
        assert_eq!(action, Action::Unchanged);
        assert_eq!(
            ops,
            KvOps {
                cas: 4,
                ..KvOps::default()
            }
        );
    }

    #[test]
    fn changed_data_is_written_with_the_targets_version_as_cas() {
        let (action, _, ops) = diff(
            &secret(State::Live, Some(json!({"k": "new"}))),
            &target(4, State::Live, Some(json!({"k": "old"}))),
        );
        assert_eq!(action, Action::Update);
        assert!(ops.write_data);
        assert_eq!(ops.cas, 4);
    }

    #[test]
    fn a_deleted_latest_is_deleted_on_the_target_not_revived() {
        let (action, reason, ops) = diff(
            &secret(State::Deleted, None),
            &target(2, State::Live, Some(json!({"k": "v"}))),
        );
        assert_eq!(action, Action::Update);
        assert!(!ops.write_data);
        assert_eq!(ops.end_state, Some(State::Deleted));
        assert!(reason.unwrap_or_default().contains("deleted"));
        // Already deleted on the target: nothing to do.
        let (action, _, _) = diff(
            &secret(State::Deleted, None),
            &target(2, State::Deleted, None),
        );
        assert_eq!(action, Action::Unchanged);
        // Absent on the target: it stays absent.
        let (action, _, _) = diff(&secret(State::Destroyed, None), &Current::default());
        assert_eq!(action, Action::Unchanged);
    }

    #[test]
    fn a_destroy_reaches_a_target_version_that_is_only_deleted() {
        let (action, _, ops) = diff(
            &secret(State::Destroyed, None),
            &target(2, State::Deleted, None),
        );
        assert_eq!(action, Action::Update);
        assert_eq!(
            (ops.end_state, ops.write_data),
            (Some(State::Destroyed), false)
        );
        let (action, _, _) = diff(
            &secret(State::Destroyed, None),
            &target(2, State::Destroyed, None),
        );
        assert_eq!(action, Action::Unchanged);
        // Deleted on the source, destroyed on the target: nothing can bring it back.
        let (action, _, _) = diff(
            &secret(State::Deleted, None),
            &target(2, State::Destroyed, None),
        );
        assert_eq!(action, Action::Unchanged);
    }

    fn history(states: &[(u64, State)]) -> Vec<Version> {
        states
            .iter()
            .map(|&(version, state)| Version {
                version,
                state,
                data: None,
            })
            .collect()
    }

    #[test]
    fn older_versions_follow_the_history_only_when_the_numbers_match_one_for_one() {
        let mut s = secret(State::Live, Some(json!({"k": "v"})));
        s.history = Some(history(&[
            (1, State::Destroyed),
            (2, State::Deleted),
            (3, State::Live),
        ]));
        let mut cur = target(3, State::Live, Some(json!({"k": "v"})));
        let meta = cur.meta.as_mut().unwrap();
        meta.versions = vec![(1, State::Deleted), (2, State::Live), (3, State::Live)];
        let (action, _, ops) = diff(&s, &cur);
        assert_eq!(action, Action::Update);
        assert_eq!(ops.older, [(1, State::Destroyed), (2, State::Deleted)]);
        assert!(!ops.write_data);
        // The target's versions are not the source's: a number may name other data there.
        let meta = cur.meta.as_mut().unwrap();
        meta.versions = vec![(2, State::Live), (3, State::Live)];
        let (action, _, ops) = diff(&s, &cur);
        assert_eq!((action, ops.older.len()), (Action::Unchanged, 0));
    }

    #[test]
    fn a_live_secret_over_a_deleted_target_version_is_written() {
        let (_, _, ops) = diff(
            &secret(State::Live, Some(json!({"k": "v"}))),
            &target(3, State::Deleted, None),
        );
        assert!(ops.write_data);
        assert_eq!(ops.cas, 3);
    }

    #[test]
    fn metadata_differences_are_written() {
        let mut s = secret(State::Live, Some(json!({"k": "v"})));
        s.metadata = Some(Metadata {
            max_versions: 3,
            ..Metadata::default()
        });
        let (action, _, ops) = diff(&s, &target(1, State::Live, Some(json!({"k": "v"}))));
        assert_eq!(action, Action::Update);
        assert!(ops.write_meta && !ops.write_data);
    }
}

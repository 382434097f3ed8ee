//! Reading a KV-v2 metadata answer (a `metadata/` read, or one entry of a `detailed-metadata/`
//! listing): the secret's settings, its current version, and the state of every version. A field
//! missing or of the wrong type is an error, never a silent default; a `deletion_time` counts
//! only once it has passed (`delete_version_after` gives live versions one in the future).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Metadata, State};
use crate::error::{Error, Result};
use crate::vault::VaultClient;

/// The parts of a KV-v2 metadata answer the tool uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetaInfo {
    pub current_version: u64,
    pub metadata: Metadata,
    /// Version number and state, oldest first.
    pub versions: Vec<(u64, State)>,
    /// What tells a change of the secret without reading its data: a digest of the whole answer
    /// (times of the secret and of every version included, so a secret deleted and written
    /// again is another) and of each version's state as of the read (a deletion time passing
    /// changes it too).
    pub mark: crate::objects::Mark,
}

impl MetaInfo {
    /// Reads a metadata answer's `data` as of now.
    pub fn from_answer(data: &Value) -> Result<Self, String> {
        Self::from_answer_at(data, Utc::now())
    }

    /// Reads a metadata answer's `data`, taking deletion times up to `now` as deletions.
    pub fn from_answer_at(data: &Value, now: DateTime<Utc>) -> Result<Self, String> {
        let field = |name: &str| data.get(name).ok_or_else(|| format!("no `{name}`"));
        let number = |name: &str| {
            field(name)?
                .as_u64()
                .ok_or_else(|| format!("`{name}` is not a number"))
        };
        let custom_metadata = match data.get("custom_metadata") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|_| "`custom_metadata` is not a map of strings".to_string())?,
        };
        let metadata = Metadata {
            custom_metadata,
            max_versions: number("max_versions")?,
            cas_required: field("cas_required")?
                .as_bool()
                .ok_or("`cas_required` is not a boolean")?,
            delete_version_after: field("delete_version_after")?
                .as_str()
                .ok_or("`delete_version_after` is not a string")?
                .to_string(),
        };
        let mut versions = Vec::new();
        let listed = field("versions")?;
        // A secret whose every version was trimmed away answers null here.
        for (n, v) in listed.as_object().into_iter().flatten() {
            let n = n
                .parse()
                .map_err(|_| format!("version `{n}` is not a number"))?;
            versions.push((
                n,
                state_of(v, now).map_err(|e| format!("version {n}: {e}"))?,
            ));
        }
        if !listed.is_null() && !listed.is_object() {
            return Err("`versions` is not a map".into());
        }
        versions.sort_by_key(|(n, _)| *n);
        Ok(MetaInfo {
            current_version: number("current_version")?,
            metadata,
            mark: mark(data, &versions),
            versions,
        })
    }

    /// The state of the current version, or `None` when there is no version at all.
    pub fn latest_state(&self) -> Option<State> {
        self.versions
            .iter()
            .find(|(n, _)| *n == self.current_version)
            .map(|(_, s)| *s)
    }
}

/// The mark of a metadata answer whose versions are, as of the read, in `states`.
fn mark(data: &Value, states: &[(u64, State)]) -> crate::objects::Mark {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"kv metadata v1\0");
    // `Value`'s maps are sorted: the same answer always serialises alike.
    h.update(serde_json::to_vec(data).unwrap_or_default());
    for (n, s) in states {
        h.update(n.to_le_bytes());
        h.update([*s as u8]);
    }
    let d: [u8; 32] = h.finalize().into();
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

/// A version's state: destroyed, deleted once its deletion time has passed, else live.
fn state_of(v: &Value, now: DateTime<Utc>) -> Result<State, String> {
    let destroyed = v
        .get("destroyed")
        .and_then(Value::as_bool)
        .ok_or("no boolean `destroyed`")?;
    let deletion = v
        .get("deletion_time")
        .and_then(Value::as_str)
        .ok_or("no `deletion_time`")?;
    if destroyed {
        return Ok(State::Destroyed);
    }
    if deletion.is_empty() {
        return Ok(State::Live);
    }
    let at = DateTime::parse_from_rfc3339(deletion)
        .map_err(|_| format!("`deletion_time` {deletion:?} is not a time"))?;
    Ok(if at <= now {
        State::Deleted
    } else {
        State::Live
    })
}

/// Reads the metadata of `path` in `mount`; `None` when there is no such secret. An answer that
/// does not read as metadata fails this secret with what is wrong with it.
pub async fn read(client: &VaultClient, mount: &str, path: &str) -> Result<Option<MetaInfo>> {
    let api = format!("{mount}metadata/{path}");
    let Some(answer) = client.read(&api).await? else {
        return Ok(None);
    };
    let data = answer.get("data").unwrap_or(&Value::Null);
    if data.is_null() {
        return Ok(None);
    }
    MetaInfo::from_answer(data)
        .map(Some)
        .map_err(|message| Error::VaultResponse {
            method: "GET",
            path: api,
            message: format!("unexpected metadata: {message}"),
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(t: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn metadata_answers_are_read_with_version_states() {
        let answer = json!({
            "current_version": 3, "max_versions": 7, "cas_required": false,
            "delete_version_after": "0s", "custom_metadata": {"owner": "ops"},
            "versions": {
                "1": {"deletion_time": "", "destroyed": true},
                "2": {"deletion_time": "2026-11-20T22:12:58Z", "destroyed": false},
                "3": {"deletion_time": "", "destroyed": false},
                "10": {"deletion_time": "", "destroyed": false}
            }
        });
        let m = MetaInfo::from_answer(&answer).unwrap();
        assert_eq!(m.current_version, 3);
        assert_eq!(m.metadata.max_versions, 7);
        assert_eq!(m.metadata.custom_metadata["owner"], "ops");
        assert_eq!(
            m.versions,
            vec![
                (1, State::Destroyed),
                (2, State::Deleted),
                (3, State::Live),
                (10, State::Live)
            ]
        );
        assert_eq!(m.latest_state(), Some(State::Live));
        assert!(!m.metadata.is_default());
    }

    // A secret with its own settings and no custom metadata: Vault answers
    // `"custom_metadata": null`, which made the whole parse default to 0/false/"".
    #[test]
    fn null_custom_metadata_keeps_the_secrets_own_settings() {
        let answer = json!({
            "current_version": 2, "max_versions": 2, "cas_required": true,
            "delete_version_after": "30m0s", "custom_metadata": null,
            "versions": {"2": {"deletion_time": "", "destroyed": false}}
        });
        let m = MetaInfo::from_answer(&answer).unwrap();
        assert!(m.metadata.custom_metadata.is_empty());
        assert_eq!(
            (m.metadata.max_versions, m.metadata.cas_required),
            (2, true)
        );
        assert_eq!(m.metadata.delete_version_after, "30m0s");
        let mut no_custom = answer.clone();
        no_custom.as_object_mut().unwrap().remove("custom_metadata");
        let without = MetaInfo::from_answer(&no_custom).unwrap();
        assert_ne!(without.mark, m.mark, "another answer is another mark");
        assert_eq!(
            MetaInfo {
                mark: m.mark,
                ..without
            },
            m
        );
    }

    #[test]
    fn a_missing_or_mistyped_field_is_an_error_not_a_default() {
        let good = json!({
            "current_version": 1, "max_versions": 0, "cas_required": false,
            "delete_version_after": "0s", "custom_metadata": null,
            "versions": {"1": {"deletion_time": "", "destroyed": false}}
        });
        for field in [
            "current_version",
            "max_versions",
            "cas_required",
            "delete_version_after",
            "versions",
        ] {
            let mut bad = good.clone();
            bad.as_object_mut().unwrap().remove(field);
            let err = MetaInfo::from_answer(&bad).unwrap_err();
            assert!(err.contains(field), "{field}: {err}");
        }
        for (field, value) in [
            ("max_versions", json!("2")),
            ("cas_required", json!("true")),
            ("custom_metadata", json!({"n": 1})),
            ("versions", json!({"1": {"destroyed": false}})),
            (
                "versions",
                json!({"1": {"deletion_time": "soon", "destroyed": false}}),
            ),
        ] {
            let mut bad = good.clone();
            bad[field] = value;
            assert!(MetaInfo::from_answer(&bad).is_err(), "{field}");
        }
    }

    // Under delete_version_after every live version carries a deletion_time in the future.
    #[test]
    fn a_deletion_time_counts_once_it_has_passed() {
        let answer = json!({
            "current_version": 1, "max_versions": 0, "cas_required": false,
            "delete_version_after": "1h0m0s", "custom_metadata": null,
            "versions": {"1": {"deletion_time": "2026-12-01T11:00:00.5Z", "destroyed": false}}
        });
        let before = MetaInfo::from_answer_at(&answer, at("2026-12-01T10:59:59Z")).unwrap();
        assert_eq!(before.latest_state(), Some(State::Live));
        let after = MetaInfo::from_answer_at(&answer, at("2026-12-01T11:00:01Z")).unwrap();
        assert_eq!(after.latest_state(), Some(State::Deleted));
    }
}

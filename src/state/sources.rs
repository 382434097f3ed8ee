//! Several sources into one cluster: each source's state (`meta`, `lease`, records, the prune
//! log) under keys of its own, so that imports from two sources (two store prefixes) never plan
//! to delete each other's objects. The first source to import keeps the keys at the top of the
//! mount, where every state before sources were told apart lives (the first source to import
//! after the upgrade takes such a state over, when it made that state's last snapshot); the
//! others go under `sources/<slug>/`.
//! A source can be fenced on its own (`fenced-sources/<slug>`, `promote --source`), and what the
//! other sources brought here is known by path (`Claimed`), so that two never write one object.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use sha2::Digest as _;

use super::{Fence, ImporterState, Meta};
use crate::error::{Error, Result};
use crate::objects::Kind;

/// The key part naming `source` (a store prefix): readable, and unique by its digest.
pub fn slug(source: &str) -> String {
    let readable: String = source
        .chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                true => c,
                false => '_',
            },
        )
        .take(48)
        .collect();
    let digest = sha2::Sha256::digest(source.as_bytes());
    format!("{readable}-{}", hex::encode(&digest[..4]))
}

/// What the other sources of a cluster brought to it, by kind and path.
#[derive(Debug, Default)]
pub struct Claimed {
    /// The source's index, and whether its import created the object (rather than found it).
    by: HashMap<u64, (usize, bool)>,
    sources: Vec<String>,
}

/// Another source's claim on an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub source: String,
    /// Its import created the object (a namespace or mount it created is its own).
    pub created: bool,
}

impl Claimed {
    /// The other source that brought the object of `kind` at `path` (`Object::path`) here.
    pub fn by(&self, kind: Kind, path: &str) -> Option<Claim> {
        let (i, created) = self.by.get(&claim_key(kind, path))?;
        let source = self.sources.get(*i)?.clone();
        Some(Claim {
            source,
            created: *created,
        })
    }
}

fn claim_key(kind: Kind, path: &str) -> u64 {
    let mut h = DefaultHasher::new();
    (kind, path).hash(&mut h);
    h.finish()
}

impl ImporterState {
    /// The state of the source `source` in this cluster: its own keys, the top of the mount when
    /// it holds this source's state or none yet, or a state from before sources were told apart
    /// that `made_here` says this source made (its last snapshot is in this source's store).
    pub async fn of_source(
        self,
        source: &str,
        made_here: impl AsyncFnOnce(&Meta) -> Result<bool>,
    ) -> Result<ImporterState> {
        let own = ImporterState {
            base: format!("sources/{}/", slug(source)),
            source: Some(source.to_string()),
            ..self.clone()
        };
        let top = ImporterState {
            source: Some(source.to_string()),
            ..self
        };
        if !top.mount_exists().await? {
            return Ok(top);
        }
        if own.meta().await?.is_some() {
            return Ok(own);
        }
        let takes_top = match top.meta().await? {
            None => true,
            Some(m) => match &m.source {
                Some(s) => s == source,
                None => made_here(&m).await?,
            },
        };
        Ok(if takes_top { top } else { own })
    }

    /// The source this state belongs to (`None` for the cluster's state).
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// Refuses to go on with `before`, this source's `meta` as read under its lease, when another
    /// source claimed these keys in the meantime (two first imports at the same moment).
    pub fn check_claim(&self, before: Option<&Meta>) -> Result<()> {
        match (before.and_then(|m| m.source.as_deref()), self.source()) {
            (Some(theirs), Some(ours)) if theirs != ours => Err(Error::refused(
                ours,
                format!(
                    "the importer's state here was just taken by the imports from {theirs}; \
                     nothing was written, and the next run keeps a state of its own"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Every source's state in this cluster, the first source's (the top of the mount) first,
    /// with the source its `meta` names (`None` before its first import has saved one, or for a
    /// state from before sources were told apart).
    pub async fn sources(&self) -> Result<Vec<(Option<String>, ImporterState)>> {
        let top = ImporterState {
            base: String::new(),
            source: None,
            ..self.clone()
        };
        let mut out = Vec::new();
        if !top.mount_exists().await? {
            return Ok(out);
        }
        if let Some(m) = top.meta().await? {
            let state = ImporterState {
                source: m.source.clone(),
                ..top.clone()
            };
            out.push((m.source, state));
        }
        let listed = self
            .client
            .list(&format!("{}metadata/sources", self.mount))
            .await?;
        for dir in listed.iter().filter(|k| k.ends_with('/')) {
            let state = ImporterState {
                base: format!("sources/{dir}"),
                ..top.clone()
            };
            let source = state.meta().await?.and_then(|m| m.source);
            let state = ImporterState {
                source: source.clone(),
                ..state
            };
            out.push((source, state));
        }
        Ok(out)
    }

    /// What every other source brought to this cluster, by path.
    pub async fn claimed_elsewhere(&self) -> Result<Claimed> {
        let mut claimed = Claimed::default();
        for (source, state) in self.sources().await? {
            if state.base == self.base {
                continue;
            }
            let i = claimed.sources.len();
            claimed
                .sources
                .push(source.unwrap_or_else(|| "an importer older than sources".into()));
            state
                .each_record(|r| {
                    claimed
                        .by
                        .insert(claim_key(r.kind, r.path()), (i, r.created));
                })
                .await?;
        }
        Ok(claimed)
    }

    fn fence_key(&self) -> Option<String> {
        self.source().map(|s| format!("fenced-sources/{}", slug(s)))
    }

    /// This source's own fence, if it has one.
    pub async fn source_fence(&self) -> Result<Option<Fence>> {
        let Some(key) = self.fence_key() else {
            return Ok(None);
        };
        let (data, _) = self.get_at(&key).await?;
        Ok(data.and_then(|d| serde_json::from_value(d).ok()))
    }

    /// Fences the imports from `source` into this cluster alone.
    pub async fn set_source_fence(&self, source: &str, fence: &Fence) -> Result<()> {
        self.ensure_mount().await?;
        self.put_at(&format!("fenced-sources/{}", slug(source)), fence, None)
            .await
    }

    /// Lifts the fence of `source` alone.
    pub async fn clear_source_fence(&self, source: &str) -> Result<()> {
        if self.mount_exists().await? {
            let key = format!("{}metadata/fenced-sources/{}", self.mount, slug(source));
            self.client.delete(&key).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_readable_and_tell_sources_apart() {
        assert_eq!(
            slug("s3://dr/dc1").split_once('-').unwrap().0,
            "s3___dr_dc1"
        );
        assert_ne!(slug("s3://a/b_c"), slug("s3://a/b/c"));
        assert!(slug(&"x".repeat(300)).len() < 60);
    }

    #[test]
    fn claims_are_by_kind_and_path() {
        let mut c = Claimed::default();
        c.sources.push("s3://b/dc1".into());
        c.by.insert(claim_key(Kind::KvSecret, "secret/a"), (0, true));
        let claim = c.by(Kind::KvSecret, "secret/a").unwrap();
        assert_eq!((claim.source.as_str(), claim.created), ("s3://b/dc1", true));
        assert_eq!(c.by(Kind::Policy, "secret/a"), None);
        assert_eq!(c.by(Kind::KvSecret, "secret/b"), None);
    }
}

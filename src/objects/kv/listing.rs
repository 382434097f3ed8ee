//! Folder listings of a KV mount. On OpenBao a KV-v2 folder is listed through `detailed-metadata/`,
//! whose answer carries each key's metadata, so the export needs no metadata read per secret. Where
//! that path is missing (HashiCorp Vault, older OpenBao) or the token may not list it, the plain
//! `metadata/` listing is used and each secret's metadata is read on its own.

use serde_json::Value;

use super::MetaInfo;
use crate::error::{Error, Result};
use crate::vault::{VaultClient, encode_path};

/// Keys per page of a `detailed-metadata/` listing.
pub const PAGE: usize = 1000;

/// How a mount's folders are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lister {
    /// KV-v1: the folder itself.
    V1,
    /// KV-v2 `metadata/`: keys only, the whole folder at once.
    Plain,
    /// KV-v2 `detailed-metadata/` (OpenBao): keys with their metadata, in pages.
    Detailed,
}

/// One page of a folder: each key (folders end in `/`) with its metadata when the listing gave it.
#[derive(Debug, Default)]
pub struct Page {
    pub keys: Vec<(String, Option<MetaInfo>)>,
    /// The `after=` of the next page, when this one was full.
    pub next: Option<String>,
}

/// Lists the mount's root, finding out on the way how its folders can be listed.
pub async fn first_page(
    client: &VaultClient,
    mount: &str,
    kv_version: u8,
) -> Result<(Lister, Page)> {
    if kv_version != 2 {
        return Ok((Lister::V1, page(client, mount, Lister::V1, "", None).await?));
    }
    let detailed = format!("{mount}detailed-metadata/");
    match client.list_query(&detailed, &format!("limit={PAGE}")).await {
        Ok(Some(body)) if body.pointer("/data/key_info").is_some() => {
            let page =
                parse(&body, Lister::Detailed, None).map_err(|message| bad(detailed, message))?;
            return Ok((Lister::Detailed, page));
        }
        // Not there (HashiCorp Vault answers 404 "Invalid path"), or an empty mount.
        Ok(_) => {}
        Err(e) if e.is_forbidden() => tracing::info!(
            mount,
            "the token may not list {detailed}; reading each secret's metadata on its own"
        ),
        Err(e) => return Err(e),
    }
    Ok((
        Lister::Plain,
        page(client, mount, Lister::Plain, "", None).await?,
    ))
}

/// Lists one page of `folder` (empty for the root, else ending in `/`).
pub async fn page(
    client: &VaultClient,
    mount: &str,
    lister: Lister,
    folder: &str,
    after: Option<&str>,
) -> Result<Page> {
    let (path, query) = match lister {
        Lister::V1 => (format!("{mount}{folder}"), String::new()),
        Lister::Plain => (format!("{mount}metadata/{folder}"), String::new()),
        Lister::Detailed => {
            let mut q = format!("limit={PAGE}");
            if let Some(a) = after {
                q.push_str("&after=");
                q.push_str(&encode_path(a));
            }
            (format!("{mount}detailed-metadata/{folder}"), q)
        }
    };
    let folder_path = format!("{}/", path.trim_end_matches('/'));
    let Some(body) = client.list_query(&folder_path, &query).await? else {
        return Ok(Page::default());
    };
    parse(&body, lister, after).map_err(|message| bad(folder_path, message))
}

fn bad(path: String, message: &str) -> Error {
    Error::VaultResponse {
        method: "LIST",
        path,
        message: message.into(),
    }
}

/// The keys of a LIST answer, with their metadata for a `detailed-metadata/` one.
fn parse(body: &Value, lister: Lister, after: Option<&str>) -> Result<Page, &'static str> {
    let names = body
        .pointer("/data/keys")
        .and_then(Value::as_array)
        .ok_or("no data.keys in the answer")?;
    let info = body.pointer("/data/key_info").and_then(Value::as_object);
    if lister == Lister::Detailed && info.is_none() {
        return Err("no data.key_info in the answer");
    }
    let mut keys = Vec::with_capacity(names.len());
    for k in names.iter().filter_map(Value::as_str) {
        if after.is_some_and(|a| k <= a) {
            // A server that ignored `after=` would hand out the first page forever.
            return Err("a key at or before `after=` in the answer");
        }
        let meta = match info {
            Some(i) if !k.ends_with('/') => i.get(k).and_then(|m| {
                MetaInfo::from_answer(m)
                    .inspect_err(|e| {
                        // Read on its own instead, which fails the secret if it is still wrong.
                        tracing::warn!(
                            key = k,
                            "unexpected metadata in a listing ({e}); reading it on its own"
                        );
                    })
                    .ok()
            }),
            _ => None,
        };
        keys.push((k.to_string(), meta));
    }
    let next = match lister {
        Lister::Detailed if keys.len() >= PAGE => keys.last().map(|(k, _)| k.clone()),
        _ => None,
    };
    Ok(Page { keys, next })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answer(keys: &[String]) -> Value {
        let info: serde_json::Map<String, Value> = keys
            .iter()
            .map(|k| {
                let meta = if k.ends_with('/') {
                    json!({})
                } else {
                    json!({"current_version": 2, "max_versions": 5, "cas_required": true,
                           "delete_version_after": "0s", "custom_metadata": null,
                           "versions": {"1": {"deletion_time": "", "destroyed": true},
                                        "2": {"deletion_time": "", "destroyed": false}}})
                };
                (k.clone(), meta)
            })
            .collect();
        json!({"data": {"keys": keys, "key_info": info}})
    }

    #[test]
    fn a_detailed_page_carries_each_keys_metadata_and_where_the_next_page_starts() {
        let mut keys: Vec<String> = (0..PAGE).map(|i| format!("k{i:04}")).collect();
        keys.push("sub/".into());
        keys.sort();
        let page = parse(&answer(&keys), Lister::Detailed, None).unwrap();
        assert_eq!(page.next.as_deref(), keys.last().map(String::as_str));
        let (name, meta) = &page.keys[0];
        assert_eq!(name, "k0000");
        let meta = meta.as_ref().unwrap();
        assert_eq!((meta.current_version, meta.metadata.max_versions), (2, 5));
        assert!(meta.metadata.cas_required);
        assert_eq!(meta.latest_state(), Some(super::super::State::Live));
        let folder = page.keys.iter().find(|(k, _)| k == "sub/").unwrap();
        assert!(folder.1.is_none());

        let short = parse(&answer(&keys[..3]), Lister::Detailed, None).unwrap();
        assert!(short.next.is_none());
    }

    #[test]
    fn a_page_that_ignored_after_or_lacks_key_info_is_refused() {
        let keys = vec!["a".to_string(), "b".to_string()];
        assert!(parse(&answer(&keys), Lister::Detailed, Some("a")).is_err());
        assert_eq!(
            parse(&answer(&keys), Lister::Detailed, Some("0"))
                .unwrap()
                .keys
                .len(),
            2
        );
        let plain = json!({"data": {"keys": keys}});
        assert!(parse(&plain, Lister::Detailed, None).is_err());
        let page = parse(&plain, Lister::Plain, None).unwrap();
        assert!(page.next.is_none() && page.keys.iter().all(|(_, m)| m.is_none()));
        assert!(parse(&json!({"data": {}}), Lister::Plain, None).is_err());
    }

    // An entry that does not read as metadata is not defaulted: the key is listed without it,
    // so the walk reads that secret's metadata on its own.
    #[test]
    fn an_entry_that_does_not_parse_is_listed_without_metadata() {
        let mut body = answer(&["good".to_string(), "odd".to_string()]);
        body["data"]["key_info"]["odd"] = json!({"current_version": 1, "versions": {}});
        let page = parse(&body, Lister::Detailed, None).unwrap();
        let meta = |k: &str| page.keys.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert!(meta("good").is_some());
        assert!(meta("odd").is_none());
    }
}

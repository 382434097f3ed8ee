//! Reading Vault's answers (`read_answer`): the JSON body, a 404 as "not there", an error body as one line, a redirect as the
//! address the operator should have given, a 403 as the capability the token lacks, and a
//! transient error that outlived its retries as such.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::op::Op;
use crate::error::{Error, Result};

/// The answer to a request (`op` on `path`, shown as `shown` with its namespace, sent to `url`
/// of the server at `addr`): its JSON body (`Null` when empty), or the error it stands for.
pub(super) async fn read_answer(
    op: Op,
    (path, shown): (&str, &str),
    url: &str,
    addr: &str,
    resp: reqwest::Response,
) -> Result<Value> {
    let status = resp.status();
    let retry_after = header(&resp, reqwest::header::RETRY_AFTER)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let location = header(&resp, reqwest::header::LOCATION);
    let bytes = resp.bytes().await.map_err(|e| unreachable(addr, e))?;
    if status.is_success() {
        if bytes.is_empty() || status == StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        return serde_json::from_slice(&bytes).map_err(|e| Error::VaultResponse {
            method: op.name(),
            path: shown.to_string(),
            message: format!("invalid JSON: {e}"),
        });
    }
    let mut message = match status.is_redirection() {
        true => redirect_message(url, location.as_deref()),
        false => error_message(status, &bytes),
    };
    if status == StatusCode::FORBIDDEN && !path.ends_with("/login") {
        message.push_str(&missing_capability(op.capability(), path));
    }
    Err(Error::Vault {
        method: op.name(),
        path: shown.to_string(),
        status: status.as_u16(),
        message,
        retry_after,
    })
}

/// The server at `addr` could not be reached, or its answer not read (the URL left out).
pub(super) fn unreachable(addr: &str, source: reqwest::Error) -> Error {
    Error::VaultUnreachable {
        addr: addr.to_string(),
        source: source.without_url(),
    }
}

/// A header of the answer, when it is text.
fn header(resp: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// An answer, or `None` for Vault's 404.
pub(super) fn found(answer: Result<Value>) -> Result<Option<Value>> {
    match answer {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Vault wraps several errors as "2 errors occurred:\n\t* first\n\t* second\n\n"; the items.
fn unwrap_multierror(s: &str) -> Vec<String> {
    let items: Vec<String> = s
        .lines()
        .filter_map(|l| l.trim().strip_prefix("* "))
        .map(str::to_string)
        .collect();
    if items.is_empty() || !s.contains("occurred:") {
        return vec![s.trim().replace('\n', " ")];
    }
    items
}

/// Vault's `{"errors": [...]}` joined, or the status text.
pub(super) fn error_message(status: StatusCode, body: &[u8]) -> String {
    let joined = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("errors").and_then(Value::as_array).map(|errs| {
                errs.iter()
                    .filter_map(Value::as_str)
                    .flat_map(unwrap_multierror)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
        })
        .filter(|s| !s.is_empty());
    joined.unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_lowercase())
}

/// A redirect is not followed (it would carry the token along): the one line says where it
/// pointed, as scheme, host and port only, and what to do.
pub(super) fn redirect_message(url: &str, location: Option<&str>) -> String {
    let target = location
        .and_then(|l| reqwest::Url::parse(url).ok()?.join(l).ok())
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|| "an address it did not give".into());
    format!(
        "answered with a redirect to {target}, which is not followed (it would carry the token \
         there); point VAULT_ADDR at the address that serves the API (the active node)"
    )
}

/// A transient error that outlived its retries says so, and which settings bound them.
pub(super) fn gave_up(mut e: Error, retries: usize, waited: Duration) -> Error {
    if e.is_transient()
        && let Error::Vault { message, .. } = &mut e
    {
        message.push_str(&format!(
            "; gave up after {retries} retries and {:.1}s of waiting \
             (VAULT_MAX_RETRIES, REPLICATOR_RETRY_MAX_WAIT)",
            waited.as_secs_f64()
        ));
    }
    e
}

/// What a 403 means for a request that needs `cap`: the capability the token's policies lack on the path.
pub(super) fn missing_capability(cap: &str, path: &str) -> String {
    // The few paths the tool uses that Vault also guards with `sudo`.
    let sudo = path.starts_with("sys/auth/");
    format!(
        " (the token's policies lack `{cap}`{} on `{}`)",
        if sudo { " and `sudo`" } else { "" },
        path.trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_joins_vault_errors() {
        let body = br#"{"errors":["1 error occurred:\n\t* permission denied\n\n","second"]}"#;
        assert_eq!(
            error_message(StatusCode::FORBIDDEN, body),
            "permission denied; second"
        );
        assert_eq!(
            error_message(StatusCode::BAD_GATEWAY, b"<html>"),
            "bad gateway"
        );
    }

    #[test]
    fn a_redirect_names_only_the_origin_it_points_at() {
        let m = redirect_message(
            "https://a:8200/v1/sys/mounts",
            Some("http://b:8200/v1/sys/mounts?x=y"),
        );
        assert!(m.contains("redirect to http://b:8200,"), "{m}");
        assert!(m.contains("VAULT_ADDR") && !m.contains("x=y"), "{m}");
        let relative = redirect_message("https://a:8200/v1/x", Some("/v1/y"));
        assert!(relative.contains("https://a:8200"), "{relative}");
        assert!(redirect_message("https://a/v1/x", None).contains("did not give"));
    }

    #[test]
    fn a_403_names_the_missing_capability() {
        assert_eq!(
            missing_capability("list", "secret/metadata/app/"),
            " (the token's policies lack `list` on `secret/metadata/app`)"
        );
        assert!(
            missing_capability("create/update", "sys/auth/up")
                .contains("`create/update` and `sudo`")
        );
    }
}

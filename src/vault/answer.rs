//! Reading Vault's answers: a 404 as "not there", and an error body as one line.

use reqwest::StatusCode;
use serde_json::Value;

use crate::error::Result;

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
}

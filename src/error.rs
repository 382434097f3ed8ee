//! The library's one error type, and the rules it follows.
//!
//! - Never downgrade an error: every failure travels up to `main`, which maps it to an exit code.
//! - Carry context: the Vault path, the store location or the snapshot entry the error is about.
//! - A variant's message never repeats its `#[source]`; `main` prints the chain once, joined by `: `.
//! - No secret value and no token ever goes into a message.
//! - `is_transient` says whether a retry can help (connection trouble, 5xx, 429).

use std::time::Duration;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a KV-v2 mount answers (HTTP 400) for a moment after it was enabled, while it sets itself
/// up; `vault kv` waits it out, and so does the client.
const KV_UPGRADING: &str = "Upgrading from non-versioned to versioned data";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A missing or malformed setting. Exit code 2.
    #[error("{var}: {message}")]
    Config { var: &'static str, message: String },

    /// The Vault server could not be reached at all.
    #[error("cannot reach Vault at {addr}")]
    VaultUnreachable {
        addr: String,
        #[source]
        source: reqwest::Error,
    },

    /// Vault answered with an error status.
    #[error("Vault {method} {path}: {message} (HTTP {status})")]
    Vault {
        method: &'static str,
        path: String,
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },

    /// Vault answered 2xx with a body we could not use.
    #[error("Vault {method} {path}: unexpected response: {message}")]
    VaultResponse {
        method: &'static str,
        path: String,
        message: String,
    },

    /// A request the client did not complete: never sent (the run was stopped, or its path has a
    /// `.` or `..` segment), or given up when its budget ran out.
    #[error("Vault {method} {path}: {message}")]
    VaultNotDone {
        method: &'static str,
        path: String,
        message: String,
    },

    /// The snapshot store failed (unreachable, missing bucket, denied, ...).
    #[error("store {location}: {message}")]
    Store { location: String, message: String },

    /// An object the caller needed is not in the store.
    #[error("store {location}: {what} not found")]
    NotFound { location: String, what: String },

    /// A conditional write found the object moved on since it was read (another writer).
    #[error("store {location}: {key} changed since it was read; not written")]
    Conflict { location: String, key: String },

    /// The snapshot failed verification; nothing was written. Exit code 4.
    #[error("snapshot {snapshot} refused: {reason}")]
    Refused { snapshot: String, reason: String },

    /// The target is promoted: imports into it are refused. Exit code 4.
    #[error("{0}")]
    Fenced(String),

    /// `status`: the newest data is older than `REPLICATOR_MAX_AGE`. Exit code 5.
    #[error("stale: {0}")]
    Stale(String),

    /// Another run holds the import lease on the target.
    #[error("{0}")]
    Busy(String),

    /// An object could not be applied (used inside summaries, per object).
    #[error("{kind} {path}: {reason}")]
    Object {
        kind: &'static str,
        path: String,
        reason: String,
    },

    /// Local file-system trouble (spool files, the file store).
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn config(var: &'static str, message: impl Into<String>) -> Self {
        Error::Config {
            var,
            message: message.into(),
        }
    }

    pub fn refused(snapshot: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Refused {
            snapshot: snapshot.into(),
            reason: reason.into(),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether retrying the same request may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::VaultUnreachable { .. } => true,
            Error::Vault {
                status, message, ..
            } => {
                matches!(*status, 412 | 429)
                    || (*status >= 500 && *status != 501)
                    || (*status == 400 && message.contains(KV_UPGRADING))
            }
            _ => false,
        }
    }

    /// The server's `Retry-After`, when it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Vault { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether Vault refused the request for the token's policies.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, Error::Vault { status: 403, .. })
    }

    /// Whether a check-and-set write was refused because the version moved on.
    pub fn is_cas_mismatch(&self) -> bool {
        matches!(self, Error::Vault { status: 400, message, .. } if message.contains("check-and-set"))
    }

    /// Whether Vault said the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Vault { status: 404, .. })
    }

    /// The documented exit code for this error when it ends a run.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config { .. } => crate::exit::USAGE,
            Error::Refused { .. } | Error::Fenced(_) => crate::exit::REFUSED,
            Error::Stale(_) => crate::exit::STALE,
            _ => crate::exit::FAILED,
        }
    }
}

/// Renders an error and its causes on one line: `outer: cause: root cause`.
pub fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(status: u16, message: &str) -> Error {
        Error::Vault {
            method: "POST",
            path: "kvc/config".into(),
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    #[test]
    fn a_kv_mount_still_upgrading_is_worth_a_retry_other_400s_are_not() {
        let upgrading = "Upgrading from non-versioned to versioned data. This backend will be \
                         unavailable for a brief period and will resume service shortly.";
        assert!(vault(400, upgrading).is_transient());
        assert!(!vault(400, "invalid request").is_transient());
        assert!(vault(503, "sealed").is_transient());
        assert!(!vault(403, "permission denied").is_transient());
    }
}

//! The client's own settings: where Vault is, how to log in, how to check its certificate, how
//! many requests may be in flight, how fast they may go, how long one may take and how hard to retry. `config` builds them from the
//! environment; nothing here reads a variable.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::RetryPolicy;

/// A Vault token. Its `Debug` never shows the value.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(value: String) -> Self {
        Token(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// How the client proves who it is.
#[derive(Debug, Clone)]
pub enum Auth {
    /// A token given as it is (`VAULT_TOKEN`, or the contents of `VAULT_TOKEN_FILE`).
    Token(Token),
    /// `auth/<mount>/login` of a `kubernetes` or `jwt` auth method, with the role and the JWT
    /// read from `jwt_file` at login (the pod's service-account token for kubernetes); `file_var`
    /// is the variable that names the file.
    Jwt {
        mount: String,
        role: String,
        jwt_file: PathBuf,
        file_var: &'static str,
    },
    /// `auth/<mount>/login` with a role ID and (unless the role does not bind one) a secret ID.
    AppRole {
        mount: String,
        role_id: Token,
        secret_id: Option<Token>,
    },
}

/// How the client checks Vault's certificate, and the certificate it shows (if any).
#[derive(Debug, Clone, Default)]
pub struct Tls {
    pub cacert: Option<PathBuf>,
    pub capath: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub skip_verify: bool,
    /// The name to send as SNI and to check the certificate against, instead of the address's
    /// host (`VAULT_TLS_SERVER_NAME`).
    pub server_name: Option<String>,
}

/// A cap on requests per second, with the burst allowed above it (`VAULT_RATE_LIMIT`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

/// How to talk to one Vault cluster.
#[derive(Debug, Clone)]
pub struct VaultConfig {
    pub addr: String,
    pub auth: Auth,
    pub namespace: Option<String>,
    pub tls: Tls,
    pub concurrency: usize,
    pub retry: RetryPolicy,
    /// How long one request may take, connection included (`VAULT_CLIENT_TIMEOUT`).
    pub timeout: Duration,
    pub rate_limit: Option<RateLimit>,
    /// The HTTP(S) proxy every request to Vault goes through (`VAULT_PROXY_ADDR`, or its older
    /// spelling `VAULT_HTTP_PROXY`), instead of `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`.
    pub proxy: Option<String>,
}

/// The request timeout when `VAULT_CLIENT_TIMEOUT` is not set, as the `vault` CLI's.
pub const DEFAULT_CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_debug_is_redacted() {
        let t = Token::new("s.supersecret".into());
        assert!(!format!("{t:?}").contains("supersecret"));
    }
}

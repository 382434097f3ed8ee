//! The client's own settings: where Vault is, how to log in, how to check its certificate, how
//! many requests may be in flight and how hard to retry. `config` builds them from the
//! environment; nothing here reads a variable.

use std::fmt;
use std::path::PathBuf;

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
    /// `auth/<mount>/login` with the pod's service-account JWT, read from `jwt_file` at login.
    Kubernetes {
        mount: String,
        role: String,
        jwt_file: PathBuf,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_debug_is_redacted() {
        let t = Token::new("s.supersecret".into());
        assert!(!format!("{t:?}").contains("supersecret"));
    }
}

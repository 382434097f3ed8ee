//! How the tool proves who it is to Vault and checks who Vault is: `VAULT_TOKEN` /
//! `VAULT_TOKEN_FILE` (else `~/.vault-token`, as the `vault` CLI), Kubernetes, JWT or AppRole
//! login (`REPLICATOR_AUTH`), and TLS (`VAULT_CACERT`, `VAULT_CAPATH`, `VAULT_CLIENT_CERT`/`KEY`,
//! `VAULT_SKIP_VERIFY`, `VAULT_TLS_SERVER_NAME`).

use std::path::PathBuf;

use super::{Settings, parse_bool, set};
use crate::error::{Error, Result};
use crate::vault::{Auth, Tls, Token};

/// Where Kubernetes projects a pod's service-account token.
pub const DEFAULT_KUBERNETES_TOKEN_FILE: &str =
    "/var/run/secrets/kubernetes.io/serviceaccount/token";

fn nonempty(v: &Option<String>) -> Option<String> {
    set(v).map(str::to_string)
}

/// A secret given directly or in a file (the file wins; a trailing newline is dropped).
fn secret(
    value: &Option<String>,
    file_var: &'static str,
    file: &Option<String>,
) -> Result<Option<Token>> {
    if let Some(path) = nonempty(file) {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::config(file_var, format!("{path}: {e}")))?;
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::config(file_var, format!("{path} is empty")));
        }
        return Ok(Some(Token::new(text.to_string())));
    }
    Ok(nonempty(value).map(Token::new))
}

/// The token the `vault` CLI's default token helper keeps in `~/.vault-token`, when there is one:
/// the token of last resort, for ad-hoc runs by someone logged in with the CLI.
fn home_token() -> Result<Option<Token>> {
    let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let path = PathBuf::from(home).join(".vault-token");
    if !path.is_file() {
        return Ok(None);
    }
    let file = Some(path.display().to_string());
    match secret(&None, "VAULT_TOKEN", &file) {
        Ok(t) => Ok(t),
        // An empty file is what `vault login` leaves after a logout: no token.
        Err(Error::Config { message, .. }) if message.ends_with(" is empty") => Ok(None),
        Err(e) => Err(e),
    }
}

impl Settings {
    pub(super) fn auth(&self) -> Result<Auth> {
        let r = &self.replicator;
        let mount = |default: &str| {
            nonempty(&r.auth_mount)
                .map(|m| m.trim_matches('/').trim_start_matches("auth/").to_string())
                .unwrap_or_else(|| default.to_string())
        };
        let role = |method: &str| {
            nonempty(&r.auth_role).ok_or_else(|| {
                Error::config(
                    "REPLICATOR_AUTH_ROLE",
                    format!("not set: the Vault role to log in as (REPLICATOR_AUTH={method})"),
                )
            })
        };
        match nonempty(&r.auth).as_deref() {
            None | Some("token") => {
                let file = self.vault_var(|v| &v.token_file);
                if let Some(t) = secret(&None, "VAULT_TOKEN_FILE", &file)? {
                    return Ok(Auth::Token(t));
                }
                if let Some(token) = self.vault_var(|v| &v.token) {
                    return Ok(Auth::Token(Token::new(token)));
                }
                // Only when no other way to log in is configured, as an ad-hoc run's fallback.
                if nonempty(&r.auth).is_none()
                    && let Some(t) = home_token()?
                {
                    tracing::debug!("using the token in ~/.vault-token");
                    return Ok(Auth::Token(t));
                }
                Err(Error::config(
                    "VAULT_TOKEN",
                    "not set (nor VAULT_TOKEN_FILE or ~/.vault-token; BAO_TOKEN is also accepted, \
                     or log in with REPLICATOR_AUTH=kubernetes|jwt|approle)",
                ))
            }
            Some(method @ ("jwt" | "kubernetes")) => {
                let (file_var, file) = match method {
                    "jwt" => ("REPLICATOR_JWT_FILE", &r.jwt_file),
                    _ => ("REPLICATOR_KUBERNETES_TOKEN_FILE", &r.kubernetes_token_file),
                };
                Ok(Auth::Jwt {
                    mount: mount(method),
                    role: role(method)?,
                    jwt_file: nonempty(file)
                        .unwrap_or_else(|| DEFAULT_KUBERNETES_TOKEN_FILE.to_string())
                        .into(),
                    file_var,
                })
            }
            Some("approle") => Ok(Auth::AppRole {
                mount: mount("approle"),
                role_id: secret(
                    &r.approle_role_id,
                    "REPLICATOR_APPROLE_ROLE_ID_FILE",
                    &r.approle_role_id_file,
                )?
                .ok_or_else(|| {
                    Error::config(
                        "REPLICATOR_APPROLE_ROLE_ID",
                        "not set (nor REPLICATOR_APPROLE_ROLE_ID_FILE) for REPLICATOR_AUTH=approle",
                    )
                })?,
                secret_id: secret(
                    &r.approle_secret_id,
                    "REPLICATOR_APPROLE_SECRET_ID_FILE",
                    &r.approle_secret_id_file,
                )?,
            }),
            Some(other) => Err(Error::config(
                "REPLICATOR_AUTH",
                format!("expected token, kubernetes, jwt or approle, got `{other}`"),
            )),
        }
    }

    pub(super) fn tls(&self) -> Result<Tls> {
        let skip_verify = match self.vault_var(|v| &v.skip_verify) {
            None => false,
            Some(s) => parse_bool(&s).ok_or_else(|| {
                Error::config(
                    self.vault_var_name(|v| &v.skip_verify, "VAULT_SKIP_VERIFY"),
                    format!("expected true or false, got `{s}`"),
                )
            })?,
        };
        let tls = Tls {
            cacert: self.vault_var(|v| &v.cacert).map(PathBuf::from),
            capath: self.vault_var(|v| &v.capath).map(PathBuf::from),
            client_cert: self.vault_var(|v| &v.client_cert).map(PathBuf::from),
            client_key: self.vault_var(|v| &v.client_key).map(PathBuf::from),
            skip_verify,
            server_name: self.vault_var(|v| &v.tls_server_name),
        };
        if tls.client_cert.is_some() != tls.client_key.is_some() {
            return Err(Error::config(
                "VAULT_CLIENT_CERT",
                "VAULT_CLIENT_CERT and VAULT_CLIENT_KEY go together; set both or neither",
            ));
        }
        Ok(tls)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{Flags, ReplicatorEnv, VaultEnv};

    fn settings(replicator: ReplicatorEnv) -> Settings {
        Settings {
            vault: VaultEnv::default(),
            bao: VaultEnv::default(),
            replicator,
            flags: Flags::default(),
            unknown: Vec::new(),
        }
    }

    /// Kubernetes and jwt log in alike: the JWT file as set (else the pod's projected token), and
    /// the variable that names it, for a file that cannot be read.
    #[test]
    fn kubernetes_and_jwt_logins_read_their_own_file_variable() {
        for (method, file_var, set) in [
            ("kubernetes", "REPLICATOR_KUBERNETES_TOKEN_FILE", false),
            ("kubernetes", "REPLICATOR_KUBERNETES_TOKEN_FILE", true),
            ("jwt", "REPLICATOR_JWT_FILE", false),
            ("jwt", "REPLICATOR_JWT_FILE", true),
        ] {
            let file = set.then(|| format!("/run/{method}"));
            let replicator = ReplicatorEnv {
                auth: Some(method.into()),
                auth_role: Some("r".into()),
                kubernetes_token_file: file.clone().filter(|_| method == "kubernetes"),
                jwt_file: file.clone().filter(|_| method == "jwt"),
                ..ReplicatorEnv::default()
            };
            let want = file.unwrap_or_else(|| DEFAULT_KUBERNETES_TOKEN_FILE.to_string());
            let auth = settings(replicator).auth().unwrap();
            assert!(
                matches!(&auth, Auth::Jwt { mount, role, jwt_file, file_var: var }
                    if mount == method && role == "r" && jwt_file == Path::new(&want)
                        && *var == file_var),
                "{method}: {auth:?}"
            );
        }
    }
}

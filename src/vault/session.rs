//! A logged-in connection to Vault: it logs in when the settings say how (Kubernetes, JWT, AppRole),
//! renews the token in the background on long runs, and at the end revokes the token it logged
//! in for. A token handed to the tool (`VAULT_TOKEN`) is renewed when renewable, never revoked.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::VaultClient;
use super::settings::{Auth, Token, VaultConfig};
use crate::error::{Error, Result};

pub struct Session {
    client: VaultClient,
    /// For login, renewal and revocation: not counted with the objects' requests.
    own: VaultClient,
    logged_in: bool,
    renewer: Option<JoinHandle<()>>,
}

/// The lease a token came with: how long it lives and whether it can be extended.
struct Lease {
    ttl: Duration,
    renewable: bool,
}

impl Session {
    pub async fn open(cfg: &VaultConfig) -> Result<Session> {
        // One client without a token: every other shares its connections and rate cap.
        let anon = VaultClient::new(cfg, Token::new(String::new()))?;
        let (token, lease, logged_in) = match &cfg.auth {
            Auth::Token(t) => {
                let own = anon.with_token(t.clone()).detached();
                (t.clone(), lookup_self(&own).await, false)
            }
            Auth::Jwt {
                mount,
                role,
                jwt_file,
                file_var,
            } => {
                let body = jwt_body(file_var, role, jwt_file)?;
                let (t, l) = login(&anon, mount, &body).await?;
                (t, Some(l), true)
            }
            Auth::AppRole {
                mount,
                role_id,
                secret_id,
            } => {
                let mut body = json!({"role_id": role_id.expose()});
                if let Some(s) = secret_id {
                    body["secret_id"] = json!(s.expose());
                }
                let (t, l) = login(&anon, mount, &body).await?;
                (t, Some(l), true)
            }
        };
        let client = anon.with_token(token);
        let own = client.detached();
        let renewer = lease
            .filter(|l| l.renewable && !l.ttl.is_zero())
            .map(|l| tokio::spawn(renew(own.clone(), l.ttl)));
        Ok(Session {
            client,
            own,
            logged_in,
            renewer,
        })
    }

    pub fn client(&self) -> &VaultClient {
        &self.client
    }

    /// Stops renewing and revokes a token the session logged in for.
    pub async fn close(self) {
        if let Some(r) = self.renewer {
            r.abort();
        }
        if self.logged_in {
            match self.own.write("auth/token/revoke-self", &json!({})).await {
                Ok(_) => tracing::debug!("login token revoked"),
                Err(e) => {
                    tracing::warn!(error = %crate::error::one_line(&e), "could not revoke the login token; it expires with its TTL")
                }
            }
        }
    }

    /// Runs `work` with the session's client, then closes the session whatever the outcome.
    pub async fn run<T>(
        cfg: &VaultConfig,
        work: impl AsyncFnOnce(&VaultClient) -> Result<T>,
    ) -> Result<T> {
        let session = Session::open(cfg).await?;
        let result = work(session.client()).await;
        session.close().await;
        result
    }
}

/// The login body of the kubernetes and jwt methods: the role and the JWT in `file` (named by `var`).
fn jwt_body(var: &'static str, role: &str, file: &std::path::Path) -> Result<Value> {
    let jwt = std::fs::read_to_string(file)
        .map_err(|e| Error::config(var, format!("{}: {e}", file.display())))?;
    Ok(json!({"role": role, "jwt": jwt.trim()}))
}

async fn login(anon: &VaultClient, mount: &str, body: &Value) -> Result<(Token, Lease)> {
    let anon = anon.detached();
    let path = format!("auth/{mount}/login");
    let resp = anon.write(&path, body).await?;
    let missing = |what: &str| Error::VaultResponse {
        method: "POST",
        path: path.clone(),
        message: format!("no {what} in the answer"),
    };
    let auth = resp.get("auth").ok_or_else(|| missing("auth"))?;
    let token = auth
        .get("client_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| missing("client_token"))?;
    let ttl = auth
        .get("lease_duration")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let policies = auth
        .get("policies")
        .map(Value::to_string)
        .unwrap_or_default();
    tracing::info!(%mount, ttl_seconds = ttl, %policies, "logged in to Vault");
    Ok((
        Token::new(token.to_string()),
        Lease {
            ttl: Duration::from_secs(ttl),
            renewable: auth
                .get("renewable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        },
    ))
}

/// The lease of a given token, when the token may look itself up.
async fn lookup_self(own: &VaultClient) -> Option<Lease> {
    let data = own.read("auth/token/lookup-self").await.ok()??;
    let d = data.get("data")?;
    Some(Lease {
        ttl: Duration::from_secs(d.get("ttl").and_then(Value::as_u64).unwrap_or(0)),
        renewable: d.get("renewable").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// Renews the token at two thirds of each lease until the session ends or Vault refuses.
async fn renew(own: VaultClient, mut ttl: Duration) {
    loop {
        tokio::time::sleep(ttl * 2 / 3).await;
        match own.write("auth/token/renew-self", &json!({})).await {
            Ok(resp) => {
                let next = resp
                    .pointer("/auth/lease_duration")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                tracing::debug!(ttl_seconds = next, "token renewed");
                if next == 0 {
                    return;
                }
                ttl = Duration::from_secs(next);
            }
            Err(e) => {
                tracing::warn!(error = %crate::error::one_line(&e), "token renewal failed; the run continues until the token expires");
                return;
            }
        }
    }
}

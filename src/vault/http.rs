//! The HTTP transport: one attempt at one request, with the token and namespace headers, the
//! path encoded, and the answer read (`answer`). Redirects are never followed: they would carry
//! the token to another address. Everything around an attempt is a layer (`layers`).

use async_trait::async_trait;
use serde_json::Value;

use super::answer::{read_answer, unreachable};
use super::api::{Request, VaultApi};
use super::op::Op;
use super::path::encode_path;

/// The server at `addr`, reached at `base` (`addr`, or with `VAULT_TLS_SERVER_NAME` as its host).
pub(super) struct Http {
    pub http: reqwest::Client,
    pub addr: String,
    pub base: String,
}

#[async_trait]
impl VaultApi for Http {
    async fn send(&self, req: Request<'_>) -> crate::error::Result<Value> {
        let url = self.url(req.op, req.path, req.query);
        let resp = self
            .request(&req, &url)
            .send()
            .await
            .map_err(|source| unreachable(&self.addr, source))?;
        let shown = req.shown();
        read_answer(req.op, (req.path, &shown), &url, &self.addr, resp).await
    }
}

impl Http {
    /// The URL of a request, with `list=true` for a LIST and the extra query after it.
    fn url(&self, op: Op, path: &str, query: &str) -> String {
        let mut url = format!("{}/v1/{}", self.base, encode_path(path));
        if op == Op::List {
            url.push_str("?list=true");
        }
        if !query.is_empty() {
            url.push(if op == Op::List { '&' } else { '?' });
            url.push_str(query);
        }
        url
    }

    /// The request with its headers: the token (unless empty), the namespace, the JSON body.
    fn request(&self, req: &Request<'_>, url: &str) -> reqwest::RequestBuilder {
        let mut r = self
            .http
            .request(req.op.method(), url)
            .header("X-Vault-Request", "true");
        if !req.token.expose().is_empty() {
            r = r.header("X-Vault-Token", req.token.expose());
        }
        if !req.ns.is_empty() {
            r = r.header("X-Vault-Namespace", req.ns);
        }
        if let Some(b) = req.body {
            r = r.json(b);
        }
        r
    }
}

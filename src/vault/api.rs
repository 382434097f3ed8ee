//! The seam every request goes through: one request (`Request`: token, namespace, operation,
//! path, query, body) and the trait that answers it (`VaultApi`). The HTTP transport (`http`) is
//! one implementation; retries, the rate cap, counting, the write gate, the budget and the
//! read-only guard of a dry run are layers over it (`layers`); unit tests put `MemoryVault` where
//! the transport goes (as kube-rs controllers test their reconcilers against a stubbed API).
//! Integration tests always talk to real OpenBao.

use async_trait::async_trait;
use serde_json::Value;

use super::op::Op;
use super::settings::Token;
use crate::error::Result;

/// One request as the client sends it. `ns` is the full namespace (`""` for none); paths have no
/// leading slash; a LIST takes a folder with its trailing slash.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    pub op: Op,
    pub token: &'a Token,
    pub ns: &'a str,
    pub path: &'a str,
    /// Extra query parameters (`version=3`, `limit=1000`), or `""`.
    pub query: &'a str,
    pub body: Option<&'a Value>,
}

/// The request without its token or body (which may carry secret values).
impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("op", &self.op)
            .field("ns", &self.ns)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Request<'_> {
    /// The path as error messages show it: with the namespace in front, as Vault accepts it too.
    pub fn shown(&self) -> String {
        match self.ns {
            "" => self.path.to_string(),
            ns => format!("{ns}/{}", self.path),
        }
    }
}

/// What answers a request: the transport, or a layer over another `VaultApi`.
#[async_trait]
pub trait VaultApi: Send + Sync {
    /// The answer's body (`Null` when it has none); "nothing there" is an error with status 404
    /// (`Error::is_not_found`), which the client reads as `None` or, for a delete, as done.
    async fn send(&self, req: Request<'_>) -> Result<Value>;
}

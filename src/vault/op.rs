//! The kinds of request the client sends (GET, LIST, POST, DELETE), with the HTTP method and the
//! policy capability each needs.

use reqwest::Method;

/// The kinds of request the tool makes. `List` is a GET with `?list=true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Get,
    List,
    Post,
    Delete,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "GET",
            Op::List => "LIST",
            Op::Post => "POST",
            Op::Delete => "DELETE",
        }
    }
    pub(super) fn method(self) -> Method {
        match self {
            Op::Get | Op::List => Method::GET,
            Op::Post => Method::POST,
            Op::Delete => Method::DELETE,
        }
    }
    pub fn is_write(self) -> bool {
        matches!(self, Op::Post | Op::Delete)
    }
    /// The capability a policy must grant for this kind of request.
    pub(super) fn capability(self) -> &'static str {
        match self {
            Op::Get => "read",
            Op::List => "list",
            Op::Post => "create/update",
            Op::Delete => "delete",
        }
    }
}

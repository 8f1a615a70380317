//! HTTP plumbing shared by the MCP client and the PagerDuty token check: the one HTTP client
//! builder with the chosen TLS backend, the same-origin redirect policy, `Retry-After`, and the
//! reading of error replies.

pub(crate) mod error_reply;
pub(crate) mod redirect_policy;
pub(crate) mod retry_after;
pub(crate) mod tls;

//! What an agent sees when a forwarded request fails: a JSON-RPC error that says what happened
//! and what to do, never a token.

use rmcp::model::{ErrorCode, ErrorData};
use serde_json::{Value, json};

use pagerduty_mcp_connect::Error;

/// The upstream server rejected the user's credential (HTTP 401), or the user has none.
pub const UPSTREAM_UNAUTHORIZED: i32 = -32001;
/// The gateway's policy (or the upstream, HTTP 403) does not allow this.
pub const DENIED: i32 = -32003;
/// The upstream did not answer in time.
pub const UPSTREAM_TIMEOUT: i32 = -32004;
/// The upstream asks to slow down (HTTP 429).
pub const UPSTREAM_RATE_LIMITED: i32 = -32029;
/// Any other upstream failure.
pub const UPSTREAM_ERROR: i32 = -32000;

/// The short outcome label of a result, for logs and metrics.
pub(crate) fn outcome<T>(result: &Result<T, Error>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(err) => error_outcome(err),
    }
}

pub(crate) fn error_outcome(err: &Error) -> &'static str {
    match err {
        Error::PolicyDenied { .. } => "denied",
        Error::Unauthorized { .. } => "unauthorized",
        Error::Credential(_) => "no_credential",
        Error::Forbidden { .. } => "forbidden",
        Error::RateLimited { .. } => "rate_limited",
        Error::Timeout { .. } => "timeout",
        Error::Server { .. } => "server_error",
        _ => "upstream_error",
    }
}

/// The JSON-RPC error for `err`; `help` is the upstream's
/// [`credential_help`](pagerduty_mcp_connect::RemoteMcpServer::credential_help).
pub(crate) fn to_error_data(err: &Error, help: &str) -> ErrorData {
    let kind = error_outcome(err);
    let (code, message, data): (i32, String, Value) = match err {
        Error::Unauthorized { message, .. } => (
            UPSTREAM_UNAUTHORIZED,
            format!(
                "the upstream MCP server rejected your credential (HTTP 401: {message}); the gateway will not use it again until it is replaced. {help}"
            ),
            json!({ "kind": kind, "help": help }),
        ),
        Error::Credential(inner) => (
            UPSTREAM_UNAUTHORIZED,
            format!("the gateway has no usable credential for you: {inner}. {help}"),
            json!({ "kind": kind, "help": help }),
        ),
        Error::PolicyDenied { reason, .. } => (
            DENIED,
            format!("refused by the gateway's policy: {reason}"),
            json!({ "kind": kind }),
        ),
        Error::Forbidden { message, .. } => (
            DENIED,
            format!("the upstream MCP server refused this (HTTP 403): {message}"),
            json!({ "kind": kind }),
        ),
        Error::RateLimited { retry_after, .. } => (
            UPSTREAM_RATE_LIMITED,
            match retry_after {
                Some(wait) => format!("{err} (retry after {} s)", wait.as_secs().max(1)),
                None => err.to_string(),
            },
            json!({ "kind": kind, "retryAfterSeconds": retry_after.map(|d| d.as_secs().max(1)) }),
        ),
        Error::Timeout { .. } => (UPSTREAM_TIMEOUT, err.to_string(), json!({ "kind": kind })),
        Error::Server {
            code,
            message,
            data,
            ..
        } => {
            // The upstream's own JSON-RPC error goes to the agent as it is.
            let code = i32::try_from(*code).unwrap_or(UPSTREAM_ERROR);
            return ErrorData::new(ErrorCode(code), message.clone(), data.clone());
        }
        other => (
            UPSTREAM_ERROR,
            format!("the upstream MCP server could not be reached or answered wrongly: {other}"),
            json!({ "kind": kind }),
        ),
    };
    ErrorData::new(ErrorCode(code), message, Some(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unauthorized_says_how_to_get_a_new_token() {
        let err = Error::unauthorized("Authentication failed", "unused");
        let data = to_error_data(&err, "Create a PagerDuty User API Token");
        assert_eq!(data.code.0, UPSTREAM_UNAUTHORIZED);
        assert!(data.message.contains("Create a PagerDuty User API Token"));
        assert!(data.message.contains("401"));
        let denied = to_error_data(&Error::policy_denied("read-only"), "");
        assert_eq!(denied.code.0, DENIED);
        let upstream = to_error_data(&Error::server(-32602, "bad", None), "");
        assert_eq!(upstream.code.0, -32602);
    }

    #[test]
    fn a_rate_limit_passes_its_wait_on() {
        let err = Error::rate_limited(
            "this user's request budget is spent",
            Some(std::time::Duration::from_secs(42)),
        );
        let data = to_error_data(&err, "");
        assert_eq!(data.code.0, UPSTREAM_RATE_LIMITED);
        assert!(
            data.message.contains("retry after 42 s"),
            "{}",
            data.message
        );
        assert_eq!(data.data.unwrap()["retryAfterSeconds"], 42);
    }
}

//! `ErrorKind`: what kind of [`Error`](super::Error) happened, as a `Copy` value.

use std::fmt;

/// The kind of an [`Error`](super::Error), one per variant, for code that branches on it (metrics
/// labels, a gateway's own HTTP answer) without matching the variants' fields.
///
/// `#[non_exhaustive]`: keep a fallback arm.
///
/// | kind | means | a gateway usually answers |
/// |---|---|---|
/// | `InvalidCredential` | the credential cannot be sent (empty, control characters) | 400 |
/// | `Credential` | the credential provider has none (missing, revoked, expired) or failed | 401, or 503 for a failing store |
/// | `CredentialTimeout` | the credential provider did not answer in time | 503 |
/// | `InvalidConfig` | the configuration is unusable | 500 |
/// | `Unauthorized` | the server rejected the credential (401) | 401 with the help text |
/// | `Forbidden` | the user may not do this (403) | 403 |
/// | `RateLimited` | the server asks to slow down (429) | 429 with `Retry-After` |
/// | `SessionExpired` | the MCP session could not be re-established | 503 |
/// | `Timeout` | a time limit was reached | 504 |
/// | `Transport` | the connection failed or broke | 502 |
/// | `HttpStatus` | an unexpected HTTP status (5xx …) | 502 |
/// | `Protocol` | the reply breaks the protocol | 502 |
/// | `Server` | a JSON-RPC error from the server | the same JSON-RPC error |
/// | `TooLarge` | the reply exceeds the size limit | 502 |
/// | `PolicyDenied` | the gateway's policy refuses the call | 403 |
/// | `Closed` | the session was closed | 503 |
///
/// ```
/// use pagerduty_mcp_connect::{Error, ErrorKind};
///
/// fn gateway_status(err: &Error) -> u16 {
///     match err.kind() {
///         ErrorKind::Unauthorized => 401,
///         ErrorKind::Forbidden | ErrorKind::PolicyDenied => 403,
///         ErrorKind::RateLimited => 429,
///         ErrorKind::Timeout => 504,
///         _ => 502,
///     }
/// }
/// # let _ = gateway_status;
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// [`Error::InvalidCredential`](super::Error::InvalidCredential).
    InvalidCredential,
    /// [`Error::Credential`](super::Error::Credential).
    Credential,
    /// [`Error::CredentialTimeout`](super::Error::CredentialTimeout).
    CredentialTimeout,
    /// [`Error::InvalidConfig`](super::Error::InvalidConfig).
    InvalidConfig,
    /// [`Error::Unauthorized`](super::Error::Unauthorized).
    Unauthorized,
    /// [`Error::Forbidden`](super::Error::Forbidden).
    Forbidden,
    /// [`Error::RateLimited`](super::Error::RateLimited).
    RateLimited,
    /// [`Error::SessionExpired`](super::Error::SessionExpired).
    SessionExpired,
    /// [`Error::Timeout`](super::Error::Timeout).
    Timeout,
    /// [`Error::Transport`](super::Error::Transport).
    Transport,
    /// [`Error::HttpStatus`](super::Error::HttpStatus).
    HttpStatus,
    /// [`Error::Protocol`](super::Error::Protocol).
    Protocol,
    /// [`Error::Server`](super::Error::Server).
    Server,
    /// [`Error::TooLarge`](super::Error::TooLarge).
    TooLarge,
    /// [`Error::PolicyDenied`](super::Error::PolicyDenied).
    PolicyDenied,
    /// [`Error::Closed`](super::Error::Closed).
    Closed,
}

impl ErrorKind {
    /// A short lower-case name, stable across releases, for logs and metrics labels
    /// (`"unauthorized"`, `"rate_limited"` …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidCredential => "invalid_credential",
            ErrorKind::Credential => "no_credential",
            ErrorKind::CredentialTimeout => "credential_timeout",
            ErrorKind::InvalidConfig => "invalid_config",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::SessionExpired => "session_expired",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Transport => "transport",
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Server => "server",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::PolicyDenied => "denied",
            ErrorKind::Closed => "closed",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

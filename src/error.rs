//! The crate's error type.
//!
//! Every fallible public function returns [`Error`]. Messages are written for the person who has to
//! act on them (a gateway admin or an end user) and never contain a token: errors built from a
//! server's reply have the caller's token scrubbed from them before they are stored.

use std::time::Duration;

use crate::credential::CredentialError;

/// A boxed error source kept inside [`Error::Transport`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong while connecting a user to a remote MCP server.
///
/// The enum is `#[non_exhaustive]`: match the variants you handle and keep a fallback arm. Use
/// [`Error::is_retryable`] to decide whether repeating the same request later can succeed.
///
/// ```
/// use pagerduty_mcp_connect::{AuthScheme, Error};
/// use secrecy::SecretString;
///
/// let err = AuthScheme::token()
///     .header_value(&SecretString::from("bad\r\ntoken"))
///     .unwrap_err();
/// assert!(matches!(err, Error::InvalidCredential { .. }));
/// assert!(!err.is_retryable());
/// assert!(!err.to_string().contains("bad"));
/// ```
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The credential cannot be sent at all (empty, or holding control or non-ASCII characters).
    /// The message says what is wrong without repeating the token.
    #[error("invalid credential: {reason}")]
    InvalidCredential {
        /// What is wrong with the credential.
        reason: String,
    },

    /// The credential provider could not produce a credential for the user.
    #[error(transparent)]
    Credential(#[from] CredentialError),

    /// The configuration is unusable (a bad header name, an endpoint that is not HTTPS, …).
    #[error("invalid configuration: {message}")]
    InvalidConfig {
        /// What is wrong and how to fix it.
        message: String,
    },

    /// The server rejected the credential (HTTP 401): it is wrong, revoked or was deleted.
    #[error("unauthorized: {message}. {help}")]
    Unauthorized {
        /// The server's own explanation, when it gave one.
        message: String,
        /// How the user obtains a working credential (the server's `credential_help()`).
        help: String,
    },

    /// The credential is valid but its user may not do this (HTTP 403).
    #[error("forbidden: {message}")]
    Forbidden {
        /// The server's explanation and what to do about it.
        message: String,
    },

    /// The server asks the client to slow down (HTTP 429).
    #[error("rate limited: {message}{}", retry_after.map(|d| format!("; retry in {} s", d.as_secs().max(1))).unwrap_or_default())]
    RateLimited {
        /// How long the server asked to wait, when it said.
        retry_after: Option<Duration>,
        /// The server's explanation.
        message: String,
    },

    /// The server no longer knows the MCP session, and it could not be re-established
    /// transparently.
    #[error("the MCP session expired on the server and could not be re-established")]
    SessionExpired,

    /// A time limit was reached.
    #[error("timed out: {what}")]
    Timeout {
        /// Which limit (connect, request, idle stream …).
        what: String,
    },

    /// The connection failed or broke (DNS, TCP, TLS, a dropped stream).
    #[error("transport error: {message}")]
    Transport {
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },

    /// The server answered with an HTTP status this client does not expect (for example a 5xx).
    #[error("HTTP {status} from the server: {message}")]
    HttpStatus {
        /// The HTTP status code.
        status: u16,
        /// The server's explanation, or the status's reason phrase.
        message: String,
        /// How long the server asked to wait before retrying, when it said.
        retry_after: Option<Duration>,
    },

    /// The server's reply breaks the protocol (malformed JSON, wrong content type, missing id …).
    #[error("protocol error: {message}")]
    Protocol {
        /// What was wrong with the reply.
        message: String,
    },

    /// The server answered the request with a JSON-RPC error.
    #[error("server error {code}: {message}")]
    Server {
        /// The JSON-RPC error code.
        code: i64,
        /// The JSON-RPC error message.
        message: String,
        /// The JSON-RPC error data, if any.
        data: Option<serde_json::Value>,
    },

    /// A reply or an SSE event exceeded the configured size limit.
    #[error("the server's reply is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },

    /// The gateway's policy does not allow this user or this tool.
    #[error("denied by policy: {reason}")]
    PolicyDenied {
        /// Which rule denied the call.
        reason: String,
    },

    /// The session was closed before or during the request.
    #[error("the MCP session is closed")]
    Closed,
}

impl Error {
    /// Whether repeating the same request later may succeed: rate limits, time-outs, broken
    /// connections, expired sessions and the server errors 500, 502, 503 and 504.
    ///
    /// A rejected credential, a denied call or a malformed reply is never retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. }
            | Error::Timeout { .. }
            | Error::Transport { .. }
            | Error::SessionExpired => true,
            Error::HttpStatus { status, .. } => matches!(status, 500 | 502 | 503 | 504),
            Error::Credential(err) => err.is_retryable(),
            _ => false,
        }
    }

    /// How long the server asked to wait before retrying, when it said (HTTP `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } | Error::HttpStatus { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// Whether the error means the user's credential is not accepted (401, or a credential the
    /// provider knows is revoked, expired or missing).
    pub fn is_credential_problem(&self) -> bool {
        matches!(
            self,
            Error::Unauthorized { .. } | Error::InvalidCredential { .. } | Error::Credential(_)
        )
    }

    /// Replaces `secret` wherever the server's words could have echoed it.
    pub(crate) fn scrub_secret(self, secret: &str) -> Self {
        const REDACTED: &str = "[redacted]";
        if secret.len() < 4 {
            return self;
        }
        let clean = |text: String| {
            if text.contains(secret) {
                text.replace(secret, REDACTED)
            } else {
                text
            }
        };
        match self {
            Error::Unauthorized { message, help } => Error::Unauthorized {
                message: clean(message),
                help,
            },
            Error::Forbidden { message } => Error::Forbidden {
                message: clean(message),
            },
            Error::RateLimited {
                retry_after,
                message,
            } => Error::RateLimited {
                retry_after,
                message: clean(message),
            },
            Error::HttpStatus {
                status,
                message,
                retry_after,
            } => Error::HttpStatus {
                status,
                message: clean(message),
                retry_after,
            },
            Error::Protocol { message } => Error::Protocol {
                message: clean(message),
            },
            Error::Server {
                code,
                message,
                data,
            } => Error::Server {
                code,
                message: clean(message),
                data: data.map(|data| {
                    if data.to_string().contains(secret) {
                        serde_json::Value::String(REDACTED.to_owned())
                    } else {
                        data
                    }
                }),
            },
            other => other,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::InvalidConfig {
            message: message.into(),
        }
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        Error::Protocol {
            message: message.into(),
        }
    }

    pub(crate) fn transport(message: impl Into<String>, source: Option<BoxError>) -> Self {
        Error::Transport {
            message: message.into(),
            source,
        }
    }

    pub(crate) fn timeout(what: impl Into<String>) -> Self {
        Error::Timeout { what: what.into() }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The crate's error type.
//!
//! Every fallible public function returns [`Error`]. Messages are written for the person who has to
//! act on them (a gateway admin or an end user) and never contain a token: every text built from a
//! server's reply passes one redaction step that knows the credential the request carried (see
//! [`crate::redaction`]), and deserialization errors name the path and the kind of the offending
//! value, never the value.
//!
//! A gateway decides what to do with an error through its accessors, without matching every
//! variant: [`Error::kind`], [`Error::status`], [`Error::is_timeout`], [`Error::retry_after`],
//! [`Error::may_have_run`] and [`Error::is_retryable`].

mod decode;
mod kind;

use std::time::Duration;

use crate::credential::{CredentialError, UserId};
use crate::redaction::Redactor;

pub(crate) use decode::decode;
pub use kind::ErrorKind;

/// A boxed error source kept inside [`Error::Transport`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong while connecting a user to a remote MCP server.
///
/// The enum and its struct variants are `#[non_exhaustive]`: match with `{ .. }` and keep a
/// fallback arm, or use the accessors ([`Error::kind`], [`Error::status`], [`Error::is_timeout`],
/// [`Error::retry_after`], [`Error::may_have_run`], [`Error::is_retryable`]).
///
/// Each variant's documentation ends with the answer a gateway usually gives its own client
/// ("Gateway: …").
///
/// ```
/// use pagerduty_mcp_connect::{AuthScheme, Error, ErrorKind};
/// use secrecy::SecretString;
///
/// let err = AuthScheme::token()
///     .header_value(&SecretString::from("bad\r\ntoken"))
///     .unwrap_err();
/// assert!(matches!(err, Error::InvalidCredential { .. }));
/// assert_eq!(err.kind(), ErrorKind::InvalidCredential);
/// assert!(!err.is_retryable());
/// assert!(!err.may_have_run());
/// assert!(!err.to_string().contains("bad"));
/// ```
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The credential cannot be sent at all (empty, or holding control or non-ASCII characters).
    /// The message says what is wrong without repeating the token.
    ///
    /// Gateway: 400 to the user, who must supply a usable credential.
    #[non_exhaustive]
    #[error("invalid credential: {reason}")]
    InvalidCredential {
        /// What is wrong with the credential.
        reason: String,
    },

    /// The credential provider could not produce a credential for the user.
    ///
    /// Gateway: [`CredentialError::NotFound`], `Revoked` and `Expired` mean "connect your account
    /// again" (401 to the user); `Unavailable` is the gateway's own store failing (503).
    #[error(transparent)]
    Credential(#[from] CredentialError),

    /// The credential provider gave no answer within the connector's time limit
    /// ([`ConnectorBuilder::credential_timeout`](crate::ConnectorBuilder::credential_timeout)).
    /// Nothing was sent to the server.
    ///
    /// Gateway: 503 (the gateway's own credential store is slow); retryable.
    #[non_exhaustive]
    #[error("the credential provider gave no credential for user {user} within {} ms", after.as_millis())]
    CredentialTimeout {
        /// The user whose credential was asked for.
        user: UserId,
        /// The time limit that was reached.
        after: Duration,
    },

    /// The configuration is unusable (a bad header name, an endpoint that is not HTTPS, a reply
    /// from another origin after a redirect …).
    ///
    /// Gateway: 500; an operator must fix the configuration.
    #[non_exhaustive]
    #[error("invalid configuration: {message}")]
    InvalidConfig {
        /// What is wrong and how to fix it.
        message: String,
    },

    /// The server rejected the credential (HTTP 401): it is wrong, revoked or was deleted. The
    /// connector has told the credential provider ([`CredentialProvider::invalidate`]) and sends
    /// this credential nowhere again.
    ///
    /// Gateway: 401 to the user with `help`, asking for a new credential.
    ///
    /// [`CredentialProvider::invalidate`]: crate::CredentialProvider::invalidate
    #[non_exhaustive]
    #[error("unauthorized: {message}. {help}")]
    Unauthorized {
        /// The server's own explanation, when it gave one.
        message: String,
        /// How the user obtains a working credential (the server's `credential_help()`).
        help: String,
    },

    /// The credential is valid but its user may not do this (HTTP 403).
    ///
    /// Gateway: 403 to the user with the message.
    #[non_exhaustive]
    #[error("forbidden: {message}")]
    Forbidden {
        /// The server's explanation and what to do about it.
        message: String,
    },

    /// The server asks the client to slow down (HTTP 429). The request was not carried out.
    ///
    /// Gateway: 429 with `Retry-After` set from [`Error::retry_after`].
    #[non_exhaustive]
    #[error("rate limited: {message}{}", retry_after.map(|d| format!("; retry in {} s", d.as_secs().max(1))).unwrap_or_default())]
    RateLimited {
        /// How long the server asked to wait, when it said.
        retry_after: Option<Duration>,
        /// The server's explanation.
        message: String,
    },

    /// The server no longer knows the MCP session, and it could not be re-established
    /// transparently (or the request had already been accepted on the lost session).
    ///
    /// Gateway: 503, retryable unless [`Error::may_have_run`].
    #[non_exhaustive]
    #[error("the MCP session expired on the server and could not be re-established{}", if *may_have_run { "; the request may already have run on the server" } else { "" })]
    SessionExpired {
        /// Whether the server had accepted the request before it lost the session, for a request
        /// that is not safe to repeat (see [`Error::may_have_run`]).
        may_have_run: bool,
    },

    /// A time limit was reached.
    ///
    /// Gateway: 504, retryable unless [`Error::may_have_run`].
    #[non_exhaustive]
    #[error("timed out: {what}{}", if *may_have_run { "; the request may have run on the server" } else { "" })]
    Timeout {
        /// Which limit (connect, request, idle stream …).
        what: String,
        /// Whether the request was sent and is not safe to repeat (see [`Error::may_have_run`]).
        may_have_run: bool,
    },

    /// The connection failed or broke (DNS, TCP, TLS, a dropped stream).
    ///
    /// Gateway: 502, retryable unless [`Error::may_have_run`].
    #[non_exhaustive]
    #[error("transport error: {message}{}", if *may_have_run { "; the request may have run on the server" } else { "" })]
    Transport {
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
        /// Whether the request was sent and is not safe to repeat (see [`Error::may_have_run`]).
        may_have_run: bool,
    },

    /// The server answered with an HTTP status this client does not expect (for example a 5xx).
    ///
    /// Gateway: 502 (the upstream failed); a 5xx is retryable unless [`Error::may_have_run`].
    #[non_exhaustive]
    #[error("HTTP {status} from the server: {message}{}", if *may_have_run { "; the request may have run on the server" } else { "" })]
    HttpStatus {
        /// The HTTP status code.
        status: u16,
        /// The server's explanation, or the status's reason phrase.
        message: String,
        /// How long the server asked to wait before retrying, when it said.
        retry_after: Option<Duration>,
        /// Whether the request is not safe to repeat and the server may have run it (a 5xx; see
        /// [`Error::may_have_run`]).
        may_have_run: bool,
    },

    /// The server's reply breaks the protocol (malformed JSON, wrong content type, missing id …).
    ///
    /// Gateway: 502 (the upstream is broken); not retryable.
    #[non_exhaustive]
    #[error("protocol error: {message}")]
    Protocol {
        /// What was wrong with the reply (never quoting a value of the server's).
        message: String,
        /// Whether the request is not safe to repeat and the server answered it, so it probably
        /// ran (see [`Error::may_have_run`]).
        may_have_run: bool,
    },

    /// The server answered the request with a JSON-RPC error.
    ///
    /// Gateway: pass it on as a JSON-RPC error with the same code (or 502 for a plain HTTP API).
    #[non_exhaustive]
    #[error("server error {code}: {message}")]
    Server {
        /// The JSON-RPC error code.
        code: i64,
        /// The JSON-RPC error message (cleaned and bounded).
        message: String,
        /// The JSON-RPC error data, if any.
        data: Option<serde_json::Value>,
    },

    /// A reply or an SSE event exceeded the configured size limit.
    ///
    /// Gateway: 502; not retryable.
    #[non_exhaustive]
    #[error("the server's reply is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
        /// Whether the request is not safe to repeat and the server answered it, so it probably
        /// ran (see [`Error::may_have_run`]).
        may_have_run: bool,
    },

    /// The gateway's policy does not allow this user or this tool. Nothing was sent.
    ///
    /// Gateway: 403 to the user with the reason.
    #[non_exhaustive]
    #[error("denied by policy: {reason}")]
    PolicyDenied {
        /// Which rule denied the call.
        reason: String,
    },

    /// The session was closed before or during the request.
    ///
    /// Gateway: 503; a new session (the connector opens one by itself) may succeed.
    #[error("the MCP session is closed")]
    Closed,
}

impl Error {
    /// What kind of error this is, as a `Copy` value to branch on.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidCredential { .. } => ErrorKind::InvalidCredential,
            Error::Credential(_) => ErrorKind::Credential,
            Error::CredentialTimeout { .. } => ErrorKind::CredentialTimeout,
            Error::InvalidConfig { .. } => ErrorKind::InvalidConfig,
            Error::Unauthorized { .. } => ErrorKind::Unauthorized,
            Error::Forbidden { .. } => ErrorKind::Forbidden,
            Error::RateLimited { .. } => ErrorKind::RateLimited,
            Error::SessionExpired { .. } => ErrorKind::SessionExpired,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Transport { .. } => ErrorKind::Transport,
            Error::HttpStatus { .. } => ErrorKind::HttpStatus,
            Error::Protocol { .. } => ErrorKind::Protocol,
            Error::Server { .. } => ErrorKind::Server,
            Error::TooLarge { .. } => ErrorKind::TooLarge,
            Error::PolicyDenied { .. } => ErrorKind::PolicyDenied,
            Error::Closed => ErrorKind::Closed,
        }
    }

    /// The HTTP status of the server's reply, when the error is one (401, 403, 429 and
    /// [`Error::HttpStatus`]).
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Unauthorized { .. } => Some(401),
            Error::Forbidden { .. } => Some(403),
            Error::RateLimited { .. } => Some(429),
            Error::HttpStatus { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether a time limit was reached (a request, the idle stream limit, or the credential
    /// provider's limit).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            Error::Timeout { .. } | Error::CredentialTimeout { .. }
        )
    }

    /// Whether the request **may have run on the server** although it failed: it was a request
    /// that is not safe to repeat (a `tools/call` of a tool not annotated read-only or
    /// idempotent), it was sent, and its outcome is unknown (a time-out, a connection that broke
    /// after the request was written, a 5xx, a session lost after the server accepted the
    /// request) or its reply was unusable although the server answered.
    ///
    /// When this is `true`, [`Error::is_retryable`] is `false`: repeating the call could carry
    /// out the write twice (open a second incident). Tell the user the outcome is unknown, or
    /// check the server's state before trying again. Always `false` for reads and for errors
    /// that mean the server did not act (401, 403, 429, a refused connection …).
    pub fn may_have_run(&self) -> bool {
        match self {
            Error::SessionExpired { may_have_run }
            | Error::Timeout { may_have_run, .. }
            | Error::Transport { may_have_run, .. }
            | Error::HttpStatus { may_have_run, .. }
            | Error::Protocol { may_have_run, .. }
            | Error::TooLarge { may_have_run, .. } => *may_have_run,
            _ => false,
        }
    }

    /// Whether repeating the same request later may succeed **and is safe**: rate limits,
    /// time-outs, broken connections, expired sessions, the server errors 500, 502, 503 and 504,
    /// and a credential store that failed or was slow, unless [`Error::may_have_run`] says a
    /// write may already have taken effect.
    ///
    /// A rejected credential, a denied call or a malformed reply is never retryable.
    pub fn is_retryable(&self) -> bool {
        if self.may_have_run() {
            return false;
        }
        match self {
            Error::RateLimited { .. }
            | Error::Timeout { .. }
            | Error::Transport { .. }
            | Error::SessionExpired { .. }
            | Error::CredentialTimeout { .. } => true,
            Error::HttpStatus { status, .. } => matches!(status, 500 | 502 | 503 | 504),
            Error::Credential(err) => err.is_retryable(),
            _ => false,
        }
    }

    /// How long the server asked to wait before retrying, when it said (HTTP `Retry-After`, or
    /// `ratelimit-reset`), capped at one hour.
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

    /// Records that this error ended a request that is not safe to repeat, after it was sent:
    /// sets `may_have_run` where the outcome is unknown or the server answered.
    pub(crate) fn after_unsafe_request(mut self) -> Self {
        match &mut self {
            Error::Timeout { may_have_run, .. }
            | Error::Protocol { may_have_run, .. }
            | Error::TooLarge { may_have_run, .. } => *may_have_run = true,
            Error::HttpStatus {
                status,
                may_have_run,
                ..
            } => *may_have_run = *status >= 500,
            // Set where it is created: only a session lost after the request was accepted.
            Error::SessionExpired { .. } => {}
            Error::Transport {
                may_have_run,
                source,
                ..
            } => {
                let connect = source
                    .as_ref()
                    .and_then(|s| s.downcast_ref::<reqwest::Error>())
                    .is_some_and(reqwest::Error::is_connect);
                *may_have_run = !connect;
            }
            _ => {}
        }
        self
    }

    /// Clears `may_have_run`: the request was safe to repeat.
    pub(crate) fn after_safe_request(mut self) -> Self {
        if let Error::SessionExpired { may_have_run }
        | Error::Timeout { may_have_run, .. }
        | Error::Transport { may_have_run, .. }
        | Error::HttpStatus { may_have_run, .. }
        | Error::Protocol { may_have_run, .. }
        | Error::TooLarge { may_have_run, .. } = &mut self
        {
            *may_have_run = false;
        }
        self
    }

    /// Passes every text of the error through `redactor`: no form of the credential it knows
    /// survives in `Display`, `Debug` or the source chain. Run it after any truncation.
    pub(crate) fn redact(self, redactor: &Redactor) -> Self {
        if redactor.is_empty() {
            return self;
        }
        let clean = |text: String| redactor.redact_owned(text);
        match self {
            Error::InvalidCredential { reason } => Error::InvalidCredential {
                reason: clean(reason),
            },
            Error::InvalidConfig { message } => Error::InvalidConfig {
                message: clean(message),
            },
            Error::Unauthorized { message, help } => Error::Unauthorized {
                message: clean(message),
                help: clean(help),
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
            Error::Timeout { what, may_have_run } => Error::Timeout {
                what: clean(what),
                may_have_run,
            },
            Error::Transport {
                message,
                source,
                may_have_run,
            } => Error::Transport {
                message: clean(message),
                // A source is opaque: keep it only when no part of its chain holds the secret.
                source: source.filter(|source| redactor.is_clean(&error_chain(source.as_ref()))),
                may_have_run,
            },
            Error::HttpStatus {
                status,
                message,
                retry_after,
                may_have_run,
            } => Error::HttpStatus {
                status,
                message: clean(message),
                retry_after,
                may_have_run,
            },
            Error::Protocol {
                message,
                may_have_run,
            } => Error::Protocol {
                message: clean(message),
                may_have_run,
            },
            Error::Server {
                code,
                message,
                data,
            } => Error::Server {
                code,
                message: clean(message),
                data: data.map(|data| redactor.redact_value(data)),
            },
            Error::PolicyDenied { reason } => Error::PolicyDenied {
                reason: clean(reason),
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
            may_have_run: false,
        }
    }

    pub(crate) fn transport(message: impl Into<String>, source: Option<BoxError>) -> Self {
        Error::Transport {
            message: message.into(),
            source,
            may_have_run: false,
        }
    }

    pub(crate) fn timeout(what: impl Into<String>) -> Self {
        Error::Timeout {
            what: what.into(),
            may_have_run: false,
        }
    }

    pub(crate) fn http_status(
        status: u16,
        message: impl Into<String>,
        retry_after: Option<Duration>,
    ) -> Self {
        Error::HttpStatus {
            status,
            message: message.into(),
            retry_after,
            may_have_run: false,
        }
    }

    pub(crate) fn too_large(limit: usize) -> Self {
        Error::TooLarge {
            limit,
            may_have_run: false,
        }
    }

    /// The session is gone; `may_have_run` when the server had accepted the request already.
    pub(crate) fn session_expired(may_have_run: bool) -> Self {
        Error::SessionExpired { may_have_run }
    }

    /// A JSON-RPC error answered by the server (for code that maps errors, and its tests).
    pub fn server(code: i64, message: impl Into<String>, data: Option<serde_json::Value>) -> Self {
        Error::Server {
            code,
            message: message.into(),
            data,
        }
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Error::Forbidden {
            message: message.into(),
        }
    }

    /// The server rejected the credential (HTTP 401); `help` says how to get a working one.
    pub fn unauthorized(message: impl Into<String>, help: impl Into<String>) -> Self {
        Error::Unauthorized {
            message: message.into(),
            help: help.into(),
        }
    }

    /// A policy refused the request before anything was sent.
    pub fn policy_denied(reason: impl Into<String>) -> Self {
        Error::PolicyDenied {
            reason: reason.into(),
        }
    }

    /// Too many requests (HTTP 429, or a per-user budget spent); `retry_after` is how long to
    /// wait, when known.
    pub fn rate_limited(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Error::RateLimited {
            retry_after,
            message: message.into(),
        }
    }
}

/// The `Display` of an error and of every source under it, one per line.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(source) = next {
        text.push('\n');
        text.push_str(&source.to_string());
        next = source.source();
    }
    text
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! Why a configuration or a presented access token was refused.

use std::time::Duration;

/// Why an [`OAuthResourceServer`](super::OAuthResourceServer) could not be built.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthConfigError {
    /// The resource URI is not an absolute `https://` URI (or `http://` to loopback) without a
    /// fragment, user name or password.
    #[error("the gateway's resource URI {uri:?} is not usable: {reason}")]
    InvalidResource {
        /// The URI as given.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An issuer URL is not an absolute `https://` URL (or `http://` to loopback) without a
    /// query, fragment, user name or password.
    #[error("the issuer URL {uri:?} is not usable: {reason}")]
    InvalidIssuer {
        /// The URL as given.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No issuer was configured.
    #[error(
        "no authorization server: name at least one issuer (OAuthBuilder::issuer) whose access tokens the gateway accepts"
    )]
    NoIssuer,
    /// The introspection endpoint is not usable.
    #[error("the token introspection endpoint {uri:?} is not usable: {reason}")]
    InvalidIntrospection {
        /// The URL as given.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A scope or claim name is empty or holds characters a scope cannot (RFC 6749: visible
    /// ASCII except `"` and `\`, no spaces).
    #[error("{what} {value:?} is not valid: {reason}")]
    InvalidName {
        /// What it was (`scope`, `user claim`).
        what: &'static str,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The build has no crypto backend for signatures (enable the `rustls` or `rustls-ring`
    /// feature), or the HTTP client could not be built.
    #[error("OAuth is not available in this build: {0}")]
    Unavailable(String),
}

/// Why a presented access token was refused. Never carries the token, nor any value read from
/// it: only what the gateway expected, so that it can be shown to the agent and logged.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT the gateway can read (not three base64url parts of JSON), and no introspection
    /// endpoint is configured for opaque tokens.
    #[error("the access token is not a well-formed JWT")]
    Malformed,
    /// The JWT's `alg` is not one of the asymmetric algorithms accepted (`RS256`, `RS384`,
    /// `RS512`, `PS256`, `PS384`, `PS512`, `ES256`, `ES384`, `EdDSA`), or does not match the
    /// issuer's key (`none` and the `HS*` algorithms are never accepted).
    #[error(
        "the access token's signing algorithm is not accepted (only RS256/384/512, PS256/384/512, ES256/384 and EdDSA, matching the issuer's key)"
    )]
    UnsupportedAlgorithm,
    /// The token's `iss` is not one of the configured issuers.
    #[error("the access token was not issued by an authorization server this gateway trusts")]
    WrongIssuer,
    /// The token's key id is not in the issuer's JWKS (even after fetching it again).
    #[error("the access token's signing key is not among the issuer's published keys")]
    UnknownKey,
    /// The signature does not verify with the issuer's key.
    #[error("the access token's signature is not valid")]
    BadSignature,
    /// `exp` has passed (beyond the leeway).
    #[error("the access token has expired")]
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    #[error("the access token is not valid yet")]
    NotYetValid,
    /// A claim the gateway requires is missing or malformed (`exp`, `iss`, `aud`).
    #[error("the access token lacks the claim {0:?} or it is malformed")]
    MissingClaim(&'static str),
    /// `aud` does not name this gateway's resource URI (RFC 8707): the token was issued for
    /// another resource.
    #[error("the access token was issued for another resource, not {resource}")]
    WrongAudience {
        /// This gateway's resource URI.
        resource: String,
    },
    /// The claim naming the user is missing, not a string, empty, longer than 256 bytes or
    /// holds control characters.
    #[error("the access token has no usable {claim:?} claim naming the user")]
    NoUser {
        /// The configured user claim.
        claim: String,
    },
    /// The token lacks a required scope.
    #[error("the access token lacks the required scope: {required}")]
    InsufficientScope {
        /// The required scopes, space-separated.
        required: String,
    },
    /// The introspection endpoint says the token is not active.
    #[error("the access token is not active (revoked, expired or unknown to the issuer)")]
    Inactive,
    /// The issuer's metadata, keys or introspection endpoint could not be reached or read in
    /// time: the token could not be checked.
    #[error("the authorization server could not be reached to check the access token: {0}")]
    IssuerUnavailable(String),
}

impl TokenError {
    /// The rejection's metric reason (`mcp_gateway_rejected_requests_total{reason}`).
    pub fn reason(&self) -> &'static str {
        match self {
            TokenError::Malformed => "token_malformed",
            TokenError::UnsupportedAlgorithm => "token_algorithm",
            TokenError::WrongIssuer => "token_wrong_issuer",
            TokenError::UnknownKey => "token_unknown_key",
            TokenError::BadSignature => "token_bad_signature",
            TokenError::Expired => "token_expired",
            TokenError::NotYetValid => "token_not_yet_valid",
            TokenError::MissingClaim(_) => "token_missing_claim",
            TokenError::WrongAudience { .. } => "token_wrong_audience",
            TokenError::NoUser { .. } => "token_no_user",
            TokenError::InsufficientScope { .. } => "insufficient_scope",
            TokenError::Inactive => "token_inactive",
            TokenError::IssuerUnavailable(_) => "issuer_unavailable",
        }
    }

    /// Whether the answer is 403 `insufficient_scope` (the token is fine, its scopes are not)
    /// rather than 401 `invalid_token`.
    pub fn is_insufficient_scope(&self) -> bool {
        matches!(self, TokenError::InsufficientScope { .. })
    }
}

/// Why a fetch from the issuer failed (kept to repeat it while refetching is rate-limited).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("{url} did not answer within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("{url} answered more than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} could not be reached: {reason}")]
    Connect { url: String, reason: String },
    #[error("{url} answered a document that is not what was expected: {reason}")]
    Invalid { url: String, reason: String },
}

impl From<FetchError> for TokenError {
    fn from(err: FetchError) -> Self {
        TokenError::IssuerUnavailable(err.to_string())
    }
}

//! [`OAuthBuilder`]: what the gateway's operator configures (the issuers, the resource URI, the
//! scopes, the user claim, introspection, limits), checked once by [`OAuthBuilder::build`].

use std::fmt;
use std::time::Duration;

use secrecy::SecretString;
use url::{Host, Url};

use super::error::OAuthConfigError;
use super::server::OAuthResourceServer;

/// The claim that names the user when none is configured: the subject.
pub const DEFAULT_USER_CLAIM: &str = "sub";

/// The most leeway allowed for `exp`, `nbf` and `iat` (clock skew between the gateway and the
/// authorization server).
pub(crate) const MAX_LEEWAY: Duration = Duration::from_secs(60);
/// The default leeway.
pub(crate) const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// How long one fetch from the issuer may take by default (metadata, JWKS, introspection).
pub(crate) const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest document the gateway reads from the issuer by default.
pub(crate) const DEFAULT_MAX_DOCUMENT: usize = 1024 * 1024;
/// The least time between two JWKS fetches prompted by an unknown key id, by default.
pub(crate) const DEFAULT_JWKS_REFETCH: Duration = Duration::from_secs(30);
/// How old the cached JWKS may get before it is refreshed in the background, by default.
pub(crate) const DEFAULT_JWKS_MAX_AGE: Duration = Duration::from_secs(15 * 60);
/// How many validated tokens are remembered by default.
pub(crate) const DEFAULT_TOKEN_CACHE: usize = 16 * 1024;

/// Builds an [`OAuthResourceServer`]: the gateway's public resource URI is required up front,
/// everything else is a setter; [`build`](Self::build) checks it all.
///
/// ```
/// use pagerduty_mcp_connect_gateway::OAuthResourceServer;
///
/// let oauth = OAuthResourceServer::builder("https://gw.example.com/mcp")
///     .issuer("https://login.example.com/realms/acme")
///     .required_scope("mcp:tools")
///     .user_claim("email")
///     .build()
///     .unwrap();
/// assert_eq!(
///     oauth.resource_metadata_url().as_str(),
///     "https://gw.example.com/.well-known/oauth-protected-resource/mcp"
/// );
/// ```
#[must_use]
pub struct OAuthBuilder {
    pub(crate) resource: String,
    pub(crate) issuers: Vec<String>,
    pub(crate) required_scopes: Vec<String>,
    pub(crate) scopes_supported: Option<Vec<String>>,
    pub(crate) user_claim: String,
    pub(crate) introspection: Option<Introspection>,
    pub(crate) leeway: Duration,
    pub(crate) fetch_timeout: Duration,
    pub(crate) max_document_size: usize,
    pub(crate) jwks_refetch_interval: Duration,
    pub(crate) jwks_max_age: Duration,
    pub(crate) token_cache_capacity: usize,
}

impl fmt::Debug for OAuthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthBuilder")
            .field("resource", &self.resource)
            .field("issuers", &self.issuers)
            .field("required_scopes", &self.required_scopes)
            .field("user_claim", &self.user_claim)
            .field("introspection", &self.introspection)
            .finish_non_exhaustive()
    }
}

impl OAuthBuilder {
    pub(crate) fn new(resource: impl Into<String>) -> Self {
        OAuthBuilder {
            resource: resource.into(),
            issuers: Vec::new(),
            required_scopes: Vec::new(),
            scopes_supported: None,
            user_claim: DEFAULT_USER_CLAIM.to_owned(),
            introspection: None,
            leeway: DEFAULT_LEEWAY,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            max_document_size: DEFAULT_MAX_DOCUMENT,
            jwks_refetch_interval: DEFAULT_JWKS_REFETCH,
            jwks_max_age: DEFAULT_JWKS_MAX_AGE,
            token_cache_capacity: DEFAULT_TOKEN_CACHE,
        }
    }

    /// Adds an authorization server whose access tokens the gateway accepts, by its issuer
    /// identifier (`https://login.example.com/realms/acme`; `http://` only to loopback). A
    /// token's `iss` must equal one of them exactly; the issuer's keys are found through its
    /// metadata (`/.well-known/oauth-authorization-server`, then
    /// `/.well-known/openid-configuration`, with the path rules of RFC 8414 and OpenID Connect
    /// Discovery for an issuer with a path). Several may be added; all are listed in the
    /// protected resource metadata's `authorization_servers`.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Adds several issuers ([`issuer`](Self::issuer)).
    pub fn issuers<I, S>(mut self, issuers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.issuers.extend(issuers.into_iter().map(Into::into));
        self
    }

    /// Adds a scope every access token must carry (in its `scope` claim, space-separated, or
    /// `scp`). A token without it gets `403` with `error="insufficient_scope"`; the challenge
    /// on `401` names the required scopes, so that clients ask for them. Default: none.
    pub fn required_scope(mut self, scope: impl Into<String>) -> Self {
        self.required_scopes.push(scope.into());
        self
    }

    /// Adds several required scopes ([`required_scope`](Self::required_scope)).
    pub fn required_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.required_scopes
            .extend(scopes.into_iter().map(Into::into));
        self
    }

    /// The scopes the protected resource metadata lists as `scopes_supported` (default: the
    /// required scopes; none at all: the field is left out).
    pub fn scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes_supported = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The claim whose string value is the gateway user ([`UserId`](pagerduty_mcp_connect::UserId))
    /// the token stands for (default [`DEFAULT_USER_CLAIM`], `sub`; `email` when the credential
    /// store is keyed by email addresses). A token without it is refused.
    pub fn user_claim(mut self, claim: impl Into<String>) -> Self {
        self.user_claim = claim.into();
        self
    }

    /// Checks opaque (non-JWT) access tokens with the authorization server's introspection
    /// endpoint (RFC 7662). Without it, only JWT access tokens are accepted.
    pub fn introspection(mut self, introspection: Introspection) -> Self {
        self.introspection = Some(introspection);
        self
    }

    /// The clock skew allowed for `exp`, `nbf` and `iat` (default 30 s; at most 60 s: more is
    /// cut to 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.min(MAX_LEEWAY);
        self
    }

    /// How long one request to an issuer (metadata, JWKS, introspection) may take before it is
    /// abandoned and the token refused with a clear error (default 5 s; at least 100 ms).
    /// Requests whose token's key is already known never wait for such a fetch.
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout.max(Duration::from_millis(100));
        self
    }

    /// The largest metadata, JWKS or introspection document read from an issuer (default
    /// 1 MiB; at least 4 KiB). A larger one is refused with a clear error.
    pub fn max_document_size(mut self, bytes: usize) -> Self {
        self.max_document_size = bytes.max(4096);
        self
    }

    /// The least time between two JWKS fetches prompted by a token whose key id the cached
    /// JWKS lacks (default 30 s): a flood of tokens with made-up key ids costs the issuer one
    /// fetch per interval. A failed fetch is retried after at most 5 s.
    pub fn jwks_refetch_interval(mut self, interval: Duration) -> Self {
        self.jwks_refetch_interval = interval;
        self
    }

    /// How old the cached JWKS may get before it is fetched again in the background (default
    /// 15 minutes), so that a key the issuer withdrew stops being accepted.
    pub fn jwks_max_age(mut self, age: Duration) -> Self {
        self.jwks_max_age = age.max(Duration::from_secs(1));
        self
    }

    /// How many validated tokens are remembered (default 16,384; `0` turns the cache off).
    /// A remembered token (by its SHA-256 digest, never the token itself) is accepted without
    /// checking its signature again until it expires; when the cache is full the expired
    /// entries are dropped, and all of them if none has expired.
    pub fn token_cache_capacity(mut self, tokens: usize) -> Self {
        self.token_cache_capacity = tokens;
        self
    }

    /// Checks the configuration and builds the resource server. Nothing is fetched yet: an
    /// issuer's metadata and keys are fetched when the first token needs them (or by
    /// [`OAuthResourceServer::prefetch`]).
    ///
    /// # Errors
    ///
    /// [`OAuthConfigError`] naming what is wrong.
    pub fn build(self) -> Result<OAuthResourceServer, OAuthConfigError> {
        OAuthResourceServer::from_builder(self)
    }
}

/// Token introspection (RFC 7662) for opaque access tokens: the endpoint and the gateway's own
/// client credentials there (sent with HTTP Basic authentication).
///
/// ```
/// use pagerduty_mcp_connect_gateway::Introspection;
///
/// let introspection = Introspection::new(
///     "https://login.example.com/oauth2/introspect",
///     "mcp-gateway",
///     "client-secret-from-the-vault",
/// );
/// assert!(!format!("{introspection:?}").contains("client-secret"));
/// ```
#[derive(Clone)]
pub struct Introspection {
    pub(crate) endpoint: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretString,
}

impl Introspection {
    /// The endpoint (`https://`, or `http://` to loopback) and the gateway's client id and
    /// secret at the authorization server.
    pub fn new(
        endpoint: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<SecretString>,
    ) -> Self {
        Introspection {
            endpoint: endpoint.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspection")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("client_secret", &"** redacted **")
            .finish()
    }
}

/// Parses a URL the gateway talks to or names: absolute, `https://` or `http://` to loopback,
/// no user name or password, no fragment (the core's endpoint rule, for OAuth).
pub(crate) fn parse_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value.trim()).map_err(|err| format!("not an absolute URL ({err})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("it must not contain a user name or password".to_owned());
    }
    if url.fragment().is_some() {
        return Err("it must not have a fragment (#…)".to_owned());
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => {
            Err("plain http:// is allowed only to a loopback address; use https://".to_owned())
        }
        other => Err(format!("unsupported scheme {other:?}; use https://")),
    }
}

/// Whether the URL's host is a loopback address or `localhost` (the core's rule).
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Checks a scope token (RFC 6749 §3.3: `%x21 / %x23-5B / %x5D-7E`).
pub(crate) fn check_scope(scope: &str) -> Result<(), &'static str> {
    if scope.is_empty() {
        return Err("it is empty");
    }
    if !scope
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    {
        return Err("a scope is visible ASCII without spaces, quotes or backslashes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(parse_url("https://login.example.com/realms/acme").is_ok());
        assert!(parse_url("http://127.0.0.1:8080").is_ok());
        assert!(parse_url("http://[::1]:8080/x").is_ok());
        assert!(parse_url("http://localhost/x").is_ok());
        assert!(parse_url("http://login.example.com").is_err());
        assert!(parse_url("https://u:p@login.example.com").is_err());
        assert!(parse_url("https://login.example.com/#x").is_err());
        assert!(parse_url("ftp://login.example.com").is_err());
        assert!(parse_url("/relative").is_err());
    }

    #[test]
    fn scopes() {
        assert!(check_scope("mcp:tools").is_ok());
        assert!(check_scope("").is_err());
        assert!(check_scope("a b").is_err());
        assert!(check_scope("a\"b").is_err());
    }
}

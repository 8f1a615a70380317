//! What the crate needs to know about a remote MCP server.

use std::fmt;

use url::{Host, Url};

use crate::auth::AuthScheme;
use crate::error::{Error, Result};

/// Whose credential a connection to the server carries.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ConnectionType {
    /// Every user connects with their own credential (PagerDuty User API Tokens).
    #[default]
    PerUser,
    /// Every user shares one credential (a service account).
    Shared,
    /// The server needs no credential (an open or network-protected server); its scheme is
    /// [`AuthScheme::none`].
    NoCredential,
}

/// A remote MCP server reachable over Streamable HTTP with a header credential.
///
/// Object safe: a gateway can hold `Box<dyn RemoteMcpServer>` or `Arc<dyn RemoteMcpServer>`.
/// Implemented by the [`PagerDuty`](crate::PagerDuty) preset and by [`GenericServer`].
pub trait RemoteMcpServer: Send + Sync + fmt::Debug {
    /// A short human name, for logs and UIs ("PagerDuty (us)").
    fn name(&self) -> &str;
    /// The Streamable HTTP endpoint URL.
    fn endpoint(&self) -> &Url;
    /// How the credential is put on each request.
    fn auth_scheme(&self) -> &AuthScheme;
    /// Whether each user brings their own credential.
    fn connection_type(&self) -> ConnectionType;
    /// How a user obtains a credential; shown in [`Error::Unauthorized`] and in UIs.
    fn credential_help(&self) -> &str;

    /// What to advise when this server answers with HTTP `status` (401, 403 or 429), in place of
    /// the generic advice ("the credential was not accepted: …", "ask the service's
    /// administrator …", "too many requests; wait …"). The server's own message comes first in
    /// the error either way. `None` (the default) keeps the generic advice.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{PagerDuty, Region, RemoteMcpServer};
    ///
    /// let pagerduty = PagerDuty::new(Region::Us);
    /// assert!(pagerduty.error_advice(429).unwrap().contains("960"));
    /// assert_eq!(pagerduty.error_code_meaning(2006), Some("Authentication Failed"));
    /// ```
    fn error_advice(&self, status: u16) -> Option<&str> {
        let _ = status;
        None
    }

    /// Other forms of the auth header this server documents for the same credential. While the
    /// endpoint has accepted no form yet, a connection refused with 401 is tried once more in
    /// one of them (the one the server's `WWW-Authenticate` challenge names, else the first);
    /// the form that opens a session is then used for every user, and afterwards only a
    /// challenge naming another form is tried. Only forms in the same header count. `&[]` (the
    /// default): none.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{AuthScheme, PagerDuty, Region, RemoteMcpServer};
    ///
    /// let pagerduty = PagerDuty::new(Region::Us);
    /// assert_eq!(pagerduty.auth_scheme(), &AuthScheme::token());
    /// assert_eq!(pagerduty.auth_fallbacks(), [AuthScheme::token_equals(), AuthScheme::bearer()]);
    /// ```
    fn auth_fallbacks(&self) -> &[AuthScheme] {
        &[]
    }

    /// The per-user budget a [`Connector`](crate::Connector) keeps for this server's users
    /// unless told otherwise ([`ConnectorBuilder::user_budget`](crate::ConnectorBuilder::user_budget)):
    /// `None` (the default) for none. The [`PagerDuty`](crate::PagerDuty) preset brings
    /// PagerDuty's 960 requests per minute per user.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{PagerDuty, Region, RemoteMcpServer};
    ///
    /// assert_eq!(PagerDuty::new(Region::Us).user_budget().unwrap().requests(), 960);
    /// ```
    fn user_budget(&self) -> Option<crate::UserBudget> {
        None
    }

    /// What an application error code in this server's REST-style error bodies
    /// (`{"error":{"code":2006,"message":…}}`) means, added to the error's message. `None` (the
    /// default) shows the code alone.
    fn error_code_meaning(&self, code: i64) -> Option<&str> {
        let _ = code;
        None
    }
}

impl<S: RemoteMcpServer + ?Sized> RemoteMcpServer for std::sync::Arc<S> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn endpoint(&self) -> &Url {
        (**self).endpoint()
    }
    fn auth_scheme(&self) -> &AuthScheme {
        (**self).auth_scheme()
    }
    fn connection_type(&self) -> ConnectionType {
        (**self).connection_type()
    }
    fn credential_help(&self) -> &str {
        (**self).credential_help()
    }
    fn error_advice(&self, status: u16) -> Option<&str> {
        (**self).error_advice(status)
    }
    fn error_code_meaning(&self, code: i64) -> Option<&str> {
        (**self).error_code_meaning(code)
    }
    fn auth_fallbacks(&self) -> &[AuthScheme] {
        (**self).auth_fallbacks()
    }
    fn user_budget(&self) -> Option<crate::UserBudget> {
        (**self).user_budget()
    }
}

impl<S: RemoteMcpServer + ?Sized> RemoteMcpServer for Box<S> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn endpoint(&self) -> &Url {
        (**self).endpoint()
    }
    fn auth_scheme(&self) -> &AuthScheme {
        (**self).auth_scheme()
    }
    fn connection_type(&self) -> ConnectionType {
        (**self).connection_type()
    }
    fn credential_help(&self) -> &str {
        (**self).credential_help()
    }
    fn error_advice(&self, status: u16) -> Option<&str> {
        (**self).error_advice(status)
    }
    fn error_code_meaning(&self, code: i64) -> Option<&str> {
        (**self).error_code_meaning(code)
    }
    fn auth_fallbacks(&self) -> &[AuthScheme] {
        (**self).auth_fallbacks()
    }
    fn user_budget(&self) -> Option<crate::UserBudget> {
        (**self).user_budget()
    }
}

/// Any remote MCP server with a header credential, or with none.
///
/// The credential scheme is always named: servers differ (`Bearer` for OAuth, `Token` for
/// PagerDuty, an `X-Api-Key` header …), and a wrong guess sends the token in a form the server
/// rejects. A server that needs no credential is made with
/// [`without_credential`](Self::without_credential).
///
/// ```
/// use pagerduty_mcp_connect::{AuthScheme, ConnectionType, GenericServer, RemoteMcpServer};
///
/// let server = GenericServer::new("Example", "https://mcp.example.com/mcp", AuthScheme::bearer())?
///     .with_credential_help("Create a personal access token under Settings → Tokens.");
/// assert_eq!(server.endpoint().host_str(), Some("mcp.example.com"));
/// // Plain HTTP is refused except on loopback.
/// assert!(GenericServer::new("Example", "http://mcp.example.com/mcp", AuthScheme::bearer()).is_err());
/// assert!(GenericServer::new("Local", "http://127.0.0.1:8080/mcp", AuthScheme::bearer()).is_ok());
///
/// let open = GenericServer::without_credential("Docs", "https://docs.example.com/mcp")?;
/// assert_eq!(open.connection_type(), ConnectionType::NoCredential);
/// assert!(!open.auth_scheme().sends_credential());
/// # Ok::<(), pagerduty_mcp_connect::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct GenericServer {
    name: String,
    endpoint: Url,
    auth_scheme: AuthScheme,
    auth_fallbacks: Vec<AuthScheme>,
    connection_type: ConnectionType,
    credential_help: String,
}

impl GenericServer {
    /// A server called `name` at `endpoint` that takes each user's credential as `auth_scheme`
    /// says, with a generic help text. The endpoint must be `https://`, or `http://` on a loopback
    /// host.
    pub fn new(name: impl Into<String>, endpoint: &str, auth_scheme: AuthScheme) -> Result<Self> {
        let endpoint = parse_endpoint(endpoint)?;
        let connection_type = if auth_scheme.sends_credential() {
            ConnectionType::PerUser
        } else {
            ConnectionType::NoCredential
        };
        Ok(GenericServer {
            name: name.into(),
            endpoint,
            auth_scheme,
            auth_fallbacks: Vec::new(),
            connection_type,
            credential_help:
                "Ask the administrator of this MCP server how to obtain a personal access token."
                    .to_owned(),
        })
    }

    /// A server called `name` at `endpoint` that needs no credential: no credential header is
    /// sent ([`AuthScheme::none`], [`ConnectionType::NoCredential`]). A
    /// [`Connector`](crate::Connector) for it needs no credential provider. Plain `http://` is
    /// still refused except on loopback.
    pub fn without_credential(name: impl Into<String>, endpoint: &str) -> Result<Self> {
        Ok(
            GenericServer::new(name, endpoint, AuthScheme::none())?.with_credential_help(
                "This MCP server needs no credential; ask its administrator why it refused you.",
            ),
        )
    }

    /// Other forms of the auth header the server documents for the same credential, tried once
    /// on a 401 while the endpoint has accepted no form yet (see
    /// [`RemoteMcpServer::auth_fallbacks`]). None by default.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{AuthScheme, GenericServer, RemoteMcpServer};
    ///
    /// let server = GenericServer::new("ops", "https://mcp.example.com/mcp", AuthScheme::token())?
    ///     .with_auth_fallbacks([AuthScheme::bearer()]);
    /// assert_eq!(server.auth_fallbacks(), [AuthScheme::bearer()]);
    /// # Ok::<(), pagerduty_mcp_connect::Error>(())
    /// ```
    #[must_use]
    pub fn with_auth_fallbacks(mut self, forms: impl IntoIterator<Item = AuthScheme>) -> Self {
        self.auth_fallbacks = forms.into_iter().collect();
        self
    }

    /// Sets how the credential is sent ([`AuthScheme::none`] for no credential).
    #[must_use]
    pub fn with_auth_scheme(mut self, auth_scheme: AuthScheme) -> Self {
        self.auth_scheme = auth_scheme;
        self
    }

    /// Sets whose credential connections carry.
    #[must_use]
    pub fn with_connection_type(mut self, connection_type: ConnectionType) -> Self {
        self.connection_type = connection_type;
        self
    }

    /// Sets how a user obtains a credential.
    #[must_use]
    pub fn with_credential_help(mut self, help: impl Into<String>) -> Self {
        self.credential_help = help.into();
        self
    }
}

impl RemoteMcpServer for GenericServer {
    fn name(&self) -> &str {
        &self.name
    }
    fn endpoint(&self) -> &Url {
        &self.endpoint
    }
    fn auth_scheme(&self) -> &AuthScheme {
        &self.auth_scheme
    }
    fn connection_type(&self) -> ConnectionType {
        self.connection_type
    }
    fn credential_help(&self) -> &str {
        &self.credential_help
    }
    fn auth_fallbacks(&self) -> &[AuthScheme] {
        &self.auth_fallbacks
    }
}

/// Parses and checks an endpoint URL: `https://`, or `http://` only on a loopback host; no user
/// name or password in it (credentials travel in headers, never in URLs).
pub(crate) fn parse_endpoint(endpoint: &str) -> Result<Url> {
    let url = Url::parse(endpoint.trim())
        .map_err(|err| Error::config(format!("the endpoint is not a valid URL: {err}")))?;
    check_endpoint(&url)?;
    Ok(url)
}

/// Checks an endpoint URL; see [`parse_endpoint`].
pub(crate) fn check_endpoint(url: &Url) -> Result<()> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config(
            "the endpoint URL must not contain a user name or password; credentials are sent in a header",
        ));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(Error::config(format!(
            "refusing plain http:// to {}: credentials may travel unencrypted only to a loopback address; use https://",
            url.host_str().unwrap_or("")
        ))),
        other => Err(Error::config(format!(
            "unsupported URL scheme {other:?}: use https://"
        ))),
    }
}

/// Whether the URL's host is a loopback address or `localhost`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        // Only `localhost` itself: resolvers do not all keep `*.localhost` on this machine.
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_rules() {
        assert!(parse_endpoint("https://mcp.pagerduty.com/mcp").is_ok());
        assert!(parse_endpoint("http://127.0.0.1:1/mcp").is_ok());
        assert!(parse_endpoint("http://[::1]:1/mcp").is_ok());
        assert!(parse_endpoint("http://localhost:1/mcp").is_ok());
        assert!(parse_endpoint("http://mcp.pagerduty.com/mcp").is_err());
        assert!(parse_endpoint("http://127.0.0.1.example.com/mcp").is_err());
        assert!(parse_endpoint("ftp://x/mcp").is_err());
        assert!(parse_endpoint("not a url").is_err());
        let err = parse_endpoint("https://user:SECRETPW@mcp.example.com/").unwrap_err();
        assert!(!err.to_string().contains("SECRETPW"));
    }
}

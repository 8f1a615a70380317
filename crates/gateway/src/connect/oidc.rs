//! [`OidcSignIn`]: the connect page as an OAuth 2.1 / OpenID Connect client of the
//! authorization server the agents use (authorization code flow with PKCE, through the
//! `oauth2` crate), so that the person who opens a link proves who they are there.
//!
//! The code is exchanged for an access token for the gateway itself (RFC 8707 `resource` = the
//! gateway's resource URI), which the gateway's own [`OAuthResourceServer`] validates: the user
//! is named by exactly the claim, issuer, audience and signature checks that name an agent's
//! user at `/mcp`. The email address, for the optional email check, comes from the ID token of
//! the same token response (received directly from the token endpoint, OpenID Connect Core
//! §3.1.3.7; its `iss`, `aud` and `nonce` must match) or from a user id that is an email.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::OnceCell;
use url::Url;

use crate::oauth::OAuthResourceServer;

use super::error::ConnectConfigError;
use super::onboarding::SignedInUser;

/// The time limit of each exchange with the authorization server.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest reply read from the authorization server.
const MAX_REPLY: usize = 256 * 1024;

/// Why a sign-in at the authorization server did not name a user. Never holds a code, a
/// token or a secret.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// The authorization server could not be reached or answered something unusable.
    #[error("the sign-in server could not be used: {0}")]
    Unavailable(String),
    /// The authorization server refused (the person cancelled, the code was used or expired …).
    #[error("the sign-in was refused: {0}")]
    Refused(String),
    /// The token the sign-in gave does not name a user of this gateway.
    #[error("the sign-in did not name a user of this gateway: {0}")]
    NotAUser(String),
}

/// The parts of the authorization server's metadata used here (RFC 8414 / OIDC discovery).
#[derive(Debug, Clone, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    #[serde(default)]
    registration_endpoint: Option<String>,
}

/// The token response's extra field: the ID token.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct IdToken {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl ExtraTokenFields for IdToken {}

type TokenReply = StandardTokenResponse<IdToken, BasicTokenType>;

type CodeClient = oauth2::Client<
    BasicErrorResponse,
    TokenReply,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The connect page's sign-in with the gateway's authorization server: the gateway as an
/// OAuth 2.1 / OpenID Connect client (authorization code flow, PKCE S256, `state`, `nonce`,
/// RFC 8707 `resource`), whose access token the gateway's [`OAuthResourceServer`] validates
/// to name the user. Build it with [`OidcSignIn::builder`]; give it to
/// [`ConnectPageBuilder::oauth`](super::ConnectPageBuilder::oauth).
///
/// Register the gateway as a client of the authorization server with the redirect URI
/// `<public base>/connect/callback` (a public client, or a confidential one with
/// [`OidcSignInBuilder::client_secret`]); [`OidcSignIn::register_client`] does it with
/// dynamic client registration (RFC 7591) where the server offers it.
///
/// ```no_run
/// use pagerduty_mcp_connect_gateway::{OAuthResourceServer, OidcSignIn};
///
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let resource_server = OAuthResourceServer::builder("https://gw.example.com/mcp")
///     .issuer("https://login.example.com/realms/acme")
///     .user_claim("email")
///     .build()?;
/// let sign_in = OidcSignIn::builder(resource_server, "https://login.example.com/realms/acme", "mcp-gateway")
///     .client_secret("from-your-secret-manager")
///     .build()?;
/// # let _ = sign_in;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct OidcSignIn {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    issuer_url: Url,
    client_id: String,
    client_secret: Option<SecretString>,
    scopes: Vec<String>,
    resource_server: OAuthResourceServer,
    http: reqwest::Client,
    metadata: OnceCell<Metadata>,
}

impl fmt::Debug for OidcSignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcSignIn")
            .field("issuer", &self.inner.issuer)
            .field("client_id", &self.inner.client_id)
            .field("confidential", &self.inner.client_secret.is_some())
            .field("scopes", &self.inner.scopes)
            .finish_non_exhaustive()
    }
}

/// A builder of [`OidcSignIn`].
#[derive(Debug)]
#[must_use]
pub struct OidcSignInBuilder {
    resource_server: OAuthResourceServer,
    issuer: String,
    client_id: String,
    client_secret: Option<SecretString>,
    scopes: Option<Vec<String>>,
}

impl OidcSignInBuilder {
    /// The client secret of a confidential client (sent with HTTP Basic authentication).
    pub fn client_secret(mut self, secret: impl Into<SecretString>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// The scopes asked for (default: `openid email` and the resource server's required
    /// scopes).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The sign-in.
    ///
    /// # Errors
    ///
    /// [`ConnectConfigError::SignIn`] when the issuer is not one the resource server trusts,
    /// is not a usable URL, or the HTTP client cannot be built.
    pub fn build(self) -> Result<OidcSignIn, ConnectConfigError> {
        let issuer = self.issuer.trim().to_owned();
        if !self.resource_server.issuers().iter().any(|i| i == &issuer) {
            return Err(ConnectConfigError::SignIn(format!(
                "the issuer {issuer} is not one the gateway's OAuth resource server trusts ({})",
                self.resource_server.issuers().join(", ")
            )));
        }
        let issuer_url = Url::parse(&issuer)
            .map_err(|err| ConnectConfigError::SignIn(format!("issuer {issuer}: {err}")))?;
        if self.client_id.trim().is_empty() {
            return Err(ConnectConfigError::SignIn("an empty client id".to_owned()));
        }
        let scopes = self.scopes.unwrap_or_else(|| {
            let mut scopes = vec!["openid".to_owned(), "email".to_owned()];
            for scope in self.resource_server.required_scopes() {
                if !scopes.contains(scope) {
                    scopes.push(scope.clone());
                }
            }
            scopes
        });
        Ok(OidcSignIn {
            inner: Arc::new(Inner {
                issuer,
                issuer_url,
                client_id: self.client_id,
                client_secret: self.client_secret,
                scopes,
                resource_server: self.resource_server,
                http: http_client().map_err(ConnectConfigError::SignIn)?,
                metadata: OnceCell::new(),
            }),
        })
    }
}

impl OidcSignIn {
    /// A sign-in at `issuer` (one of `resource_server`'s issuers) as the client `client_id`.
    pub fn builder(
        resource_server: OAuthResourceServer,
        issuer: impl Into<String>,
        client_id: impl Into<String>,
    ) -> OidcSignInBuilder {
        OidcSignInBuilder {
            resource_server,
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: None,
            scopes: None,
        }
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// Registers a public client whose redirect URI is `redirect_uri` at `issuer` with
    /// dynamic client registration (RFC 7591); returns its client id.
    ///
    /// # Errors
    ///
    /// [`SignInError`] when the server offers no registration or refuses it.
    pub async fn register_client(
        issuer: &str,
        redirect_uri: &Url,
        client_name: &str,
    ) -> Result<String, SignInError> {
        let http = http_client().map_err(SignInError::Unavailable)?;
        let issuer_url =
            Url::parse(issuer).map_err(|err| SignInError::Unavailable(err.to_string()))?;
        let metadata = discover(&http, issuer, &issuer_url).await?;
        let endpoint = metadata.registration_endpoint.ok_or_else(|| {
            SignInError::Unavailable(format!("{issuer} offers no client registration"))
        })?;
        let body = serde_json::json!({
            "client_name": client_name,
            "redirect_uris": [redirect_uri.as_str()],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        });
        let response = http
            .post(&endpoint)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|err| SignInError::Unavailable(err.without_url().to_string()))?;
        let status = response.status();
        let reply = read_limited(response)
            .await
            .map_err(SignInError::Unavailable)?;
        let reply: Value = serde_json::from_slice(&reply)
            .map_err(|_| SignInError::Unavailable("the registration reply is not JSON".into()))?;
        if !status.is_success() {
            return Err(SignInError::Refused(format!(
                "client registration answered HTTP {}: {}",
                status.as_u16(),
                short(reply.get("error_description").or(reply.get("error")))
            )));
        }
        reply
            .get("client_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| SignInError::Unavailable("the registration gave no client_id".into()))
    }

    /// The authorization URL to send the browser to.
    pub(crate) async fn begin(
        &self,
        redirect_uri: &Url,
        state: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<Url, SignInError> {
        let client = self.client(redirect_uri).await?;
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            pkce_verifier.to_owned(),
        ));
        let state = state.to_owned();
        let (url, _) = client
            .authorize_url(move || CsrfToken::new(state))
            .add_scopes(self.inner.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .add_extra_param("resource", self.inner.resource_server.resource().to_owned())
            .add_extra_param("nonce", nonce.to_owned())
            .url();
        Ok(url)
    }

    /// Exchanges `code` and names the user.
    pub(crate) async fn finish(
        &self,
        redirect_uri: &Url,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<SignedInUser, SignInError> {
        let client = self.client(redirect_uri).await?;
        let http = self.inner.http.clone();
        let send = move |request: oauth2::HttpRequest| {
            let http = http.clone();
            async move { send(&http, request).await }
        };
        let reply = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .add_extra_param("resource", self.inner.resource_server.resource().to_owned())
            .request_async(&send)
            .await
            .map_err(|err| match err {
                RequestTokenError::ServerResponse(reply) => SignInError::Refused(format!(
                    "{}{}",
                    reply.error().as_ref(),
                    reply
                        .error_description()
                        .map(|d| format!(": {}", d.chars().take(200).collect::<String>()))
                        .unwrap_or_default()
                )),
                RequestTokenError::Request(err) => SignInError::Unavailable(err.0),
                RequestTokenError::Parse(_, _) => {
                    SignInError::Unavailable("the token endpoint's reply is not a token".into())
                }
                RequestTokenError::Other(what) => SignInError::Unavailable(what),
            })?;
        let validated = self
            .inner
            .resource_server
            .validate(reply.access_token().secret())
            .await
            .map_err(|err| SignInError::NotAUser(err.to_string()))?;
        let mut who = SignedInUser::new(validated.user);
        if let Some(id_token) = &reply.extra_fields().id_token
            && let Some(email) = self.email_of(id_token, nonce)?
        {
            who = who.with_email(email);
        }
        Ok(who)
    }

    /// The verified email of the ID token received straight from the token endpoint.
    fn email_of(&self, id_token: &str, nonce: &str) -> Result<Option<String>, SignInError> {
        let bad = |what: &str| SignInError::NotAUser(format!("the ID token {what}"));
        let payload = id_token
            .split('.')
            .nth(1)
            .ok_or_else(|| bad("is malformed"))?;
        let claims: Value = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| bad("is malformed"))?;
        if claims.get("iss").and_then(Value::as_str) != Some(self.inner.issuer.as_str()) {
            return Err(bad("names another issuer"));
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => aud == &self.inner.client_id,
            Some(Value::Array(list)) => list
                .iter()
                .any(|a| a.as_str() == Some(self.inner.client_id.as_str())),
            _ => false,
        };
        if !audience_ok {
            return Err(bad("is for another client"));
        }
        if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return Err(bad("answers another sign-in (nonce)"));
        }
        let verified = claims.get("email_verified").and_then(Value::as_bool) != Some(false);
        Ok(claims
            .get("email")
            .and_then(Value::as_str)
            .filter(|email| verified && !email.is_empty() && email.len() <= 256)
            .map(str::to_owned))
    }

    async fn client(&self, redirect_uri: &Url) -> Result<CodeClient, SignInError> {
        let metadata = self
            .inner
            .metadata
            .get_or_try_init(|| {
                discover(&self.inner.http, &self.inner.issuer, &self.inner.issuer_url)
            })
            .await?;
        let auth = AuthUrl::new(metadata.authorization_endpoint.clone())
            .map_err(|err| SignInError::Unavailable(format!("authorization endpoint: {err}")))?;
        let token = TokenUrl::new(metadata.token_endpoint.clone())
            .map_err(|err| SignInError::Unavailable(format!("token endpoint: {err}")))?;
        let mut client = oauth2::Client::new(ClientId::new(self.inner.client_id.clone()))
            .set_auth_uri(auth)
            .set_token_uri(token)
            .set_redirect_uri(RedirectUrl::from_url(redirect_uri.clone()));
        if let Some(secret) = &self.inner.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()));
        }
        Ok(client)
    }
}

/// The authorization server's metadata: RFC 8414, then OpenID Connect discovery.
async fn discover(
    http: &reqwest::Client,
    issuer: &str,
    issuer_url: &Url,
) -> Result<Metadata, SignInError> {
    let path = issuer_url.path().trim_end_matches('/');
    let origin = issuer_url.origin().ascii_serialization();
    let candidates = [
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ),
    ];
    let mut last = String::new();
    for candidate in candidates {
        let response = match http
            .get(&candidate)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
        {
            Ok(response) => response,
            Err(err) => {
                last = err.without_url().to_string();
                continue;
            }
        };
        if !response.status().is_success() {
            last = format!("{candidate} answered HTTP {}", response.status().as_u16());
            continue;
        }
        let body = read_limited(response)
            .await
            .map_err(SignInError::Unavailable)?;
        let metadata: Metadata = serde_json::from_slice(&body).map_err(|_| {
            SignInError::Unavailable(format!("{candidate} is not authorization server metadata"))
        })?;
        if metadata.issuer != issuer {
            return Err(SignInError::Unavailable(format!(
                "{candidate} names another issuer ({})",
                metadata.issuer
            )));
        }
        return Ok(metadata);
    }
    Err(SignInError::Unavailable(format!(
        "no metadata found for {issuer}: {last}"
    )))
}

/// An error of the HTTP exchange under `oauth2` (never a token: requests' bodies are not
/// part of it).
#[derive(Debug)]
struct HttpError(String);

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

/// Sends one of `oauth2`'s requests with the gateway's HTTP client, reading a bounded reply.
async fn send(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let url = parts.uri.to_string();
    let mut builder = http.request(parts.method, &url).body(body);
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let response = builder
        .send()
        .await
        .map_err(|err| HttpError(err.without_url().to_string()))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = read_limited(response).await.map_err(HttpError)?;
    let mut reply = http::Response::new(body);
    *reply.status_mut() = status;
    *reply.headers_mut() = headers;
    Ok(reply)
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| err.without_url().to_string())?
    {
        if body.len() + chunk.len() > MAX_REPLY {
            return Err(format!("the reply is larger than {MAX_REPLY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn short(value: Option<&Value>) -> String {
    value
        .and_then(Value::as_str)
        .unwrap_or("no reason given")
        .chars()
        .take(200)
        .collect()
}

/// The HTTP client of the sign-in: no redirects, bounded in time.
fn http_client() -> Result<reqwest::Client, String> {
    #[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
    {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
    }
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(TIMEOUT)
        .timeout(TIMEOUT)
        .user_agent(concat!(
            "pagerduty-mcp-connect-gateway/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .map_err(|err| format!("the HTTP client could not be built: {err}"))
}

//! Checking a User API Token against PagerDuty's REST API (`GET /users/me`), and finding the
//! service region it belongs to.

use std::sync::OnceLock;
use std::time::Duration;

use http::header::{ACCEPT, AUTHORIZATION, LOCATION};
use http::{HeaderValue, StatusCode};
use secrecy::SecretString;
use url::Url;

use super::CREDENTIAL_HELP;
use super::user::{PagerDutyUser, UserEnvelope};
use crate::auth::AuthScheme;
use crate::error::{Error, Result};
use crate::http_support::error_reply::{error_from_server_reply, reply_detail};
use crate::http_support::redirect_policy::{USER_AGENT, same_origin_only};
use crate::pagerduty::Region;
use crate::redaction::Redactor;
use crate::server::check_endpoint;
use crate::verifier::{CredentialVerifier, VerifiedIdentity};

/// The media type of PagerDuty's REST API v2.
const PAGERDUTY_V2: &str = "application/vnd.pagerduty+json;version=2";

/// How much of an error reply is read (the rest is ignored).
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Checks PagerDuty User API Tokens: who they belong to, and in which service region.
///
/// [`verify`](TokenVerifier::verify) calls `GET {api_url}/users/me` with
/// `Authorization: Token token=<token>` (PagerDuty's REST form, marked sensitive) and
/// `Accept: application/vnd.pagerduty+json;version=2`. A gateway calls it when a user submits a
/// token, to reject a wrong one at once and to learn the user's region. Without a region it tries
/// the US region first, then the EU region when the US one answers 401.
///
/// Safe by default: a 10 s time limit for the whole check, at most 1 MiB of reply
/// ([`Error::TooLarge`]), redirects followed only within the same origin (the token never goes to
/// another host), plain `http://` only to loopback addresses. The token is never logged, formatted
/// or put into an error; if a server echoes it, it is removed from the reply before the reply is
/// turned into an error message.
///
/// The verifier is cheap to clone; [`TokenVerifier::new`] shares one connection pool with every
/// other verifier made by `new` in the process.
///
/// ```
/// use pagerduty_mcp_connect::{Error, TokenVerifier};
/// use secrecy::SecretString;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Error> {
/// let verifier = TokenVerifier::new()?;
/// // A token with a line break is refused before anything is sent.
/// let err = verifier
///     .verify(&SecretString::from("u+abc\r\nX-Evil: 1"), None)
///     .await
///     .unwrap_err();
/// assert!(matches!(err, Error::InvalidCredential { .. }));
/// # Ok(())
/// # }
/// ```
///
/// Against PagerDuty itself:
///
/// ```no_run
/// use pagerduty_mcp_connect::{Error, TokenVerifier};
/// use secrecy::SecretString;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Error> {
/// let token = SecretString::from(std::env::var("PAGERDUTY_USER_API_TOKEN").unwrap_or_default());
/// match TokenVerifier::new()?.verify(&token, None).await {
///     Ok(user) => println!("{} <{}> ({}) in region {}", user.name, user.email, user.role, user.region),
///     Err(err @ Error::Unauthorized { .. }) => eprintln!("rejected: {err}"),
///     Err(err) => eprintln!("could not check the token: {err}"),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    client: reqwest::Client,
    api_urls: Vec<(Region, Url)>,
    timeout: Duration,
    body_limit: usize,
}

impl TokenVerifier {
    /// The time limit of one check (connect, request and reply), unless changed with
    /// [`with_timeout`](TokenVerifier::with_timeout).
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// The largest reply accepted, unless changed with
    /// [`with_body_limit`](TokenVerifier::with_body_limit).
    pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

    /// A verifier for the regions' public REST APIs, on a connection pool shared by every
    /// verifier made with `new` (built on first use: no redirects to other origins, a 10 s time
    /// limit).
    ///
    /// Fails only when the HTTP client cannot be built (for example no TLS backend is available).
    ///
    /// ```
    /// let verifier = pagerduty_mcp_connect::TokenVerifier::new()?;
    /// # drop(verifier);
    /// # Ok::<(), pagerduty_mcp_connect::Error>(())
    /// ```
    pub fn new() -> Result<Self> {
        static SHARED: OnceLock<reqwest::Client> = OnceLock::new();
        let client = match SHARED.get() {
            Some(client) => client.clone(),
            None => {
                let built = default_client()?;
                SHARED.get_or_init(|| built).clone()
            }
        };
        Ok(Self::with_client(client))
    }

    /// A verifier that sends its requests through `client` (for example the gateway's own pool).
    ///
    /// The verifier still applies its own time limit and body limit, and refuses a reply that
    /// came from another origin. Configure `client` not to follow redirects to other origins
    /// (`reqwest::redirect::Policy::none()`): reqwest's default policy would follow one, without the
    /// `Authorization` header, and the verifier would then reject the reply.
    ///
    /// ```
    /// use pagerduty_mcp_connect::TokenVerifier;
    ///
    /// let client = reqwest::Client::builder()
    ///     .redirect(reqwest::redirect::Policy::none())
    ///     .build()
    ///     .expect("client");
    /// let verifier = TokenVerifier::with_client(client);
    /// # drop(verifier);
    /// ```
    pub fn with_client(client: reqwest::Client) -> Self {
        TokenVerifier {
            client,
            api_urls: Vec::new(),
            timeout: Self::DEFAULT_TIMEOUT,
            body_limit: Self::DEFAULT_BODY_LIMIT,
        }
    }

    /// Sends the check for `region` to `api_url` instead of the region's public REST API (a
    /// proxy, or a fake server in tests). The URL must be `https://`, or `http://` on a loopback
    /// host, without a user name or password.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{Region, TokenVerifier};
    /// use url::Url;
    ///
    /// let verifier = TokenVerifier::new()?
    ///     .with_api_url(Region::Eu, Url::parse("http://127.0.0.1:9000/pd")?)?;
    /// assert_eq!(verifier.api_url(Region::Eu).as_str(), "http://127.0.0.1:9000/pd");
    /// assert_eq!(verifier.api_url(Region::Us).as_str(), "https://api.pagerduty.com/");
    /// assert!(TokenVerifier::new()?
    ///     .with_api_url(Region::Us, Url::parse("http://api.example.com")?)
    ///     .is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_api_url(mut self, region: Region, api_url: Url) -> Result<Self> {
        check_endpoint(&api_url).map_err(|err| Error::config(format!("REST API URL: {err}")))?;
        self.api_urls.retain(|(r, _)| *r != region);
        self.api_urls.push((region, api_url));
        Ok(self)
    }

    /// Sets the time limit of one check (per region tried), from connecting until the whole reply
    /// is read.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let verifier = pagerduty_mcp_connect::TokenVerifier::new()?.with_timeout(Duration::from_secs(3));
    /// # drop(verifier);
    /// # Ok::<(), pagerduty_mcp_connect::Error>(())
    /// ```
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the largest reply accepted, in bytes; a larger one is [`Error::TooLarge`].
    ///
    /// ```
    /// let verifier = pagerduty_mcp_connect::TokenVerifier::new()?.with_body_limit(64 * 1024);
    /// # drop(verifier);
    /// # Ok::<(), pagerduty_mcp_connect::Error>(())
    /// ```
    #[must_use]
    pub fn with_body_limit(mut self, limit: usize) -> Self {
        self.body_limit = limit;
        self
    }

    /// The REST API base URL used for `region`.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{Region, TokenVerifier};
    ///
    /// let verifier = TokenVerifier::new()?;
    /// assert_eq!(verifier.api_url(Region::Eu).as_str(), "https://api.eu.pagerduty.com/");
    /// # Ok::<(), pagerduty_mcp_connect::Error>(())
    /// ```
    pub fn api_url(&self, region: Region) -> Url {
        self.api_urls
            .iter()
            .find(|(r, _)| *r == region)
            .map_or_else(|| region.api_url(), |(_, url)| url.clone())
    }

    /// Checks `token` and says whose it is.
    ///
    /// With `Some(region)`, asks only that region. With `None`, asks the US region and, when it
    /// answers 401, the EU region; the user's [`region`](PagerDutyUser::region) tells which one
    /// accepted the token. Any other failure (403, 429, a time-out …) stops the search, so a
    /// temporary problem in one region is never mistaken for a wrong token.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidCredential`]: the token is empty or holds characters a header cannot
    ///   carry (nothing was sent);
    /// - [`Error::Unauthorized`]: PagerDuty rejected the token (in every region tried), with
    ///   PagerDuty's message and how to create a token;
    /// - [`Error::Forbidden`]: the token is valid but may not read its own user;
    /// - [`Error::RateLimited`]: too many requests, with the wait PagerDuty asked for;
    /// - [`Error::TooLarge`], [`Error::Timeout`], [`Error::Transport`], [`Error::Protocol`],
    ///   [`Error::HttpStatus`]: the check itself failed.
    ///
    /// ```no_run
    /// use pagerduty_mcp_connect::{Region, TokenVerifier};
    /// use secrecy::SecretString;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), pagerduty_mcp_connect::Error> {
    /// let token = SecretString::from("u+token-from-the-user");
    /// let user = TokenVerifier::new()?.verify(&token, Some(Region::Eu)).await?;
    /// println!("{} ({}) may use the EU server", user.name, user.email);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn verify(
        &self,
        token: &SecretString,
        region: Option<Region>,
    ) -> Result<PagerDutyUser> {
        let auth = AuthScheme::token_equals().header_value(token)?;
        if let Some(region) = region {
            return self
                .check(region, &auth)
                .await
                .map_err(|failure| failure.into_error());
        }
        let mut details = Vec::new();
        for region in Region::ALL {
            match self.check(region, &auth).await {
                Ok(user) => return Ok(user),
                Err(Failure::Rejected { detail, .. }) => details.push((region, detail)),
                Err(Failure::Other(err)) => return Err(err),
            }
        }
        let tried: Vec<&str> = details.iter().map(|(region, _)| region.as_str()).collect();
        let said: Vec<String> = details
            .iter()
            .filter_map(|(region, detail)| Some(format!("{region}: {}", detail.as_ref()?)))
            .collect();
        let mut message = format!(
            "no PagerDuty service region accepted the token (tried {}); it is wrong, or was revoked or deleted",
            tried.join(", ")
        );
        if !said.is_empty() {
            message.push_str(&format!(" (PagerDuty said {})", said.join("; ")));
        }
        Err(Error::Unauthorized {
            message,
            help: CREDENTIAL_HELP.to_owned(),
        })
    }

    /// One `GET /users/me` against one region.
    async fn check(
        &self,
        region: Region,
        auth: &HeaderValue,
    ) -> std::result::Result<PagerDutyUser, Failure> {
        let base = self.api_url(region);
        let url = users_me(&base).map_err(Failure::Other)?;
        let response = self
            .client
            .get(url.clone())
            .header(AUTHORIZATION, auth.clone())
            .header(ACCEPT, PAGERDUTY_V2)
            .header(http::header::USER_AGENT, USER_AGENT)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|err| Failure::Other(self.request_error(err, region)))?;

        if response.url().origin() != url.origin() {
            return Err(Failure::Other(Error::protocol(format!(
                "the PagerDuty token check ({region}) was redirected from {} to {}; a token check must be answered by the REST API itself: check the REST API URL",
                url.origin().ascii_serialization(),
                response.url().origin().ascii_serialization(),
            ))));
        }

        let status = response.status();
        if status.is_redirection() {
            let target = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|location| url.join(location).ok())
                .map_or_else(
                    || "an unknown place".to_owned(),
                    |to| to.origin().ascii_serialization(),
                );
            return Err(Failure::Other(Error::protocol(format!(
                "the PagerDuty token check ({region}) answered HTTP {} with a redirect to {target}; it was not followed, so the token was not sent there: check the REST API URL",
                status.as_u16()
            ))));
        }

        let headers = response.headers().clone();
        if status.is_success() {
            let body = read_body(response, self.body_limit, false)
                .await
                .map_err(|err| Failure::Other(self.body_error(err, region)))?;
            let envelope: UserEnvelope = serde_json::from_slice::<serde_json::Value>(&body)
                .map_err(|err| Error::protocol(format!("the reply is not valid JSON: {err}")))
                .and_then(|value| crate::error::decode(value, "user"))
                .map_err(|err| {
                    Failure::Other(Error::protocol(format!(
                        "the PagerDuty token check ({region}) answered HTTP {} with something that is not a user: {err}",
                        status.as_u16()
                    )).redact(&redactor(auth)))
                })?;
            return Ok(envelope.user.in_region(region));
        }

        let mut body = read_body(response, self.body_limit.min(ERROR_BODY_LIMIT), true)
            .await
            .map_err(|err| Failure::Other(self.body_error(err, region)))?;
        // Never let an echoed token into an error message.
        let bare = &auth.as_bytes()[AuthScheme::token_equals().prefix().len()..];
        scrub(&mut body, bare);
        let server = super::PagerDuty::new(region);
        let redactor = redactor(auth);
        let error = error_from_server_reply(status, &headers, &body, &server).redact(&redactor);
        if status == StatusCode::UNAUTHORIZED {
            Err(Failure::Rejected {
                detail: reply_detail(&headers, &body, &server)
                    .map(|detail| redactor.redact_owned(detail)),
                error,
            })
        } else {
            Err(Failure::Other(error))
        }
    }

    fn request_error(&self, err: reqwest::Error, region: Region) -> Error {
        if err.is_timeout() {
            return Error::timeout(format!(
                "the PagerDuty token check ({region}) got no answer within {} ms",
                self.timeout.as_millis()
            ));
        }
        let what = if err.is_connect() {
            format!(
                "could not connect to PagerDuty's REST API ({region}, {})",
                self.api_url(region).origin().ascii_serialization()
            )
        } else if err.is_redirect() {
            format!("the PagerDuty token check ({region}) was redirected too many times")
        } else {
            format!("the PagerDuty token check ({region}) failed")
        };
        Error::transport(what, Some(Box::new(err.without_url())))
    }

    fn body_error(&self, err: BodyError, region: Region) -> Error {
        match err {
            BodyError::TooLarge => Error::too_large(self.body_limit),
            BodyError::Read(err) => self.request_error(err, region),
        }
    }
}

/// Why one region's check failed.
enum Failure {
    /// 401: the region does not know the token.
    Rejected {
        /// The cleaned server message, if any.
        detail: Option<String>,
        /// The full error for this region alone.
        error: Error,
    },
    /// Anything else: stops a region search.
    Other(Error),
}

impl Failure {
    fn into_error(self) -> Error {
        match self {
            Failure::Rejected { error, .. } | Failure::Other(error) => error,
        }
    }
}

enum BodyError {
    TooLarge,
    Read(reqwest::Error),
}

/// `{base}/users/me`, keeping any path prefix of `base`.
fn users_me(base: &Url) -> Result<Url> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .map_err(|()| Error::config(format!("REST API URL {base} cannot have a path")))?
        .pop_if_empty()
        .extend(["users", "me"]);
    Ok(url)
}

/// Reads at most `limit` bytes of the reply. Beyond it: [`BodyError::TooLarge`], or with
/// `truncate` the first `limit` bytes.
async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
    truncate: bool,
) -> std::result::Result<Vec<u8>, BodyError> {
    if !truncate
        && response
            .content_length()
            .is_some_and(|len| len > limit as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        let room = limit - body.len();
        if chunk.len() > room {
            if truncate {
                body.extend_from_slice(&chunk[..room]);
                break;
            }
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A redactor for the token in `auth` (`Token token=<token>`).
fn redactor(auth: &HeaderValue) -> Redactor {
    let bare = &auth.as_bytes()[AuthScheme::token_equals().prefix().len().min(auth.len())..];
    Redactor::new().with_secret(&String::from_utf8_lossy(bare))
}

/// Replaces every occurrence of `secret` in `body` by `[redacted]`.
fn scrub(body: &mut Vec<u8>, secret: &[u8]) {
    if secret.is_empty() || body.len() < secret.len() {
        return;
    }
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    let mut found = false;
    while i < body.len() {
        if body[i..].starts_with(secret) {
            out.extend_from_slice(b"[redacted]");
            i += secret.len();
            found = true;
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    if found {
        *body = out;
    }
}

/// The verifier's own client: same-origin redirects only, the default time limits.
fn default_client() -> Result<reqwest::Client> {
    crate::http_support::tls::client_builder()
        .redirect(same_origin_only())
        .timeout(TokenVerifier::DEFAULT_TIMEOUT)
        .connect_timeout(TokenVerifier::DEFAULT_TIMEOUT)
        .user_agent(USER_AGENT)
        .build()
        .map_err(|err| {
            Error::transport(
                "could not build the HTTP client for the token check",
                Some(Box::new(err)),
            )
        })
}

/// A credential store checks tokens with it: US first, then EU, the region found becoming the
/// identity's route.
#[async_trait::async_trait]
impl CredentialVerifier for TokenVerifier {
    async fn verify_token(&self, token: &SecretString) -> Result<VerifiedIdentity> {
        self.verify(token, None).await.map(VerifiedIdentity::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_me_keeps_the_path_prefix() {
        let url = |s: &str| users_me(&Url::parse(s).unwrap()).unwrap().to_string();
        assert_eq!(
            url("https://api.pagerduty.com"),
            "https://api.pagerduty.com/users/me"
        );
        assert_eq!(
            url("https://api.pagerduty.com/"),
            "https://api.pagerduty.com/users/me"
        );
        assert_eq!(
            url("http://127.0.0.1:9/pd/?x=1#f"),
            "http://127.0.0.1:9/pd/users/me"
        );
    }

    #[test]
    fn scrub_removes_every_copy() {
        let mut body = b"a SECRET b SECRETSECRET".to_vec();
        scrub(&mut body, b"SECRET");
        assert_eq!(body, b"a [redacted] b [redacted][redacted]");
        let mut body = b"nothing".to_vec();
        scrub(&mut body, b"");
        assert_eq!(body, b"nothing");
    }

    #[test]
    fn api_url_overrides_are_checked() {
        let verifier = TokenVerifier::new().unwrap();
        assert!(
            verifier
                .clone()
                .with_api_url(
                    Region::Us,
                    Url::parse("https://user:pw@api.example.com").unwrap()
                )
                .is_err()
        );
        let verifier = verifier
            .with_api_url(Region::Us, Url::parse("http://localhost:1").unwrap())
            .unwrap()
            .with_api_url(Region::Us, Url::parse("http://localhost:2").unwrap())
            .unwrap();
        assert_eq!(verifier.api_url(Region::Us).port(), Some(2));
        assert_eq!(verifier.api_url(Region::Eu), Region::Eu.api_url());
    }
}

//! [`ConnectPage`]: the `/connect/…` router a person's browser reaches from a connect link.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::header::{CONTENT_TYPE, HeaderName, LOCATION, ORIGIN, SET_COOKIE};
use http::{HeaderMap, HeaderValue, StatusCode};
use url::Url;

use crate::keys::GatewayKeys;

use super::error::ConnectConfigError;
use super::headers::secure;
use super::html::{self, Notice};
use super::ids;
use super::oidc::OidcSignIn;
use super::onboarding::{Onboarding, SignedInUser};
use super::registry::{ConnectRegistry, LinkError};
use super::sessions::{self, PageSessions, Session, SessionLimits, SignIn};

/// The largest form accepted (a token is at most 4 KiB; the rest is refused with 413 before
/// it is read).
const MAX_FORM: usize = 32 * 1024;
/// How long a wrong gateway key's answer is held back (guessing keys through the page is slow).
const WRONG_KEY_DELAY: Duration = Duration::from_millis(250);

/// The connect page: what a person's browser reaches from a connect link
/// (`<public base>/connect/<elicitation id>`), as an axum [`Router`] to serve beside the
/// gateway (or on its own).
///
/// - `GET /connect/<id>`: a link that is unknown, expired, already used or retired answers
///   `410` (the same page for each); otherwise the person proves who they are, with the
///   gateway's authorization server ([`ConnectPageBuilder::oauth`]: `/connect/login`, then the
///   server's own sign-in, then `/connect/callback`) or with their gateway key
///   ([`ConnectPageBuilder::gateway_keys`]). A signed-in user other than the one the link was
///   made for is refused (`403`) and nothing is stored; the right user gets the token form.
/// - `POST /connect/<id>`: the pasted token is checked and stored ([`Onboarding`]); the link is
///   used up and the user's waiting connections complete; the browser goes on to the account
///   page, which says "Connected as \<name\> (\<email\>), \<region\>".
/// - `GET /connect/account`: the account page (the token's age and the advice to rotate it;
///   forms to replace the token, disconnect, sign out).
/// - `/connect/style.css`: the page's only stylesheet.
///
/// Server-rendered HTML that works without JavaScript; every response carries
/// `Cache-Control: no-store` (but the stylesheet), a strict Content-Security-Policy
/// ([`CONNECT_CSP`](super::CONNECT_CSP)), `X-Content-Type-Options: nosniff`,
/// `Referrer-Policy: no-referrer` and `X-Frame-Options: DENY`. Its session cookie
/// (`pdmcp_connect`, path `/connect`) is random, names server-side state only, is
/// `HttpOnly; SameSite=Strict` and `Secure` unless the public base is plain `http://`
/// (loopback), lives at most 30 minutes (10 idle), and gets a new value at sign-in; every
/// form carries the session's CSRF token, and a POST whose `Origin` is another site's is
/// refused. The token is never echoed: not in a page, a URL, a redirect, an error or a log
/// line.
///
/// ```no_run
/// use pagerduty_mcp_connect::{InMemoryCredentialStore, TokenVerifier};
/// use pagerduty_mcp_connect_gateway::{ConnectPage, ConnectRegistry, GatewayKeys, Onboarding};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let keys = GatewayKeys::new();
/// keys.insert("gk_alice_7f3c9a1e5b2d4c6a8e0f", "alice@example.com")?;
/// let registry = ConnectRegistry::new("https://gw.example.com")?;
/// let onboarding = Onboarding::new(TokenVerifier::new()?, InMemoryCredentialStore::new());
/// let page = ConnectPage::builder(registry.clone(), onboarding)
///     .gateway_keys(keys)
///     .build()?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// axum::serve(listener, page.router()).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ConnectPage {
    inner: Arc<Inner>,
}

struct Inner {
    registry: ConnectRegistry,
    onboarding: Onboarding,
    oauth: Option<OidcSignIn>,
    keys: Option<GatewayKeys>,
    sessions: PageSessions,
    redirect_uri: Url,
    origin: String,
    secure_cookies: bool,
}

impl fmt::Debug for ConnectPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectPage")
            .field("registry", &self.inner.registry)
            .field("onboarding", &self.inner.onboarding)
            .field("oauth", &self.inner.oauth)
            .field("gateway_keys", &self.inner.keys.is_some())
            .field("sessions", &self.inner.sessions.len())
            .finish_non_exhaustive()
    }
}

/// A builder of [`ConnectPage`].
#[derive(Debug)]
#[must_use]
pub struct ConnectPageBuilder {
    registry: ConnectRegistry,
    onboarding: Onboarding,
    oauth: Option<OidcSignIn>,
    keys: Option<GatewayKeys>,
    limits: SessionLimits,
}

impl ConnectPageBuilder {
    /// People sign in with the gateway's authorization server (the gateway as its OAuth
    /// client, PKCE): the user is who the gateway's resource server says the access token
    /// names.
    pub fn oauth(mut self, sign_in: OidcSignIn) -> Self {
        self.oauth = Some(sign_in);
        self
    }

    /// People (static-key users) sign in by pasting their gateway key, checked against `keys`.
    pub fn gateway_keys(mut self, keys: GatewayKeys) -> Self {
        self.keys = Some(keys);
        self
    }

    /// How long a session of the page lives unused (10 minutes by default) and at most (30
    /// minutes by default).
    pub fn session_lifetime(mut self, idle: Duration, absolute: Duration) -> Self {
        self.limits.idle = idle;
        self.limits.absolute = absolute.max(idle);
        self
    }

    /// The most sessions (and sign-ins under way) kept at once: 20,000 by default; beyond
    /// it the least recently used give way.
    pub fn max_sessions(mut self, n: usize) -> Self {
        self.limits.max_sessions = n.max(1);
        self.limits.max_sign_ins = n.max(1);
        self
    }

    /// The page.
    ///
    /// # Errors
    ///
    /// [`ConnectConfigError::NoSignIn`] without [`oauth`](Self::oauth) and
    /// [`gateway_keys`](Self::gateway_keys).
    pub fn build(self) -> Result<ConnectPage, ConnectConfigError> {
        if self.oauth.is_none() && self.keys.is_none() {
            return Err(ConnectConfigError::NoSignIn);
        }
        let base = self.registry.public_base().clone();
        let redirect_uri = base
            .join("connect/callback")
            .map_err(|err| ConnectConfigError::SignIn(err.to_string()))?;
        Ok(ConnectPage {
            inner: Arc::new(Inner {
                origin: base.origin().ascii_serialization(),
                secure_cookies: base.scheme() == "https",
                registry: self.registry,
                onboarding: self.onboarding,
                oauth: self.oauth,
                keys: self.keys,
                sessions: PageSessions::new(self.limits),
                redirect_uri,
            }),
        })
    }
}

impl ConnectPage {
    /// A builder: links of `registry`, tokens checked and stored by `onboarding`.
    pub fn builder(registry: ConnectRegistry, onboarding: Onboarding) -> ConnectPageBuilder {
        ConnectPageBuilder {
            registry,
            onboarding,
            oauth: None,
            keys: None,
            limits: SessionLimits::default(),
        }
    }

    /// The registry of links (the MCP handler [starts](ConnectRegistry::start) them).
    pub fn registry(&self) -> &ConnectRegistry {
        &self.inner.registry
    }

    /// The check + store of pasted tokens.
    pub fn onboarding(&self) -> &Onboarding {
        &self.inner.onboarding
    }

    /// The redirect URI to register at the authorization server:
    /// `<public base>/connect/callback`.
    pub fn redirect_uri(&self) -> &Url {
        &self.inner.redirect_uri
    }

    /// How many sessions of the page are kept now (for metrics and tests of its bounds).
    pub fn session_count(&self) -> usize {
        self.inner.sessions.len()
    }

    /// How many OAuth sign-ins are under way now.
    pub fn sign_ins_under_way(&self) -> usize {
        self.inner.sessions.sign_ins()
    }

    /// The router: every path under `/connect`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/connect/style.css", get(style))
            .route("/connect/account", get(account_page))
            .route("/connect/account/token", post(account_token))
            .route("/connect/account/disconnect", post(account_disconnect))
            .route("/connect/sign-out", post(sign_out))
            .route("/connect/login", get(login))
            .route("/connect/callback", get(callback))
            .route("/connect/key", post(key_sign_in))
            .route("/connect/{id}", get(link_page).post(link_submit))
            .layer(DefaultBodyLimit::max(MAX_FORM))
            .layer(axum::middleware::map_response(secure))
            .with_state(self.inner.clone())
    }
}

type Page = State<Arc<Inner>>;

// --- responses -------------------------------------------------------------------------------

fn html_response(status: StatusCode, title: &str, body: &str) -> Response {
    (
        status,
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        html::page(title, body),
    )
        .into_response()
}

fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

fn with_cookie(mut response: Response, cookie: Option<String>) -> Response {
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

fn gone() -> Response {
    html_response(
        StatusCode::GONE,
        "This link no longer works",
        &format!(
            "{}<p>Connect links work once and for 15 minutes. Ask your agent again: it will give you a new link. \
You can also see your connection on <a href=\"/connect/account\">your account page</a>.</p>\n",
            html::notice(
                Notice::Error,
                "This link is not valid: it has expired, it was already used, or it was never made."
            )
        ),
    )
}

fn form_expired() -> Response {
    html_response(
        StatusCode::FORBIDDEN,
        "Please try again",
        &format!(
            "{}<p>Open the link from your agent again (or <a href=\"/connect/account\">your account page</a>) and submit the form once more.</p>\n",
            html::notice(
                Notice::Error,
                "This form has expired or did not come from this page, so nothing was done."
            )
        ),
    )
}

fn other_user(who: &SignedInUser, csrf: &str) -> Response {
    html_response(
        StatusCode::FORBIDDEN,
        "This link is for someone else",
        &format!(
            "{}{}<p>Only the person whose agent asked for this link can use it; nothing was stored. \
If the link is yours, sign out and sign in as yourself. If someone sent you this link, do not use it.</p>\n",
            html::signed_in_as(who.user.as_str(), csrf),
            html::notice(
                Notice::Error,
                "This link was made for another user of the gateway."
            )
        ),
    )
}

fn unavailable(what: &str) -> Response {
    html_response(
        StatusCode::BAD_GATEWAY,
        "Sign-in is unavailable",
        &html::notice(Notice::Error, what),
    )
}

// --- forms -------------------------------------------------------------------------------------

fn parse_form(body: &[u8]) -> HashMap<String, String> {
    let mut form = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        form.entry(key.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    form
}

fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    parse_form(query.unwrap_or("").as_bytes())
}

/// A POST's session, when the form's CSRF token is the session's and its `Origin` (if the
/// browser sent one) is the page's own.
fn checked_session(
    page: &Inner,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Option<(String, Session)> {
    // Browsers send `Origin: null` for this page's own forms (its `Referrer-Policy:
    // no-referrer`): only another site's origin is refused here; the CSRF token decides.
    if let Some(origin) = headers.get(ORIGIN)
        && origin.as_bytes() != b"null"
        && origin.to_str().ok() != Some(page.origin.as_str())
    {
        return None;
    }
    let (id, session) = page.sessions.get(headers)?;
    let sent = form.get("csrf")?;
    ids::same_secret(sent, &session.csrf).then_some((id, session))
}

/// The request's session, or a new anonymous one (its cookie to set).
fn session_or_new(page: &Inner, headers: &HeaderMap) -> Option<(String, Session, Option<String>)> {
    if let Some((id, session)) = page.sessions.get(headers) {
        return Some((id, session, None));
    }
    let (id, session) = page.sessions.create(None)?;
    let cookie = sessions::set_cookie(&id, page.sessions.limits().absolute, page.secure_cookies);
    Some((id, session, Some(cookie)))
}

fn sign_in_page(
    page: &Inner,
    to: &str,
    error: Option<&str>,
    headers: &HeaderMap,
    status: StatusCode,
) -> Response {
    // The gateway-key form needs a session for its CSRF token; a sign-in with the
    // authorization server makes its session at /connect/login.
    let (csrf, cookie) = if page.keys.is_some() {
        let Some((_, session, cookie)) = session_or_new(page, headers) else {
            return unavailable(
                "The gateway could not start a session (its random source failed).",
            );
        };
        (Some(session.csrf), cookie)
    } else {
        (None, None)
    };
    let body = html::sign_in(
        to,
        page.oauth.is_some(),
        csrf.as_deref(),
        error,
        to != "account",
    );
    let title = if to == "account" {
        "Your PagerDuty account"
    } else {
        "Connect your PagerDuty account"
    };
    with_cookie(html_response(status, title, &body), cookie)
}

// --- handlers ----------------------------------------------------------------------------------

async fn style() -> Response {
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                http::header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        include_str!("style.css"),
    )
        .into_response()
}

/// The token form of a link, for its signed-in user.
async fn token_page(
    page: &Inner,
    id: &str,
    who: &SignedInUser,
    csrf: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let mut body = html::signed_in_as(who.user.as_str(), csrf);
    if let Some(error) = error {
        body.push_str(&html::notice(Notice::Error, error));
    }
    if let Ok(Some(account)) = page.onboarding.account(&who.user).await
        && !account.revoked
    {
        body.push_str(&format!(
            "<p>The gateway has a token for you already ({}); the one you paste replaces it.</p>\n",
            html::escape(&html::connected_as(&account))
        ));
    }
    body.push_str(&html::token_form(
        &format!("/connect/{id}"),
        csrf,
        "Check and connect",
        page.onboarding.requires_matching_email(),
    ));
    html_response(status, "Connect your PagerDuty account", &body)
}

async fn link_page(State(page): Page, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if page.registry.check(&id, None).is_err() {
        return gone();
    }
    if let Some((_, session)) = page.sessions.get(&headers)
        && let Some(who) = &session.user
    {
        return match page.registry.check(&id, Some(&who.user)) {
            Ok(_) => token_page(&page, &id, who, &session.csrf, None, StatusCode::OK).await,
            Err(LinkError::OtherUser) => {
                tracing::warn!(target: "mcp_gateway::connect", user = %who.user, "connect: a signed-in user opened another user's link; refused");
                other_user(who, &session.csrf)
            }
            Err(LinkError::Gone) => gone(),
        };
    }
    sign_in_page(&page, &id, None, &headers, StatusCode::OK)
}

async fn link_submit(
    State(page): Page,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    let Some((_, session)) = checked_session(&page, &headers, &form) else {
        return form_expired();
    };
    let Some(who) = session.user.clone() else {
        return sign_in_page(
            &page,
            &id,
            Some("Sign in first."),
            &headers,
            StatusCode::UNAUTHORIZED,
        );
    };
    match page.registry.check(&id, Some(&who.user)) {
        Ok(_) => {}
        Err(LinkError::OtherUser) => {
            tracing::warn!(target: "mcp_gateway::connect", user = %who.user, "connect: a token for another user's link was refused; nothing stored");
            return other_user(&who, &session.csrf);
        }
        Err(LinkError::Gone) => return gone(),
    }
    let pasted = form.get("token").map(String::as_str).unwrap_or("");
    match page.onboarding.submit(&who, pasted).await {
        Ok(_) => {
            // The link is used up (and the user's other waiting links complete with it).
            let _ = page.registry.complete(&id, &who.user);
            page.registry.connected(&who.user);
            see_other("/connect/account?connected=1")
        }
        Err(err) => {
            let status = if err.is_retryable() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            token_page(
                &page,
                &id,
                &who,
                &session.csrf,
                Some(&err.to_string()),
                status,
            )
            .await
        }
    }
}

async fn account_view(
    page: &Inner,
    who: &SignedInUser,
    csrf: &str,
    notice: Option<(Notice, &str)>,
    status: StatusCode,
) -> Response {
    let mut body = html::signed_in_as(who.user.as_str(), csrf);
    if let Some((kind, text)) = notice {
        body.push_str(&html::notice(kind, text));
    }
    let account = match page.onboarding.account(&who.user).await {
        Ok(account) => account,
        Err(err) => {
            body.push_str(&html::notice(Notice::Error, &err.to_string()));
            return html_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "Your PagerDuty account",
                &body,
            );
        }
    };
    body.push_str(&html::account_status(account.as_ref()));
    let connected = account.as_ref().is_some_and(|a| !a.revoked);
    body.push_str(if connected {
        "<h2>Replace the token</h2>\n"
    } else {
        "<h2>Connect a token</h2>\n"
    });
    body.push_str(&html::token_form(
        "/connect/account/token",
        csrf,
        if connected {
            "Check and replace"
        } else {
            "Check and connect"
        },
        page.onboarding.requires_matching_email(),
    ));
    if account.is_some() {
        body.push_str(&html::disconnect_form(csrf));
    }
    html_response(status, "Your PagerDuty account", &body)
}

async fn account_page(
    State(page): Page,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = parse_query(query.as_deref());
    match page.sessions.get(&headers) {
        Some((_, session)) if session.user.is_some() => {
            let who = session
                .user
                .clone()
                .unwrap_or_else(|| SignedInUser::new("?"));
            let notice = if query.contains_key("connected") {
                Some((
                    Notice::Success,
                    "Your PagerDuty account is connected. You can close this page and ask your agent to try again.",
                ))
            } else if query.contains_key("disconnected") {
                Some((Notice::Success, "Your PagerDuty account was disconnected."))
            } else {
                None
            };
            account_view(&page, &who, &session.csrf, notice, StatusCode::OK).await
        }
        _ => sign_in_page(&page, "account", None, &headers, StatusCode::OK),
    }
}

async fn account_token(State(page): Page, headers: HeaderMap, body: Bytes) -> Response {
    let form = parse_form(&body);
    let Some((_, session)) = checked_session(&page, &headers, &form) else {
        return form_expired();
    };
    let Some(who) = session.user.clone() else {
        return sign_in_page(
            &page,
            "account",
            Some("Sign in first."),
            &headers,
            StatusCode::UNAUTHORIZED,
        );
    };
    let pasted = form.get("token").map(String::as_str).unwrap_or("");
    match page.onboarding.submit(&who, pasted).await {
        Ok(_) => {
            page.registry.connected(&who.user);
            see_other("/connect/account?connected=1")
        }
        Err(err) => {
            let status = if err.is_retryable() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            account_view(
                &page,
                &who,
                &session.csrf,
                Some((Notice::Error, &err.to_string())),
                status,
            )
            .await
        }
    }
}

async fn account_disconnect(State(page): Page, headers: HeaderMap, body: Bytes) -> Response {
    let form = parse_form(&body);
    let Some((_, session)) = checked_session(&page, &headers, &form) else {
        return form_expired();
    };
    let Some(who) = session.user.clone() else {
        return sign_in_page(
            &page,
            "account",
            Some("Sign in first."),
            &headers,
            StatusCode::UNAUTHORIZED,
        );
    };
    match page.onboarding.disconnect(&who.user).await {
        Ok(_) => see_other("/connect/account?disconnected=1"),
        Err(err) => {
            account_view(
                &page,
                &who,
                &session.csrf,
                Some((Notice::Error, &err.to_string())),
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .await
        }
    }
}

async fn sign_out(State(page): Page, headers: HeaderMap, body: Bytes) -> Response {
    let form = parse_form(&body);
    let Some((id, _)) = checked_session(&page, &headers, &form) else {
        return form_expired();
    };
    page.sessions.end(&id);
    with_cookie(
        see_other("/connect/account"),
        Some(sessions::clear_cookie(page.secure_cookies)),
    )
}

/// Where a sign-in returns: an elicitation id, or the account page.
fn valid_target(to: &str) -> bool {
    to == "account" || ids::is_id(to)
}

fn target_path(to: Option<&str>) -> String {
    match to {
        Some(id) if ids::is_id(id) => format!("/connect/{id}"),
        _ => "/connect/account".to_owned(),
    }
}

async fn login(State(page): Page, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let Some(oauth) = page.oauth.clone() else {
        return html_response(
            StatusCode::NOT_FOUND,
            "Not found",
            &html::notice(
                Notice::Error,
                "This gateway offers no sign-in with an authorization server; use your gateway key.",
            ),
        );
    };
    let query = parse_query(query.as_deref());
    let to = query.get("to").map(String::as_str).unwrap_or("account");
    if !valid_target(to) {
        return gone();
    }
    let Some((sid, _, cookie)) = session_or_new(&page, &headers) else {
        return unavailable("The gateway could not start a session (its random source failed).");
    };
    let (Ok(state), Ok(verifier), Ok(nonce)) =
        (ids::random_id(), ids::random_id(), ids::random_id())
    else {
        return unavailable("The gateway's random source failed.");
    };
    let url = match oauth
        .begin(&page.redirect_uri, &state, &verifier, &nonce)
        .await
    {
        Ok(url) => url,
        Err(err) => {
            tracing::warn!(target: "mcp_gateway::connect", error = %err, "connect: the sign-in could not start");
            return unavailable(&format!(
                "The sign-in could not start: {err}. Try again in a minute."
            ));
        }
    };
    let back_to = (to != "account").then(|| to.to_owned());
    page.sessions.begin_sign_in(
        &state,
        SignIn::new(ids::digest(&sid), verifier, nonce, back_to),
    );
    with_cookie(see_other(url.as_str()), cookie)
}

async fn callback(State(page): Page, RawQuery(raw): RawQuery, headers: HeaderMap) -> Response {
    let Some(oauth) = page.oauth.clone() else {
        return html_response(StatusCode::NOT_FOUND, "Not found", "");
    };
    let query = parse_query(raw.as_deref());
    let failed = |text: &str| {
        html_response(
            StatusCode::BAD_REQUEST,
            "Sign-in did not complete",
            &format!(
                "{}<p>Open the link from your agent again, or go to <a href=\"/connect/account\">your account page</a>.</p>\n",
                html::notice(Notice::Error, text)
            ),
        )
    };
    let Some(state) = query.get("state").filter(|s| ids::is_id(s)) else {
        return failed("The sign-in answer is not one this gateway asked for.");
    };
    if let Some(error) = query.get("error") {
        page.sessions.take_sign_in(state);
        let description = query
            .get("error_description")
            .map(String::as_str)
            .unwrap_or("");
        let text: String = format!("The sign-in server said: {error} {description}")
            .chars()
            .take(300)
            .collect();
        return failed(&text);
    }
    let session = page.sessions.get(&headers);
    let has_cookie = sessions::cookie(&headers, sessions::COOKIE_NAME).is_some();
    if session.is_none()
        && !has_cookie
        && !query.contains_key("bounced")
        && page.sessions.has_sign_in(state)
    {
        // A sign-in server on another site: the browser does not send a SameSite=Strict
        // cookie with its redirect back here. One navigation from this page itself does.
        let again = format!(
            "/connect/callback?{}&bounced=1",
            raw.as_deref().unwrap_or("")
        );
        let body = format!(
            "<p>Finishing your sign-in… <a id=\"continue\" href=\"{}\">Continue</a></p>\n",
            html::escape(&again)
        );
        let mut response = html_response(StatusCode::OK, "Signing you in", &body);
        if let Ok(value) = HeaderValue::from_str(&format!("0;url={again}")) {
            response
                .headers_mut()
                .insert(HeaderName::from_static("refresh"), value);
        }
        return response;
    }
    let Some(sign_in) = page.sessions.take_sign_in(state) else {
        return failed("This sign-in has expired or was already used.");
    };
    let Some((sid, _)) = session.filter(|(sid, _)| ids::digest(sid) == sign_in.session) else {
        tracing::warn!(target: "mcp_gateway::connect", "connect: a sign-in came back to another browser than the one that began it; refused");
        return failed(
            "This sign-in was begun in another browser (or your session expired). Open the link again.",
        );
    };
    let Some(code) = query.get("code") else {
        return failed("The sign-in server sent no authorization code.");
    };
    let who = match oauth
        .finish(
            &page.redirect_uri,
            code,
            &sign_in.pkce_verifier,
            &sign_in.nonce,
        )
        .await
    {
        Ok(who) => who,
        Err(err) => {
            tracing::warn!(target: "mcp_gateway::connect", error = %err, "connect: sign-in failed");
            return failed(&err.to_string());
        }
    };
    tracing::info!(target: "mcp_gateway::connect", user = %who.user, "connect: signed in with the authorization server");
    let Some((new_sid, _)) = page.sessions.sign_in(Some(&sid), who) else {
        return unavailable("The gateway could not start a session (its random source failed).");
    };
    let cookie = sessions::set_cookie(
        &new_sid,
        page.sessions.limits().absolute,
        page.secure_cookies,
    );
    with_cookie(
        see_other(&target_path(sign_in.back_to.as_deref())),
        Some(cookie),
    )
}

async fn key_sign_in(State(page): Page, headers: HeaderMap, body: Bytes) -> Response {
    let Some(keys) = page.keys.clone() else {
        return html_response(StatusCode::NOT_FOUND, "Not found", "");
    };
    let form = parse_form(&body);
    let to = form.get("to").map(String::as_str).unwrap_or("account");
    if !valid_target(to) {
        return gone();
    }
    let Some((sid, _)) = checked_session(&page, &headers, &form) else {
        return form_expired();
    };
    let key = form.get("key").map(String::as_str).unwrap_or("").trim();
    let Some(user) = keys.user_for(key) else {
        tracing::warn!(target: "mcp_gateway::connect", "connect: a wrong gateway key was entered");
        tokio::time::sleep(WRONG_KEY_DELAY).await;
        return sign_in_page(
            &page,
            to,
            Some("That gateway key is not valid."),
            &headers,
            StatusCode::UNAUTHORIZED,
        );
    };
    tracing::info!(target: "mcp_gateway::connect", user = %user, "connect: signed in with a gateway key");
    let Some((new_sid, _)) = page.sessions.sign_in(Some(&sid), SignedInUser::new(user)) else {
        return unavailable("The gateway could not start a session (its random source failed).");
    };
    let cookie = sessions::set_cookie(
        &new_sid,
        page.sessions.limits().absolute,
        page.secure_cookies,
    );
    with_cookie(see_other(&target_path(Some(to))), Some(cookie))
}

//! The connect page on loopback, with its real parts: the encrypted `SqlCredentialStore` on a
//! SQLite file, PagerDuty's token check (`TokenVerifier`) against the stand-in REST APIs of
//! `connect_rest` (US and EU), gateway keys, and, with OAuth, the real authorization server of
//! `scripts/oauth/provider.mjs` (oidc-provider) with the page registered as its client. Plus a
//! browser-like HTTP client (a cookie jar, redirects followed and recorded) and log capture.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pagerduty_mcp_connect::{Connector, Region, TokenVerifier, UserId};
use pagerduty_mcp_connect_gateway::{
    ConnectPage, ConnectRegistry, GatewayKeys, OAuthResourceServer, OidcSignIn, Onboarding,
    RegistryLimits,
};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use pagerduty_mcp_connect_store::{KeySource, SqlCredentialStore};
use reqwest::StatusCode;

use crate::connect_rest::{FakeRest, RestUser};
use crate::oauth_provider::{OAuthScripts, Provider};

pub const ALICE: &str = "alice@example.com";
pub const BOB: &str = "bob@example.com";
pub const GRACE: &str = "grace@example.eu";
pub const ALICE_KEY: &str = "gk_alice_0123456789abcdef";
pub const BOB_KEY: &str = "gk_bob_0123456789abcdef00";
pub const GRACE_KEY: &str = "gk_grace_0123456789abcdef";
/// Grace's token: a user of the EU region only.
pub const GRACE_TOKEN: &str = "u+GraceEuToken0000001";

/// How the page is set up.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Sign-in with the real authorization server (besides gateway keys).
    pub oauth: bool,
    /// The PagerDuty user's email must be the signed-in user's.
    pub require_email: bool,
    pub limits: RegistryLimits,
}

/// A temporary directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "gateway-connect-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The connect page served on loopback, and its parts.
pub struct ConnectHarness {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub base: String,
    pub page: ConnectPage,
    pub registry: ConnectRegistry,
    pub store: SqlCredentialStore,
    pub keys: GatewayKeys,
    pub us: FakeRest,
    pub eu: FakeRest,
    pub provider: Option<Provider>,
    _dir: TempDir,
    _server: tokio::task::JoinHandle<()>,
}

impl ConnectHarness {
    /// Starts everything; `None` only when OAuth was asked for and the run opted out of the
    /// external peers (`OAuthScripts::find` says so loudly).
    pub async fn start(options: Options) -> Option<ConnectHarness> {
        let provider = if options.oauth {
            let scripts = OAuthScripts::find()?;
            Some(scripts.provider(&[]).await)
        } else {
            None
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let us = FakeRest::start(vec![
            RestUser::new(
                MockPagerDuty::ALICE_TOKEN,
                MockPagerDuty::ALICE_USER_ID,
                "Alice Example",
                ALICE,
            ),
            RestUser::new(
                MockPagerDuty::BOB_TOKEN,
                MockPagerDuty::BOB_USER_ID,
                "Bob Example",
                BOB,
            ),
        ])
        .await;
        let eu = FakeRest::start(vec![RestUser::new(
            GRACE_TOKEN,
            "PGRACE1",
            "Grace Hopper",
            GRACE,
        )])
        .await;
        // A client of this test's own runtime (the shared one of `TokenVerifier::new` would
        // outlive the runtime of the test that first used it).
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let verifier = TokenVerifier::with_client(client)
            .with_api_url(Region::Us, us.url.clone())
            .unwrap()
            .with_api_url(Region::Eu, eu.url.clone())
            .unwrap()
            .with_timeout(Duration::from_secs(5));
        let dir = TempDir::new();
        let store = SqlCredentialStore::builder()
            .sqlite_file(dir.0.join("credentials.db"))
            .key(KeySource::base64(KeySource::generate().unwrap()))
            .cache_ttl(Duration::ZERO)
            .open()
            .await
            .unwrap();
        let keys = GatewayKeys::new();
        keys.insert(ALICE_KEY, ALICE).unwrap();
        keys.insert(BOB_KEY, BOB).unwrap();
        keys.insert(GRACE_KEY, GRACE).unwrap();
        let registry = ConnectRegistry::new(&base)
            .unwrap()
            .with_limits(options.limits);
        let onboarding =
            Onboarding::new(verifier, store.clone()).require_matching_email(options.require_email);
        let mut builder =
            ConnectPage::builder(registry.clone(), onboarding).gateway_keys(keys.clone());
        if let Some(provider) = &provider {
            let resource_server = OAuthResourceServer::builder(format!("{base}/mcp"))
                .issuer(&provider.issuer)
                .user_claim("email")
                .required_scope("mcp")
                .build()
                .unwrap();
            let redirect = url::Url::parse(&format!("{base}/connect/callback")).unwrap();
            let client_id =
                OidcSignIn::register_client(&provider.issuer, &redirect, "connect page tests")
                    .await
                    .expect("dynamic client registration at oidc-provider");
            let sign_in = OidcSignIn::builder(resource_server, &provider.issuer, client_id)
                .build()
                .unwrap();
            builder = builder.oauth(sign_in);
        }
        let page = builder.build().unwrap();
        assert_eq!(
            page.redirect_uri().as_str(),
            format!("{base}/connect/callback")
        );
        let router = page.router();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Some(ConnectHarness {
            base,
            page,
            registry,
            store,
            keys,
            us,
            eu,
            provider,
            _dir: dir,
            _server: server,
        })
    }

    /// A link for `user`, as the MCP handler makes one.
    pub fn link(&self, user: &str) -> pagerduty_mcp_connect_gateway::PendingConnection {
        self.registry.start(&UserId::from(user)).unwrap()
    }

    /// Whether the store holds a token for `user`.
    pub async fn stored(&self, user: &str) -> bool {
        self.store
            .record(&UserId::from(user))
            .await
            .unwrap()
            .is_some()
    }

    /// A connector reading this store, to the mock PagerDuty MCP server `mock`.
    pub fn connector(&self, mock: &MockPagerDuty) -> Connector {
        Connector::builder()
            .route(Region::Us, mock.pagerduty())
            .route(Region::Eu, mock.pagerduty())
            .credentials(self.store.clone())
            .build()
            .unwrap()
    }
}

/// One page as the browser saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub status: StatusCode,
    /// The `Location` of a redirect the browser did not follow.
    pub location: Option<String>,
    /// The `Refresh` header, if any.
    pub refresh: Option<String>,
    /// Where the redirects ended.
    pub url: String,
    pub body: String,
}

/// A browser over plain HTTP: a cookie jar, redirects followed (and recorded), no JavaScript.
#[derive(Clone)]
pub struct Browser {
    http: reqwest::Client,
    /// Every URL requested, redirects included, and every page body seen.
    pub trail: Arc<Mutex<Vec<String>>>,
}

impl Browser {
    pub fn new() -> Browser {
        Browser::build(false)
    }

    /// A browser that stops before following a redirect to `/connect/callback` (to play the
    /// part of a browser that comes back from another site).
    pub fn stopping_at_callback() -> Browser {
        Browser::build(true)
    }

    fn build(stop_at_callback: bool) -> Browser {
        let trail: Arc<Mutex<Vec<String>>> = Arc::default();
        let recorder = trail.clone();
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                recorder.lock().unwrap().push(attempt.url().to_string());
                if stop_at_callback && attempt.url().path() == "/connect/callback" {
                    attempt.stop()
                } else if attempt.previous().len() > 15 {
                    attempt.error("too many redirects")
                } else {
                    attempt.follow()
                }
            }))
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Browser { http, trail }
    }

    async fn seen(&self, response: reqwest::Response) -> Seen {
        let status = response.status();
        let url = response.url().to_string();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let (location, refresh) = (header("location"), header("refresh"));
        let body = response.text().await.unwrap();
        let mut trail = self.trail.lock().unwrap();
        trail.push(url.clone());
        trail.push(body.clone());
        Seen {
            status,
            location,
            refresh,
            url,
            body,
        }
    }

    pub async fn get(&self, url: &str) -> Seen {
        self.trail.lock().unwrap().push(url.to_owned());
        let response = self.http.get(url).send().await.unwrap();
        self.seen(response).await
    }

    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> Seen {
        self.trail.lock().unwrap().push(url.to_owned());
        let response = self.http.post(url).form_pairs(form).send().await.unwrap();
        self.seen(response).await
    }

    /// Opens `link` and signs in with the gateway key `key` on its page.
    pub async fn sign_in_with_key(&self, base: &str, link: &str, key: &str) -> Seen {
        let page = self.get(link).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let to = link.rsplit('/').next().unwrap();
        let to = if to == "account" { "account" } else { to };
        self.post(
            &format!("{base}/connect/key"),
            &[("csrf", &csrf(&page.body)), ("key", key), ("to", to)],
        )
        .await
    }

    /// Opens `link`, follows "Sign in with your organisation" to the authorization server and
    /// signs in there as `login` (its login form), coming back to the gateway.
    pub async fn sign_in_with_oauth(&self, base: &str, link: &str, login: &str) -> Seen {
        let page = self.get(link).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let href = attribute_after(&page.body, "id=\"sign-in\" href=\"").expect("a sign-in link");
        let login_page = self
            .get(&format!("{base}{}", href.replace("&amp;", "&")))
            .await;
        assert_eq!(login_page.status, StatusCode::OK, "{}", login_page.body);
        let action = attribute_after(&login_page.body, "action=\"").expect("the login form");
        let origin = url::Url::parse(&login_page.url).unwrap();
        let origin = origin.origin().ascii_serialization();
        self.post(&format!("{origin}{action}"), &[("login", login)])
            .await
    }

    /// Pastes `token` into the form of the page at `link` (signed in already).
    pub async fn paste(&self, link: &str, token: &str) -> Seen {
        let page = self.get(link).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        self.post(link, &[("csrf", &csrf(&page.body)), ("token", token)])
            .await
    }

    /// Everything this browser requested and saw, as one text.
    pub fn everything(&self) -> String {
        self.trail.lock().unwrap().join("\n")
    }
}

/// A URL-encoded form body (reqwest is built without its `form` feature).
pub trait FormBody {
    /// Sends `pairs` as `application/x-www-form-urlencoded`.
    fn form_pairs(self, pairs: &[(&str, &str)]) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_pairs(self, pairs: &[(&str, &str)]) -> Self {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }
}

/// The CSRF token of the first form of a page.
pub fn csrf(html: &str) -> String {
    attribute_after(html, "name=\"csrf\" value=\"").expect("a form with a CSRF token")
}

/// The attribute value that follows `marker` in `html`.
pub fn attribute_after(html: &str, marker: &str) -> Option<String> {
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

/// Every log line written while it is installed (for this thread: use a current-thread
/// runtime so that the page's tasks log here too).
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Installs a subscriber writing every event (TRACE and up) here, for the current thread.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

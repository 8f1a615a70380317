//! `McpClient`: one connection pool, many sessions.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::auth_forms::AuthForms;
use super::client_state::{ClientConfig, ClientInner, NotificationHook};
use super::endpoint_cache::EndpointCache;
use super::handler::{ServerRequestHandler, ServerRequestHandlers};
use super::model::{Implementation, ServerNotification};
use super::protocol::{ProtocolPreference, ProtocolVersion};
use super::server_request::ServerRequestKind;
use super::session::Session;
use super::transport::build_http_client;
use crate::credential::{Credential, UserId};
use crate::error::{Error, Result};
use crate::server::{RemoteMcpServer, check_endpoint};

/// A Model Context Protocol client over Streamable HTTP for one remote server.
///
/// Cheap to clone: clones share one `reqwest` connection pool, so a gateway builds one client per
/// remote server and opens a [`Session`] per user credential with [`McpClient::connect`]. The
/// server's auth header (for PagerDuty `Authorization: Token <token>`) goes on every HTTP request a
/// session makes.
///
/// ```no_run
/// use pagerduty_mcp_connect::{Credential, McpClient, PagerDuty, Region};
///
/// # async fn run() -> Result<(), pagerduty_mcp_connect::Error> {
/// let client = McpClient::new(PagerDuty::new(Region::Us))?;
/// let session = client.connect(&Credential::new("u+my-user-api-token")).await?;
/// for tool in session.list_tools().await? {
///     println!("{} read-only={}", tool.name, tool.is_read_only());
/// }
/// session.close().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct McpClient {
    inner: Arc<ClientInner>,
}

impl McpClient {
    /// A client for `server` with the default settings.
    pub fn new(server: impl RemoteMcpServer + 'static) -> Result<Self> {
        Self::builder(server).build()
    }

    /// A builder for a client of `server`.
    pub fn builder(server: impl RemoteMcpServer + 'static) -> McpClientBuilder {
        McpClientBuilder::new(Arc::new(server))
    }

    /// A builder for a client of an already shared `server`.
    pub fn builder_shared(server: Arc<dyn RemoteMcpServer>) -> McpClientBuilder {
        McpClientBuilder::new(server)
    }

    /// The connection pool, for another client that is to share it.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The server this client talks to.
    pub fn server(&self) -> &dyn RemoteMcpServer {
        &*self.inner.server
    }

    /// A client like this one (the same server, settings, handlers and connection pool) that
    /// speaks `preference`: for instance a gateway that passes session-era agents to the
    /// upstream's session era and 2026-07-28 agents to its stateless era. What one client learnt
    /// of the endpoint's era is not shared with the other; the auth header form it accepted is.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{McpClient, PagerDuty, ProtocolPreference, Region};
    ///
    /// let client = McpClient::new(PagerDuty::new(Region::Us))?;
    /// let session_era = client.with_protocol(ProtocolPreference::Handshake);
    /// assert_eq!(session_era.server().name(), client.server().name());
    /// # Ok::<(), pagerduty_mcp_connect::Error>(())
    /// ```
    pub fn with_protocol(&self, preference: ProtocolPreference) -> McpClient {
        let inner = &self.inner;
        let mut config = inner.config.clone();
        config.preference = preference;
        McpClient {
            inner: Arc::new(ClientInner {
                http: inner.http.clone(),
                server: inner.server.clone(),
                config,
                stateless_meta: inner.stateless_meta.clone(),
                endpoint: EndpointCache::new(inner.server.endpoint(), false),
                negotiation: tokio::sync::Mutex::new(()),
                auth_forms: inner.auth_forms.clone(),
            }),
        }
    }

    /// The protocol version negotiated with the server by an earlier connection, if any.
    pub fn negotiated_version(&self) -> Option<ProtocolVersion> {
        self.inner.endpoint.negotiated()
    }

    /// Opens a session with `credential`.
    ///
    /// With [`ProtocolPreference::Auto`] the first connection probes the stateless era
    /// (`server/discover`) and falls back to the session era (`initialize`) when the server
    /// answers like an older server, or with a discover result that does not show a 2026-07-28
    /// server (its `supportedVersions` must list it). The outcome is remembered for later
    /// connections; connections that start while the first one probes wait for its outcome
    /// instead of probing too. A 401 or 403 is reported at once as [`Error::Unauthorized`] /
    /// [`Error::Forbidden`], never taken as a sign of an older server.
    pub async fn connect(&self, credential: &Credential) -> Result<Session> {
        self.connect_as(credential, None).await
    }

    /// [`McpClient::connect`] for `user`: server requests of this session carry the user.
    ///
    /// While the endpoint has accepted no auth header form yet, a 401 is tried once more in
    /// another form the server documents ([`RemoteMcpServer::auth_fallbacks`]); the form that
    /// opens a session is kept for every later connection.
    pub(crate) async fn connect_as(
        &self,
        credential: &Credential,
        user: Option<UserId>,
    ) -> Result<Session> {
        let forms = &self.inner.auth_forms;
        let first = forms.first();
        match self.connect_in_form(credential, user.clone(), first).await {
            Ok(session) => {
                forms.accepted(first, self.inner.server.name());
                Ok(session)
            }
            Err(refused @ Error::Unauthorized { .. }) => {
                let Some(retry) = forms.retry_after_401(first) else {
                    return Err(refused);
                };
                tracing::debug!(
                    server = self.inner.server.name(),
                    refused = %forms.get(first),
                    trying = %forms.get(retry),
                    "401 to the auth header form in use; trying another documented form once"
                );
                match self.connect_in_form(credential, user, retry).await {
                    Ok(session) => {
                        forms.accepted(retry, self.inner.server.name());
                        Ok(session)
                    }
                    Err(Error::Unauthorized { .. }) => Err(refused),
                    Err(other) => Err(other),
                }
            }
            Err(other) => Err(other),
        }
    }

    /// One connection attempt with the auth header in form `form`.
    async fn connect_in_form(
        &self,
        credential: &Credential,
        user: Option<UserId>,
        form: usize,
    ) -> Result<Session> {
        let auth = self
            .inner
            .auth_forms
            .get(form)
            .header_value(credential.secret())?;
        let opener = Opener {
            client: &self.inner,
            credential,
            auth,
            user,
        };
        match self.inner.config.preference {
            ProtocolPreference::Exact(version) => opener.open(version, true).await,
            ProtocolPreference::Handshake => {
                opener.open(ProtocolVersion::LATEST_SESSION, false).await
            }
            ProtocolPreference::SessionFirst => {
                match opener.open(ProtocolVersion::LATEST_SESSION, false).await {
                    Err(err) if session_era_refused(&err) => {
                        tracing::debug!(
                            server = self.inner.server.name(),
                            error = %err,
                            "the server refused the session era; using the stateless era"
                        );
                        opener.open(ProtocolVersion::V2026_07_28, true).await
                    }
                    other => other,
                }
            }
            ProtocolPreference::Auto => self.connect_auto(&opener).await,
        }
    }

    async fn connect_auto(&self, opener: &Opener<'_>) -> Result<Session> {
        let inner = &self.inner;
        if let Some(version) = self.negotiated_version() {
            match opener.open(version, false).await {
                Err(err) if version.is_stateless() && fallback_version(&err).is_some() => {
                    tracing::debug!(
                        server = inner.server.name(),
                        "remembered stateless era no longer accepted; negotiating again"
                    );
                    inner.endpoint.forget();
                }
                other => return other,
            }
        }
        let _probing = inner.negotiation.lock().await;
        if let Some(version) = self.negotiated_version() {
            // Another connection probed while this one waited.
            return opener.open(version, false).await;
        }
        let session = match opener.discover().await {
            Ok(Some(session)) => session,
            Ok(None) => {
                tracing::debug!(
                    server = inner.server.name(),
                    "the server/discover result does not show a 2026-07-28 server; using the handshake"
                );
                opener.open(ProtocolVersion::LATEST_SESSION, false).await?
            }
            Err(err) => {
                let Some(fallback) = fallback_version(&err) else {
                    return Err(err);
                };
                tracing::debug!(
                    server = inner.server.name(),
                    error = %err,
                    "stateless probe refused; falling back to the session era"
                );
                opener.open(fallback, false).await?
            }
        };
        inner.endpoint.set_negotiated(session.version());
        Ok(session)
    }
}

/// What opening a session needs, for each attempt of a negotiation.
struct Opener<'a> {
    client: &'a Arc<ClientInner>,
    credential: &'a Credential,
    auth: http::HeaderValue,
    user: Option<UserId>,
}

impl Opener<'_> {
    async fn open(&self, version: ProtocolVersion, strict: bool) -> Result<Session> {
        Session::open(
            self.client,
            self.credential,
            self.auth.clone(),
            version,
            strict,
            self.user.clone(),
        )
        .await
    }

    /// The stateless probe: `None` when the server answered but not as a 2026-07-28 server.
    async fn discover(&self) -> Result<Option<Session>> {
        Session::discover(
            self.client,
            self.credential,
            self.auth.clone(),
            self.user.clone(),
        )
        .await
    }
}

/// Whether the error of an `initialize` says the server speaks only the stateless era.
fn session_era_refused(err: &Error) -> bool {
    matches!(
        err,
        Error::Server {
            code: -32022 | -32601,
            ..
        } | Error::HttpStatus {
            status: 400 | 404 | 405 | 415 | 422,
            ..
        }
    )
}

/// Decides from the error of a stateless probe whether the server is an older one, and which
/// session-era version to offer it. `None` means the error stands.
fn fallback_version(err: &Error) -> Option<ProtocolVersion> {
    match err {
        // Unsupported version: pick the newest session-era version the server lists. (A listed
        // 2026-07-28 was already retried once by the request loop.)
        Error::Server {
            code: -32022, data, ..
        } => {
            let best = super::protocol::listed_versions(data.as_ref())
                .into_iter()
                .filter(|v| !v.is_stateless())
                .max();
            // Servers list only the versions of the new era there (mcp 2.3.0 lists just
            // "2026-07-28"), so an empty choice still means: try the handshake.
            Some(best.unwrap_or(ProtocolVersion::LATEST_SESSION))
        }
        // Errors only a 2026-07-28 server gives (header mismatch, missing capability, invalid
        // params): the server speaks the new era and the error stands.
        Error::Server {
            code: -32020 | -32021 | -32602,
            ..
        } => None,
        // Any other JSON-RPC error to `server/discover` (missing session id, method not found,
        // "initialize first" …) comes from a session-era server.
        Error::Server { .. } => Some(ProtocolVersion::LATEST_SESSION),
        Error::HttpStatus {
            status: 400 | 404 | 405 | 415 | 422,
            ..
        } => Some(ProtocolVersion::LATEST_SESSION),
        _ => None,
    }
}

/// Builds an [`McpClient`]. Setters never fail; [`McpClientBuilder::build`] checks.
///
/// # Memory and task bounds per request
///
/// - A JSON reply is read up to [`max_body_bytes`](McpClientBuilder::max_body_bytes) (8 MiB),
///   one SSE event up to [`max_event_bytes`](McpClientBuilder::max_event_bytes) (8 MiB); more is
///   [`Error::TooLarge`].
/// - Whatever an SSE reply carries before its response (notifications, server requests, keep-
///   alives), for `initialize` as for any request, is handled as it arrives and never kept:
///   notifications go to a broadcast of 64 per session (a slow reader misses the oldest), server
///   requests to at most
///   [`max_concurrent_server_requests`](McpClientBuilder::max_concurrent_server_requests) tasks
///   (the excess is dropped unanswered). An endless stream therefore costs at most one event of
///   memory and ends with the [`request_timeout`](McpClientBuilder::request_timeout).
/// - Answers to server requests are POSTed through the client's connection pool.
#[must_use]
#[derive(Debug, Clone)]
pub struct McpClientBuilder {
    server: Arc<dyn RemoteMcpServer>,
    connect_timeout: Duration,
    pool_idle_timeout: Duration,
    http: Option<reqwest::Client>,
    share_negotiation: bool,
    config: ClientConfig,
}

impl McpClientBuilder {
    fn new(server: Arc<dyn RemoteMcpServer>) -> Self {
        McpClientBuilder {
            server,
            connect_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(90),
            http: None,
            share_negotiation: false,
            config: ClientConfig {
                request_timeout: Duration::from_secs(60),
                idle_timeout: Duration::from_secs(60),
                max_body_bytes: 8 * 1024 * 1024,
                max_event_bytes: 8 * 1024 * 1024,
                max_retries: 2,
                retry_base_delay: Duration::from_millis(200),
                max_retry_wait: Duration::from_secs(30),
                default_reconnect_delay: Duration::from_millis(500),
                max_resumptions: 5,
                preference: ProtocolPreference::Auto,
                client_info: Implementation {
                    name: "pagerduty-mcp-connect".to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    title: None,
                    extra: Map::new(),
                },
                handlers: ServerRequestHandlers::default(),
                max_concurrent_server_requests: 16,
                listen_for_server_requests: true,
                notification_hook: None,
            },
        }
    }

    /// Time allowed to open a TCP/TLS connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for one whole request, retries and stream resumption included (default 60 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// Longest silence tolerated while reading a reply or a stream (default 60 s).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// How long an unused pooled connection is kept open (default 90 s).
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// Largest JSON reply accepted (default 8 MiB); larger is [`Error::TooLarge`].
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.config.max_body_bytes = bytes;
        self
    }

    /// Largest single SSE event accepted (default 8 MiB); larger is [`Error::TooLarge`].
    pub fn max_event_bytes(mut self, bytes: usize) -> Self {
        self.config.max_event_bytes = bytes;
        self
    }

    /// How often a request that is safe to repeat is retried after a 429, a 5xx or a broken
    /// connection (default 2). `0` disables retries.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.config.max_retries = retries;
        self
    }

    /// The first retry delay; it doubles with each retry, with jitter (default 200 ms).
    pub fn retry_base_delay(mut self, delay: Duration) -> Self {
        self.config.retry_base_delay = delay;
        self
    }

    /// The longest `Retry-After` the client waits out itself (default 30 s); a longer one is
    /// returned as [`Error::RateLimited`] for the caller to handle.
    pub fn max_retry_wait(mut self, wait: Duration) -> Self {
        self.config.max_retry_wait = wait;
        self
    }

    /// The delay before resuming a dropped SSE stream when the server gave no `retry:` (default
    /// 500 ms).
    pub fn default_reconnect_delay(mut self, delay: Duration) -> Self {
        self.config.default_reconnect_delay = delay;
        self
    }

    /// Which protocol version to use (default [`ProtocolPreference::Auto`]).
    pub fn protocol(mut self, preference: ProtocolPreference) -> Self {
        self.config.preference = preference;
        self
    }

    /// The `clientInfo` sent to the server (default this crate's name and version).
    pub fn client_info(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.config.client_info.name = name.into();
        self.config.client_info.version = version.into();
        self
    }

    /// Shares the protocol era negotiated with the endpoint with every client in this process
    /// that also opts in, keyed by the endpoint's URL (default `false`). With
    /// [`ProtocolPreference::Auto`], the first client to reach an endpoint probes it; clients
    /// and [`Connector`](crate::Connector)s built later for the same URL go straight to the era
    /// it found: a session-era endpoint then costs a new user the protocol minimum of three
    /// requests (`initialize`, `notifications/initialized`, the call), and a 2026-07-28 endpoint
    /// one (the call: the server's identity and versions, which are not user-specific, come
    /// from the first client's `server/discover`). If the endpoint later refuses that era, the
    /// entry is dropped and the next connection negotiates again.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{McpClient, PagerDuty, Region};
    ///
    /// let client = McpClient::builder(PagerDuty::new(Region::Us))
    ///     .share_negotiation(true)
    ///     .build()?;
    /// # Ok::<(), pagerduty_mcp_connect::Error>(())
    /// ```
    pub fn share_negotiation(mut self, share: bool) -> Self {
        self.share_negotiation = share;
        self
    }

    /// Answers `elicitation/create` with `handler` and declares the `elicitation` capability
    /// (form mode: `{}`). See [`McpClientBuilder::server_request_handler`] for the details.
    pub fn elicitation_handler(self, handler: impl ServerRequestHandler + 'static) -> Self {
        self.server_request_handler(ServerRequestKind::Elicitation, json!({}), handler)
    }

    /// Answers `sampling/createMessage` with `handler` and declares the `sampling` capability.
    pub fn sampling_handler(self, handler: impl ServerRequestHandler + 'static) -> Self {
        self.server_request_handler(ServerRequestKind::Sampling, json!({}), handler)
    }

    /// Answers `roots/list` with `handler` and declares the `roots` capability
    /// (`{"listChanged": false}`).
    pub fn roots_handler(self, handler: impl ServerRequestHandler + 'static) -> Self {
        self.server_request_handler(
            ServerRequestKind::Roots,
            json!({"listChanged": false}),
            handler,
        )
    }

    /// Answers server requests of `kind` with `handler`, declaring `capability` (a JSON object,
    /// for example `{"form": {}, "url": {}}` for elicitation) as the client's capability for it.
    ///
    /// Only the kinds with a handler are declared (in `initialize`, or in each 2026-07-28
    /// request's `_meta`); a request of another kind is answered `-32601` at once, and `ping`
    /// always gets an empty result. Requests are answered wherever they arrive: on a call's
    /// response stream (the handler then sees that call's
    /// [`RequestOptions::context`](super::RequestOptions::context)), on the session's standing
    /// GET stream (opened at connect when a handler is registered, see
    /// [`McpClientBuilder::listen_for_server_requests`]), or inside a 2026-07-28
    /// `input_required` result. At most
    /// [`max_concurrent_server_requests`](McpClientBuilder::max_concurrent_server_requests)
    /// are handled at once per session.
    pub fn server_request_handler(
        mut self,
        kind: ServerRequestKind,
        capability: Value,
        handler: impl ServerRequestHandler + 'static,
    ) -> Self {
        self.config
            .handlers
            .insert(kind, Arc::new(handler), capability);
        self
    }

    /// One handler for several kinds (each declared with an empty capability object).
    pub fn server_requests_handler(
        mut self,
        kinds: impl IntoIterator<Item = ServerRequestKind>,
        handler: Arc<dyn ServerRequestHandler>,
    ) -> Self {
        for kind in kinds {
            self.config
                .handlers
                .insert(kind, handler.clone(), json!({}));
        }
        self
    }

    /// Calls `hook` with every notification any session of this client receives, in order, on
    /// the task reading the stream that carried it, before the response that follows it on that
    /// stream is returned. A notification on a call's own reply stream carries that call's
    /// [context](crate::RequestOptions::context) ([`ServerNotification::call_context`]): a
    /// gateway hands a call's log messages to the agent that made the call this way, with
    /// nothing lost to a race with the call's result. Keep it short and never block in it.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{McpClient, PagerDuty, Region};
    ///
    /// let client = McpClient::builder(PagerDuty::new(Region::Us))
    ///     .on_notification(|n| {
    ///         if n.method == "notifications/message" {
    ///             println!("server log: {}", n.params);
    ///         }
    ///     })
    ///     .build()?;
    /// # let _ = client;
    /// # Ok::<(), pagerduty_mcp_connect::Error>(())
    /// ```
    pub fn on_notification(
        mut self,
        hook: impl Fn(&ServerNotification) + Send + Sync + 'static,
    ) -> Self {
        self.config.notification_hook = Some(NotificationHook(Arc::new(hook)));
        self
    }

    pub(crate) fn add_handler(
        mut self,
        kind: ServerRequestKind,
        capability: Value,
        handler: Arc<dyn ServerRequestHandler>,
    ) -> Self {
        self.config.handlers.insert(kind, handler, capability);
        self
    }

    /// How many server requests one session handles at once (default 16): handlers running
    /// plus answers being sent. A request arriving while all are busy is dropped unanswered
    /// (logged at WARN), so a flooding server costs neither tasks nor connections beyond this.
    /// `ping` and requests without a handler count too.
    pub fn max_concurrent_server_requests(mut self, limit: usize) -> Self {
        self.config.max_concurrent_server_requests = limit;
        self
    }

    /// Whether a session-era session opens its standing GET stream at connect when a server
    /// request handler is registered, so requests the server sends outside any call are
    /// answered too (default `true`; it costs one idle connection per session, and connect waits
    /// up to 2 s for the server to answer the GET). Without it the
    /// stream is open only while someone reads [`Session::notifications`].
    pub fn listen_for_server_requests(mut self, listen: bool) -> Self {
        self.config.listen_for_server_requests = listen;
        self
    }

    /// Uses your own `reqwest::Client` (to share a pool with the rest of your program).
    ///
    /// Build it with `redirect(reqwest::redirect::Policy::none())` (or a policy that stays within
    /// the origin): reqwest's default policy follows redirects to other hosts and removes only
    /// `Authorization` on the way, so a credential in another header would travel along. Replies
    /// that arrive from another origin are refused with [`Error::InvalidConfig`], but by then the
    /// request has been sent. The client this crate builds by default follows redirects only
    /// within the same origin.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The same settings for another server (a connector's routes share one configuration).
    pub(crate) fn with_server(mut self, server: Arc<dyn RemoteMcpServer>) -> Self {
        self.server = server;
        self
    }

    /// Checks the endpoint (HTTPS, or HTTP to loopback only) and builds the client.
    pub fn build(self) -> Result<McpClient> {
        check_endpoint(self.server.endpoint())?;
        if self.config.max_body_bytes == 0 || self.config.max_event_bytes == 0 {
            return Err(Error::config("size limits must be greater than zero"));
        }
        if self.config.max_concurrent_server_requests == 0 {
            return Err(Error::config(
                "max_concurrent_server_requests must be greater than zero",
            ));
        }
        let http = match self.http {
            Some(http) => http,
            None => build_http_client(self.connect_timeout, self.pool_idle_timeout)?,
        };
        let info = &self.config.client_info;
        let mut stateless_meta = Map::new();
        stateless_meta.insert(
            "io.modelcontextprotocol/protocolVersion".into(),
            json!(ProtocolVersion::V2026_07_28.as_str()),
        );
        stateless_meta.insert(
            "io.modelcontextprotocol/clientCapabilities".into(),
            Value::Object(self.config.handlers.capabilities()),
        );
        stateless_meta.insert(
            "io.modelcontextprotocol/clientInfo".into(),
            json!({"name": info.name, "version": info.version}),
        );
        let endpoint = EndpointCache::new(self.server.endpoint(), self.share_negotiation);
        Ok(McpClient {
            inner: Arc::new(ClientInner {
                http,
                auth_forms: Arc::new(AuthForms::new(
                    self.server.auth_scheme(),
                    self.server.auth_fallbacks(),
                )),
                server: self.server,
                config: self.config,
                stateless_meta,
                endpoint,
                negotiation: tokio::sync::Mutex::new(()),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_rules() {
        let unsupported = Error::Server {
            code: -32022,
            message: "unsupported".into(),
            data: Some(json!({"supported": ["2025-06-18", "2025-03-26", "1999-01-01"]})),
        };
        assert_eq!(
            fallback_version(&unsupported),
            Some(ProtocolVersion::V2025_06_18)
        );
        let missing_session = Error::Server {
            code: -32600,
            message: "Bad Request: Missing session ID".into(),
            data: None,
        };
        assert_eq!(
            fallback_version(&missing_session),
            Some(ProtocolVersion::V2025_11_25)
        );
        for status in [400, 404, 405] {
            let err = Error::HttpStatus {
                status,
                message: String::new(),
                retry_after: None,
                may_have_run: false,
            };
            assert!(fallback_version(&err).is_some());
        }
        let unauthorized = Error::Unauthorized {
            message: String::new(),
            help: String::new(),
        };
        assert_eq!(fallback_version(&unauthorized), None);
        assert_eq!(
            fallback_version(&Error::Forbidden {
                message: String::new()
            }),
            None
        );
        let server_error = Error::http_status(503, "", None);
        assert_eq!(fallback_version(&server_error), None);
    }
}

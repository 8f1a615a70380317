//! [`Gateway`]: the router a team mounts, and its builder.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use super::agent_auth::authenticate;
use super::agent_call::{call_notifications, forwarding_handler};
use super::agent_sessions::{AgentSessions, SESSION_IDLE_LIMIT};
use super::connect::ConnectPage;
use super::connections::{
    self, ConnectionLimits, DEFAULT_HEADER_READ_TIMEOUT, default_max_connections,
};
use super::direct_calls::DirectCalls;
use super::drain::Drain;
use super::front::{Front, LOOPBACK_HOSTS, LOOPBACK_ORIGINS};
use super::handler::GatewayHandler;
use super::keys::GatewayKeys;
use super::limits::{Limiter, UserLimits};
use super::list_changed::ListChanged;
use super::metrics::GatewayMetrics;
use super::oauth::{OAuthResourceServer, challenge};
use super::pending::PendingCalls;
use super::state::GatewayState;
use pagerduty_mcp_connect::Result;
use pagerduty_mcp_connect::{Connector, ConnectorBuilder, ProtocolPreference};

/// The shortest session idle time a gateway accepts.
const MIN_SESSION_IDLE: Duration = Duration::from_millis(100);

/// An MCP gateway: a Streamable HTTP MCP server for agents that forwards each agent's requests
/// to one remote MCP server with the credential of the agent's user.
///
/// Agents authenticate with `Authorization: Bearer <gateway key>` ([`GatewayKeys`]), or with an
/// OAuth access token when the gateway is an OAuth resource server ([`GatewayBuilder::oauth`]);
/// a missing or refused credential gets HTTP 401 before anything goes upstream. Each request is forwarded
/// through a [`Connector`] as that user (their own session, their own token, the gateway's
/// [`Policy`](pagerduty_mcp_connect::Policy)). [`Gateway::router`] is an axum [`Router`] with three routes:
///
/// - `/mcp`: the MCP endpoint (rmcp's Streamable HTTP server: the session era with
///   `initialize` and `Mcp-Session-Id`, and the stateless 2026-07-28 era);
/// - `/healthz`: `200 {"status":"ok",…}`, or 503 while shutting down;
/// - `/metrics`: [`GatewayMetrics`] in the Prometheus text format.
///
/// Mount it in your own server, or let [`Gateway::serve`] run it with graceful shutdown.
///
/// ```no_run
/// use pagerduty_mcp_connect_gateway::{Gateway, GatewayKeys};
/// use pagerduty_mcp_connect::{Connector, InMemoryCredentialStore, PagerDuty, Policy};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let tokens = InMemoryCredentialStore::new(); // or a persistent store
/// let keys = GatewayKeys::new();
/// keys.insert("gk_alice_7f3c9a1e5b2d4c6a8e0f", "alice@example.com")?;
/// // US and EU users on one gateway: each credential's route names its region.
/// let connector = Connector::builder()
///     .routes(PagerDuty::routes())
///     .credentials(tokens)
///     .policy(Policy::new().read_only(true));
/// let gateway = Gateway::builder(connector, keys).build()?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// gateway.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Gateway {
    state: Arc<GatewayState>,
    grace: Duration,
    connections: ConnectionLimits,
}

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateway")
            .field("name", &self.state.name)
            .field("connector", &self.state.connector)
            .field("keys", &self.state.keys)
            .field("oauth", &self.state.oauth)
            .field("grace", &self.grace)
            .field("connections", &self.connections)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// A builder: the gateway forwards through the connector `connector` builds (its servers,
    /// credentials, policy and client settings) and admits the agents holding one of `keys`.
    pub fn builder(connector: ConnectorBuilder, keys: GatewayKeys) -> GatewayBuilder {
        GatewayBuilder {
            connector,
            keys,
            oauth: None,
            connect: None,
            name: None,
            instructions: None,
            allowed_hosts: None,
            allowed_origins: None,
            grace: None,
            header_read_timeout: None,
            max_connections: None,
            limits: UserLimits::default(),
            metrics: None,
            direct_path: None,
            session_idle: None,
            list_refused_tools: None,
        }
    }

    /// The connector the gateway forwards 2026-07-28 agents' requests through, as configured.
    /// Session-era agents' requests go through its twin speaking the upstream's session era
    /// first ([`Connector::with_protocol`]), which shares its credentials, policy and budgets
    /// but has sessions of its own: [`Connector::set_policy`] on this one applies to both.
    pub fn connector(&self) -> &Connector {
        &self.state.connector
    }

    /// The gateway keys (shared: changes apply at once).
    pub fn keys(&self) -> &GatewayKeys {
        &self.state.keys
    }

    /// The OAuth resource server agents sign in through, when there is one
    /// ([`GatewayBuilder::oauth`]).
    pub fn oauth(&self) -> Option<&OAuthResourceServer> {
        self.state.oauth.as_ref()
    }

    /// The connect page, when there is one ([`GatewayBuilder::connect`]).
    pub fn connect_page(&self) -> Option<&ConnectPage> {
        self.state.connect.as_ref()
    }

    /// The gateway's metrics.
    pub fn metrics(&self) -> &GatewayMetrics {
        &self.state.metrics
    }

    /// How many agent requests are being served now.
    pub fn in_flight(&self) -> usize {
        self.state.drain.in_flight()
    }

    /// The axum router: `/mcp`, `/healthz`, `/metrics` (and `/connect/…` with a
    /// [connect page](GatewayBuilder::connect)).
    ///
    /// Every request to `/mcp` is checked in this order, and refused with an HTTP error whose
    /// body is a JSON-RPC error saying what to do: its `Host` and `Origin` (403,
    /// [`GatewayBuilder::allowed_hosts`], [`GatewayBuilder::allowed_origins`]), the gateway
    /// key or OAuth access token (401; 403 for a token without a required scope), the session
    /// (404, the same reply for a session that does not exist and for another user's), the
    /// user's limits (429 with `Retry-After`, [`GatewayBuilder::max_in_flight_per_user`],
    /// [`GatewayBuilder::rate_per_user`]).
    ///
    /// With [OAuth](GatewayBuilder::oauth), the protected resource metadata is served (no
    /// credential needed) at `/.well-known/oauth-protected-resource`,
    /// `/.well-known/oauth-protected-resource/mcp` and under the resource URI's path, and a
    /// 401 carries `WWW-Authenticate: Bearer resource_metadata="…"`. The other discovery
    /// paths clients probe (`/.well-known/oauth-authorization-server`,
    /// `/.well-known/openid-configuration`, …) and `/register`, `/authorize`, `/token` answer
    /// 404 with a body naming the authorization server. Without OAuth they all answer 404
    /// saying that the gateway offers no OAuth, and a 401 has no challenge.
    ///
    /// Serving it yourself, set `TCP_NODELAY` on the accepted connections, as
    /// [`Gateway::serve`] does: a session-era reply is an SSE stream written in pieces, and
    /// without it each piece after the first waits for the agent's delayed ACK (tens of
    /// milliseconds per call). Give your server a header-read timeout and a connection cap too
    /// (`axum::serve` has neither; [`Gateway::serve`] has both).
    ///
    /// ```no_run
    /// use axum::serve::ListenerExt;
    /// # async fn run(gateway: pagerduty_mcp_connect_gateway::Gateway) -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080")
    ///     .await?
    ///     .tap_io(|tcp| {
    ///         let _ = tcp.set_nodelay(true);
    ///     });
    /// axum::serve(listener, gateway.router()).await
    /// # }
    /// ```
    pub fn router(&self) -> Router {
        let state = self.state.clone();
        let mut config = StreamableHttpServerConfig::default()
            .with_cancellation_token(state.cancel.child_token())
            .with_sse_keep_alive(Some(Duration::from_secs(15)))
            // A plain JSON reply where nothing comes before the result (2026-07-28 requests);
            // rmcp switches to SSE by itself when progress or a request must go first.
            .with_json_response(true);
        config = match &state.front.hosts {
            Some(hosts) => config.with_allowed_hosts(hosts.clone()),
            None => config.disable_allowed_hosts(),
        };
        let handler_state = state.clone();
        let mcp = StreamableHttpService::new(
            move || Ok(GatewayHandler::new(handler_state.clone())),
            state.sessions.clone(),
            config,
        );
        let mcp = Router::new().route_service("/mcp", mcp).route_layer(
            axum::middleware::from_fn_with_state(state.clone(), authenticate),
        );
        let mut router = Router::new()
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics));
        if let Some(oauth) = &state.oauth {
            let mut paths = vec![WELL_KNOWN_PRM.to_owned(), format!("{WELL_KNOWN_PRM}/mcp")];
            let own = format!(
                "{WELL_KNOWN_PRM}{}",
                oauth.resource_path().trim_end_matches('/')
            );
            if !paths.contains(&own) {
                paths.push(own);
            }
            for path in paths {
                router = router.route(
                    &path,
                    get(resource_metadata).options(resource_metadata_preflight),
                );
            }
        }
        let connect = state.connect.as_ref().map(ConnectPage::router);
        let router = router
            .route("/.well-known/{*probe}", axum::routing::any(no_oauth))
            // Where OAuth clients turn when discovery finds nothing (mcp-remote registers at
            // /register and prints the body of the refusal): the same message.
            .route("/register", axum::routing::any(no_oauth))
            .route("/authorize", axum::routing::any(no_oauth))
            .route("/token", axum::routing::any(no_oauth))
            .with_state(state)
            .merge(mcp);
        match connect {
            Some(page) => router.merge(page),
            None => router,
        }
    }

    /// Serves [`Gateway::router`] on `listener` until `shutdown` resolves; then refuses new
    /// requests (503), lets the calls in flight finish (up to the
    /// [grace period](GatewayBuilder::shutdown_grace)), closes the agents' streams and returns.
    ///
    /// At most [`GatewayBuilder::max_connections`] agent connections are served at once (the
    /// next waits in the listen queue until one closes), and a connection that does not send a
    /// request's headers within [`GatewayBuilder::header_read_timeout`] (a new one, or one
    /// idle between requests) is closed. `TCP_NODELAY` is set on every connection.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let gateway = self.clone();
        connections::serve(listener, self.router(), self.connections, async move {
            shutdown.await;
            gateway.shutdown().await;
        })
        .await
    }

    /// Begins shutdown: new agent requests get 503; waits for the calls in flight (up to the
    /// grace period), then ends the agents' sessions and streams. Returns how many calls were
    /// still running when the grace period ran out.
    pub async fn shutdown(&self) -> usize {
        let waiting = self.state.drain.in_flight();
        tracing::info!(
            in_flight = waiting,
            "shutting down: refusing new requests, letting calls in flight finish"
        );
        let left = self.state.drain.drain(self.grace).await;
        if left > 0 {
            tracing::warn!(left, "grace period over: ending calls still in flight");
        }
        self.state.cancel.cancel();
        left
    }
}

async fn healthz(State(state): State<Arc<GatewayState>>) -> Response {
    let draining = state.drain.is_shutting_down();
    let body = serde_json::json!({
        "status": if draining { "shutting_down" } else { "ok" },
        "in_flight": state.drain.in_flight(),
        "active_users": state.connector.active_users() + state.session_connector.active_users(),
        "listening_agents": state.list_changed.listeners(),
    });
    let status = if draining {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(state): State<Arc<GatewayState>>) -> Response {
    state
        .metrics
        .set_active_users(state.connector.active_users() + state.session_connector.active_users());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// The well-known path of the protected resource metadata (RFC 9728).
const WELL_KNOWN_PRM: &str = "/.well-known/oauth-protected-resource";

/// The protected resource metadata (RFC 9728), for anyone: it is public, and browser-based
/// clients read it from other origins.
async fn resource_metadata(State(state): State<Arc<GatewayState>>) -> Response {
    let Some(oauth) = &state.oauth else {
        return no_oauth(State(state)).await;
    };
    let mut response = axum::Json(oauth.metadata()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// A browser's CORS preflight for the metadata (clients send `MCP-Protocol-Version` with it).
async fn resource_metadata_preflight() -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, OPTIONS"),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, "*"),
            (header::ACCESS_CONTROL_MAX_AGE, "86400"),
        ],
    )
        .into_response()
}

/// The OAuth (and OpenID) discovery documents OAuth-capable clients look for, other than the
/// protected resource metadata: none here, at once, with no key needed, and a body saying what
/// to do instead (where the authorization server is, when OAuth is on).
async fn no_oauth(State(state): State<Arc<GatewayState>>) -> Response {
    if let Some(oauth) = &state.oauth {
        return challenge::not_the_authorization_server(oauth);
    }
    super::agent_auth::json_rpc_error(
        StatusCode::NOT_FOUND,
        super::agent_auth::REFUSED_CODE,
        "Not Found: this gateway offers no OAuth sign-in. Send your gateway key as the HTTP header \
         `Authorization: Bearer <gateway key>` on every request to /mcp; ask the gateway's \
         operator for your key.",
    )
}

/// rmcp's session manager with its keep-alive off: the gateway ends idle sessions itself
/// ([`GatewayState::start_session_sweeper`]).
fn session_manager() -> LocalSessionManager {
    let mut manager = LocalSessionManager::default();
    manager.session_config.keep_alive = None;
    manager
}

/// Builds a [`Gateway`] from a [`ConnectorBuilder`] (the servers, the credentials, the policy,
/// the client settings) and the [`GatewayKeys`] agents sign in with.
///
/// It takes the connector's *builder*, not a built `Connector`, because the gateway installs
/// its own handlers for the upstream's server requests (elicitation, sampling), which forward
/// each request to the agent whose call caused it; everything else is the connector's as
/// configured.
#[must_use]
pub struct GatewayBuilder {
    connector: ConnectorBuilder,
    keys: GatewayKeys,
    oauth: Option<OAuthResourceServer>,
    connect: Option<ConnectPage>,
    name: Option<String>,
    instructions: Option<String>,
    allowed_hosts: Option<Vec<String>>,
    allowed_origins: Option<Vec<String>>,
    grace: Option<Duration>,
    header_read_timeout: Option<Duration>,
    max_connections: Option<usize>,
    limits: UserLimits,
    metrics: Option<GatewayMetrics>,
    direct_path: Option<bool>,
    session_idle: Option<Duration>,
    list_refused_tools: Option<bool>,
}

impl fmt::Debug for GatewayBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayBuilder")
            .field("connector", &self.connector)
            .field("keys", &self.keys)
            .field("oauth", &self.oauth)
            .field("connect", &self.connect)
            .finish_non_exhaustive()
    }
}

impl GatewayBuilder {
    /// Makes the gateway an OAuth 2.1 resource server, as the MCP authorization specification
    /// describes: agents may sign in with an access token of the authorization server(s)
    /// `oauth` trusts, beside the [gateway keys](GatewayKeys) (both work at once: a bearer that
    /// is a known key is that key's user; any other is checked as an access token). See
    /// [`OAuthResourceServer`] for what the gateway then serves and answers.
    ///
    /// Remember [`allowed_hosts`](Self::allowed_hosts): a gateway with a public resource URI
    /// listens under a public host name.
    pub fn oauth(mut self, oauth: OAuthResourceServer) -> Self {
        self.oauth = Some(oauth);
        self
    }

    /// Serves the connect page (`/connect/…`, [`ConnectPage::router`]) beside `/mcp`: the
    /// page where users connect their PagerDuty accounts through the links of its
    /// [registry](ConnectPage::registry). Build the page's [`Onboarding`](crate::Onboarding)
    /// with the store the connector reads, so that a token connected there is used from the
    /// user's next call.
    pub fn connect(mut self, page: ConnectPage) -> Self {
        self.connect = Some(page);
        self
    }

    /// The server name agents see (default `pagerduty-mcp-gateway`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Whether the gateway answers a plain `tools/call` itself, in the HTTP handler that
    /// received it, instead of through rmcp's service (default: yes). Only calls whose answer
    /// is one JSON-RPC response go that way (no progress token, no server request possible,
    /// standard headers, a known and initialized session in the session era), with rmcp's own
    /// model and result handling; it saves rmcp's task hand-offs (benches/gateway_hop.rs). Turn
    /// it off to have rmcp serve every request.
    pub fn direct_path(mut self, enabled: bool) -> Self {
        self.direct_path = Some(enabled);
        self
    }

    /// How long an agent's session-era session may go without a request before the gateway
    /// ends it (default 5 minutes, rmcp's own default; at least 100 ms); the agent then gets
    /// 404 and opens a new one.
    pub fn session_idle_timeout(mut self, idle: Duration) -> Self {
        self.session_idle = Some(idle);
        self
    }

    /// Whether a tool the policy refuses a user is still listed to that user's agents, marked as
    /// refused by the gateway's policy with the reason (its title and description start with
    /// it), so that a client shows the refusal as the gateway's rather than "tool not found"
    /// (default: yes). `false` hides such tools; calling one gets the policy's refusal either
    /// way.
    pub fn list_refused_tools(mut self, listed: bool) -> Self {
        self.list_refused_tools = Some(listed);
        self
    }

    /// Instructions agents see in `initialize` / `server/discover`.
    pub fn instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions = Some(instructions.into());
        self
    }

    /// The `Host` header values agents may use (DNS-rebinding protection). Default: loopback
    /// names only, right for a gateway on `127.0.0.1`; set your public host names when it
    /// listens elsewhere. An empty list turns the check off.
    pub fn allowed_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_hosts = Some(hosts.into_iter().map(Into::into).collect());
        self
    }

    /// The browser origins whose pages may call the gateway (the `Origin` header; MCP's
    /// Streamable HTTP transport requires servers to check it, against DNS rebinding). A
    /// request without `Origin` (every MCP client that is not a web page) is not affected; one
    /// from another origin gets 403 with a JSON-RPC error before its key is even looked at.
    ///
    /// Each entry is `scheme://host[:port]` (no port: the scheme's default), `scheme://host:*`
    /// (any port) or `null`. Default: loopback pages only (`http://localhost:*`,
    /// `http://127.0.0.1:*`, `http://[::1]:*` and the same with `https`), such as the MCP
    /// Inspector on the same machine: the gateway serves no web pages of its own, and a page
    /// on a DNS-rebinding attacker's domain has that domain as its origin. Setting a list
    /// replaces the default (list the loopback origins too to keep them); an empty list
    /// allows no browser page at all. An entry that is none of these is ignored, with a
    /// warning in the log.
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_origins = Some(origins.into_iter().map(Into::into).collect());
        self
    }

    /// How long a connection has to send a request's headers, when it is new or idle between
    /// requests, before [`Gateway::serve`] closes it (default 10 s). Idle connections that
    /// never send a request cannot pile up.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = Some(timeout);
        self
    }

    /// How many agent connections [`Gateway::serve`] serves at once; the next waits in the
    /// listen queue until one closes (default: half the process's open-file limit, between
    /// 64 and 4096, so that the gateway keeps descriptors for its upstream connections; 1024
    /// where the limit is unknown). Raise the open-file limit (`ulimit -n`) with it.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = Some(connections.max(1));
        self
    }

    /// How many of one user's calls may be in flight at once (default 32; `0` turns the
    /// limit off). Over it, a request gets HTTP 429 with `Retry-After` and a JSON-RPC error,
    /// at once; other users are not affected. A user's agents share the limit.
    pub fn max_in_flight_per_user(mut self, calls: usize) -> Self {
        self.limits.max_in_flight = calls;
        self
    }

    /// How many requests one user may send per second on average (`per_second`), and how many
    /// at once above that (`burst`) (default 50 per second, bursts of 100; `per_second = 0`
    /// turns the limit off). Over it, a request gets HTTP 429 with `Retry-After` and a
    /// JSON-RPC error, at once; other users are not affected. A user's agents share the rate.
    pub fn rate_per_user(mut self, per_second: u32, burst: u32) -> Self {
        self.limits.rate_per_second = per_second;
        self.limits.burst = burst.max(1);
        self
    }

    /// How long shutdown waits for calls in flight (default 30 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.grace = Some(grace);
        self
    }

    /// Records into these metrics (default: new ones).
    pub fn metrics(mut self, metrics: GatewayMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Checks and builds.
    pub fn build(self) -> Result<Gateway> {
        let keys = self.keys;
        let list_changed = Arc::new(ListChanged::default());
        let connector = self
            .connector
            .elicitation_handler(forwarding_handler(list_changed.clone()))
            .sampling_handler(forwarding_handler(list_changed.clone()))
            .roots_handler(forwarding_handler(list_changed.clone()))
            .on_notification(call_notifications)
            .build()?;
        let session_connector = connector.with_protocol(ProtocolPreference::SessionFirst);
        let help = connector.credential_help().to_owned();
        let origins = match self.allowed_origins {
            Some(origins) => origins,
            None => LOOPBACK_ORIGINS.iter().map(|o| (*o).to_owned()).collect(),
        };
        let hosts = match self.allowed_hosts {
            // Loopback names unless set; an empty list turns the check off.
            None => Some(LOOPBACK_HOSTS.iter().map(|h| (*h).to_owned()).collect()),
            Some(hosts) if hosts.is_empty() => None,
            Some(hosts) => Some(hosts),
        };
        let default_instructions = instructions_for(&connector);
        let name = self
            .name
            .unwrap_or_else(|| "pagerduty-mcp-gateway".to_owned());
        Ok(Gateway {
            state: Arc::new(GatewayState {
                connector,
                session_connector,
                keys,
                oauth: self.oauth,
                connect: self.connect,
                metrics: self.metrics.unwrap_or_default(),
                agent_sessions: AgentSessions::default(),
                drain: Arc::new(Drain::default()),
                list_changed,
                pending: PendingCalls::default(),
                help,
                instructions: Some(self.instructions.unwrap_or(default_instructions)),
                name,
                sessions: Arc::new(session_manager()),
                cancel: CancellationToken::new(),
                direct_path: self.direct_path.unwrap_or(true),
                list_refused_tools: self.list_refused_tools.unwrap_or(true),
                direct_calls: DirectCalls::default(),
                session_idle: self
                    .session_idle
                    .unwrap_or(SESSION_IDLE_LIMIT)
                    .max(MIN_SESSION_IDLE),
                front: Front::new(hosts, &origins),
                limiter: Arc::new(Limiter::new(self.limits)),
                sweeper_started: AtomicBool::new(false),
            }),
            grace: self.grace.unwrap_or(Duration::from_secs(30)),
            connections: ConnectionLimits {
                header_read_timeout: self
                    .header_read_timeout
                    .unwrap_or(DEFAULT_HEADER_READ_TIMEOUT),
                max_connections: self.max_connections.unwrap_or_else(default_max_connections),
            },
        })
    }
}

/// The instructions agents see by default: which upstream server the gateway forwards to, by
/// its address (the connector's servers, each once).
fn instructions_for(connector: &Connector) -> String {
    let mut upstreams: Vec<String> = Vec::new();
    for server in connector.servers() {
        let url = server.endpoint();
        let host = url.host_str().unwrap_or("");
        let address = match url.port() {
            Some(port) => format!("{}://{host}:{port}{}", url.scheme(), url.path()),
            None => format!("{}://{host}{}", url.scheme(), url.path()),
        };
        let named = format!("{} ({address})", server.name());
        if !upstreams.contains(&named) {
            upstreams.push(named);
        }
    }
    match upstreams.as_slice() {
        [one] => format!(
            "A gateway to the MCP server {one}: every request goes there with your own credential."
        ),
        many => format!(
            "A gateway to the MCP servers {}: every request goes to your account's server with your own credential.",
            many.join(", ")
        ),
    }
}

//! [`MockPagerDuty`]: the embedded server, its builder, and its run-time knobs.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::serve::ListenerExt;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

use super::data::{ALICE_USER_ID, BOB_USER_ID, DEMO_USER_ID};
use super::jsonrpc;
use super::options::{Eras, ResponseMode, ToolNaming};
use super::record::{RecordedRequest, Recorder};
use super::session;
use super::state::{Config, Shared, lock};
use super::transport;
use super::users::{Directory, MockUser};
use pagerduty_mcp_connect::{AuthScheme, PagerDuty};

/// A mock of PagerDuty's hosted MCP server on a loopback port, for tests, examples and
/// benchmarks.
///
/// It serves MCP over Streamable HTTP at `/mcp` in both protocol eras (the session era with
/// `initialize` and `Mcp-Session-Id`, and the stateless `2026-07-28` era), offers PagerDuty-like
/// tools over a small in-memory account, accepts only the configured credential scheme
/// (`Authorization: Token <token>` by default) for its users' tokens, records every request
/// (never a token), and injects faults on demand.
///
/// ```
/// use pagerduty_mcp_connect_mock::MockPagerDuty;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mock = MockPagerDuty::start().await;
/// assert_eq!(mock.url().path(), "/mcp");
/// assert_eq!(mock.url().host_str(), Some("127.0.0.1"));
/// mock.fail_next(1, 503); // the next JSON-RPC request gets HTTP 503
/// assert!(mock.requests().is_empty());
/// mock.shutdown().await;
/// # }
/// ```
///
/// The server stops when [`shutdown`](Self::shutdown) is awaited or the value is dropped.
pub struct MockPagerDuty {
    shared: Arc<Shared>,
    addr: SocketAddr,
    url: Url,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// A session the mock holds (session era).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MockSession {
    /// The `Mcp-Session-Id`.
    pub id: String,
    /// The mock user who opened it (and the only one who may use it).
    pub user_id: String,
    /// The negotiated protocol version.
    pub protocol_version: String,
    /// Whether `notifications/initialized` arrived.
    pub initialized: bool,
    /// Whether a standalone GET stream was opened.
    pub has_standalone_stream: bool,
}

impl MockPagerDuty {
    /// The token of the demo user ([`DEMO_USER_ID`](Self::DEMO_USER_ID), role `admin`).
    pub const DEMO_TOKEN: &'static str = "u+MockDemoToken000001";
    /// The demo user's id.
    pub const DEMO_USER_ID: &'static str = DEMO_USER_ID;
    /// The token of Alice ([`ALICE_USER_ID`](Self::ALICE_USER_ID), role `user`).
    pub const ALICE_TOKEN: &'static str = "u+MockAliceToken00002";
    /// Alice's id.
    pub const ALICE_USER_ID: &'static str = ALICE_USER_ID;
    /// The token of Bob ([`BOB_USER_ID`](Self::BOB_USER_ID), role `read_only_user`: write tools
    /// answer him "Access denied").
    pub const BOB_TOKEN: &'static str = "u+MockBobToken0000003";
    /// Bob's id.
    pub const BOB_USER_ID: &'static str = BOB_USER_ID;

    /// The three default users: the demo user (`admin`), Alice (`user`) and Bob
    /// (`read_only_user`), with the tokens of the constants above.
    pub fn default_users() -> Vec<MockUser> {
        vec![
            MockUser::new(
                DEMO_USER_ID,
                "Demo User",
                "demo@example.com",
                "admin",
                Self::DEMO_TOKEN,
            ),
            MockUser::new(
                ALICE_USER_ID,
                "Alice Example",
                "alice@example.com",
                "user",
                Self::ALICE_TOKEN,
            ),
            MockUser::new(
                BOB_USER_ID,
                "Bob Example",
                "bob@example.com",
                "read_only_user",
                Self::BOB_TOKEN,
            ),
        ]
    }

    /// Starts a mock with the defaults: both eras, JSON replies, no pagination,
    /// `Authorization: Token <token>`, the [default users](Self::default_users).
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound (use [`builder`](Self::builder) to get an error
    /// instead). Must be called inside a Tokio runtime.
    pub async fn start() -> MockPagerDuty {
        match Self::builder().start().await {
            Ok(mock) => mock,
            Err(err) => panic!("the mock PagerDuty server could not start: {err}"),
        }
    }

    /// A builder to choose users, auth scheme, page size, reply mode and eras.
    pub fn builder() -> MockPagerDutyBuilder {
        MockPagerDutyBuilder::default()
    }

    /// The MCP endpoint, `http://127.0.0.1:<port>/mcp`.
    pub fn url(&self) -> Url {
        self.url.clone()
    }

    /// The PagerDuty preset pointed at this mock: its endpoint, PagerDuty's default scheme
    /// (`Authorization: Token <token>`), per-user credentials. What a test of code built on a
    /// `Connector` or `McpClient` connects to.
    ///
    /// ```
    /// use pagerduty_mcp_connect::{McpClient, RemoteMcpServer};
    /// use pagerduty_mcp_connect_mock::MockPagerDuty;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mock = MockPagerDuty::start().await;
    /// assert_eq!(mock.pagerduty().endpoint(), &mock.url());
    /// let client = McpClient::new(mock.pagerduty()).unwrap();
    /// # let _ = client;
    /// # }
    /// ```
    pub fn pagerduty(&self) -> PagerDuty {
        PagerDuty::builder()
            .endpoint(self.url.as_str())
            .build()
            .expect("a loopback http URL is a valid PagerDuty endpoint")
    }

    /// The socket address the mock listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The auth scheme the mock requires.
    pub fn auth_scheme(&self) -> &AuthScheme {
        self.shared.directory.scheme()
    }

    /// The ids of the users the mock knows now.
    pub fn user_ids(&self) -> Vec<String> {
        self.shared.directory.user_ids()
    }

    /// Adds a user (or replaces the user with the same id) while the mock runs.
    pub fn add_user(&self, user: MockUser) {
        self.shared.directory.add_user(user);
    }

    /// Adds a token to an existing user (a rotation); `false` when the user is unknown.
    pub fn add_token(&self, user_id: &str, token: impl Into<String>) -> bool {
        self.shared.directory.add_token(user_id, token.into())
    }

    /// Revokes a token: from now on it gets 401. `false` when no user had it.
    pub fn revoke_token(&self, token: &str) -> bool {
        self.shared.directory.revoke_token(token)
    }

    /// Removes a user and all their tokens; `false` when the user is unknown.
    pub fn remove_user(&self, user_id: &str) -> bool {
        self.shared.directory.remove_user(user_id)
    }

    /// The next `n` JSON-RPC requests get HTTP `status` (500, 502, 503, 504 …) with a
    /// PagerDuty-style error body; 403 gets PagerDuty's "Access Denied" (code 2010) naming the
    /// missing permission. See [the fault rules](crate#faults).
    pub fn fail_next(&self, n: usize, status: u16) {
        self.shared.faults.fail_next(n, status);
    }

    /// The next `n` JSON-RPC requests get 429 with `Retry-After: <secs>`, `ratelimit-*`
    /// headers and PagerDuty's body `{"error":{"message":"Rate Limit Exceeded","code":2020}}`.
    pub fn rate_limit_next(&self, n: usize, retry_after: Duration) {
        self.shared.faults.rate_limit_next(n, retry_after);
    }

    /// The next `n` JSON-RPC requests are never answered: they wait until the mock shuts down
    /// (or the [hang duration](MockPagerDutyBuilder::hang_duration) passes, then 504).
    pub fn hang_next(&self, n: usize) {
        self.shared.faults.hang_next(n);
    }

    /// The next `n` JSON-RPC requests are answered as SSE streams that break mid-event: in the
    /// session era after a priming event (with an id and `retry:`) and the first half of the
    /// events, so the client can resume with GET + `Last-Event-ID` and get the rest; in the
    /// stateless era without ids (the request is lost, as the 2026-07-28 spec says).
    pub fn drop_sse_next(&self, n: usize) {
        self.shared.faults.drop_sse_next(n);
    }

    /// The next `n` JSON-RPC requests get a well-formed JSON reply of about `bytes` bytes,
    /// streamed without `Content-Length`.
    pub fn oversized_next(&self, n: usize, bytes: usize) {
        self.shared.faults.oversized_next(n, bytes);
    }

    /// The next `n` JSON-RPC requests get 200 `application/json` with a body that is not JSON.
    pub fn malformed_next(&self, n: usize) {
        self.shared.faults.malformed_next(n);
    }

    /// The next `n` JSON-RPC requests get `307 Temporary Redirect` to `location` (for example
    /// another mock's URL, to see whether the credential follows a cross-origin redirect).
    pub fn redirect_next(&self, n: usize, location: impl Into<String>) {
        self.shared.faults.redirect_next(n, location.into());
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Forgets every session: the next request on any of them gets 404 (the client must
    /// initialize again). Returns how many sessions there were.
    pub fn expire_sessions(&self) -> usize {
        session::expire_all(&self.shared)
    }

    /// The sessions the mock holds now.
    pub fn sessions(&self) -> Vec<MockSession> {
        let sessions = lock(&self.shared.sessions);
        let mut out: Vec<MockSession> = sessions
            .iter()
            .map(|(id, s)| MockSession {
                id: id.clone(),
                user_id: s.user_id.clone(),
                protocol_version: s.version.clone(),
                initialized: s.initialized,
                has_standalone_stream: s.standalone.is_some(),
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Sends a notification (`method`, `params`) on the standalone GET stream of every
    /// session that opened one (it is kept for replay when the reader is away). Returns how
    /// many sessions it went to.
    pub fn notify(&self, method: &str, params: Value) -> usize {
        session::notify_all(&self.shared, &jsonrpc::notification(method, params))
    }

    /// Every request received so far (up to the
    /// [recording limit](MockPagerDutyBuilder::max_recorded_requests)), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.recorder.snapshot()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.recorder.clear();
    }

    /// Stops the server: open streams end, hanging requests are released, and the listener
    /// closes. Waits up to two seconds for connections to finish.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        lock(&self.shared.streams).close_all_live();
        let task = lock(&self.task).take();
        if let Some(mut task) = task
            && tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for MockPagerDuty {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Ok(mut streams) = self.shared.streams.lock() {
            streams.close_all_live();
        }
        if let Ok(mut task) = self.task.lock()
            && let Some(task) = task.take()
        {
            task.abort();
        }
    }
}

impl fmt::Debug for MockPagerDuty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockPagerDuty")
            .field("url", &self.url.as_str())
            .field("auth_scheme", self.shared.directory.scheme())
            .field("users", &self.shared.directory.user_ids())
            .field("eras", &self.shared.config.eras)
            .field("response_mode", &self.shared.config.mode)
            .field("page_size", &self.shared.config.page_size)
            .finish_non_exhaustive()
    }
}

/// Configures and starts a [`MockPagerDuty`].
///
/// ```
/// use pagerduty_mcp_connect_mock::{Eras, MockPagerDuty, MockUser, ResponseMode};
/// use pagerduty_mcp_connect::{AuthScheme, PagerDuty};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mock = MockPagerDuty::builder()
///     .user(MockUser::new("PCAROL1", "Carol", "carol@example.com", "user", "u+carol"))
///     .auth_scheme(AuthScheme::bearer())
///     .page_size(5)
///     .response_mode(ResponseMode::Sse)
///     .eras(Eras::SessionOnly)
///     .start()
///     .await?;
/// assert!(mock.user_ids().contains(&"PCAROL1".to_owned()));
/// # Ok(())
/// # }
/// ```
#[must_use]
#[derive(Debug, Clone)]
pub struct MockPagerDutyBuilder {
    users: Vec<MockUser>,
    default_users: bool,
    auth_scheme: AuthScheme,
    page_size: Option<usize>,
    mode: ResponseMode,
    eras: Eras,
    sse_retry: Duration,
    max_body: usize,
    hang_for: Duration,
    naming: ToolNaming,
    max_recorded: usize,
}

impl Default for MockPagerDutyBuilder {
    fn default() -> Self {
        MockPagerDutyBuilder {
            users: Vec::new(),
            default_users: true,
            auth_scheme: AuthScheme::token(),
            page_size: None,
            mode: ResponseMode::Json,
            eras: Eras::Both,
            sse_retry: Duration::from_millis(50),
            max_body: 4 * 1024 * 1024,
            hang_for: Duration::from_secs(3600),
            naming: ToolNaming::OpenSource,
            max_recorded: 100_000,
        }
    }
}

impl MockPagerDutyBuilder {
    /// Adds a user (besides the default users, unless
    /// [`without_default_users`](Self::without_default_users)).
    pub fn user(mut self, user: MockUser) -> Self {
        self.users.push(user);
        self
    }

    /// Leaves out the [default users](MockPagerDuty::default_users).
    pub fn without_default_users(mut self) -> Self {
        self.default_users = false;
        self
    }

    /// The credential scheme the mock requires (default [`AuthScheme::token`]). With
    /// [`AuthScheme::none`] it is a server that needs no credential: every request is served as
    /// its first user.
    pub fn auth_scheme(mut self, scheme: AuthScheme) -> Self {
        self.auth_scheme = scheme;
        self
    }

    /// Splits `tools/list`, `resources/list`, `resources/templates/list` and `prompts/list`
    /// into pages of `n` (at least 1) with an opaque `nextCursor`. Default: one page.
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = Some(n.max(1));
        self
    }

    /// JSON or SSE replies (default [`ResponseMode::Json`]).
    pub fn response_mode(mut self, mode: ResponseMode) -> Self {
        self.mode = mode;
        self
    }

    /// Which protocol eras to serve (default [`Eras::Both`]).
    pub fn eras(mut self, eras: Eras) -> Self {
        self.eras = eras;
        self
    }

    /// The `retry:` delay the mock announces on SSE streams (default 50 ms).
    pub fn sse_retry(mut self, delay: Duration) -> Self {
        self.sse_retry = delay;
        self
    }

    /// The largest request body accepted; larger ones get 413 (default 4 MiB).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// How long a [`hang_next`](MockPagerDuty::hang_next) request waits before it is answered
    /// 504 (default one hour; shutdown ends it earlier).
    pub fn hang_duration(mut self, duration: Duration) -> Self {
        self.hang_for = duration;
        self
    }

    /// Which names the tools go by (default [`ToolNaming::OpenSource`]);
    /// [`ToolNaming::Hosted`] serves the hosted server's (`browse_incidents` …).
    pub fn tool_naming(mut self, naming: ToolNaming) -> Self {
        self.naming = naming;
        self
    }

    /// How many requests [`requests`](MockPagerDuty::requests) keeps (the most recent; default
    /// 100 000; 0 records nothing).
    pub fn max_recorded_requests(mut self, n: usize) -> Self {
        self.max_recorded = n;
        self
    }

    /// Binds `127.0.0.1:0` and starts serving. Must be called inside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// The operating system's error when no loopback port can be bound.
    pub async fn start(self) -> std::io::Result<MockPagerDuty> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let url = Url::parse(&format!("http://{addr}/mcp"))
            .expect("a loopback socket address always makes a valid URL");
        let mut users = if self.default_users {
            MockPagerDuty::default_users()
        } else {
            Vec::new()
        };
        for user in self.users {
            users.retain(|u| u.id() != user.id());
            users.push(user);
        }
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared::new(
            Config {
                eras: self.eras,
                mode: self.mode,
                page_size: self.page_size,
                sse_retry: self.sse_retry,
                max_body: self.max_body,
                hang_for: self.hang_for,
                naming: self.naming,
            },
            Directory::new(self.auth_scheme, users),
            Recorder::new(self.max_recorded),
            stopped.clone(),
        ));
        let app = transport::router(shared.clone());
        let mut signal = stopped;
        let task = tokio::spawn(async move {
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = signal.wait_for(|stop| *stop).await;
                })
                .await;
        });
        Ok(MockPagerDuty {
            shared,
            addr,
            url,
            stop,
            task: Mutex::new(Some(task)),
        })
    }
}

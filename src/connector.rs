//! `Connector`: the façade a gateway embeds to serve many users, each with their own credential
//! and routed to their own server, over one connection pool.

mod budget;
mod policy;
mod routes;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use serde_json::Value;
use tracing::Instrument;

use crate::client::model::{CallToolResult, ServerNotification, Tool};
use crate::client::model::{
    CompleteResult, CompletionTarget, GetPromptResult, LoggingLevel, Prompt, ReadResourceResult,
    Resource, ResourceTemplate,
};
use crate::client::{
    McpClient, McpClientBuilder, ProtocolPreference, RequestOptions, ServerRequestHandler,
    ServerRequestKind, Session,
};
use crate::clock::{Clock, SystemClock};
use crate::credential::{
    Credential, CredentialError, CredentialProvider, Route, SharedCredentialProvider, UserId,
};
use crate::error::{Error, Result};
use crate::redaction::Redactor;
use crate::server::{ConnectionType, RemoteMcpServer};

pub use budget::UserBudget;
pub use policy::{Policy, PolicyDenial, PolicyRule};
pub use routes::ServerRoutes;

use budget::Budgets;

/// How long a credential provider may take by default.
const DEFAULT_CREDENTIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Many users, each on their own server, one connection pool.
///
/// Each user goes to one server: the [`server`](ConnectorBuilder::server) for a credential that
/// names no [`Route`], the server of the credential's route otherwise
/// ([`ConnectorBuilder::route`], [`ServerRoutes`]; the PagerDuty preset's regions are
/// `PagerDuty::routes()`). A credential whose route has no server is an error, never sent
/// elsewhere. All servers share one connection pool and one client configuration.
///
/// Each user's session is opened lazily with the credential the [`CredentialProvider`] returns
/// for them, reused while it works, evicted after an idle time, and re-opened when the server
/// expires it or the user's credential changes (a rotated token is used from the next call on).
/// Nothing is shared between users except the pool.
///
/// On a 401 the connector tells the provider ([`CredentialProvider::invalidate`]), drops the
/// user's session and returns [`Error::Unauthorized`] with the server's credential help; it does
/// not retry the rejected token. Every call is a `tracing` span (`mcp_call`) with the user, the
/// tool, the outcome and the latency, never the token: successful calls and the user's own
/// errors (denied, unauthorized, forbidden, rate limited, no credential) are logged at INFO,
/// faults of the upstream or of the gateway's credential store at WARN. Every error the
/// connector returns has passed the redaction step for the user's credential.
///
/// A credential provider that does not answer within
/// [`ConnectorBuilder::credential_timeout`] (10 s by default) ends that user's call with
/// [`Error::CredentialTimeout`]; other users are not affected.
///
/// ```no_run
/// use pagerduty_mcp_connect::{Connector, InMemoryCredentialStore, PagerDuty, Policy, Region, UserId};
/// use serde_json::json;
///
/// # async fn run() -> Result<(), pagerduty_mcp_connect::Error> {
/// let store = InMemoryCredentialStore::new();
/// store.insert("alice@example.com", "u+alice-token");
/// let connector = Connector::builder()
///     .server(PagerDuty::new(Region::Us))
///     .credentials(store.clone())
///     .policy(Policy::new().read_only(true))
///     .build()?;
/// let alice = UserId::from("alice@example.com");
/// let tools = connector.list_tools(&alice).await?;
/// let incidents = connector.call_tool(&alice, "list_incidents", json!({})).await?;
/// # let _ = (tools, incidents);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Connector {
    inner: Arc<ConnectorInner>,
}

struct ConnectorInner {
    clients: Clients,
    credentials: SharedCredentialProvider,
    /// Swapped whole by [`Connector::set_policy`]; each call reads it once. Shared with the
    /// connectors made by [`Connector::with_protocol`].
    policy: Arc<RwLock<Arc<Policy>>>,
    idle_timeout: Duration,
    credential_timeout: Duration,
    token_age_warning: Option<Duration>,
    /// Read-locked on every call (a user already known), write-locked only for a new user or
    /// an eviction.
    users: RwLock<HashMap<UserId, Arc<UserSlot>>>,
    /// The origin of the slots' `last_used` clocks.
    epoch: Instant,
    /// Where idle times and token ages are read ([`ConnectorBuilder::clock`]).
    clock: Arc<dyn Clock>,
    /// When each user was last warned about an old token (bounded, see `warn_if_old`).
    warned_about_age: Mutex<HashMap<UserId, Instant>>,
    sweeper_started: std::sync::atomic::AtomicBool,
    /// Each user's request budget ([`ConnectorBuilder::user_budget`]), if there is one.
    budgets: Option<Arc<Budgets>>,
}

/// One user's state. A call for a user with an open session takes one short lock here; the
/// async `opening` lock makes concurrent first calls of a user open one session.
#[derive(Default)]
struct UserSlot {
    /// The open session; locked only for a moment, never across an `.await`.
    current: Mutex<Option<OpenSession>>,
    /// Held while a session is being opened for the user.
    opening: tokio::sync::Mutex<()>,
    /// When the user last called, in milliseconds since the connector's epoch, plus one (0:
    /// never).
    last_used: AtomicU64,
}

impl UserSlot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<OpenSession>> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The open session, if it is still usable with `credential` on client `client`.
    fn usable(&self, credential: &Credential, client: usize) -> Option<Session> {
        self.lock()
            .as_ref()
            .filter(|open| {
                open.client == client
                    && !open.session.is_closed()
                    && open.session.credential().same_secret(credential)
            })
            .map(|open| open.session.clone())
    }
}

/// Milliseconds since the connector's epoch on its clock, plus one (so that 0 can mean "never").
fn millis(inner: &ConnectorInner) -> u64 {
    inner
        .clock
        .now()
        .saturating_duration_since(inner.epoch)
        .as_millis() as u64
        + 1
}

struct OpenSession {
    session: Session,
    /// Which of the connector's clients opened it ([`Clients::for_credential`]).
    client: usize,
    tools: Option<Arc<Vec<Tool>>>,
}

/// The connector's clients: one per server, all on one connection pool. Index 0 is the default
/// server's (if any), then the routes' in order.
struct Clients {
    default: Option<McpClient>,
    routes: Vec<(Route, McpClient)>,
}

impl Clients {
    /// The client for `credential` and its index.
    fn for_credential(
        &self,
        user: &UserId,
        credential: &Credential,
    ) -> Result<(usize, &McpClient)> {
        match credential.route() {
            None => self.default.as_ref().map(|client| (0, client)).ok_or_else(|| {
                Error::config(format!(
                    "the credential of user {user} names no route and this connector has no default server: store the credential with its route, or set ConnectorBuilder::server"
                ))
            }),
            Some(route) => self.by_route(route).ok_or_else(|| {
                    Error::config(format!(
                        "the credential of user {user} belongs to route {route}, which this connector has no server for"
                    ))
                }),
        }
    }

    /// The client of `route`'s server and its index.
    fn by_route(&self, route: &Route) -> Option<(usize, &McpClient)> {
        self.routes
            .iter()
            .position(|(r, _)| r == route)
            .map(|i| (i + 1, &self.routes[i].1))
    }

    /// The default server's client, else the first route's.
    fn first(&self) -> &McpClient {
        match &self.default {
            Some(client) => client,
            None => &self.routes[0].1,
        }
    }
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("server", &self.client().server().name())
            .field(
                "routes",
                &self
                    .inner
                    .clients
                    .routes
                    .iter()
                    .map(|(r, _)| r)
                    .collect::<Vec<_>>(),
            )
            .field("policy", &*self.policy())
            .field("idle_timeout", &self.inner.idle_timeout)
            .field("users", &self.read_users().len())
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// A builder; a `server` or a `route` is required, and `credentials` unless the server needs
    /// no credential ([`ConnectionType::NoCredential`](crate::ConnectionType::NoCredential)).
    pub fn builder() -> ConnectorBuilder {
        ConnectorBuilder::default()
    }

    /// The client of the default server (of the first route when there is none); every client
    /// of the connector shares its connection pool.
    pub fn client(&self) -> &McpClient {
        self.inner.clients.first()
    }

    /// Every server of the connector: the default one first, then the routes' in order.
    pub fn servers(&self) -> impl Iterator<Item = &dyn RemoteMcpServer> {
        let clients = &self.inner.clients;
        clients
            .default
            .iter()
            .chain(clients.routes.iter().map(|(_, client)| client))
            .map(McpClient::server)
    }

    /// The client of `route`'s server, if the connector has one.
    pub fn route_client(&self, route: &Route) -> Option<&McpClient> {
        self.inner.clients.by_route(route).map(|(_, client)| client)
    }

    /// How a user obtains a credential for the connector's (default) server, as the server says
    /// ([`RemoteMcpServer::credential_help`]).
    pub fn credential_help(&self) -> &str {
        self.client().server().credential_help()
    }

    /// The policy in force (a snapshot: a later [`set_policy`](Self::set_policy) does not change
    /// it).
    pub fn policy(&self) -> Arc<Policy> {
        self.inner
            .policy
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the policy, for every user, from the next call on (calls already past their
    /// policy check finish under the old one). Open sessions are kept: a user the new policy
    /// refuses is refused on their next call, and [`disconnect`](Self::disconnect) closes their
    /// session at once if wanted.
    ///
    /// ```
    /// # use pagerduty_mcp_connect::{Connector, InMemoryCredentialStore, PagerDuty, Policy, Region};
    /// # fn run() -> Result<(), pagerduty_mcp_connect::Error> {
    /// let connector = Connector::builder()
    ///     .server(PagerDuty::new(Region::Us))
    ///     .credentials(InMemoryCredentialStore::new())
    ///     .build()?;
    /// // An incident freeze: from now on, read-only for everyone.
    /// connector.set_policy(Policy::new().read_only(true));
    /// assert!(connector.policy().is_read_only_for(&"alice".into()));
    /// # Ok(()) }
    /// # run().unwrap();
    /// ```
    pub fn set_policy(&self, policy: Policy) {
        *self.inner.policy.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(policy);
    }

    /// The tools `user` may see: the server's list filtered by the policy.
    pub async fn list_tools(&self, user: &UserId) -> Result<Vec<Tool>> {
        let span = tracing::info_span!(
            "mcp_call",
            user = %user,
            operation = "tools/list",
            outcome = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let result = async {
            let policy = self.policy();
            let tools = self.tools_of(&policy, user, true).await?;
            Ok(tools
                .iter()
                .filter(|tool| policy.check_tool(user, &tool.name, Some(tool)).is_ok())
                .cloned()
                .collect())
        }
        .instrument(span.clone())
        .await;
        record(&span, started, &result);
        result
    }

    /// Every tool of `user`'s server with the policy's verdict on each: `None` when the user may
    /// call it, else the [`PolicyDenial`] a call would get. For a gateway or an admin page that
    /// shows a refused tool as refused (saying why) rather than hiding it;
    /// [`list_tools`](Self::list_tools) is this list without the refused ones.
    ///
    /// The policy's user rules still apply: a user it refuses gets [`Error::PolicyDenied`].
    pub async fn list_tools_with_verdicts(
        &self,
        user: &UserId,
    ) -> Result<Vec<(Tool, Option<PolicyDenial>)>> {
        let policy = self.policy();
        let tools = self.tools_of(&policy, user, true).await?;
        Ok(tools
            .iter()
            .map(|tool| {
                let verdict = policy.check_tool(user, &tool.name, Some(tool)).err();
                (tool.clone(), verdict)
            })
            .collect())
    }

    /// Calls tool `name` for `user`, if the policy allows it.
    pub async fn call_tool(
        &self,
        user: &UserId,
        name: &str,
        arguments: Value,
    ) -> Result<CallToolResult> {
        self.call_tool_with(user, name, arguments, RequestOptions::default())
            .await
    }

    /// [`Connector::call_tool`] with options: a per-call progress callback
    /// ([`RequestOptions::on_progress`]), a context handed to the server request handlers with
    /// each request this call's reply carries ([`RequestOptions::context`]), a timeout.
    pub async fn call_tool_with(
        &self,
        user: &UserId,
        name: &str,
        arguments: Value,
        options: RequestOptions,
    ) -> Result<CallToolResult> {
        let result = self.call_tool_raw(user, name, arguments, options).await?;
        crate::client::call_tool_result(result)
    }

    /// [`Connector::call_tool_with`] returning the `result` as the server sent it
    /// ([`Session::call_tool_raw`]): for a gateway that passes it on in its own server's model,
    /// so that the result is converted once, not three times. The same policy, 401 handling,
    /// redaction and span.
    pub async fn call_tool_raw(
        &self,
        user: &UserId,
        name: &str,
        arguments: Value,
        options: RequestOptions,
    ) -> Result<Value> {
        let check = |policy: Arc<Policy>| async move { self.check_tool(&policy, user, name).await };
        self.run(
            user,
            "tools/call",
            Some(name),
            check,
            |session, ()| async move { session.call_tool_raw(name, arguments, options).await },
        )
        .await
    }

    /// Sends `method` with `params` for `user` and returns the raw `result`: the way for every
    /// request the connector does not model (logging, subscriptions, a newer method …), with
    /// the same handling as its own calls: the policy (its user rules, and its tool rules for
    /// a `tools/call`), a 401 invalidating the credential, redaction, and the `mcp_call` span.
    pub async fn request_with(
        &self,
        user: &UserId,
        method: &str,
        params: Value,
        options: RequestOptions,
    ) -> Result<Value> {
        let tool = (method == "tools/call")
            .then(|| params.get("name").and_then(Value::as_str).unwrap_or(""))
            .map(str::to_owned);
        let check = |policy: Arc<Policy>| {
            let name = tool.clone();
            async move {
                if let Some(name) = name {
                    self.check_tool(&policy, user, &name).await?;
                }
                Ok(params)
            }
        };
        self.run(
            user,
            method,
            tool.as_deref(),
            check,
            |session, params| async move { session.request_with(method, params, options).await },
        )
        .await
    }

    /// A connector like this one that speaks `preference` to the servers
    /// ([`McpClient::with_protocol`]): the same servers, connection pool, credentials, policy
    /// (one policy: [`set_policy`](Self::set_policy) on either changes both) and per-user
    /// budgets (a user's calls through both count against one budget), with sessions of its
    /// own. For a gateway that passes each agent to the upstream in the agent's own protocol
    /// era: the session era's server requests and notifications have no stateless equivalent
    /// at every server.
    pub fn with_protocol(&self, preference: ProtocolPreference) -> Connector {
        let inner = &self.inner;
        Connector {
            inner: Arc::new(ConnectorInner {
                clients: Clients {
                    default: inner
                        .clients
                        .default
                        .as_ref()
                        .map(|client| client.with_protocol(preference)),
                    routes: inner
                        .clients
                        .routes
                        .iter()
                        .map(|(route, client)| (route.clone(), client.with_protocol(preference)))
                        .collect(),
                },
                credentials: inner.credentials.clone(),
                policy: inner.policy.clone(),
                idle_timeout: inner.idle_timeout,
                credential_timeout: inner.credential_timeout,
                token_age_warning: inner.token_age_warning,
                users: RwLock::new(HashMap::new()),
                epoch: inner.epoch,
                clock: inner.clock.clone(),
                warned_about_age: Mutex::new(HashMap::new()),
                sweeper_started: std::sync::atomic::AtomicBool::new(false),
                budgets: inner.budgets.clone(),
            }),
        }
    }

    /// Sets the level of log messages `user`'s server sends ([`Session::set_logging_level`]:
    /// `logging/setLevel` in the session era, each later request's `_meta` in the 2026-07-28
    /// protocol), through the same path as every call.
    pub async fn set_logging_level(&self, user: &UserId, level: LoggingLevel) -> Result<()> {
        self.simple(user, "logging/setLevel", |session| async move {
            session.set_logging_level(level).await
        })
        .await
    }

    /// The resources of `user`'s server.
    pub async fn list_resources(&self, user: &UserId) -> Result<Vec<Resource>> {
        self.simple(user, "resources/list", |session| async move {
            session.list_resources().await
        })
        .await
    }

    /// The resource templates of `user`'s server.
    pub async fn list_resource_templates(&self, user: &UserId) -> Result<Vec<ResourceTemplate>> {
        self.simple(user, "resources/templates/list", |session| async move {
            session.list_resource_templates().await
        })
        .await
    }

    /// Reads the resource at `uri` for `user`.
    pub async fn read_resource(&self, user: &UserId, uri: &str) -> Result<ReadResourceResult> {
        self.simple(user, "resources/read", |session| async move {
            session.read_resource(uri).await
        })
        .await
    }

    /// The prompts of `user`'s server.
    pub async fn list_prompts(&self, user: &UserId) -> Result<Vec<Prompt>> {
        self.simple(user, "prompts/list", |session| async move {
            session.list_prompts().await
        })
        .await
    }

    /// Gets prompt `name` filled with `arguments` for `user`.
    pub async fn get_prompt(
        &self,
        user: &UserId,
        name: &str,
        arguments: impl IntoIterator<Item = (String, String)>,
    ) -> Result<GetPromptResult> {
        let arguments: Vec<(String, String)> = arguments.into_iter().collect();
        self.simple(user, "prompts/get", |session| async move {
            session.get_prompt(name, arguments).await
        })
        .await
    }

    /// Asks `user`'s server to complete the value of `argument` of a prompt or resource
    /// template.
    pub async fn complete(
        &self,
        user: &UserId,
        target: &CompletionTarget,
        argument: &str,
        value: &str,
    ) -> Result<CompleteResult> {
        self.simple(user, "completion/complete", |session| async move {
            session.complete(target, argument, value).await
        })
        .await
    }

    /// The policy's tool rules for tool `name`.
    async fn check_tool(&self, policy: &Policy, user: &UserId, name: &str) -> Result<()> {
        // Lists first: they need no round trip.
        if !policy.needs_annotations(user) {
            policy.check_tool(user, name, None)?;
        } else {
            let tools = self.tools_of(policy, user, false).await?;
            let tool = tools.iter().find(|t| t.name == name);
            policy.check_tool(user, name, tool)?;
        }
        Ok(())
    }

    /// [`Connector::run`] for an operation with no tool rules.
    async fn simple<T, F, Fut>(&self, user: &UserId, operation: &str, send: F) -> Result<T>
    where
        F: FnOnce(Session) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        self.run(
            user,
            operation,
            None,
            |_| async { Ok(()) },
            |session, ()| send(session),
        )
        .await
    }

    /// One request of `user` through the connector's path: the span, the policy (`check`, which
    /// may prepare the request), the user's session, and the bookkeeping after the reply.
    async fn run<P, T, C, CFut, F, Fut>(
        &self,
        user: &UserId,
        operation: &str,
        tool: Option<&str>,
        check: C,
        send: F,
    ) -> Result<T>
    where
        C: FnOnce(Arc<Policy>) -> CFut,
        CFut: std::future::Future<Output = Result<P>>,
        F: FnOnce(Session, P) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let span = tracing::info_span!(
            "mcp_call",
            user = %user,
            operation,
            tool = tool.unwrap_or(""),
            outcome = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let result = async {
            let policy = self.policy();
            let prepared = check(policy.clone()).await?;
            let _admission = match &self.inner.budgets {
                Some(budgets) => Some(budgets.admit(user).await?),
                None => None,
            };
            let (session, credential) = self.session_and_credential(&policy, user).await?;
            let result = send(session.clone(), prepared).await;
            if let (Some(budgets), Err(err @ Error::RateLimited { .. })) =
                (&self.inner.budgets, &result)
            {
                // The server's own 429, longer than the client waits out itself: this user (and
                // no other) sends nothing more until it has passed.
                if let Some(wait) = err.retry_after() {
                    budgets.pause(user, wait);
                }
            }
            self.after_call(user, &session, &credential, result).await
        }
        .instrument(span.clone())
        .await;
        record(&span, started, &result);
        result
    }

    /// The user's session, for what needs the session itself (its notifications, its protocol
    /// version). Send requests through the connector's own methods
    /// ([`request_with`](Self::request_with) for any method) rather than through the session.
    ///
    /// The policy's **user** rules apply: a user the policy refuses gets
    /// [`Error::PolicyDenied`] and no session. Its **tool** rules (allow/deny lists, read-only
    /// mode) cannot apply to what you send through the session yourself (a raw `tools/call`
    /// included), and a 401 seen through the session is not reported to the credential
    /// provider.
    pub async fn session(&self, user: &UserId) -> Result<Session> {
        let policy = self.policy();
        self.session_and_credential(&policy, user)
            .await
            .map(|(s, _)| s)
    }

    /// Closes and forgets `user`'s session (for example when they log out of the gateway).
    pub async fn disconnect(&self, user: &UserId) -> Result<()> {
        let slot = self.write_users().remove(user);
        let open = slot.and_then(|slot| slot.lock().take());
        match open {
            Some(open) => open.session.close().await,
            None => Ok(()),
        }
    }

    /// The number of users with an open session.
    pub fn active_users(&self) -> usize {
        self.read_users().len()
    }

    /// Drops the sessions idle longer than the idle timeout; returns how many. The connector
    /// also does this by itself in the background.
    pub fn evict_idle(&self) -> usize {
        evict_idle(&self.inner)
    }

    fn read_users(&self) -> std::sync::RwLockReadGuard<'_, HashMap<UserId, Arc<UserSlot>>> {
        self.inner.users.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_users(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<UserId, Arc<UserSlot>>> {
        self.inner.users.write().unwrap_or_else(|p| p.into_inner())
    }

    fn slot(&self, user: &UserId) -> Arc<UserSlot> {
        if let Some(slot) = self.read_users().get(user) {
            return slot.clone();
        }
        self.write_users().entry(user.clone()).or_default().clone()
    }

    /// The user's tool list, cached with the session (`refresh` fetches it again).
    async fn tools_of(
        &self,
        policy: &Policy,
        user: &UserId,
        refresh: bool,
    ) -> Result<Arc<Vec<Tool>>> {
        let (session, credential) = self.session_and_credential(policy, user).await?;
        if !refresh {
            let slot = self.slot(user);
            let tools = slot.lock().as_ref().and_then(|open| open.tools.clone());
            if let Some(tools) = tools {
                return Ok(tools);
            }
        }
        let tools = self
            .after_call(user, &session, &credential, session.list_tools().await)
            .await?;
        let tools = Arc::new(tools);
        let slot = self.slot(user);
        if let Some(open) = slot.lock().as_mut()
            && open.session.credential().same_secret(&credential)
        {
            open.tools = Some(tools.clone());
        }
        Ok(tools)
    }

    async fn session_and_credential(
        &self,
        policy: &Policy,
        user: &UserId,
    ) -> Result<(Session, Credential)> {
        policy.check_user(user)?;
        let credential = match self.credential(user).await {
            Ok(credential) => credential,
            Err(err) => {
                // (A store's recorded rejection arrives here as `Unauthorized`.)
                if matches!(
                    err,
                    Error::Credential(
                        CredentialError::Revoked { .. } | CredentialError::Expired { .. }
                    ) | Error::Unauthorized { .. }
                ) {
                    // The store invalidated the user's credential: the session opened with it
                    // must not send it again, not even to end itself.
                    self.abandon_session(user).await;
                }
                return Err(err);
            }
        };
        let (index, client) = self.inner.clients.for_credential(user, &credential)?;
        self.warn_if_old(user, &credential);
        self.start_sweeper();
        let slot = self.slot(user);
        slot.last_used.store(millis(&self.inner), Ordering::Relaxed);
        if let Some(session) = slot.usable(&credential, index) {
            return Ok((session, credential));
        }
        let opening = slot.opening.lock().await;
        // Another call of this user may have opened it meanwhile.
        if let Some(session) = slot.usable(&credential, index) {
            return Ok((session, credential));
        }
        if slot.lock().take().is_some() {
            // Rotated credential (or closed session): the old session ends when its in-flight
            // calls finish.
            tracing::debug!(user = %user, "credential changed; opening a new session");
        }
        let session = match client.connect_as(&credential, Some(user.clone())).await {
            Ok(session) => session,
            Err(err) => {
                drop(opening);
                return Err(self
                    .on_error(user, client.server().auth_scheme(), &credential, err)
                    .await);
            }
        };
        *slot.lock() = Some(OpenSession {
            session: session.clone(),
            client: index,
            tools: None,
        });
        Ok((session, credential))
    }

    /// The user's credential from the provider, within the time limit.
    async fn credential(&self, user: &UserId) -> Result<Credential> {
        let limit = self.inner.credential_timeout;
        match crate::time_limit::within(limit, self.inner.credentials.credential(user)).await {
            Some(Ok(credential)) => Ok(credential),
            Some(Err(err)) => Err(self.credential_error(err)),
            None => {
                tracing::warn!(user = %user, limit_ms = limit.as_millis() as u64, "the credential provider did not answer in time");
                Err(Error::CredentialTimeout {
                    user: user.clone(),
                    after: limit,
                })
            }
        }
    }

    /// A store that recorded the server's rejection of the user's token answers as the server
    /// would: `Unauthorized` with the credential help, and nothing is sent upstream.
    pub(crate) fn credential_error(&self, err: CredentialError) -> Error {
        match err {
            CredentialError::Rejected { .. } => Error::Unauthorized {
                message: err.to_string(),
                help: self.credential_help().to_owned(),
            },
            err => Error::Credential(err),
        }
    }

    async fn after_call<T>(
        &self,
        user: &UserId,
        session: &Session,
        credential: &Credential,
        result: Result<T>,
    ) -> Result<T> {
        match result {
            Ok(value) => Ok(value),
            Err(err) => Err(self
                .on_error(user, session.auth_scheme(), credential, err)
                .await),
        }
    }

    /// Credential and session bookkeeping after an error; the error is redacted for the user's
    /// credential (a second net: the client redacts at each request's boundary already).
    async fn on_error(
        &self,
        user: &UserId,
        scheme: &crate::auth::AuthScheme,
        credential: &Credential,
        err: Error,
    ) -> Error {
        let err = err.redact(&Redactor::for_credential(credential.secret(), scheme));
        match &err {
            // A server that is sent no credential cannot have rejected the user's token.
            Error::Unauthorized { .. } if scheme.sends_credential() => {
                tracing::warn!(user = %user, "the server rejected the user's credential; invalidating it");
                // The session first: a cancelled `invalidate` must not leave it in use.
                self.forget_session(user, credential, true).await;
                self.inner.credentials.invalidate(user, credential).await;
            }
            Error::SessionExpired { .. } | Error::Closed => {
                self.forget_session(user, credential, false).await
            }
            _ => {}
        }
        err
    }

    /// Drops the user's session if it still uses `credential`; `rejected`: the credential was
    /// rejected, so the session is given up without sending it again (no DELETE).
    async fn forget_session(&self, user: &UserId, credential: &Credential, rejected: bool) {
        let slot = self.slot(user);
        let mut current = slot.lock();
        if current
            .as_ref()
            .is_some_and(|open| open.session.credential().same_secret(credential))
            && let Some(open) = current.take()
            && rejected
        {
            open.session.abandon();
        }
    }

    /// Gives up the user's session, whatever its credential, without another request.
    async fn abandon_session(&self, user: &UserId) {
        let slot = self.read_users().get(user).cloned();
        let open = slot.and_then(|slot| slot.lock().take());
        if let Some(open) = open {
            open.session.abandon();
        }
    }

    fn warn_if_old(&self, user: &UserId, credential: &Credential) {
        let (Some(limit), Some(created)) = (self.inner.token_age_warning, credential.created_at())
        else {
            return;
        };
        let Ok(age) = self.inner.clock.system_now().duration_since(created) else {
            return;
        };
        if age <= limit {
            return;
        }
        if self.first_age_warning(user) {
            tracing::warn!(
                user = %user,
                age_days = age.as_secs() / 86_400,
                limit_days = limit.as_secs() / 86_400,
                "the user's API token is old and should be rotated (it never expires by itself)"
            );
        }
    }

    /// Whether `user` is due an old-token warning: once a day per user. The record is bounded
    /// (`MAX_AGE_WARNINGS` users): when full, warnings older than a day are forgotten first,
    /// then all of them (a user may then be warned again sooner; the record stays bounded).
    fn first_age_warning(&self, user: &UserId) -> bool {
        const REPEAT_AFTER: Duration = Duration::from_secs(86_400);
        const MAX_AGE_WARNINGS: usize = 10_000;
        let now = self.inner.clock.now();
        let mut warned = self
            .inner
            .warned_about_age
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if warned
            .get(user)
            .is_some_and(|at| now.duration_since(*at) < REPEAT_AFTER)
        {
            return false;
        }
        if warned.len() >= MAX_AGE_WARNINGS && !warned.contains_key(user) {
            warned.retain(|_, at| now.duration_since(*at) < REPEAT_AFTER);
            if warned.len() >= MAX_AGE_WARNINGS {
                warned.clear();
            }
        }
        warned.insert(user.clone(), now);
        true
    }

    fn start_sweeper(&self) {
        if self.inner.sweeper_started.load(Ordering::Acquire)
            || self.inner.sweeper_started.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak: Weak<ConnectorInner> = Arc::downgrade(&self.inner);
        let period = (self.inner.idle_timeout / 2).max(Duration::from_millis(50));
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let Some(inner) = weak.upgrade() else { return };
                evict_idle(&inner);
            }
        });
    }
}

fn evict_idle(inner: &ConnectorInner) -> usize {
    let now = millis(inner);
    let idle_ms = inner.idle_timeout.as_millis() as u64;
    if let Some(budgets) = &inner.budgets {
        // A user at rest has the initial budget: nothing to keep.
        budgets.forget_idle();
    }
    let mut users = inner.users.write().unwrap_or_else(|p| p.into_inner());
    let before = users.len();
    users.retain(|_, slot| {
        let last = slot.last_used.load(Ordering::Relaxed);
        let idle = last == 0 || now.saturating_sub(last) >= idle_ms;
        // A slot whose session is being opened right now is in use: keep it.
        !idle || slot.opening.try_lock().is_err()
    });
    before - users.len()
}

fn record<T>(span: &tracing::Span, started: Instant, result: &Result<T>) {
    let latency = started.elapsed().as_millis() as u64;
    let outcome = match result {
        Ok(_) => "ok",
        Err(err) => err.kind().as_str(),
    };
    span.record("outcome", outcome);
    span.record("latency_ms", latency);
    let _entered = span.enter();
    match result {
        Ok(_) => tracing::info!(outcome, latency_ms = latency, "mcp call finished"),
        Err(err) if is_users_own(err) => {
            tracing::info!(outcome, latency_ms = latency, error = %err, "mcp call failed")
        }
        Err(err) => tracing::warn!(
            outcome,
            latency_ms = latency,
            may_have_run = err.may_have_run(),
            error = %err,
            "mcp call failed"
        ),
    }
}

/// Whether an error is the user's own business (their credential, their permissions, their
/// rate, the gateway's policy) rather than a fault of the upstream or of the gateway.
fn is_users_own(err: &Error) -> bool {
    use crate::error::ErrorKind;
    matches!(
        err.kind(),
        ErrorKind::PolicyDenied
            | ErrorKind::Unauthorized
            | ErrorKind::Forbidden
            | ErrorKind::RateLimited
            | ErrorKind::InvalidCredential
            | ErrorKind::Server
    ) || matches!(err, Error::Credential(c) if !c.is_retryable())
}

/// Builds a [`Connector`].
#[must_use]
#[derive(Default)]
pub struct ConnectorBuilder {
    routes: ServerRoutes,
    client: Option<Box<dyn FnOnce(McpClientBuilder) -> McpClientBuilder + Send>>,
    credentials: Option<SharedCredentialProvider>,
    policy: Policy,
    idle_timeout: Option<Duration>,
    credential_timeout: Option<Duration>,
    token_age_warning: Option<Option<Duration>>,
    handlers: Vec<(ServerRequestKind, Value, Arc<dyn ServerRequestHandler>)>,
    clock: Option<Arc<dyn Clock>>,
    user_budget: Option<Option<UserBudget>>,
    notification_hook: Option<NotificationFn>,
}

/// A hook called with every notification ([`ConnectorBuilder::on_notification`]).
type NotificationFn = Arc<dyn Fn(&ServerNotification) + Send + Sync>;

impl fmt::Debug for ConnectorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectorBuilder")
            .field("servers", &self.routes)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl ConnectorBuilder {
    /// The server of credentials that name no route (the one server, for most connectors).
    pub fn server(mut self, server: impl RemoteMcpServer + 'static) -> Self {
        self.routes.default = Some(Arc::new(server));
        self
    }

    /// The server of credentials whose [route](Credential::route) is `route`.
    pub fn route(
        mut self,
        route: impl Into<Route>,
        server: impl RemoteMcpServer + 'static,
    ) -> Self {
        self.routes.insert(route.into(), Arc::new(server));
        self
    }

    /// Every server of `routes` (added to those set before; a route set twice keeps the last
    /// server), for example a preset's table.
    pub fn routes(mut self, routes: ServerRoutes) -> Self {
        self.routes.merge(routes);
        self
    }

    /// Where users' credentials come from (required, unless the server's connection type is
    /// [`ConnectionType::NoCredential`](crate::ConnectionType::NoCredential)).
    pub fn credentials(mut self, provider: impl CredentialProvider + 'static) -> Self {
        self.credentials = Some(SharedCredentialProvider::new(provider));
        self
    }

    /// Adjusts the shared [`McpClient`] configuration (timeouts, limits, protocol preference):
    /// it applies to the client of every server.
    pub fn configure_client(
        mut self,
        configure: impl FnOnce(McpClientBuilder) -> McpClientBuilder + Send + 'static,
    ) -> Self {
        self.client = Some(Box::new(configure));
        self
    }

    /// Answers `elicitation/create` for every user's session with `handler`; each request
    /// carries its user ([`ServerRequest::user`](crate::ServerRequest::user)), so a gateway can
    /// forward it to that user's agent. See
    /// [`McpClientBuilder::server_request_handler`] for how requests are answered.
    pub fn elicitation_handler(self, handler: impl ServerRequestHandler + 'static) -> Self {
        self.server_request_handler(
            ServerRequestKind::Elicitation,
            serde_json::json!({}),
            handler,
        )
    }

    /// Answers `sampling/createMessage` for every user's session with `handler`.
    pub fn sampling_handler(self, handler: impl ServerRequestHandler + 'static) -> Self {
        self.server_request_handler(ServerRequestKind::Sampling, serde_json::json!({}), handler)
    }

    /// Answers `roots/list` for every user's session with `handler`.
    pub fn roots_handler(self, handler: impl ServerRequestHandler + 'static) -> Self {
        self.server_request_handler(
            ServerRequestKind::Roots,
            serde_json::json!({"listChanged": false}),
            handler,
        )
    }

    /// Answers server requests of `kind` with `handler`, declaring `capability`; as
    /// [`McpClientBuilder::server_request_handler`], for every user's session.
    pub fn server_request_handler(
        mut self,
        kind: ServerRequestKind,
        capability: Value,
        handler: impl ServerRequestHandler + 'static,
    ) -> Self {
        self.handlers.push((kind, capability, Arc::new(handler)));
        self
    }

    /// The policy (default: everyone, every tool). It can be replaced later with
    /// [`Connector::set_policy`].
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// How long an unused session is kept (default 15 minutes).
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = Some(idle);
        self
    }

    /// How long the credential provider may take to answer for one user (default 10 s); then
    /// that user's call ends with [`Error::CredentialTimeout`] and nothing is sent. A zero limit
    /// is raised to 1 ms.
    pub fn credential_timeout(mut self, limit: Duration) -> Self {
        self.credential_timeout = Some(limit.max(Duration::from_millis(1)));
        self
    }

    /// Warn (once a day per user) when a credential's creation time is older than this (default
    /// 90 days); `None` turns the warning off.
    pub fn token_age_warning(mut self, age: Option<Duration>) -> Self {
        self.token_age_warning = Some(age);
        self
    }

    /// Where the connector reads the time for idle sessions and token ages (default
    /// [`SystemClock`](crate::SystemClock)); a test passes a [`ManualClock`](crate::ManualClock)
    /// and moves it instead of sleeping.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Each user's request budget: calls beyond it wait up to the budget's limit, then fail
    /// with [`Error::RateLimited`] (its wait in [`Error::retry_after`]) without a request; one
    /// user's spent budget never slows another user. `None`: no budget. By default the
    /// server's own ([`RemoteMcpServer::user_budget`]): PagerDuty's 960 requests per minute
    /// for the [`PagerDuty`](crate::PagerDuty) preset, none for a
    /// [`GenericServer`](crate::GenericServer). A server's own 429 with a wait longer than the
    /// client waits out itself pauses that user alone until it has passed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pagerduty_mcp_connect::{Connector, InMemoryCredentialStore, PagerDuty, Region, UserBudget};
    ///
    /// let connector = Connector::builder()
    ///     .server(PagerDuty::new(Region::Us))
    ///     .credentials(InMemoryCredentialStore::new())
    ///     .user_budget(Some(UserBudget::new(600, Duration::from_secs(60)).in_flight(2)))
    ///     .build()?;
    /// # let _ = connector;
    /// # Ok::<(), pagerduty_mcp_connect::Error>(())
    /// ```
    pub fn user_budget(mut self, budget: Option<UserBudget>) -> Self {
        self.user_budget = Some(budget);
        self
    }

    /// Calls `hook` with every notification any user's session receives
    /// ([`McpClientBuilder::on_notification`]): which user it is for is in the call's
    /// [context](RequestOptions::context) when it came on a call's reply stream.
    pub fn on_notification(
        mut self,
        hook: impl Fn(&ServerNotification) + Send + Sync + 'static,
    ) -> Self {
        self.notification_hook = Some(Arc::new(hook));
        self
    }

    /// Checks and builds.
    pub fn build(self) -> Result<Connector> {
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let ServerRoutes { default, routes } = self.routes;
        let Some(first) = default
            .clone()
            .or_else(|| routes.first().map(|(_, s)| s.clone()))
        else {
            return Err(Error::config(
                "Connector::builder() needs .server(…) or .route(…)",
            ));
        };
        let needs_no_credential = default
            .iter()
            .chain(routes.iter().map(|(_, s)| s))
            .all(|server| server.connection_type() == ConnectionType::NoCredential);
        let credentials = match self.credentials {
            Some(credentials) => credentials,
            // The stand-in credential names no route: it can only reach a default server.
            None if needs_no_credential && default.is_some() => {
                // Never revoked: a 401 from such a server is reported, not remembered.
                SharedCredentialProvider::new(crate::credential::credential_fn(
                    |_user: UserId| async { Ok(Credential::none()) },
                ))
            }
            None => {
                return Err(Error::config(
                    "Connector::builder() needs .credentials(…) (routes without a default server need them even for servers that take no credential: a credential names its route)",
                ));
            }
        };
        let budget = match self.user_budget {
            Some(budget) => budget,
            None => first.user_budget(),
        };
        let mut builder = McpClient::builder_shared(first);
        if let Some(configure) = self.client {
            builder = configure(builder);
        }
        for (kind, capability, handler) in self.handlers {
            builder = builder.add_handler(kind, capability, handler);
        }
        if let Some(hook) = self.notification_hook {
            builder = builder.on_notification(move |notification| hook(notification));
        }
        // One pool for every server: the first client's.
        let mut http: Option<reqwest::Client> = None;
        let mut build = |server: Arc<dyn RemoteMcpServer>| -> Result<McpClient> {
            let mut client = builder.clone().with_server(server);
            if let Some(http) = &http {
                client = client.http_client(http.clone());
            }
            let client = client.build()?;
            http.get_or_insert_with(|| client.http().clone());
            Ok(client)
        };
        let clients = Clients {
            default: default.map(&mut build).transpose()?,
            routes: routes
                .into_iter()
                .map(|(route, server)| Ok((route, build(server)?)))
                .collect::<Result<_>>()?,
        };
        Ok(Connector {
            inner: Arc::new(ConnectorInner {
                clients,
                credentials,
                policy: Arc::new(RwLock::new(Arc::new(self.policy))),
                idle_timeout: self.idle_timeout.unwrap_or(Duration::from_secs(15 * 60)),
                credential_timeout: self
                    .credential_timeout
                    .unwrap_or(DEFAULT_CREDENTIAL_TIMEOUT),
                token_age_warning: self
                    .token_age_warning
                    .unwrap_or(Some(Duration::from_secs(90 * 86_400))),
                users: RwLock::new(HashMap::new()),
                epoch: clock.now(),
                clock,
                warned_about_age: Mutex::new(HashMap::new()),
                sweeper_started: std::sync::atomic::AtomicBool::new(false),
                budgets: budget.map(|budget| Arc::new(Budgets::new(budget))),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InMemoryCredentialStore, PagerDuty, Region};

    #[test]
    fn old_token_warnings_are_daily_per_user_and_bounded() {
        let connector = Connector::builder()
            .server(PagerDuty::new(Region::Us))
            .credentials(InMemoryCredentialStore::new())
            .build()
            .unwrap();
        let alice = UserId::from("alice");
        assert!(connector.first_age_warning(&alice));
        assert!(!connector.first_age_warning(&alice), "once a day");
        for n in 0..10_050 {
            connector.first_age_warning(&UserId::from(format!("user-{n}")));
        }
        let recorded = connector.inner.warned_about_age.lock().unwrap().len();
        assert!(recorded <= 10_000, "{recorded} users recorded");
    }
}

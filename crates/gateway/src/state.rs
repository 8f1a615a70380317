//! What every request handler of one gateway shares: [`GatewayState`], the authenticated
//! [`AgentUser`] and the session header. It sits at the bottom of the gateway: the door
//! (`agent_auth`), the direct path, rmcp's handler and the builder all read it, and it reads
//! none of them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::session::{SessionId, SessionManager};
use tokio_util::sync::CancellationToken;

use super::agent_sessions::AgentSessions;
use super::connect::ConnectPage;
use super::direct_calls::DirectCalls;
use super::drain::Drain;
use super::front::Front;
use super::keys::GatewayKeys;
use super::limits::Limiter;
use super::list_changed::ListChanged;
use super::metrics::GatewayMetrics;
use super::oauth::OAuthResourceServer;
use super::pending::PendingCalls;
use pagerduty_mcp_connect::{Connector, UserId};

/// The header naming a session-era session.
pub(crate) const SESSION_HEADER: &str = "mcp-session-id";

/// The user an agent's request was authenticated as, put into the request's extensions by the
/// gateway's authentication layer (readable from an rmcp handler through
/// `http::request::Parts::extensions`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AgentUser {
    user: UserId,
}

impl AgentUser {
    pub(crate) fn new(user: UserId) -> Self {
        AgentUser { user }
    }

    /// The authenticated user.
    pub fn user(&self) -> &UserId {
        &self.user
    }
}

/// What every request handler of one gateway shares.
pub(crate) struct GatewayState {
    /// The connector as configured: 2026-07-28 agents' requests go upstream through it.
    pub(crate) connector: Connector,
    /// The same connector speaking the upstream's session era where it has one
    /// ([`ProtocolPreference::SessionFirst`](pagerduty_mcp_connect::ProtocolPreference::SessionFirst)):
    /// session-era agents' requests go through it, so that the upstream's server requests,
    /// log messages and resource updates have the session era's way back to them.
    pub(crate) session_connector: Connector,
    pub(crate) keys: GatewayKeys,
    /// The OAuth resource server, when agents may sign in with OAuth.
    pub(crate) oauth: Option<OAuthResourceServer>,
    /// The connect page, when users connect their accounts through it (its registry makes the
    /// links the handler gives agents).
    pub(crate) connect: Option<ConnectPage>,
    pub(crate) metrics: GatewayMetrics,
    pub(crate) agent_sessions: AgentSessions,
    pub(crate) drain: Arc<Drain>,
    pub(crate) list_changed: Arc<ListChanged>,
    pub(crate) pending: PendingCalls,
    pub(crate) help: String,
    pub(crate) name: String,
    pub(crate) instructions: Option<String>,
    pub(crate) sessions: Arc<LocalSessionManager>,
    pub(crate) cancel: CancellationToken,
    /// Whether plain `tools/call` requests take the [direct path](super::direct).
    pub(crate) direct_path: bool,
    /// Whether tools the policy refuses are listed, marked as refused.
    pub(crate) list_refused_tools: bool,
    pub(crate) direct_calls: DirectCalls,
    /// How long an agent's session may go unused before the gateway ends it.
    pub(crate) session_idle: Duration,
    /// The `Host` and `Origin` checks at the front of `/mcp`.
    pub(crate) front: Front,
    /// The per-user limits.
    pub(crate) limiter: Arc<Limiter>,
    pub(crate) sweeper_started: AtomicBool,
}

impl GatewayState {
    /// The connector an agent's requests go upstream through: by the agent's protocol era.
    pub(crate) fn upstream(&self, stateless_agent: bool) -> &Connector {
        if stateless_agent {
            &self.connector
        } else {
            &self.session_connector
        }
    }

    /// Starts (once, on the first request) the task that ends agents' sessions idle for the
    /// [idle timeout](GatewayBuilder::session_idle_timeout). rmcp's own keep-alive is off:
    /// requests on the direct path never reach its session, which would look idle to it.
    pub(crate) fn start_session_sweeper(self: &Arc<Self>) {
        if self.sweeper_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.sweeper_started.store(false, Ordering::Release);
            return;
        };
        let state = Arc::downgrade(self);
        let cancel = self.cancel.clone();
        let idle = self.session_idle;
        runtime.spawn(async move {
            // If this task ends (its runtime shut down), the next request starts another.
            let _restart = SweeperRestart(state.clone());
            let mut tick = tokio::time::interval(idle / 10);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // rmcp sessions the gateway never learned of (their `initialize` reply was lost),
            // since when: ended once unknown for the idle time.
            let mut unknown: HashMap<SessionId, Instant> = HashMap::new();
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = cancel.cancelled() => return,
                }
                let Some(state) = state.upgrade() else { return };
                state.sweep(idle, &mut unknown).await;
            }
        });
    }

    /// Ends the sessions idle for `idle` (none with a direct-path call in flight), and rmcp's
    /// sessions the gateway has not known of for that long.
    async fn sweep(&self, idle: Duration, unknown: &mut HashMap<SessionId, Instant>) {
        for id in self.agent_sessions.idle(idle) {
            if self.direct_calls.busy(&id) {
                continue;
            }
            tracing::debug!("ending an agent's session idle for {idle:?}");
            self.end_session(&id).await;
        }
        let held: Vec<SessionId> = self
            .sessions
            .sessions
            .read()
            .await
            .keys()
            .cloned()
            .collect();
        let now = Instant::now();
        unknown.retain(|id, _| held.contains(id));
        for id in held {
            if self.agent_sessions.knows(&id) {
                unknown.remove(&id);
            } else if now.duration_since(*unknown.entry(id.clone()).or_insert(now)) >= idle {
                tracing::debug!("ending an agent session the gateway never learned of");
                let _ = self.sessions.close_session(&id).await;
                unknown.remove(&id);
            }
        }
    }

    /// Ends an agent's session: rmcp's side, the direct path's calls on it, and the record.
    async fn end_session(&self, id: &str) {
        self.direct_calls.cancel_session(id);
        let _ = self.sessions.close_session(&SessionId::from(id)).await;
        self.agent_sessions.unbind(id);
    }

    /// Forgets the sessions rmcp no longer holds, once the map has grown.
    pub(crate) fn prune_agent_sessions(&self) {
        let known = self.agent_sessions.len();
        if known < 1024 || !known.is_multiple_of(256) {
            return;
        }
        if let Ok(sessions) = self.sessions.sessions.try_read() {
            self.agent_sessions.retain(|id| sessions.contains_key(id));
        }
    }
}

/// Lets the next request start a sweeper when the running one ends.
struct SweeperRestart(std::sync::Weak<GatewayState>);

impl Drop for SweeperRestart {
    fn drop(&mut self) {
        if let Some(state) = self.0.upgrade() {
            state.sweeper_started.store(false, Ordering::Release);
        }
    }
}

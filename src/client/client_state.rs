//! What every session of one client shares: its settings and its connection pool. At the bottom
//! of the client: `McpClient` builds it, each `Session` reads it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::auth_forms::AuthForms;
use super::endpoint_cache::EndpointCache;
use super::handler::ServerRequestHandlers;
use super::model::{Implementation, ServerNotification};
use super::protocol::ProtocolPreference;
use crate::server::RemoteMcpServer;

/// The settings shared by every session of a client.
#[derive(Debug, Clone)]
pub(crate) struct ClientConfig {
    pub(crate) request_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_event_bytes: usize,
    pub(crate) max_retries: u32,
    pub(crate) retry_base_delay: Duration,
    pub(crate) max_retry_wait: Duration,
    pub(crate) default_reconnect_delay: Duration,
    pub(crate) max_resumptions: u32,
    pub(crate) preference: ProtocolPreference,
    pub(crate) client_info: Implementation,
    pub(crate) handlers: ServerRequestHandlers,
    pub(crate) max_concurrent_server_requests: usize,
    pub(crate) listen_for_server_requests: bool,
    /// Called with every notification as it arrives ([`McpClientBuilder::on_notification`](super::McpClientBuilder::on_notification)).
    pub(crate) notification_hook: Option<NotificationHook>,
}

/// A hook called with every notification a session receives, in order, on the task reading it.
#[derive(Clone)]
pub(crate) struct NotificationHook(pub(crate) Arc<dyn Fn(&ServerNotification) + Send + Sync>);

impl fmt::Debug for NotificationHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NotificationHook")
    }
}

pub(crate) struct ClientInner {
    pub(crate) http: reqwest::Client,
    pub(crate) server: Arc<dyn RemoteMcpServer>,
    pub(crate) config: ClientConfig,
    /// The `_meta` every stateless-era request carries.
    pub(crate) stateless_meta: Map<String, Value>,
    /// What was learnt about the endpoint: the negotiated era (Auto mode) and the latest
    /// `server/discover` result.
    pub(crate) endpoint: EndpointCache,
    /// Held while the first connection probes the era, so concurrent first connections to the
    /// endpoint share one probe.
    pub(crate) negotiation: tokio::sync::Mutex<()>,
    /// The auth header forms the endpoint may accept, and the one it does.
    pub(crate) auth_forms: Arc<AuthForms>,
}

impl fmt::Debug for ClientInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpClient")
            .field("server", &self.server.name())
            .field("endpoint", &self.server.endpoint().as_str())
            .field("preference", &self.config.preference)
            .finish_non_exhaustive()
    }
}

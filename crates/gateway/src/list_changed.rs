//! The upstream's notifications to the agents of the same user, from one listener per user:
//! `notifications/*/list_changed` to every agent (a session-era agent's session, or a
//! 2026-07-28 agent's `subscriptions/listen` stream); `notifications/resources/updated` to the
//! agents that subscribed to that resource upstream with `resources/subscribe`
//! ([`Subscriptions`]; a 2026-07-28 agent's own upstream stream brings its updates itself, see
//! [`resource_listen`](super::resource_listen)); a log message of the upstream's
//! standing stream to every session-era agent (one sent during a call goes to the agent of that
//! call instead, see [`call_notifications`](super::agent_call::call_notifications)).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use rmcp::RoleServer;
use rmcp::model::{
    PromptListChangedNotification, ResourceListChangedNotification, ResourceUpdatedNotification,
    ResourceUpdatedNotificationParam, ServerNotification, ToolListChangedNotification,
};
use rmcp::service::{Peer, SubscriptionSink};

use pagerduty_mcp_connect::Connector;
use pagerduty_mcp_connect::ServerNotification as UpstreamNotification;

use super::logging::log_notification;
use super::resource_listen::{ResourceListens, UpstreamListen, send_update};
use super::subscriptions::{Subscriptions, Target};
use pagerduty_mcp_connect::UserId;

/// Where one agent hears about list changes.
#[derive(Clone)]
pub(crate) enum AgentSink {
    /// A session-era agent: its session's standing stream.
    Session(Peer<RoleServer>),
    /// A 2026-07-28 agent's `subscriptions/listen` stream.
    Subscription(SubscriptionSink),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ListKind {
    Tools,
    Prompts,
    Resources,
}

impl ListKind {
    pub(crate) fn from_method(method: &str) -> Option<ListKind> {
        match method {
            "notifications/tools/list_changed" => Some(ListKind::Tools),
            "notifications/prompts/list_changed" => Some(ListKind::Prompts),
            "notifications/resources/list_changed" => Some(ListKind::Resources),
            _ => None,
        }
    }

    fn notification(self) -> ServerNotification {
        match self {
            ListKind::Tools => {
                ServerNotification::ToolListChangedNotification(ToolListChangedNotification {
                    method: Default::default(),
                    extensions: Default::default(),
                })
            }
            ListKind::Prompts => {
                ServerNotification::PromptListChangedNotification(PromptListChangedNotification {
                    method: Default::default(),
                    extensions: Default::default(),
                })
            }
            ListKind::Resources => ServerNotification::ResourceListChangedNotification(
                ResourceListChangedNotification {
                    method: Default::default(),
                    extensions: Default::default(),
                },
            ),
        }
    }
}

impl AgentSink {
    /// Sends; `false` when the agent is gone.
    async fn send(&self, kind: ListKind) -> bool {
        match self {
            AgentSink::Session(peer) => {
                if peer.is_transport_closed() {
                    return false;
                }
                peer.send_notification(kind.notification()).await.is_ok()
            }
            AgentSink::Subscription(sink) => match sink.send(kind.notification()).await {
                Ok(()) => true,
                // Not in this agent's filter: it is still there.
                Err(rmcp::service::SubscriptionSendError::NotificationNotAccepted(_)) => true,
                Err(_) => false,
            },
        }
    }

    fn is_gone(&self) -> bool {
        match self {
            AgentSink::Session(peer) => peer.is_transport_closed(),
            AgentSink::Subscription(_) => false,
        }
    }
}

#[derive(Default)]
struct UserAgents {
    next_id: u64,
    agents: HashMap<u64, AgentSink>,
    pump: Option<tokio::task::JoinHandle<()>>,
}

/// A user's listening agents of one era: session-era agents hear the user's upstream session of
/// the session era, 2026-07-28 agents the stateless one (see `GatewayState::upstream`).
type Key = (UserId, bool);

/// Every user's listening agents, and one upstream listener per user and era that has any.
#[derive(Default)]
pub(crate) struct ListChanged {
    users: Mutex<HashMap<Key, UserAgents>>,
    /// The resource subscriptions taken upstream with `resources/subscribe`.
    pub(crate) subscriptions: Subscriptions,
    /// The 2026-07-28 agents' streams with resource subscriptions, per user.
    pub(crate) resource_listens: ResourceListens,
}

/// Removes its agent when dropped (for `subscriptions/listen`, which ends with its request).
pub(crate) struct Registration {
    registry: Weak<ListChanged>,
    user: Key,
    id: u64,
}

impl Registration {
    /// Keeps the agent registered after this value is gone: until sending to it fails (a
    /// session-era agent's session ended).
    pub(crate) fn keep(mut self) {
        self.registry = Weak::new();
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(registry) = self.registry.upgrade() {
            registry.remove(&self.user, self.id);
        }
    }
}

impl ListChanged {
    /// Adds an agent of `user`; starts listening upstream for that user if nobody did yet.
    pub(crate) fn register(
        self: &Arc<Self>,
        connector: &Connector,
        user: &UserId,
        sink: AgentSink,
    ) -> Registration {
        let key: Key = (user.clone(), matches!(sink, AgentSink::Session(_)));
        let mut users = self.lock();
        let entry = users.entry(key.clone()).or_default();
        entry.agents.retain(|_, agent| !agent.is_gone());
        let id = entry.next_id;
        entry.next_id += 1;
        entry.agents.insert(id, sink);
        if entry.pump.as_ref().is_none_or(|pump| pump.is_finished()) {
            entry.pump = Some(tokio::spawn(pump(
                Arc::downgrade(self),
                connector.clone(),
                key.clone(),
            )));
        }
        Registration {
            registry: Arc::downgrade(self),
            user: key,
            id,
        }
    }

    /// The session-era agents of `user` (they can be sent server requests).
    pub(crate) fn session_agents(&self, user: &UserId) -> Vec<Peer<RoleServer>> {
        self.agents_of(&(user.clone(), true))
            .into_iter()
            .flatten()
            .filter_map(|(_, agent)| match agent {
                AgentSink::Session(peer) => Some(peer),
                AgentSink::Subscription(_) => None,
            })
            .collect()
    }

    /// How many agents listen, over all users.
    pub(crate) fn listeners(&self) -> usize {
        self.lock().values().map(|u| u.agents.len()).sum()
    }

    fn remove(&self, user: &Key, id: u64) {
        let mut users = self.lock();
        if let Some(entry) = users.get_mut(user) {
            entry.agents.remove(&id);
            if entry.agents.is_empty() {
                if let Some(pump) = entry.pump.take() {
                    pump.abort();
                }
                users.remove(user);
            }
        }
    }

    fn agents_of(&self, user: &Key) -> Option<Vec<(u64, AgentSink)>> {
        let mut users = self.lock();
        let entry = users.get_mut(user)?;
        entry.agents.retain(|_, agent| !agent.is_gone());
        if entry.agents.is_empty() {
            users.remove(user);
            return None;
        }
        Some(
            entry
                .agents
                .iter()
                .map(|(id, a)| (*id, a.clone()))
                .collect(),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, UserAgents>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends one upstream notification of `user` to the agents it is for; `false` when the
    /// user has no listening agent left.
    async fn pass_on(&self, user: &Key, notification: UpstreamNotification) -> bool {
        match notification.method.as_str() {
            // One on an agent's own upstream listen stream went to that agent
            // (`resource_listen`).
            "notifications/resources/updated" if !on_agent_stream(&notification) => {
                let Some(uri) = notification.params.get("uri").and_then(|u| u.as_str()) else {
                    return true;
                };
                for target in self.subscriptions.subscribers(&user.0, uri, user.1) {
                    match target {
                        Target::Session(peer) => {
                            let updated = ServerNotification::ResourceUpdatedNotification(
                                ResourceUpdatedNotification::new(
                                    ResourceUpdatedNotificationParam::new(uri),
                                ),
                            );
                            let _ = peer.send_notification(updated).await;
                        }
                        Target::Listen(sink) => {
                            let _ = send_update(&sink, uri.to_owned()).await;
                        }
                    }
                }
                true
            }
            // A call's log messages went to its agent (`call_notifications`).
            "notifications/message" if notification.call_context().is_none() => {
                let Some(agents) = self.agents_of(user) else {
                    return false;
                };
                for (_, agent) in agents {
                    if let AgentSink::Session(peer) = agent
                        && let Some(log) = log_notification(notification.params.clone())
                    {
                        let _ = peer.send_notification(log).await;
                    }
                }
                true
            }
            method => {
                let Some(kind) = ListKind::from_method(method) else {
                    return true;
                };
                let Some(agents) = self.agents_of(user) else {
                    return false;
                };
                for (id, agent) in agents {
                    if !agent.send(kind).await {
                        self.remove(user, id);
                    }
                }
                true
            }
        }
    }
}

/// Whether `notification` came on a 2026-07-28 agent's own upstream listen stream (the hook
/// passed it to that agent).
fn on_agent_stream(notification: &UpstreamNotification) -> bool {
    notification
        .call_context()
        .is_some_and(|context| context.downcast_ref::<UpstreamListen>().is_some())
}

/// Listens upstream for `key`'s user (in its era) while the user has listening agents of it.
async fn pump(registry: Weak<ListChanged>, connector: Connector, key: Key) {
    let user = key.0.clone();
    let mut backoff = Duration::from_millis(500);
    loop {
        let alive = |registry: &Weak<ListChanged>| {
            registry.upgrade().and_then(|r| r.agents_of(&key)).is_some()
        };
        if !alive(&registry) {
            return;
        }
        let session = match connector.session(&user).await {
            Ok(session) => session,
            Err(err) => {
                tracing::debug!(user = %user, error = %err, "cannot listen upstream for list changes yet");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(60));
                continue;
            }
        };
        let mut notifications = session.notifications();
        // Re-check now and then that someone still listens, even when upstream is quiet.
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        tick.tick().await;
        loop {
            tokio::select! {
                next = notifications.next() => {
                    let Some(notification) = next else { break };
                    backoff = Duration::from_millis(500);
                    let Some(registry) = registry.upgrade() else { return };
                    if !registry.pass_on(&key, notification).await {
                        return;
                    }
                }
                _ = tick.tick() => {
                    if !alive(&registry) {
                        return;
                    }
                }
            }
        }
        // The upstream stream ended (session closed or re-opened): listen again shortly.
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}

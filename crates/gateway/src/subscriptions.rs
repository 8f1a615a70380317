//! Resource subscriptions taken upstream with `resources/subscribe` (the session era's way):
//! which agents of a user subscribed to which URI, so that the upstream's
//! `notifications/resources/updated` reaches those agents only. The upstream sees one
//! subscription per user session and URI, taken by the first agent and given up with the last.
//!
//! Session-era agents subscribe on the user's session-era upstream session
//! (`GatewayState::session_connector`). A 2026-07-28 agent's `subscriptions/listen` subscribes
//! its URIs here only when the user's upstream session of its era fell back to the session era
//! ([`resource_listen`](super::resource_listen)); otherwise it has an upstream stream of its own.
//! Each kind is kept apart (the two upstream sessions are apart, and so are their updates).

use std::collections::HashMap;
use std::sync::Mutex;

use rmcp::RoleServer;
use rmcp::service::{Peer, SubscriptionSink};

use pagerduty_mcp_connect::UserId;

/// The most URIs one user's agents may subscribe to (per kind), and the longest URI (bounds on
/// what an agent can make the gateway keep).
const MAX_URIS_PER_USER: usize = 1024;
pub(crate) const MAX_URI_BYTES: usize = 4096;

/// Where one subscribed agent hears of updates.
#[derive(Clone)]
pub(crate) enum Target {
    /// A session-era agent: its session.
    Session(Peer<RoleServer>),
    /// A 2026-07-28 agent: its `subscriptions/listen` stream (removed when that ends).
    Listen(SubscriptionSink),
}

impl Target {
    fn is_gone(&self) -> bool {
        match self {
            Target::Session(peer) => peer.is_transport_closed(),
            Target::Listen(_) => false,
        }
    }

    /// Whether it is a session-era agent's (the other kind is kept apart).
    fn is_session(&self) -> bool {
        matches!(self, Target::Session(_))
    }
}

/// One URI's subscribed agents, by session id (or stream id).
type Agents = HashMap<String, Target>;

/// One user's subscriptions, by URI.
type UserSubscriptions = HashMap<String, Agents>;

/// A user's subscriptions of one kind: `true` for session-era agents'.
type Key = (UserId, bool);

/// Per user and kind, per URI, the subscribed agents.
#[derive(Default)]
pub(crate) struct Subscriptions {
    users: Mutex<HashMap<Key, UserSubscriptions>>,
}

/// What a subscription changed upstream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// The first agent of the user for this URI: subscribe upstream.
    First,
    /// Other agents of the user already subscribe: nothing to send upstream.
    Joined,
    /// The user's agents hold too many subscriptions already.
    TooMany,
}

impl Subscriptions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, UserSubscriptions>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The agent `agent` (a session id, or a stream id) of `user` subscribes to `uri`.
    pub(crate) fn subscribe(
        &self,
        user: &UserId,
        uri: &str,
        agent: &str,
        target: Target,
    ) -> Change {
        let mut users = self.lock();
        let uris = users
            .entry((user.clone(), target.is_session()))
            .or_default();
        uris.retain(|_, agents| {
            agents.retain(|_, target| !target.is_gone());
            !agents.is_empty()
        });
        if !uris.contains_key(uri) && uris.len() >= MAX_URIS_PER_USER {
            return Change::TooMany;
        }
        let agents = uris.entry(uri.to_owned()).or_default();
        let first = agents.is_empty();
        agents.insert(agent.to_owned(), target);
        if first { Change::First } else { Change::Joined }
    }

    /// The upstream refused the user's subscription to `uri` (of the kind of `session`): every
    /// agent's goes (an agent that joined meanwhile must not leave the URI marked as
    /// subscribed upstream).
    pub(crate) fn refused(&self, user: &UserId, uri: &str, session: bool) {
        let mut users = self.lock();
        let key = (user.clone(), session);
        if let Some(uris) = users.get_mut(&key) {
            uris.remove(uri);
            if uris.is_empty() {
                users.remove(&key);
            }
        }
    }

    /// The agent `agent` unsubscribes from `uri` (of the kind of `session`): `true` when no
    /// agent of the user subscribes any more (unsubscribe upstream).
    pub(crate) fn unsubscribe(&self, user: &UserId, uri: &str, agent: &str, session: bool) -> bool {
        let mut users = self.lock();
        let key = (user.clone(), session);
        let Some(uris) = users.get_mut(&key) else {
            return false;
        };
        let Some(agents) = uris.get_mut(uri) else {
            return false;
        };
        if agents.remove(agent).is_none() {
            return false;
        }
        agents.retain(|_, target| !target.is_gone());
        if !agents.is_empty() {
            return false;
        }
        uris.remove(uri);
        if uris.is_empty() {
            users.remove(&key);
        }
        true
    }

    /// The live agents of `user` (of the kind of `session`) subscribed to `uri`.
    pub(crate) fn subscribers(&self, user: &UserId, uri: &str, session: bool) -> Vec<Target> {
        self.lock()
            .get(&(user.clone(), session))
            .and_then(|uris| uris.get(uri))
            .map(|agents| {
                agents
                    .values()
                    .filter(|target| !target.is_gone())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

//! Resource subscriptions of session-era agents (`resources/subscribe`): which agents of a user
//! subscribed to which URI, so that the upstream's `notifications/resources/updated` reaches
//! those agents only. The upstream sees one subscription per user and URI (the user's upstream
//! session), taken by the first agent and given up with the last.

use std::collections::HashMap;
use std::sync::Mutex;

use rmcp::RoleServer;
use rmcp::service::Peer;

use pagerduty_mcp_connect::UserId;

/// The most URIs one user's agents may subscribe to, and the longest URI (bounds on what an
/// agent can make the gateway keep).
const MAX_URIS_PER_USER: usize = 1024;
pub(crate) const MAX_URI_BYTES: usize = 4096;

/// One URI's subscribed agents, by session id.
type Agents = HashMap<String, Peer<RoleServer>>;

/// One user's subscriptions, by URI.
type UserSubscriptions = HashMap<String, Agents>;

/// Per user, per URI, the subscribed agents by session id.
#[derive(Default)]
pub(crate) struct Subscriptions {
    users: Mutex<HashMap<UserId, UserSubscriptions>>,
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
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, UserSubscriptions>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The agent of `session` (user `user`) subscribes to `uri`.
    pub(crate) fn subscribe(
        &self,
        user: &UserId,
        uri: &str,
        session: &str,
        peer: Peer<RoleServer>,
    ) -> Change {
        let mut users = self.lock();
        let uris = users.entry(user.clone()).or_default();
        uris.retain(|_, agents| {
            agents.retain(|_, peer| !peer.is_transport_closed());
            !agents.is_empty()
        });
        if !uris.contains_key(uri) && uris.len() >= MAX_URIS_PER_USER {
            return Change::TooMany;
        }
        let agents = uris.entry(uri.to_owned()).or_default();
        let first = agents.is_empty();
        agents.insert(session.to_owned(), peer);
        if first { Change::First } else { Change::Joined }
    }

    /// The upstream refused the user's subscription to `uri`: every agent's goes (an agent
    /// that joined meanwhile must not leave the URI marked as subscribed upstream).
    pub(crate) fn refused(&self, user: &UserId, uri: &str) {
        let mut users = self.lock();
        if let Some(uris) = users.get_mut(user) {
            uris.remove(uri);
            if uris.is_empty() {
                users.remove(user);
            }
        }
    }

    /// The agent of `session` unsubscribes from `uri`: `true` when no agent of the user
    /// subscribes any more (unsubscribe upstream).
    pub(crate) fn unsubscribe(&self, user: &UserId, uri: &str, session: &str) -> bool {
        let mut users = self.lock();
        let Some(uris) = users.get_mut(user) else {
            return false;
        };
        let Some(agents) = uris.get_mut(uri) else {
            return false;
        };
        if agents.remove(session).is_none() {
            return false;
        }
        agents.retain(|_, peer| !peer.is_transport_closed());
        if !agents.is_empty() {
            return false;
        }
        uris.remove(uri);
        if uris.is_empty() {
            users.remove(user);
        }
        true
    }

    /// The live agents of `user` subscribed to `uri`.
    pub(crate) fn subscribers(&self, user: &UserId, uri: &str) -> Vec<Peer<RoleServer>> {
        self.lock()
            .get(user)
            .and_then(|uris| uris.get(uri))
            .map(|agents| {
                agents
                    .values()
                    .filter(|peer| !peer.is_transport_closed())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

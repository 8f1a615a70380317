//! Resource subscriptions of 2026-07-28 agents: a `subscriptions/listen` whose filter names
//! `resourceSubscriptions`. Each such agent stream gets an upstream `subscriptions/listen` of its
//! own, as its user, for the same URIs; what arrives on it reaches that agent's stream only, and
//! it ends when the agent's stream ends (dropping the upstream request closes its stream, so the
//! upstream sees it end). List changes keep coming from the user's standing listen
//! ([`list_changed`](super::list_changed)).
//!
//! The upstream stream is read by the core's client; the notifications on it carry this
//! stream's [`UpstreamListen`] as their call context, and the gateway's notification hook
//! ([`call_notifications`](super::agent_call::call_notifications)) hands them to it:
//!
//! - the upstream's acknowledgment first (the specification's first message): until it arrives
//!   nothing is forwarded, and when it honours none of the agent's URIs the agent's stream ends
//!   with an error saying so (its own acknowledgment, which rmcp sent before the upstream could
//!   be asked, had accepted them);
//! - then `notifications/resources/updated`, only for a URI the agent asked for and the upstream
//!   acknowledged. Updates wait in a set until the agent's stream takes them, so a slow agent
//!   costs at most one entry per URI and still hears of every URI that changed.
//!
//! An upstream that ends the stream gracefully (a `subscriptions/listen` result) ends the
//! agent's gracefully; one that refuses it (a JSON-RPC error, a 401, the policy) ends it with
//! that error; a dropped stream or a failure worth retrying is listened to again, ever more
//! slowly, while the agent is there.
//!
//! An upstream session of the session era (the connector fell back to it) has no
//! `subscriptions/listen`: the agent's URIs are subscribed there with `resources/subscribe`,
//! shared with the user's other 2026-07-28 agents ([`Subscriptions`](super::subscriptions)), and
//! the updates come on the user's standing stream.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rmcp::model::{
    ErrorCode, ErrorData, ResourceUpdatedNotification, ResourceUpdatedNotificationParam,
    ServerNotification,
};
use rmcp::service::{SubscriptionSendError, SubscriptionSink};
use serde_json::{Value, json};
use tokio::sync::Notify;

use pagerduty_mcp_connect::client::RequestOptions;
use pagerduty_mcp_connect::{
    Connector, Error, ServerNotification as UpstreamNotification, Session, UserId,
};

use super::errors::to_error_data;
use super::subscriptions::{Change, MAX_URI_BYTES, Subscriptions, Target};

/// The most URIs one agent stream may name (more are left out of its acknowledgment).
pub(crate) const MAX_URIS_PER_LISTEN: usize = 256;
/// The most resource-subscribing streams one user's agents may hold open at once.
pub(crate) const MAX_LISTENS_PER_USER: usize = 32;
/// How long the upstream has to acknowledge its stream.
const ACK_WAIT: Duration = Duration::from_secs(30);
/// The time limit of one upstream listen request (it is then opened again).
const UPSTREAM_LIMIT: Duration = Duration::from_secs(24 * 60 * 60);
/// The first wait before listening upstream again; it doubles up to [`LONGEST_WAIT`].
const FIRST_WAIT: Duration = Duration::from_millis(500);
const LONGEST_WAIT: Duration = Duration::from_secs(60);
/// An upstream stream that lasted this long resets the wait before the next one.
const STEADY: Duration = Duration::from_secs(60);

/// The URIs of `requested` the gateway takes on: not empty, at most [`MAX_URI_BYTES`] long,
/// each once, at most [`MAX_URIS_PER_LISTEN`]; `None` when none is left.
pub(crate) fn accepted_uris(requested: Option<&Vec<String>>) -> Option<Vec<String>> {
    let mut seen = HashSet::new();
    let uris: Vec<String> = requested?
        .iter()
        .filter(|uri| !uri.is_empty() && uri.len() <= MAX_URI_BYTES)
        .filter(|uri| seen.insert(uri.as_str()))
        .take(MAX_URIS_PER_LISTEN)
        .cloned()
        .collect();
    (!uris.is_empty()).then_some(uris)
}

/// How many resource-subscribing streams each user's agents hold open.
#[derive(Default)]
pub(crate) struct ResourceListens {
    open: Mutex<HashMap<UserId, usize>>,
    next_id: std::sync::atomic::AtomicU64,
}

/// One open stream of a user; counted until dropped.
pub(crate) struct ListenSlot<'a> {
    listens: &'a ResourceListens,
    user: UserId,
    /// Unique among the gateway's streams (names the stream in [`Subscriptions`]).
    id: String,
}

impl ResourceListens {
    fn lock(&self) -> MutexGuard<'_, HashMap<UserId, usize>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one more stream of `user`, unless the user's agents hold the most already.
    pub(crate) fn admit(&self, user: &UserId) -> Result<ListenSlot<'_>, ErrorData> {
        let mut open = self.lock();
        let count = open.entry(user.clone()).or_default();
        if *count >= MAX_LISTENS_PER_USER {
            return Err(ErrorData::new(
                ErrorCode::INVALID_REQUEST,
                format!(
                    "your agents hold {MAX_LISTENS_PER_USER} resource subscription streams already: end one first"
                ),
                None,
            ));
        }
        *count += 1;
        let n = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(ListenSlot {
            listens: self,
            user: user.clone(),
            id: format!("listen-{n}"),
        })
    }
}

impl Drop for ListenSlot<'_> {
    fn drop(&mut self) {
        let mut open = self.listens.lock();
        if let Some(count) = open.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}

/// What one upstream listen request brought so far, for the agent's stream to take.
#[derive(Default)]
struct Heard {
    /// The URIs the upstream's acknowledgment honoured (`None` until it arrived).
    honoured: Option<HashSet<String>>,
    /// Whether an acknowledgment arrived since the stream last looked.
    acknowledged: bool,
    /// The URIs updated since the stream last took them.
    updated: HashSet<String>,
}

/// The context of one upstream `subscriptions/listen` request: the gateway's notification hook
/// hands it what the upstream sends on that request's stream.
pub(crate) struct UpstreamListen {
    /// The URIs the agent asked for (and the gateway accepted).
    wanted: Arc<HashSet<String>>,
    heard: Mutex<Heard>,
    arrived: Notify,
}

impl UpstreamListen {
    fn new(wanted: Arc<HashSet<String>>) -> Self {
        UpstreamListen {
            wanted,
            heard: Mutex::new(Heard::default()),
            arrived: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Heard> {
        self.heard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One notification of the upstream stream (called by the hook, on the task reading it:
    /// never blocks).
    pub(crate) fn hear(&self, notification: &UpstreamNotification) {
        match notification.method.as_str() {
            "notifications/subscriptions/acknowledged" => {
                let honoured: HashSet<String> = notification
                    .params
                    .pointer("/notifications/resourceSubscriptions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .filter(|uri| self.wanted.contains(*uri))
                    .map(str::to_owned)
                    .collect();
                let mut heard = self.lock();
                heard.honoured = Some(honoured);
                heard.acknowledged = true;
            }
            "notifications/resources/updated" => {
                let Some(uri) = notification.params.get("uri").and_then(Value::as_str) else {
                    return;
                };
                let mut heard = self.lock();
                // Before the acknowledgment nothing counts; after it, only what it honoured
                // (which holds only URIs the agent asked for).
                let honoured = heard.honoured.as_ref().is_some_and(|h| h.contains(uri));
                if !honoured || heard.updated.contains(uri) {
                    return;
                }
                heard.updated.insert(uri.to_owned());
            }
            _ => return,
        }
        self.arrived.notify_one();
    }

    /// What arrived since the last look: the acknowledgment's honoured URIs (when one came)
    /// and the updated URIs.
    fn take(&self) -> (Option<HashSet<String>>, Vec<String>) {
        let mut heard = self.lock();
        let acknowledged = std::mem::take(&mut heard.acknowledged)
            .then(|| heard.honoured.clone())
            .flatten();
        let updated = heard.updated.drain().collect();
        (acknowledged, updated)
    }
}

/// How one agent stream's resource subscriptions ended.
enum Ended {
    /// The agent's stream is gone.
    AgentGone,
    /// The upstream ended its stream gracefully: so does the agent's.
    Graceful,
    /// Listen upstream again after a wait (unless the error says that is pointless).
    Again(Error),
    /// The agent's stream ends with this error.
    Refused(ErrorData),
}

/// Forwards `uris`' updates from `user`'s upstream to the agent's `sink` until the agent's
/// stream ends (the caller drops this future then), the upstream ends its stream gracefully
/// (`Ok`) or refuses it (the agent's error). `help` is the upstream's credential help.
pub(crate) async fn forward(
    connector: &Connector,
    subscriptions: &Subscriptions,
    slot: &ListenSlot<'_>,
    sink: &SubscriptionSink,
    uris: Vec<String>,
    help: &str,
) -> Result<(), ErrorData> {
    let user = &slot.user;
    let mut unique = HashSet::new();
    let uris: Vec<String> = uris
        .into_iter()
        .filter(|uri| unique.insert(uri.clone()))
        .collect();
    let wanted = Arc::new(unique);
    let mut wait = FIRST_WAIT;
    loop {
        let opened = Instant::now();
        let ended = match connector.session(user).await {
            Ok(session) if session.version().is_stateless() => {
                listen_upstream(&session, &wanted, &uris, sink).await
            }
            Ok(_) => {
                let subscribed = SessionEraSubscription {
                    connector,
                    subscriptions,
                    slot,
                    uris: Vec::new(),
                };
                subscribed.run(&uris, sink).await
            }
            Err(err) => Ended::Again(err),
        };
        match ended {
            Ended::AgentGone => {
                tracing::debug!(user = %user, "an agent's resource subscription stream ended");
                return Ok(());
            }
            Ended::Graceful => {
                tracing::debug!(user = %user, "the upstream ended a resource subscription stream");
                return Ok(());
            }
            Ended::Refused(error) => {
                tracing::info!(user = %user, code = error.code.0, "the upstream refused an agent's resource subscriptions");
                return Err(error);
            }
            Ended::Again(err) if !worth_retrying(&err) => {
                tracing::info!(user = %user, error = %err, "the upstream refused an agent's resource subscriptions");
                return Err(to_error_data(&err, help));
            }
            Ended::Again(err) => {
                if opened.elapsed() >= STEADY {
                    wait = FIRST_WAIT;
                }
                tracing::debug!(user = %user, error = %err, wait_ms = wait.as_millis() as u64, "resource subscriptions lost upstream; trying again");
                // (The caller drops this future when the agent's stream ends meanwhile.)
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(LONGEST_WAIT);
            }
        }
    }
}

/// Whether an upstream failure may pass (the upstream stream is opened again after a wait).
fn worth_retrying(err: &Error) -> bool {
    err.is_retryable() || matches!(err, Error::Closed)
}

/// One upstream `subscriptions/listen` request for `uris`, to its end.
async fn listen_upstream(
    session: &Session,
    wanted: &Arc<HashSet<String>>,
    uris: &[String],
    sink: &SubscriptionSink,
) -> Ended {
    let heard = Arc::new(UpstreamListen::new(wanted.clone()));
    let options = RequestOptions::default()
        .context(heard.clone())
        .timeout(UPSTREAM_LIMIT);
    let params = json!({ "notifications": { "resourceSubscriptions": uris } });
    // Dropping this request (when the agent's stream ends) closes the upstream stream.
    let upstream = session.request_with("subscriptions/listen", params, options);
    tokio::pin!(upstream);
    let unacknowledged = tokio::time::sleep(ACK_WAIT);
    tokio::pin!(unacknowledged);
    let mut acknowledged = false;
    loop {
        tokio::select! {
            result = &mut upstream => {
                // What arrived before the end still reaches the agent.
                let (acknowledgment, updated) = heard.take();
                let acknowledged =
                    acknowledged || acknowledgment.is_some_and(|honoured| !honoured.is_empty());
                if acknowledged && !send_updates(sink, updated).await {
                    return Ended::AgentGone;
                }
                return match result {
                    Ok(_) => Ended::Graceful,
                    Err(err) => Ended::Again(err),
                };
            }
            () = heard.arrived.notified() => {
                let (acknowledgment, updated) = heard.take();
                if let Some(honoured) = acknowledgment {
                    if honoured.is_empty() {
                        return Ended::Refused(ErrorData::new(
                            ErrorCode::INVALID_PARAMS,
                            "the upstream MCP server does not offer updates of these resources (its acknowledgment honoured none of the resourceSubscriptions): listen again without them",
                            None,
                        ));
                    }
                    if honoured.len() < wanted.len() {
                        tracing::debug!(
                            honoured = honoured.len(),
                            asked = wanted.len(),
                            "the upstream honoured only some of an agent's resource subscriptions"
                        );
                    }
                    acknowledged = true;
                }
                if !send_updates(sink, updated).await {
                    return Ended::AgentGone;
                }
            }
            () = &mut unacknowledged, if !acknowledged => {
                return Ended::Refused(ErrorData::new(
                    ErrorCode::INTERNAL_ERROR,
                    format!(
                        "the upstream MCP server did not acknowledge the resource subscriptions within {} s",
                        ACK_WAIT.as_secs()
                    ),
                    None,
                ));
            }
        }
    }
}

/// Tells the agent's stream that `uris` were updated; `false` when the stream is gone.
async fn send_updates(sink: &SubscriptionSink, uris: Vec<String>) -> bool {
    for uri in uris {
        if !send_update(sink, uri).await {
            return false;
        }
    }
    true
}

/// Tells the agent's stream that `uri` was updated; `false` when the stream is gone. (The
/// sink sends only URIs of the stream's accepted filter.)
pub(crate) async fn send_update(sink: &SubscriptionSink, uri: String) -> bool {
    let updated = ServerNotification::ResourceUpdatedNotification(
        ResourceUpdatedNotification::new(ResourceUpdatedNotificationParam::new(uri)),
    );
    match sink.send(updated).await {
        Ok(()) | Err(SubscriptionSendError::NotificationNotAccepted(_)) => true,
        Err(_) => false,
    }
}

/// An agent stream's URIs subscribed on the user's session-era upstream session
/// (`resources/subscribe`), given up when it ends.
struct SessionEraSubscription<'a> {
    connector: &'a Connector,
    subscriptions: &'a Subscriptions,
    slot: &'a ListenSlot<'a>,
    /// The URIs this stream holds in [`Subscriptions`].
    uris: Vec<String>,
}

impl SessionEraSubscription<'_> {
    /// Subscribes the URIs and waits for the agent's stream to end.
    async fn run(mut self, uris: &[String], sink: &SubscriptionSink) -> Ended {
        let user = &self.slot.user;
        for uri in uris {
            let change = self.subscriptions.subscribe(
                user,
                uri,
                &self.slot.id,
                Target::Listen(sink.clone()),
            );
            match change {
                Change::TooMany => {
                    return Ended::Refused(ErrorData::invalid_params(
                        "too many resource subscriptions for your agents: end some first",
                        None,
                    ));
                }
                Change::Joined => self.uris.push(uri.clone()),
                Change::First => {
                    self.uris.push(uri.clone());
                    let subscribed = self
                        .connector
                        .request_with(
                            user,
                            "resources/subscribe",
                            json!({ "uri": uri }),
                            RequestOptions::default(),
                        )
                        .await;
                    if let Err(err) = subscribed {
                        self.subscriptions.refused(user, uri, false);
                        self.uris.pop();
                        // Worth another try (after a wait), or the agent's error.
                        return Ended::Again(err);
                    }
                }
            }
        }
        // The updates come on the user's standing stream (`list_changed`), to the sink, until
        // the agent's stream ends and the caller drops this future (which unsubscribes).
        std::future::pending().await
    }
}

impl Drop for SessionEraSubscription<'_> {
    fn drop(&mut self) {
        let user = &self.slot.user;
        let last: Vec<String> = self
            .uris
            .drain(..)
            .filter(|uri| {
                self.subscriptions
                    .unsubscribe(user, uri, &self.slot.id, false)
            })
            .collect();
        if last.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let connector = self.connector.clone();
        let user = user.clone();
        runtime.spawn(async move {
            for uri in last {
                let _ = connector
                    .request_with(
                        &user,
                        "resources/unsubscribe",
                        json!({ "uri": uri }),
                        RequestOptions::default(),
                    )
                    .await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification(method: &str, params: Value) -> UpstreamNotification {
        UpstreamNotification::new(method, params)
    }

    #[test]
    fn an_agents_uris_are_taken_within_bounds() {
        assert_eq!(accepted_uris(None), None);
        assert_eq!(accepted_uris(Some(&vec![])), None);
        assert_eq!(accepted_uris(Some(&vec![String::new()])), None);
        let long = "x".repeat(MAX_URI_BYTES + 1);
        let uris = vec!["a".to_owned(), long, "b".to_owned(), "a".to_owned()];
        assert_eq!(
            accepted_uris(Some(&uris)),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        let many: Vec<String> = (0..MAX_URIS_PER_LISTEN + 10)
            .map(|i| format!("res://{i}"))
            .collect();
        assert_eq!(
            accepted_uris(Some(&many)).unwrap().len(),
            MAX_URIS_PER_LISTEN
        );
    }

    #[test]
    fn updates_count_only_after_the_acknowledgment_and_only_for_honoured_uris() {
        let wanted: HashSet<String> = ["res://a", "res://b"].map(str::to_owned).into();
        let listen = UpstreamListen::new(Arc::new(wanted));
        let updated =
            |uri: &str| notification("notifications/resources/updated", json!({"uri": uri}));
        // Before the acknowledgment: nothing.
        listen.hear(&updated("res://a"));
        assert_eq!(listen.take(), (None, vec![]));
        // The upstream honours a, and c (which the agent never asked for).
        listen.hear(&notification(
            "notifications/subscriptions/acknowledged",
            json!({"notifications": {"resourceSubscriptions": ["res://a", "res://c"]}}),
        ));
        listen.hear(&updated("res://a"));
        listen.hear(&updated("res://a"));
        listen.hear(&updated("res://b"));
        listen.hear(&updated("res://c"));
        listen.hear(&notification("notifications/tools/list_changed", json!({})));
        let (acknowledged, updates) = listen.take();
        assert_eq!(acknowledged, Some(["res://a".to_owned()].into()));
        // Each URI once, however often it changed since the last look.
        assert_eq!(updates, vec!["res://a".to_owned()]);
        assert_eq!(listen.take(), (None, vec![]));
    }

    #[test]
    fn a_user_holds_a_bounded_number_of_streams() {
        let listens = ResourceListens::default();
        let alice = UserId::new("alice");
        let slots: Vec<_> = (0..MAX_LISTENS_PER_USER)
            .map(|_| listens.admit(&alice).unwrap())
            .collect();
        assert!(listens.admit(&alice).is_err());
        // Another user is not affected; a closed stream makes room.
        assert!(listens.admit(&UserId::new("bob")).is_ok());
        let ids: HashSet<&str> = slots.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids.len(), MAX_LISTENS_PER_USER);
        drop(slots);
        assert!(listens.admit(&alice).is_ok());
        assert!(listens.lock().get(&alice).is_none_or(|n| *n <= 1));
    }
}

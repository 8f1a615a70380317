//! The standing notification stream: the GET stream in the session era, `subscriptions/listen`
//! in the 2026-07-28 protocol.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use http::{HeaderValue, StatusCode};
use serde_json::{Map, json};

use super::{RequestOptions, Route, SessionInner};
use crate::client::jsonrpc::{self, Incoming};
use crate::client::sse::SseParser;
use crate::client::transport::{self, ACCEPT_POST, CONTENT_JSON};
use crate::error::Error;

impl SessionInner {
    /// Whether the standing stream may stop because nobody listens. Decided under the listener
    /// lock, so a `notifications()` call racing with the stop either is seen here or starts a new
    /// listener.
    pub(super) fn listener_may_stop(&self) -> bool {
        let mut listener = self.listener.lock().unwrap_or_else(|p| p.into_inner());
        if self.listeners() == 0 && !self.keeps_listening() {
            *listener = None;
            true
        } else {
            false
        }
    }

    /// Whether the standing stream stays open without readers: in the session era, when a
    /// server request handler is registered (so requests outside any call are answered).
    pub(super) fn keeps_listening(&self) -> bool {
        let config = self.config();
        !self.version.is_stateless()
            && config.listen_for_server_requests
            && !config.handlers.is_empty()
    }

    /// Forgets the listener task (it is ending), so a later `notifications()` may start another.
    pub(super) fn forget_listener(&self) {
        *self.listener.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The 2026-07-28 `subscriptions/listen` request: its SSE response is the stream of
    /// list-changed notifications (there is no GET stream in that era).
    pub(super) fn listen_request(&self, route: &Route) -> reqwest::RequestBuilder {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut params = Map::new();
        params.insert(
            "notifications".into(),
            json!({
                "toolsListChanged": true,
                "promptsListChanged": true,
                "resourcesListChanged": true
            }),
        );
        self.decorate(&mut params, &RequestOptions::default());
        let mut headers = self.headers(route, ACCEPT_POST);
        headers.insert(http::header::CONTENT_TYPE, CONTENT_JSON);
        for (name, value) in self.routing_headers("subscriptions/listen", &params) {
            headers.insert(name, value);
        }
        self.client
            .http
            .post(self.client.server.endpoint().clone())
            .headers(headers)
            .body(jsonrpc::request_bytes(id, "subscriptions/listen", &params))
    }

    /// Starts the notification stream listener once: the GET stream in the session era,
    /// `subscriptions/listen` in the 2026-07-28 protocol.
    pub(super) fn ensure_listener(this: &Arc<Self>) {
        Self::start_listener(this, None);
    }

    /// Starts the standing stream and waits (at most `limit`) until the server answered its
    /// request, so that requests the server sends outside any call from now on reach it.
    pub(super) async fn open_listener(this: &Arc<Self>, limit: Duration) {
        let (ready, answered) = tokio::sync::oneshot::channel();
        Self::start_listener(this, Some(ready));
        let _ = tokio::time::timeout(limit, answered).await;
    }

    fn start_listener(this: &Arc<Self>, ready: Option<tokio::sync::oneshot::Sender<()>>) {
        let mut listener = this.listener.lock().unwrap_or_else(|p| p.into_inner());
        if listener.as_ref().is_some_and(|h| !h.is_finished())
            || this.closed.load(Ordering::Acquire)
        {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(this);
        *listener = Some(runtime.spawn(listen(weak, ready)));
    }
}

/// The standing notification stream: the GET stream in the session era, `subscriptions/listen`
/// in the 2026-07-28 protocol. It carries notifications (and, in the session era, server
/// requests) outside any request of the client.
///
/// It ends when the server does not offer it (400, 404, 405), rejects the credential (401,
/// 403), ends it with a JSON-RPC response, fails six times in a row, when the session closes or
/// is dropped, or when nobody listens any more. A stream that ends without delivering a
/// notification is reopened ever more slowly, never faster than [`MIN_LISTEN_DELAY`].
async fn listen(weak: Weak<SessionInner>, mut ready: Option<tokio::sync::oneshot::Sender<()>>) {
    let mut last_event_id: Option<String> = None;
    let mut generation: Option<u64> = None;
    let mut failures = 0u32;
    let mut empty_streams = 0u32;
    loop {
        let Some(session) = weak.upgrade() else {
            return;
        };
        if session.closed.load(Ordering::Acquire)
            || session.is_rejected()
            || session.listener_may_stop()
        {
            return;
        }
        let route = session.route();
        if generation != Some(route.generation) {
            // A re-established session has new streams: an old event id means nothing there.
            generation = Some(route.generation);
            last_event_id = None;
        }
        let request = if session.version.is_stateless() {
            session.listen_request(&route).send()
        } else {
            let last = last_event_id
                .as_deref()
                .and_then(|id| HeaderValue::from_str(id).ok());
            session.stream_request(&route, last).send()
        };
        let config = session.config().clone();
        drop(session);
        let mut delay = config.default_reconnect_delay;
        let answer = tokio::time::timeout(config.idle_timeout, request).await;
        if let Some(ready) = ready.take() {
            let _ = ready.send(());
        }
        let answer = match answer {
            Ok(Ok(response)) => match weak.upgrade() {
                Some(session) => session.same_origin(response),
                None => return,
            },
            Ok(Err(err)) => Err(transport::map_reqwest_error(err)),
            Err(_) => Err(Error::timeout(
                "no answer to the notification stream request",
            )),
        };
        match answer {
            Ok(mut response)
                if response.status().is_success()
                    && transport::is_event_stream(response.headers()) =>
            {
                failures = 0;
                let mut parser = SseParser::new(config.max_event_bytes);
                let mut events = Vec::new();
                let mut delivered = false;
                while let Ok(Some(chunk)) =
                    transport::next_chunk(&mut response, config.idle_timeout).await
                {
                    if parser.feed(&chunk, &mut events).is_err() {
                        break;
                    }
                    let Some(session) = weak.upgrade() else {
                        return;
                    };
                    if session.closed.load(Ordering::Acquire) || session.listener_may_stop() {
                        return; // nobody listens any more: close the stream
                    }
                    for event in events.drain(..) {
                        let Ok(messages) = jsonrpc::parse_event_data(&event.data) else {
                            continue;
                        };
                        for message in messages {
                            match &message {
                                // A response ends a standing stream (`subscriptions/listen`
                                // answers only when the server tears it down, or to refuse).
                                Incoming::Response { .. } if !session.version.is_stateless() => {
                                    // Session era: a response here belongs to a request whose
                                    // own stream ended (some servers resume it on this stream).
                                    session.keep_stray(message);
                                    continue;
                                }
                                Incoming::Response { .. } => {
                                    tracing::debug!("the server ended the notification stream");
                                    session.forget_listener();
                                    return;
                                }
                                Incoming::Notification { method, .. }
                                    if method == "notifications/subscriptions/acknowledged" => {}
                                _ => delivered = true,
                            }
                            session.dispatch(&route, 0, message, None);
                        }
                    }
                }
                last_event_id = parser.last_event_id().map(str::to_owned).or(last_event_id);
                delay = parser.retry().unwrap_or(delay);
                empty_streams = if delivered { 0 } else { empty_streams + 1 };
            }
            Ok(response) => {
                let status = response.status();
                let reestablished = weak
                    .upgrade()
                    .is_some_and(|s| s.route().generation != route.generation);
                if status == StatusCode::NOT_FOUND && reestablished {
                    // The session was re-established while this GET was under way: follow it.
                    failures = 0;
                    continue;
                }
                if matches!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED
                        | StatusCode::NOT_FOUND
                        | StatusCode::UNAUTHORIZED
                        | StatusCode::FORBIDDEN
                        | StatusCode::BAD_REQUEST
                ) || status.is_success()
                {
                    // A success without an event stream is a JSON answer: a refusal.
                    tracing::debug!(%status, "the server offers no notification stream");
                    if let Some(session) = weak.upgrade() {
                        if status == StatusCode::UNAUTHORIZED {
                            session.mark_rejected();
                        }
                        session.forget_listener();
                    }
                    return;
                }
                failures += 1;
            }
            Err(Error::InvalidConfig { message }) => {
                if let Some(session) = weak.upgrade() {
                    let message = session.redact_text(&message);
                    tracing::warn!(%message, "notification stream refused");
                }
                return;
            }
            Err(_) => failures += 1,
        }
        if failures > 5 {
            return;
        }
        let backoff = 1u32 << empty_streams.min(6);
        let wait = delay.max(MIN_LISTEN_DELAY) * (failures + 1) * backoff;
        tokio::time::sleep(wait.min(Duration::from_secs(60))).await;
    }
}

/// The shortest wait before reopening a standing notification stream.
const MIN_LISTEN_DELAY: Duration = Duration::from_millis(500);

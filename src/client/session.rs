//! `Session`: one user's connection to the server.
//!
//! The machinery under it lives in one file per concept:
//! - `handshake`: opening a session (discover or `initialize`) and re-establishing it;
//! - `request_loop`: one request from start to answer (decoration, retries, time limit,
//!   cancellation);
//! - `reply`: reading a reply (JSON or SSE), dispatching what arrives before the response,
//!   resuming a dropped stream;
//! - `http_requests`: the other HTTP requests (messages, the GET stream, the DELETE);
//! - `listener`: the standing notification stream;
//! - `server_requests`: answering the requests a server sends;
//! - `input_required`: multi round-trip requests (2026-07-28 `input_required` results);
//! - `call_progress`: per-call progress callbacks.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use serde_json::{Map, Value};
use tokio::sync::broadcast;

use super::client_state::ClientInner;
use super::model::{LoggingLevel, ServerDetails, ServerNotification};
use super::progress::ProgressCallback;
use super::protocol::ProtocolVersion;
use super::tool_routing::ToolRouting;
use super::transport;
use crate::credential::{Credential, UserId};
use crate::error::{Error, Result};
use crate::redaction::Redactor;

mod call_progress;
mod handshake;
mod http_requests;
mod input_required;
mod listener;
mod notification_stream;
mod reply;
mod request_loop;
mod request_options;
mod server_requests;

pub use notification_stream::NotificationStream;
pub use request_options::RequestOptions;

/// `SessionInner::log_level` before a level was asked for.
const NO_LOG_LEVEL: u8 = u8::MAX;

/// The log levels, by their number in `SessionInner::log_level`.
const LOG_LEVELS: [LoggingLevel; 8] = [
    LoggingLevel::Debug,
    LoggingLevel::Info,
    LoggingLevel::Notice,
    LoggingLevel::Warning,
    LoggingLevel::Error,
    LoggingLevel::Critical,
    LoggingLevel::Alert,
    LoggingLevel::Emergency,
];

/// How many notifications a slow reader of [`Session::notifications`] may lag behind.
const NOTIFICATION_BUFFER: usize = 64;

/// Where the session-era session id and the version header stand for one HTTP request.
#[derive(Clone)]
struct Route {
    session_id: Option<HeaderValue>,
    generation: u64,
    send_version: bool,
}

pub(crate) struct SessionInner {
    client: Arc<ClientInner>,
    credential: Credential,
    auth: HeaderValue,
    version: ProtocolVersion,
    session_id: RwLock<(Option<HeaderValue>, u64)>,
    /// Shared with the other sessions of the client when the server said the same to them.
    details: RwLock<Arc<ServerDetails>>,
    next_id: AtomicU64,
    /// Created by the first `notifications()` call: most sessions never have a listener, and an
    /// idle session must stay small.
    notifications: OnceLock<broadcast::Sender<ServerNotification>>,
    /// The log level asked for in the 2026-07-28 protocol ([`LoggingLevel`] as a number),
    /// [`NO_LOG_LEVEL`] until then.
    log_level: AtomicU8,
    closed: AtomicBool,
    /// The server rejected the credential (401), or the connector learnt it was invalidated:
    /// no request carries it any more, not even the DELETE ending the session.
    rejected: AtomicBool,
    reinit: tokio::sync::Mutex<()>,
    /// The routing of the tools `tools/list` returned; `None` until then (most sessions never
    /// list them, and an idle session must stay small).
    pub(crate) tools: RwLock<Option<Arc<HashMap<String, ToolRouting>>>>,
    listener: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The user this session belongs to, when a `Connector` opened it.
    user: Option<UserId>,
    /// Permits for server requests being handled (handler and answer) at once; created by the
    /// first server request.
    server_requests: OnceLock<Arc<tokio::sync::Semaphore>>,
    /// The per-call progress callbacks, by progress token.
    progress: std::sync::Mutex<Vec<(Value, ProgressCallback)>>,
    /// Responses that arrived on the standing stream, for requests still reading their own.
    stray_responses: std::sync::Mutex<Vec<(u64, Result<Value>)>>,
    stray_arrived: tokio::sync::Notify,
}

/// One user's connection to a remote MCP server, opened by
/// [`McpClient::connect`](super::McpClient::connect).
///
/// Cheap to clone; clones share the connection, so many tasks may send requests at once. Every
/// HTTP request carries the user's auth header. In the session era an expired session (HTTP 404)
/// is re-established once, transparently; [`Session::close`] ends it on the server. Dropping the
/// future of a request cancels it (`notifications/cancelled`, or closing the stream in the
/// stateless era).
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<SessionInner>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.inner.client.server.name())
            .field("version", &self.inner.version)
            .field("has_session_id", &self.inner.route().session_id.is_some())
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The auth scheme (the form of the header) this session sends its credential in.
    pub(crate) fn auth_scheme(&self) -> &crate::auth::AuthScheme {
        self.inner.client.auth_forms.of(&self.inner.auth)
    }

    /// The protocol version in use.
    pub fn version(&self) -> ProtocolVersion {
        self.inner.version
    }

    /// What the server said about itself (name, version, capabilities, instructions). In the
    /// 2026-07-28 protocol see [`Session::refresh_server_details`] for when capabilities and instructions may
    /// be missing.
    pub fn server_details(&self) -> ServerDetails {
        self.inner
            .details
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .clone()
    }

    /// Asks the server about itself again with this session's credential (`server/discover`)
    /// and returns the answer, which [`Session::server_details`] returns from then on. In the
    /// session era the details come with `initialize` and no request is sent.
    ///
    /// A 2026-07-28 client sends `server/discover` once per endpoint, not once per session: a
    /// later session starts from that result when its `ttlMs` and `cacheScope` allow (fresh,
    /// and `public` or without a scope; a `private` result only for the credential that got
    /// it), and otherwise from what is not user-specific (the server's identity and protocol
    /// versions, without capabilities or instructions). Call this when you need this user's own
    /// capabilities or instructions in that case.
    pub async fn refresh_server_details(&self) -> Result<ServerDetails> {
        if !self.inner.version.is_stateless() {
            return Ok(self.server_details());
        }
        match self.inner.discover().await? {
            Some(details) => Ok(details.as_ref().clone()),
            None => Err(Error::protocol(
                "the server/discover result does not list protocol version 2026-07-28 in supportedVersions",
            )),
        }
    }

    /// The credential this session sends.
    pub fn credential(&self) -> &Credential {
        &self.inner.credential
    }

    /// Whether [`Session::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Sends a request and returns its raw `result`: the escape hatch for methods this crate does
    /// not model.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value> {
        self.request_with(method, params, RequestOptions::default())
            .await
    }

    /// [`Session::request`] with options (progress token, timeout).
    pub async fn request_with(
        &self,
        method: &str,
        params: Value,
        options: RequestOptions,
    ) -> Result<Value> {
        let params = match params {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            _ => {
                return Err(Error::config(
                    "request params must be a JSON object (or null)",
                ));
            }
        };
        self.inner.call(method, params, &options).await
    }

    /// Sends a notification (no answer expected).
    pub async fn notify(&self, method: &str, params: Option<Value>) -> Result<()> {
        let params = match params {
            Some(Value::Object(map)) => Some(map),
            None | Some(Value::Null) => None,
            Some(_) => return Err(Error::config("notification params must be a JSON object")),
        };
        self.inner.notify(method, params).await
    }

    /// A stream of the server's notifications (progress, log messages, list changes) from
    /// response streams and from a standing stream this call opens if the server offers one: the
    /// GET stream in the session era, a `subscriptions/listen` request (tools, prompts and
    /// resources list changes) in the 2026-07-28 protocol. The standing stream closes once no
    /// returned stream is left (in the session era it stays open while a server request handler
    /// is registered, see
    /// [`McpClientBuilder::listen_for_server_requests`](super::McpClientBuilder::listen_for_server_requests)).
    /// Each call returns an independent stream; a slow reader misses the oldest notifications
    /// rather than stalling the session. For one call's progress, use
    /// [`RequestOptions::on_progress`] instead: it misses nothing.
    pub fn notifications(&self) -> NotificationStream {
        let receiver = self
            .inner
            .notifications
            .get_or_init(|| broadcast::channel(NOTIFICATION_BUFFER).0)
            .subscribe();
        SessionInner::ensure_listener(&self.inner);
        NotificationStream::new(receiver)
    }

    /// Ends the session: in the session era a DELETE tells the server (a 405 answer, meaning the
    /// server does not support it, is fine). Later requests fail with [`Error::Closed`].
    ///
    /// A session whose credential the server rejected sends nothing: the DELETE would carry the
    /// rejected credential again.
    pub async fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        if let Some(listener) = self
            .inner
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            listener.abort();
        }
        self.inner.delete_session().await
    }

    /// Gives the session up without another request: its credential was rejected or
    /// invalidated, so not even a DELETE may carry it. Later requests fail without being sent.
    pub(crate) fn abandon(&self) {
        self.inner.mark_rejected();
    }

    pub(crate) fn set_log_level_for_stateless(&self, level: LoggingLevel) {
        let index = LOG_LEVELS
            .iter()
            .position(|l| *l == level)
            .map_or(NO_LOG_LEVEL, |i| i as u8);
        self.inner.log_level.store(index, Ordering::Relaxed);
    }
}

impl SessionInner {
    /// The log level asked for in the 2026-07-28 protocol, if any.
    fn log_level(&self) -> Option<LoggingLevel> {
        LOG_LEVELS
            .get(usize::from(self.log_level.load(Ordering::Relaxed)))
            .copied()
    }

    /// The permits for server requests being handled at once.
    fn server_request_permits(&self) -> &Arc<tokio::sync::Semaphore> {
        self.server_requests.get_or_init(|| {
            Arc::new(tokio::sync::Semaphore::new(
                self.client.config.max_concurrent_server_requests,
            ))
        })
    }

    /// How many [`NotificationStream`]s are open.
    fn listeners(&self) -> usize {
        self.notifications
            .get()
            .map_or(0, broadcast::Sender::receiver_count)
    }

    /// Hands a notification to the open [`NotificationStream`]s (dropped when there is none).
    fn publish(&self, notification: ServerNotification) {
        if let Some(sender) = self.notifications.get() {
            let _ = sender.send(notification);
        }
    }

    fn route(&self) -> Route {
        let guard = self.session_id.read().unwrap_or_else(|p| p.into_inner());
        Route {
            session_id: guard.0.clone(),
            generation: guard.1,
            send_version: self.version.sends_version_header() || self.version.is_stateless(),
        }
    }

    fn config(&self) -> &super::client_state::ClientConfig {
        &self.client.config
    }

    /// The common headers of every request of this session.
    fn headers(&self, route: &Route, accept: HeaderValue) -> http::HeaderMap {
        let mut headers = http::HeaderMap::with_capacity(8);
        let scheme = self.client.server.auth_scheme();
        if scheme.sends_credential() {
            headers.insert(scheme.header_name().clone(), self.auth.clone());
        }
        headers.insert(http::header::ACCEPT, accept);
        if let Some(id) = &route.session_id {
            headers.insert(HeaderName::from_static(transport::SESSION_ID), id.clone());
        }
        if route.send_version {
            headers.insert(
                HeaderName::from_static(transport::PROTOCOL_VERSION),
                HeaderValue::from_static(self.version.as_str()),
            );
        }
        headers
    }

    /// The redaction step for everything derived from this session's replies: it knows the
    /// credential as stored and as sent (trimmed, without a pasted prefix), in every form.
    pub(crate) fn redactor(&self) -> Redactor {
        let scheme = self.client.auth_forms.of(&self.auth);
        let sent = self
            .auth
            .to_str()
            .ok()
            .and_then(|value| value.get(scheme.prefix().len()..))
            .unwrap_or_default();
        Redactor::for_credential(self.credential.secret(), scheme).with_secret(sent)
    }

    /// Passes an error through the redaction step (after any truncation: errors are finished
    /// here). Every error a `Session` returns, and every error it logs, goes through this.
    pub(crate) fn scrub(&self, err: Error) -> Error {
        if matches!(err, Error::Unauthorized { .. }) {
            self.mark_rejected();
        }
        err.redact(&self.redactor())
    }

    /// A text derived from a reply, redacted, for a log line.
    pub(crate) fn redact_text(&self, text: &str) -> String {
        self.redactor().redact(text).into_owned()
    }

    /// Records that the server rejected the credential: nothing carries it any more.
    pub(crate) fn mark_rejected(&self) {
        if !self.rejected.swap(true, Ordering::AcqRel) {
            tracing::debug!(
                server = self.client.server.name(),
                "the credential was rejected; this session sends nothing more"
            );
        }
    }

    /// Whether the credential was rejected or invalidated.
    pub(crate) fn is_rejected(&self) -> bool {
        self.rejected.load(Ordering::Acquire)
    }

    /// The error of a request refused because the credential was rejected before.
    pub(crate) fn rejected_error(&self) -> Error {
        Error::unauthorized(
            "the server rejected this credential earlier in the session; it is not sent again",
            self.client.server.credential_help(),
        )
    }
}

impl Drop for SessionInner {
    fn drop(&mut self) {
        if let Some(listener) = self
            .listener
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            listener.abort();
        }
        if self.closed.load(Ordering::Acquire)
            || self.version.is_stateless()
            || self.rejected.load(Ordering::Acquire)
        {
            return;
        }
        // Best effort: tell the server the session is over.
        let route = self.route();
        if route.session_id.is_none() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let request = self.delete_request(&route).send();
        runtime.spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(5), request).await;
        });
    }
}

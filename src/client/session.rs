//! `Session`: one user's connection to the server, and the request machinery under it.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{json, Map, Value};
use tokio::sync::broadcast;
use tracing::Instrument;

use super::jsonrpc::{self, Incoming};
use super::mcp_client::ClientInner;
use super::model::{LoggingLevel, ServerDetails, ServerNotification};
use super::protocol::ProtocolVersion;
use super::sse::SseParser;
use super::tool_routing::{param_header_values, ToolRouting};
use super::transport::{self, ACCEPT_POST, ACCEPT_STREAM, CONTENT_JSON};
use crate::credential::Credential;
use crate::error::{Error, Result};
use crate::http_error::error_from_reply;

/// Per-request options.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RequestOptions {
    /// Sent as `_meta.progressToken`; the server's `notifications/progress` for this request
    /// carry it and arrive on [`Session::notifications`].
    pub progress_token: Option<Value>,
    /// Overrides the client's request timeout for this request.
    pub timeout: Option<Duration>,
}

impl RequestOptions {
    /// Options with a progress token.
    pub fn with_progress_token(token: impl Into<Value>) -> Self {
        RequestOptions {
            progress_token: Some(token.into()),
            timeout: None,
        }
    }

    /// Sets the timeout of this request.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

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
    version_header: HeaderValue,
    session_id: RwLock<(Option<HeaderValue>, u64)>,
    details: RwLock<ServerDetails>,
    next_id: AtomicU64,
    notifications: broadcast::Sender<ServerNotification>,
    log_level: RwLock<Option<LoggingLevel>>,
    closed: AtomicBool,
    reinit: tokio::sync::Mutex<()>,
    pub(crate) tools: RwLock<HashMap<String, ToolRouting>>,
    listener: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
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
    /// Opens a session speaking `version`. In the session era the server may answer with another
    /// version; `strict` refuses that.
    pub(crate) async fn open(
        client: &Arc<ClientInner>,
        credential: &Credential,
        auth: HeaderValue,
        version: ProtocolVersion,
        strict: bool,
    ) -> Result<Session> {
        let (notifications, _) = broadcast::channel(64);
        let mut inner = SessionInner {
            client: client.clone(),
            credential: credential.clone(),
            auth,
            version,
            version_header: HeaderValue::from_static(version.as_str()),
            session_id: RwLock::new((None, 0)),
            details: RwLock::new(ServerDetails::default()),
            next_id: AtomicU64::new(1),
            notifications,
            log_level: RwLock::new(None),
            closed: AtomicBool::new(false),
            reinit: tokio::sync::Mutex::new(()),
            tools: RwLock::new(HashMap::new()),
            listener: std::sync::Mutex::new(None),
        };
        if version.is_stateless() {
            let inner = Arc::new(inner);
            let discovered = inner
                .call("server/discover", Map::new(), &RequestOptions::default())
                .await?;
            let mut details: ServerDetails = serde_json::from_value(discovered).map_err(|err| {
                Error::protocol(format!("malformed server/discover result: {err}"))
            })?;
            if details.server_info.name.is_empty() {
                // 2026-07-28 puts serverInfo in the result's `_meta`.
                let info = details
                    .extra
                    .get("_meta")
                    .and_then(|meta| meta.get("io.modelcontextprotocol/serverInfo"))
                    .cloned();
                if let Some(info) = info.and_then(|i| serde_json::from_value(i).ok()) {
                    details.server_info = info;
                }
            }
            *inner.details.write().unwrap_or_else(|p| p.into_inner()) = details;
            return Ok(Session { inner });
        }
        let (session_id, details, chosen) = inner.handshake(version).await?;
        // From here on, dropping `inner` ends the server's session (DELETE in `Drop`).
        *inner
            .session_id
            .get_mut()
            .unwrap_or_else(|p| p.into_inner()) = (session_id, 1);
        if chosen != version {
            if strict {
                return Err(Error::protocol(format!(
                    "the server chose protocol version {chosen}, but {version} was required"
                )));
            }
            inner.version = chosen;
            inner.version_header = HeaderValue::from_static(chosen.as_str());
        }
        *inner.details.get_mut().unwrap_or_else(|p| p.into_inner()) = details;
        let inner = Arc::new(inner);
        inner.send_initialized().await?;
        Ok(Session { inner })
    }

    /// The protocol version in use.
    pub fn version(&self) -> ProtocolVersion {
        self.inner.version
    }

    /// What the server said about itself (name, version, capabilities, instructions).
    pub fn server_details(&self) -> ServerDetails {
        self.inner
            .details
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
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
                ))
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
    /// returned stream is left. Each call returns an independent stream; a slow reader misses the
    /// oldest notifications rather than stalling the session.
    pub fn notifications(&self) -> NotificationStream {
        let receiver = self.inner.notifications.subscribe();
        SessionInner::ensure_listener(&self.inner);
        NotificationStream::new(receiver)
    }

    /// Ends the session: in the session era a DELETE tells the server (a 405 answer, meaning the
    /// server does not support it, is fine). Later requests fail with [`Error::Closed`].
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

    pub(crate) fn set_log_level_for_stateless(&self, level: LoggingLevel) {
        *self
            .inner
            .log_level
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(level);
    }
}

impl SessionInner {
    fn route(&self) -> Route {
        let guard = self.session_id.read().unwrap_or_else(|p| p.into_inner());
        Route {
            session_id: guard.0.clone(),
            generation: guard.1,
            send_version: self.version.sends_version_header() || self.version.is_stateless(),
        }
    }

    fn config(&self) -> &super::mcp_client::ClientConfig {
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
                self.version_header.clone(),
            );
        }
        headers
    }

    /// Sends one request and waits for its result, with retries, session re-establishment,
    /// the time limit and cancellation on drop.
    pub(crate) async fn call(
        self: &Arc<Self>,
        method: &str,
        mut params: Map<String, Value>,
        options: &RequestOptions,
    ) -> Result<Value> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.decorate(&mut params, options);
        let routing = self.routing_headers(method, &params);
        let safe = self.is_safe_to_repeat(method, &params);
        let mut guard = CancelOnDrop {
            session: Arc::downgrade(self),
            id: AtomicU64::new(id),
            armed: !self.version.is_stateless() && method != "initialize",
        };
        let limit = options.timeout.unwrap_or(self.config().request_timeout);
        let span = tracing::debug_span!("mcp_request", method, id);
        let exchange = self
            .exchange(&guard.id, method, &params, &routing, safe)
            .instrument(span);
        let result = tokio::time::timeout(limit, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(Error::timeout(format!(
                    "no answer to {method} within {} s",
                    limit.as_secs_f32()
                )))
            });
        if !matches!(result, Err(Error::Timeout { .. })) {
            guard.armed = false;
        }
        result.map_err(|err| self.scrub(err))
    }

    /// Removes this session's token from an error built from the server's words.
    fn scrub(&self, err: Error) -> Error {
        // The token as stored, and as sent (trimmed, without a pasted prefix).
        let stored = self.credential.secret().expose_secret();
        let sent = self
            .auth
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix(self.client.server.auth_scheme().prefix()))
            .unwrap_or(stored);
        err.scrub_secret(stored).scrub_secret(sent)
    }

    fn decorate(&self, params: &mut Map<String, Value>, options: &RequestOptions) {
        let stateless = self.version.is_stateless();
        if !stateless && options.progress_token.is_none() {
            return;
        }
        let meta = params
            .entry("_meta")
            .or_insert_with(|| Value::Object(Map::new()));
        if !meta.is_object() {
            *meta = Value::Object(Map::new());
        }
        let Value::Object(meta) = meta else {
            return;
        };
        if stateless {
            for (key, value) in &self.client.stateless_meta {
                meta.insert(key.clone(), value.clone());
            }
            if let Some(level) = *self.log_level.read().unwrap_or_else(|p| p.into_inner()) {
                meta.insert(
                    "io.modelcontextprotocol/logLevel".into(),
                    json!(level.as_str()),
                );
            }
        }
        if let Some(token) = &options.progress_token {
            meta.insert("progressToken".into(), token.clone());
        }
    }

    /// The stateless era's routing headers: `Mcp-Method`, `Mcp-Name`, and the `Mcp-Param-*`
    /// headers the tool's schema declares.
    fn routing_headers(
        &self,
        method: &str,
        params: &Map<String, Value>,
    ) -> Vec<(HeaderName, HeaderValue)> {
        if !self.version.is_stateless() {
            return Vec::new();
        }
        let mut headers = vec![(
            HeaderName::from_static(transport::MCP_METHOD),
            transport::routing_header_value(method),
        )];
        if let Some(name) = routing_name(method, params) {
            headers.push((HeaderName::from_static(transport::MCP_NAME), name));
        }
        if method == "tools/call" {
            let tools = self.tools.read().unwrap_or_else(|p| p.into_inner());
            if let Some(routing) = params
                .get("name")
                .and_then(Value::as_str)
                .and_then(|name| tools.get(name))
            {
                let arguments = params.get("arguments").and_then(Value::as_object);
                headers.extend(param_header_values(routing, arguments));
            }
        }
        headers
    }

    fn is_safe_to_repeat(&self, method: &str, params: &Map<String, Value>) -> bool {
        match method {
            "tools/call" => params
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|name| {
                    self.tools
                        .read()
                        .unwrap_or_else(|p| p.into_inner())
                        .get(name)
                        .is_some_and(|tool| tool.safe_to_repeat)
                }),
            _ => true,
        }
    }

    /// Sends the request until it has an answer. `current_id` holds the JSON-RPC id in use: a
    /// retry after a failure goes out under a new id (the 2026-07-28 protocol requires it for a
    /// re-issued request, and it keeps a late answer to the first attempt apart).
    async fn exchange(
        self: &Arc<Self>,
        current_id: &AtomicU64,
        method: &str,
        params: &Map<String, Value>,
        routing: &[(HeaderName, HeaderValue)],
        safe: bool,
    ) -> Result<Value> {
        let mut attempt = 0u32;
        let mut reestablished = false;
        let mut id = current_id.load(Ordering::Relaxed);
        let mut body = Bytes::from(jsonrpc::request_bytes(id, method, params));
        loop {
            let route = self.route();
            let outcome = self.post(&route, id, routing, body.clone()).await;
            match outcome {
                Err(Error::HttpStatus { status: 404, .. })
                    if route.session_id.is_some() && !reestablished =>
                {
                    // The server does not know the session: it did not process the request, so
                    // replaying it on a new session is safe whatever the method.
                    tracing::info!(
                        server = self.client.server.name(),
                        "MCP session expired; re-initialising"
                    );
                    self.reestablish(route.generation).await?;
                    reestablished = true;
                }
                Err(Error::HttpStatus { status: 404, .. }) if route.session_id.is_some() => {
                    return Err(Error::SessionExpired)
                }
                Err(err)
                    if attempt < self.config().max_retries
                        && err.is_retryable()
                        && !matches!(err, Error::SessionExpired)
                        && (safe || transport::is_connect_error(&err)) =>
                {
                    let wait = err
                        .retry_after()
                        .unwrap_or_else(|| backoff(self.config().retry_base_delay, attempt));
                    if wait > self.config().max_retry_wait {
                        return Err(err);
                    }
                    tracing::debug!(method, attempt, wait_ms = wait.as_millis() as u64, error = %self.scrub(err), "retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    current_id.store(id, Ordering::Relaxed);
                    body = Bytes::from(jsonrpc::request_bytes(id, method, params));
                }
                other => return other,
            }
        }
    }

    /// One POST and its reply.
    async fn post(
        self: &Arc<Self>,
        route: &Route,
        id: u64,
        routing: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<Value> {
        let mut headers = self.headers(route, ACCEPT_POST);
        for (name, value) in routing {
            headers.insert(name.clone(), value.clone());
        }
        let mut response = self.send_post(headers, body).await?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND && route.session_id.is_some() {
            // Whatever the body says, a 404 on a request carrying a session id means the
            // server no longer knows the session (the caller re-establishes it).
            return Err(Error::HttpStatus {
                status: 404,
                message: "the server does not know the MCP session".to_owned(),
                retry_after: None,
            });
        }
        if !status.is_success() {
            return Err(self.error_reply(status, &mut response).await);
        }
        if transport::is_event_stream(response.headers()) {
            return self.read_stream(route, id, response).await;
        }
        if status == StatusCode::ACCEPTED || response.content_length() == Some(0) {
            return Err(Error::protocol(format!(
                "the server answered {status} without a body to a request that needs a response"
            )));
        }
        if !transport::is_json(response.headers()) {
            return Err(Error::protocol(format!(
                "the server answered with content type {:?}, expected application/json or text/event-stream",
                response
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("(none)")
            )));
        }
        let bytes = transport::read_body(
            &mut response,
            self.config().max_body_bytes,
            self.config().idle_timeout,
        )
        .await?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|err| Error::protocol(format!("the reply is not valid JSON: {err}")))?;
        let mut answer = None;
        for message in jsonrpc::parse_messages(value)? {
            if let Some(outcome) = self.dispatch(route, id, message) {
                answer.get_or_insert(outcome);
            }
        }
        answer.unwrap_or_else(|| {
            Err(Error::protocol(
                "the reply holds no response to the request",
            ))
        })
    }

    /// Maps a non-success reply, reading (a bounded part of) its body.
    async fn error_reply(&self, status: StatusCode, response: &mut reqwest::Response) -> Error {
        if status.is_redirection() {
            let location = response
                .headers()
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| self.client.server.endpoint().join(l).ok())
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_default();
            return Error::HttpStatus {
                status: status.as_u16(),
                message: format!(
                    "the server redirected to another origin ({location}); the redirect was not followed, so the credential was not sent there"
                ),
                retry_after: None,
            };
        }
        let body = transport::read_body(response, 64 * 1024, self.config().idle_timeout)
            .await
            .unwrap_or_default();
        error_from_reply(
            status,
            response.headers(),
            &body,
            self.client.server.credential_help(),
        )
    }

    /// Handles one incoming message; returns the outcome if it answers request `id`.
    fn dispatch(
        self: &Arc<Self>,
        route: &Route,
        id: u64,
        message: Incoming,
    ) -> Option<Result<Value>> {
        match message {
            Incoming::Response { id: got, outcome } => {
                if got.as_u64() == Some(id) {
                    Some(outcome.and_then(check_result_type))
                } else {
                    tracing::debug!(?got, "ignoring a response to another request");
                    None
                }
            }
            Incoming::Notification { method, params } => {
                let _ = self
                    .notifications
                    .send(ServerNotification { method, params });
                None
            }
            Incoming::Request { id, method, params } => {
                self.answer_server_request(route, id, &method, params);
                None
            }
        }
    }

    /// Reads an SSE reply until the response to `id` arrives, resuming a dropped stream with
    /// GET + `Last-Event-ID` when the server gave event ids.
    async fn read_stream(
        self: &Arc<Self>,
        route: &Route,
        id: u64,
        mut response: reqwest::Response,
    ) -> Result<Value> {
        let config = self.config();
        let mut parser = SseParser::new(config.max_event_bytes);
        let mut events = Vec::new();
        let mut resumptions = 0u32;
        loop {
            let read = loop {
                match transport::next_chunk(&mut response, config.idle_timeout).await {
                    Ok(Some(chunk)) => {
                        parser.feed(&chunk, &mut events)?;
                        for event in events.drain(..) {
                            if event.data.trim().is_empty() {
                                continue; // a priming event: only its id matters
                            }
                            resumptions = 0;
                            for message in jsonrpc::parse_event_data(&event.data)? {
                                if let Some(outcome) = self.dispatch(route, id, message) {
                                    return outcome;
                                }
                            }
                        }
                    }
                    Ok(None) => break None,
                    Err(err @ Error::Transport { .. }) => break Some(err),
                    Err(err) => return Err(err),
                }
            };
            // The stream ended (or broke) before the response.
            let Some(last_id) = parser.last_event_id().map(str::to_owned) else {
                return Err(read.unwrap_or_else(|| {
                    Error::transport(
                        "the server closed the stream before sending the response",
                        None,
                    )
                }));
            };
            if self.version.is_stateless() || resumptions >= config.max_resumptions {
                return Err(read.unwrap_or_else(|| {
                    Error::transport("the response stream ended and could not be resumed", None)
                }));
            }
            resumptions += 1;
            parser.reset_partial();
            let delay = parser.retry().unwrap_or(config.default_reconnect_delay);
            tokio::time::sleep(delay.clamp(MIN_RECONNECT_DELAY, Duration::from_secs(30))).await;
            response = self.resume(route, &last_id).await?;
        }
    }

    /// GET with `Last-Event-ID` to continue a stream.
    async fn resume(&self, route: &Route, last_event_id: &str) -> Result<reqwest::Response> {
        let last = HeaderValue::from_str(last_event_id).map_err(|_| {
            Error::protocol("the server's SSE event id cannot be sent back in a header")
        })?;
        let response = self
            .stream_request(route, Some(last))
            .send()
            .await
            .map_err(transport::map_reqwest_error)?;
        let mut response = self.same_origin(response)?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND && route.session_id.is_some() {
            // The request was accepted on the lost session: replaying it could repeat its effect.
            return Err(Error::SessionExpired);
        }
        if !status.is_success() {
            return Err(self.error_reply(status, &mut response).await);
        }
        if !transport::is_event_stream(response.headers()) {
            return Err(Error::protocol(
                "the server answered the stream resumption without an event stream",
            ));
        }
        Ok(response)
    }

    /// Answers a request the server sent: `ping` gets an empty result, anything else "method not
    /// found" (this client declares no sampling, elicitation or roots capability).
    fn answer_server_request(
        self: &Arc<Self>,
        route: &Route,
        id: Value,
        method: &str,
        _params: Value,
    ) {
        if self.version.is_stateless() {
            return; // the stateless era has no server-to-client requests on a stream
        }
        let outcome = if method == "ping" {
            Ok(json!({}))
        } else {
            Err((
                -32601,
                "Method not found: this client offers no such capability",
            ))
        };
        let body = Bytes::from(jsonrpc::response_bytes(&id, outcome));
        let this = self.clone();
        let route = route.clone();
        tokio::spawn(async move {
            if let Err(err) = this.post_message(&route, body).await {
                tracing::debug!(error = %this.scrub(err), "could not answer a server request");
            }
        });
    }

    /// POSTs a notification or a response (no result expected: 202).
    async fn post_message(&self, route: &Route, body: Bytes) -> Result<()> {
        let exchange = async {
            let response = self
                .send_post(self.headers(route, ACCEPT_POST), body)
                .await?;
            self.expect_success(response).await.map(drop)
        };
        tokio::time::timeout(self.config().request_timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(Error::timeout("no answer to a notification")))
    }

    /// POSTs `body` with `headers` plus `Content-Type: application/json`.
    async fn send_post(
        &self,
        mut headers: http::HeaderMap,
        body: Bytes,
    ) -> Result<reqwest::Response> {
        headers.insert(http::header::CONTENT_TYPE, CONTENT_JSON);
        let response = self
            .client
            .http
            .post(self.client.server.endpoint().clone())
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(transport::map_reqwest_error)?;
        self.same_origin(response)
    }

    /// Refuses a reply that a caller-supplied HTTP client fetched from another origin after a
    /// redirect (this crate's own client never follows one).
    fn same_origin(&self, response: reqwest::Response) -> Result<reqwest::Response> {
        let endpoint = self.client.server.endpoint();
        if response.url().origin() == endpoint.origin() {
            Ok(response)
        } else {
            Err(Error::config(format!(
                "the reply came from another origin ({}) after a redirect and was refused; build the HTTP client given to McpClientBuilder::http_client with a redirect policy that stays within the origin (or none)",
                response.url().origin().ascii_serialization()
            )))
        }
    }

    /// The reply if it is a success, else the error it means.
    async fn expect_success(&self, mut response: reqwest::Response) -> Result<reqwest::Response> {
        let status = response.status();
        if status.is_success() {
            Ok(response)
        } else {
            Err(self.error_reply(status, &mut response).await)
        }
    }

    async fn notify(
        self: &Arc<Self>,
        method: &str,
        params: Option<Map<String, Value>>,
    ) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        if self.version.is_stateless() {
            return Err(Error::config(
                "the 2026-07-28 protocol has no client notifications to send",
            ));
        }
        let body = Bytes::from(jsonrpc::notification_bytes(method, params.as_ref()));
        self.post_message(&self.route(), body)
            .await
            .map_err(|err| self.scrub(err))
    }

    /// The session-era handshake: `initialize` offering `version`. Returns the session id, the
    /// server's details and the version the server chose.
    async fn handshake(
        &self,
        version: ProtocolVersion,
    ) -> Result<(Option<HeaderValue>, ServerDetails, ProtocolVersion)> {
        let info = &self.config().client_info;
        let params = json!({
            "protocolVersion": version.as_str(),
            "capabilities": {},
            "clientInfo": {"name": info.name, "version": info.version},
        });
        let body = Bytes::from(jsonrpc::request_bytes(
            0,
            "initialize",
            params.as_object().expect("object"),
        ));
        let headers = self.headers(
            &Route {
                session_id: None,
                generation: 0,
                send_version: false,
            },
            ACCEPT_POST,
        );
        let limit = self.config().request_timeout;
        let exchange = async {
            let response = self.send_post(headers, body).await?;
            let response = self.expect_success(response).await?;
            let session_id = response.headers().get(transport::SESSION_ID).cloned();
            if let Some(id) = &session_id {
                if id.is_empty() || !id.as_bytes().iter().all(|b| (0x21..0x7f).contains(b)) {
                    return Err(Error::protocol(
                        "the server's Mcp-Session-Id is not visible ASCII",
                    ));
                }
            }
            let result = self.read_initialize_reply(response).await?;
            Ok((session_id, result))
        };
        let (session_id, result) = tokio::time::timeout(limit, exchange)
            .await
            .unwrap_or_else(|_| Err(Error::timeout("no answer to initialize")))
            .map_err(|err| self.scrub(err))?;
        let chosen = result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::protocol("the initialize result has no protocolVersion"))?;
        let chosen = ProtocolVersion::parse(chosen)
            .filter(|v| !v.is_stateless())
            .ok_or_else(|| {
                Error::protocol(format!(
                    "the server chose protocol version {:?}, which this client does not speak",
                    chosen.chars().take(32).collect::<String>()
                ))
            })?;
        let details: ServerDetails = serde_json::from_value(result)
            .map_err(|err| Error::protocol(format!("malformed initialize result: {err}")))?;
        Ok((session_id, details, chosen))
    }

    async fn read_initialize_reply(&self, mut response: reqwest::Response) -> Result<Value> {
        let config = self.config();
        let messages: Vec<Incoming> = if transport::is_event_stream(response.headers()) {
            let mut parser = SseParser::new(config.max_event_bytes);
            let mut events = Vec::new();
            let mut found = Vec::new();
            'read: while let Some(chunk) =
                transport::next_chunk(&mut response, config.idle_timeout).await?
            {
                parser.feed(&chunk, &mut events)?;
                for event in events.drain(..) {
                    if event.data.trim().is_empty() {
                        continue;
                    }
                    for message in jsonrpc::parse_event_data(&event.data)? {
                        let done = matches!(message, Incoming::Response { .. });
                        found.push(message);
                        if done {
                            break 'read;
                        }
                    }
                }
            }
            found
        } else {
            let bytes =
                transport::read_body(&mut response, config.max_body_bytes, config.idle_timeout)
                    .await?;
            let value: Value = serde_json::from_slice(&bytes)
                .map_err(|err| Error::protocol(format!("the reply is not valid JSON: {err}")))?;
            jsonrpc::parse_messages(value)?
        };
        for message in messages {
            if let Incoming::Response { id, outcome } = message {
                if id.as_u64() == Some(0) {
                    return outcome;
                }
            }
        }
        Err(Error::protocol("the server sent no response to initialize"))
    }

    async fn send_initialized(self: &Arc<Self>) -> Result<()> {
        let body = Bytes::from(jsonrpc::notification_bytes(
            "notifications/initialized",
            None,
        ));
        self.post_message(&self.route(), body)
            .await
            .map_err(|err| self.scrub(err))
    }

    /// Re-runs the handshake after the server forgot the session (at most once per generation,
    /// however many requests noticed).
    async fn reestablish(self: &Arc<Self>, seen_generation: u64) -> Result<()> {
        let _guard = self.reinit.lock().await;
        if self.route().generation != seen_generation {
            return Ok(()); // another request already did it
        }
        let (session_id, details, chosen) =
            self.handshake(self.version)
                .await
                .map_err(|err| match err {
                    Error::Unauthorized { .. }
                    | Error::Forbidden { .. }
                    | Error::RateLimited { .. }
                    | Error::Timeout { .. }
                    | Error::Transport { .. } => err,
                    _ => Error::SessionExpired,
                })?;
        if chosen != self.version {
            return Err(Error::SessionExpired);
        }
        // Finish the handshake on the new session before other requests may use it.
        let fresh = Route {
            session_id: session_id.clone(),
            generation: seen_generation + 1,
            send_version: self.route().send_version,
        };
        let initialized = Bytes::from(jsonrpc::notification_bytes(
            "notifications/initialized",
            None,
        ));
        if let Err(err) = self.post_message(&fresh, initialized).await {
            // Do not leave the half-opened session behind on the server.
            let _ =
                tokio::time::timeout(self.config().request_timeout, self.send_delete(&fresh)).await;
            return Err(self.scrub(err));
        }
        if self.closed.load(Ordering::Acquire) {
            // `close()` ran meanwhile and ended the old session: end this one too.
            let _ =
                tokio::time::timeout(self.config().request_timeout, self.send_delete(&fresh)).await;
            return Err(Error::Closed);
        }
        {
            let mut guard = self.session_id.write().unwrap_or_else(|p| p.into_inner());
            *guard = (session_id, seen_generation + 1);
        }
        *self.details.write().unwrap_or_else(|p| p.into_inner()) = details;
        // The GET stream ended with the old session (its listener stops on the 404): follow the
        // new session for those already reading `notifications()`.
        let listening = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        if listening && self.notifications.receiver_count() > 0 {
            SessionInner::ensure_listener(self);
        }
        Ok(())
    }

    async fn delete_session(&self) -> Result<()> {
        let route = self.route();
        if self.version.is_stateless() || route.session_id.is_none() {
            return Ok(());
        }
        tokio::time::timeout(self.config().request_timeout, self.send_delete(&route))
            .await
            .unwrap_or_else(|_| Err(Error::timeout("no answer to the DELETE ending the session")))
    }

    async fn send_delete(&self, route: &Route) -> Result<()> {
        let response = self
            .delete_request(route)
            .send()
            .await
            .map_err(transport::map_reqwest_error)?;
        let mut response = self.same_origin(response)?;
        let status = response.status();
        if status.is_success()
            || status == StatusCode::METHOD_NOT_ALLOWED
            || status == StatusCode::NOT_FOUND
        {
            return Ok(());
        }
        Err(self.scrub(self.error_reply(status, &mut response).await))
    }

    /// A GET opening the session's event stream, resuming after `last_event_id` if given.
    fn stream_request(
        &self,
        route: &Route,
        last_event_id: Option<HeaderValue>,
    ) -> reqwest::RequestBuilder {
        let mut headers = self.headers(route, ACCEPT_STREAM);
        if let Some(id) = last_event_id {
            headers.insert(HeaderName::from_static(transport::LAST_EVENT_ID), id);
        }
        self.client
            .http
            .get(self.client.server.endpoint().clone())
            .headers(headers)
    }

    /// A DELETE ending the session `route` names.
    fn delete_request(&self, route: &Route) -> reqwest::RequestBuilder {
        self.client
            .http
            .delete(self.client.server.endpoint().clone())
            .headers(self.headers(route, ACCEPT_POST))
    }

    /// Whether the standing stream may stop because nobody listens. Decided under the listener
    /// lock, so a `notifications()` call racing with the stop either is seen here or starts a new
    /// listener.
    fn listener_may_stop(&self) -> bool {
        let mut listener = self.listener.lock().unwrap_or_else(|p| p.into_inner());
        if self.notifications.receiver_count() == 0 {
            *listener = None;
            true
        } else {
            false
        }
    }

    /// Forgets the listener task (it is ending), so a later `notifications()` may start another.
    fn forget_listener(&self) {
        *self.listener.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The 2026-07-28 `subscriptions/listen` request: its SSE response is the stream of
    /// list-changed notifications (there is no GET stream in that era).
    fn listen_request(&self, route: &Route) -> reqwest::RequestBuilder {
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
    fn ensure_listener(this: &Arc<Self>) {
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
        *listener = Some(runtime.spawn(listen(weak)));
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
async fn listen(weak: Weak<SessionInner>) {
    let mut last_event_id: Option<String> = None;
    let mut generation: Option<u64> = None;
    let mut failures = 0u32;
    let mut empty_streams = 0u32;
    loop {
        let Some(session) = weak.upgrade() else {
            return;
        };
        if session.closed.load(Ordering::Acquire) || session.listener_may_stop() {
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
        let answer = match tokio::time::timeout(config.idle_timeout, request).await {
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
                                Incoming::Response { .. } => {
                                    tracing::debug!("the server ended the notification stream");
                                    session.forget_listener();
                                    return;
                                }
                                Incoming::Notification { method, .. }
                                    if method == "notifications/subscriptions/acknowledged" => {}
                                _ => delivered = true,
                            }
                            session.dispatch(&route, 0, message);
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
                        session.forget_listener();
                    }
                    return;
                }
                failures += 1;
            }
            Err(Error::InvalidConfig { message }) => {
                tracing::warn!(%message, "notification stream refused");
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
        if self.closed.load(Ordering::Acquire) || self.version.is_stateless() {
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

/// The shortest wait before reopening a stream, whatever `retry:` the server asks for.
const MIN_RECONNECT_DELAY: Duration = Duration::from_millis(50);

/// Sends `notifications/cancelled` when a request's future is dropped before its answer.
struct CancelOnDrop {
    session: Weak<SessionInner>,
    id: AtomicU64,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Some(session) = self.session.upgrade() else {
            return;
        };
        if session.closed.load(Ordering::Acquire) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let params = json!({"requestId": self.id.load(Ordering::Relaxed), "reason": "the client cancelled the request"});
        let body = Bytes::from(jsonrpc::notification_bytes(
            "notifications/cancelled",
            params.as_object(),
        ));
        runtime.spawn(async move {
            let route = session.route();
            let _ =
                tokio::time::timeout(Duration::from_secs(5), session.post_message(&route, body))
                    .await;
        });
    }
}

/// The `Mcp-Name` of a stateless request: the tool or prompt name, or the resource URI.
fn routing_name(method: &str, params: &Map<String, Value>) -> Option<HeaderValue> {
    let key = match method {
        "tools/call" | "prompts/get" => "name",
        "resources/read" => "uri",
        _ => return None,
    };
    params
        .get(key)
        .and_then(Value::as_str)
        .map(transport::routing_header_value)
}

/// Refuses a result whose `resultType` (2026-07-28) asks for input this client cannot give or is
/// unknown; a result without one (every earlier version) is complete.
fn check_result_type(result: Value) -> Result<Value> {
    match result.get("resultType") {
        None => Ok(result),
        Some(Value::String(kind)) if kind == "complete" => Ok(result),
        Some(Value::String(kind)) if kind == "input_required" => Err(Error::protocol(
            "the server needs more input from the user (resultType input_required), which this client does not support",
        )),
        Some(other) => Err(Error::protocol(format!(
            "unknown resultType {:.40}",
            other.to_string()
        ))),
    }
}

/// Exponential backoff with jitter: base × 2^attempt × [0.5, 1.5).
fn backoff(base: Duration, attempt: u32) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = 0.5 + f64::from(nanos % 1000) / 1000.0;
    base.mul_f64(f64::from(1u32 << attempt.min(10)) * jitter)
}

/// The stream [`Session::notifications`] returns.
pub struct NotificationStream {
    inner: futures_util::stream::BoxStream<'static, ServerNotification>,
}

impl NotificationStream {
    fn new(receiver: broadcast::Receiver<ServerNotification>) -> Self {
        let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(notification) => return Some((notification, receiver)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        NotificationStream {
            inner: Box::pin(stream),
        }
    }
}

impl fmt::Debug for NotificationStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NotificationStream")
    }
}

impl futures_util::Stream for NotificationStream {
    type Item = ServerNotification;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

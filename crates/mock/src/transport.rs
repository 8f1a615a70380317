//! The HTTP side: the axum router, the checks every request goes through (credential, Host,
//! content negotiation, body size), fault injection, recording, and reply framing.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use serde_json::Value;

use super::dispatch::Handled;
use super::faults::{self, Fault};
use super::jsonrpc::{self, RpcError, INVALID_REQUEST, PARSE_ERROR};
use super::options::{is_session_version, Eras, ResponseMode};
use super::record::RecordedRequest;
use super::sse::{self, Ending, StreamStore};
use super::state::{lock, Shared};
use super::users::UserProfile;
use super::{session, stateless};

pub(crate) const MCP_SESSION_ID: &str = "mcp-session-id";
pub(crate) const MCP_PROTOCOL_VERSION: &str = "mcp-protocol-version";
pub(crate) const MCP_METHOD: &str = "mcp-method";
pub(crate) const MCP_NAME: &str = "mcp-name";
pub(crate) const LAST_EVENT_ID: &str = "last-event-id";

/// The router: `/mcp` and a recording 404 for every other path.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/mcp", any(mcp))
        .fallback(fallback)
        .with_state(shared)
}

/// The request being recorded.
pub(crate) struct Recording {
    pub(crate) request: RecordedRequest,
    pushed: bool,
}

fn header_string(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

impl Recording {
    fn new(method: &Method, path: &str, headers: &HeaderMap) -> Self {
        Recording {
            request: RecordedRequest {
                seq: 0,
                http_method: method.as_str().to_owned(),
                path: path.to_owned(),
                jsonrpc_methods: Vec::new(),
                session_id: header_string(headers, MCP_SESSION_ID),
                protocol_version: header_string(headers, MCP_PROTOCOL_VERSION),
                mcp_method: header_string(headers, MCP_METHOD),
                mcp_name: header_string(headers, MCP_NAME),
                last_event_id: header_string(headers, LAST_EVENT_ID),
                accept: header_string(headers, header::ACCEPT.as_str()),
                user_agent: header_string(headers, header::USER_AGENT.as_str()),
                auth_present: false,
                auth_matched: false,
                user_id: None,
                status: None,
                fault: None,
            },
            pushed: false,
        }
    }

    /// Records the request now, before it is answered (a hang).
    pub(crate) fn push_unanswered(&mut self, shared: &Shared) {
        shared.recorder.push(self.request.clone());
        self.pushed = true;
    }

    fn finish(mut self, shared: &Shared, status: StatusCode) {
        if !self.pushed {
            self.request.status = Some(status.as_u16());
            shared.recorder.push(self.request);
        }
    }
}

async fn fallback(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut recording = Recording::new(&method, uri.path(), &headers);
    let outcome = shared.directory.authenticate(&headers);
    recording.request.auth_present = outcome.present;
    recording.request.auth_matched = outcome.user.is_some();
    recording.request.user_id = outcome.user.map(|u| u.id.clone());
    let response = text_response(StatusCode::NOT_FOUND, "Not Found");
    recording.finish(&shared, response.status());
    response
}

async fn mcp(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut recording = Recording::new(&method, uri.path(), &headers);
    let response = match method {
        Method::POST => post(&shared, &headers, body, &mut recording).await,
        Method::GET => match precheck(&shared, &headers, &mut recording) {
            Ok(user) => session::get(&shared, &headers, &user),
            Err(response) => *response,
        },
        Method::DELETE => match precheck(&shared, &headers, &mut recording) {
            Ok(user) => session::delete(&shared, &headers, &user),
            Err(response) => *response,
        },
        _ => {
            let mut response = rpc_error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                &Value::Null,
                &RpcError::new(INVALID_REQUEST, "Method Not Allowed"),
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, POST, DELETE"));
            response
        }
    };
    recording.finish(&shared, response.status());
    response
}

/// The credential check (401 with PagerDuty's body) and the DNS-rebinding check (421).
fn precheck(
    shared: &Shared,
    headers: &HeaderMap,
    recording: &mut Recording,
) -> Result<Arc<UserProfile>, Box<Response>> {
    let outcome = shared.directory.authenticate(headers);
    recording.request.auth_present = outcome.present;
    let Some(user) = outcome.user else {
        return Err(Box::new(unauthorized()));
    };
    recording.request.auth_matched = true;
    recording.request.user_id = Some(user.id.clone());
    if !host_is_loopback(headers) {
        return Err(Box::new(text_response(
            StatusCode::MISDIRECTED_REQUEST,
            "Invalid Host header",
        )));
    }
    Ok(user)
}

fn unauthorized() -> Response {
    let mut response = Response::new(Body::from(
        r#"{"error":{"message":"Authentication failed","code":2006}}"#,
    ));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn host_is_loopback(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return true;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    matches!(name, "127.0.0.1" | "localhost" | "::1")
}

/// Whether the `Accept` header admits `media` (exactly or through a wildcard).
pub(crate) fn accepts(headers: &HeaderMap, media: &str) -> bool {
    let (kind, _) = media.split_once('/').unwrap_or((media, ""));
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|range| {
            range
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .any(|range| range == media || range == "*/*" || range == format!("{kind}/*"))
}

pub(crate) fn text_response(status: StatusCode, text: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

pub(crate) fn empty_response(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut response = Response::new(Body::from(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub(crate) fn rpc_error_response(status: StatusCode, id: &Value, error: &RpcError) -> Response {
    json_response(status, &error.to_value(id))
}

/// The single-valued header `name` as text.
pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn body_methods(value: &Value) -> Vec<String> {
    let one = |v: &Value| v.get("method").and_then(Value::as_str).map(str::to_owned);
    match value {
        Value::Array(items) => items.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}

async fn post(
    shared: &Shared,
    headers: &HeaderMap,
    body: Body,
    recording: &mut Recording,
) -> Response {
    let user = match precheck(shared, headers, recording) {
        Ok(user) => user,
        Err(response) => return *response,
    };
    let json_content = header_str(headers, header::CONTENT_TYPE.as_str()).is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    });
    if !json_content {
        return text_response(StatusCode::BAD_REQUEST, "Invalid Content-Type header");
    }
    let version = header_str(headers, MCP_PROTOCOL_VERSION);
    let stateless = match shared.config.eras {
        Eras::SessionOnly => false,
        Eras::StatelessOnly => true,
        _ => version.is_some_and(|v| !is_session_version(v)),
    };
    if !(accepts(headers, "application/json") && accepts(headers, "text/event-stream")) {
        return if stateless {
            empty_response(StatusCode::NOT_ACCEPTABLE)
        } else {
            rpc_error_response(
                StatusCode::NOT_ACCEPTABLE,
                &session::error_id(shared),
                &RpcError::new(
                    INVALID_REQUEST,
                    "Not Acceptable: Client must accept both application/json and text/event-stream",
                ),
            )
        };
    }
    let bytes = match axum::body::to_bytes(body, shared.config.max_body).await {
        Ok(bytes) => bytes,
        Err(_) => return text_response(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large"),
    };
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(value) => value,
        Err(err) => {
            return rpc_error_response(
                StatusCode::BAD_REQUEST,
                &Value::Null,
                &RpcError::new(PARSE_ERROR, format!("Parse error: {err}")),
            )
        }
    };
    recording.request.jsonrpc_methods = body_methods(&value);
    if value.is_array() {
        let message = if stateless {
            "Body must be a single JSON-RPC request or notification object"
        } else {
            "Batch requests are not supported"
        };
        return rpc_error_response(
            StatusCode::BAD_REQUEST,
            &Value::Null,
            &RpcError::new(INVALID_REQUEST, message),
        );
    }
    let id = jsonrpc::id_of(&value);
    let message = match jsonrpc::classify(value) {
        Ok(message) => message,
        Err(error) => return rpc_error_response(StatusCode::BAD_REQUEST, &id, &error),
    };
    let mut drop_sse = false;
    if message.is_request() {
        if let Some(fault) = shared.faults.take() {
            recording.request.fault = Some(fault.name());
            match fault {
                Fault::Fail(status) => return faults::fail_response(status),
                Fault::RateLimit(after) => return faults::rate_limit_response(after),
                Fault::Redirect(location) => return faults::redirect_response(&location),
                Fault::Malformed => return faults::malformed_response(),
                Fault::Oversized(size) => return faults::oversized_response(&id, size),
                Fault::Hang => {
                    recording.push_unanswered(shared);
                    let mut shutdown = shared.shutdown.clone();
                    tokio::select! {
                        _ = shutdown.wait_for(|stop| *stop) => {}
                        _ = tokio::time::sleep(shared.config.hang_for) => {}
                    }
                    return faults::fail_response(StatusCode::GATEWAY_TIMEOUT);
                }
                Fault::DropSse => drop_sse = true,
            }
        }
    }
    if stateless {
        stateless::post(shared, headers, &user, message, drop_sse)
    } else {
        session::post(shared, headers, &user, message, drop_sse)
    }
}

/// How to frame an SSE reply.
pub(crate) struct SseOptions<'a> {
    /// The session whose resumable stream the events go to (ids on events); `None` in the
    /// stateless era (no ids).
    pub(crate) session_id: Option<&'a str>,
    /// Whether to start with a priming event (2025-11-25 and later).
    pub(crate) priming: bool,
    /// Whether to cut the stream mid-event (fault injection).
    pub(crate) drop: bool,
}

/// Frames a handled request as JSON or SSE.
pub(crate) fn reply(
    shared: &Shared,
    handled: Handled,
    status: StatusCode,
    options: SseOptions<'_>,
) -> Response {
    let sse = status == StatusCode::OK
        && (shared.config.mode == ResponseMode::Sse || handled.stream || options.drop);
    if !sse {
        let body = serde_json::to_vec(&handled.response).unwrap_or_default();
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return response;
    }
    let mut chunks: Vec<Bytes> = Vec::new();
    match options.session_id {
        Some(session_id) => {
            let mut store = lock(&shared.streams);
            let stream = store.open(session_id);
            if options.priming || options.drop {
                chunks.push(sse::priming_event(
                    &StreamStore::priming_id(stream),
                    shared.config.sse_retry.as_millis() as u64,
                ));
            }
            if handled.stream {
                chunks.push(sse::comment("ping"));
            }
            let first_data = chunks.len();
            for message in handled.notifications.iter().chain([&handled.response]) {
                if let Some(event) = store.append(stream, message) {
                    chunks.push(event);
                }
            }
            store.finish(stream);
            drop(store);
            if options.drop {
                return cut(chunks, first_data, shared);
            }
        }
        None => {
            if handled.stream {
                chunks.push(sse::comment("ping"));
            }
            let first_data = chunks.len();
            for message in handled.notifications.iter().chain([&handled.response]) {
                chunks.push(sse::data_event(None, message));
            }
            if options.drop {
                return cut(chunks, first_data, shared);
            }
        }
    }
    sse::sse_response(chunks, Ending::Complete, shared.shutdown.clone())
}

/// Keeps the first half of the data events, then half of the next one, then cuts the stream.
fn cut(mut chunks: Vec<Bytes>, first_data: usize, shared: &Shared) -> Response {
    let data_events = chunks.len() - first_data;
    let keep = first_data + data_events / 2;
    let partial = chunks
        .get(keep)
        .map(|event| event.slice(..event.len() / 2))
        .unwrap_or_default();
    chunks.truncate(keep);
    sse::sse_response(chunks, Ending::Cut(partial), shared.shutdown.clone())
}

/// Adds the `Mcp-Session-Id` header.
pub(crate) fn with_session_header(mut response: Response, session_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(session_id) {
        response.headers_mut().insert(MCP_SESSION_ID, value);
    }
    response
}

/// A JSON-RPC error reply whose body has no usable id.
pub(crate) fn bad_request(message: &str, id: &Value) -> Response {
    rpc_error_response(
        StatusCode::BAD_REQUEST,
        id,
        &RpcError::new(INVALID_REQUEST, message),
    )
}

//! The pieces of an HTTP reply both eras build: the MCP header names, content negotiation, JSON
//! and JSON-RPC error replies, and replies as SSE (with priming, keep-alives and injected cuts).
//! At the bottom of the mock's transport: `transport` routes to `session` and `stateless`, which
//! answer with these.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::Value;

use super::dispatch::Handled;
use super::jsonrpc::{INVALID_REQUEST, RpcError};
use super::options::ResponseMode;
use super::sse::{self, Ending, StreamStore};
use super::state::{Shared, lock};

pub(crate) const MCP_SESSION_ID: &str = "mcp-session-id";
pub(crate) const MCP_PROTOCOL_VERSION: &str = "mcp-protocol-version";
pub(crate) const MCP_METHOD: &str = "mcp-method";
pub(crate) const MCP_NAME: &str = "mcp-name";
pub(crate) const LAST_EVENT_ID: &str = "last-event-id";

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

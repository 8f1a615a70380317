//! The direct path: a plain `tools/call` (the request agents send most) answered by the gateway
//! itself, in the HTTP handler that received it, instead of through rmcp's service.
//!
//! rmcp hands every request through its session worker (session era) or a per-request service
//! (2026-07-28), and then a task per request, and writes the reply as an SSE stream in pieces.
//! Measured in `benches/gateway_hop.rs`, a session-era call through rmcp cost 1.29–1.35× a
//! minimal pass-through proxy (issue 14 asks for 1.2×); on the direct path 1.17–1.18×.
//!
//! Only requests whose answer is a single JSON-RPC response go this way, parsed with rmcp's own
//! model and answered with rmcp's own result handling, so that the agent sees what rmcp would
//! have sent (as `application/json`, which every agent must accept). Everything else goes to
//! rmcp untouched: other methods, batches, progress tokens, `Mcp-Param-*` headers (checked
//! against the body first, like every 2026-07-28 `tools/call`'s routing headers, whichever path
//! serves it: [`param_headers`](super::param_headers)), a resumed
//! `input_required` round, session-era agents that declared elicitation or sampling (the
//! upstream may ask them on the request's stream), uninitialized sessions, missing, repeated or
//! mismatched routing headers, a browser's request (with an `Origin`, already checked at the
//! [front](super::front) like every request), `Accept` with parameters, a request id already in
//! flight on the session. (`Host` and `Origin` are checked at the front for both paths; a
//! session the gateway does not know never gets this far.) The same handler
//! code runs the call either way (policy, the user's session, metrics, the log line,
//! `input_required` parking for 2026-07-28 agents).
//!
//! A session-era agent cancels with `notifications/cancelled`: for a call of the same user on
//! the direct path the gateway cancels it here and the call's reply ends without a response (as
//! rmcp's would); the notification goes on to rmcp, which knows no such request and ignores it.
//! Ending a session (DELETE, the idle sweep) and shutting the gateway down end its calls too.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use rmcp::model::{
    CallToolRequestParams, ClientJsonRpcMessage, ClientNotification, ClientRequest, ErrorCode,
    GetMeta, ProtocolVersion, RequestId, ServerJsonRpcMessage, ServerResult,
};

use super::agent_sessions::Declared;
use super::bridge::capabilities_upstream;
use super::direct_calls::CallGuard;
use super::handler::{AgentRequest, GatewayHandler, declares_url_elicitation};
use super::param_headers;
use super::state::{GatewayState, SESSION_HEADER};
use pagerduty_mcp_connect::UserId;

/// The largest request body read (rmcp's own limit).
const MAX_BODY: usize = 4 * 1024 * 1024;

const VERSION_HEADER: &str = "mcp-protocol-version";

/// What became of a request offered to the direct path.
pub(crate) enum Offer {
    /// Answered here.
    Answered(Response),
    /// For rmcp (the body, if read, is put back).
    Declined(Request),
}

/// Offers an authenticated agent request to the direct path. A 2026-07-28 `tools/call`'s
/// routing headers are checked against its body first, whichever path serves it
/// ([`param_headers`]): a mismatch is answered here, and nothing goes upstream.
pub(crate) async fn offer(state: &Arc<GatewayState>, user: &UserId, request: Request) -> Offer {
    let checked = param_headers::applies(request.method(), request.headers());
    let direct = state.direct_path && is_plain_json_post(&request);
    if !checked && !direct {
        return Offer::Declined(request);
    }
    let (parts, body) = request.into_parts();
    let bytes = match read_body(body).await {
        Ok(bytes) => bytes,
        Err(response) => return Offer::Answered(response),
    };
    if checked
        && let Err(response) = param_headers::check(state, user, &parts.headers, &bytes).await
    {
        return Offer::Answered(response);
    }
    if !direct {
        return Offer::Declined(Request::from_parts(parts, Body::from(bytes)));
    }
    match plan(state, user, &parts.headers, &bytes).await {
        Some(call) => Offer::Answered(answer(state, user, call).await),
        None => Offer::Declined(Request::from_parts(parts, Body::from(bytes))),
    }
}

/// A `tools/call` the direct path takes.
struct DirectCall<'a> {
    id: RequestId,
    params: CallToolRequestParams,
    era: Era<'a>,
}

enum Era<'a> {
    /// On this initialized session, whose agent cannot be asked anything; registered in
    /// [`DirectCalls`] for as long as it runs.
    Session(String, CallGuard<'a>),
    /// 2026-07-28, with what the agent declared in the request's `_meta`.
    Stateless {
        elicitation: bool,
        /// Declared `elicitation.url`.
        elicitation_url: bool,
        sampling: bool,
        /// The declared capabilities as sent, declared upstream in the gateway's place.
        capabilities: serde_json::Value,
    },
}

/// The call the direct path takes from this request, if it is one; passes a session-era
/// `notifications/cancelled` on to a direct call of the same user.
async fn plan<'a>(
    state: &'a GatewayState,
    user: &UserId,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Option<DirectCall<'a>> {
    let message = serde_json::from_slice::<ClientJsonRpcMessage>(bytes).ok()?;
    let session = header_str(headers, SESSION_HEADER);
    let request = match message {
        ClientJsonRpcMessage::Request(request) => request,
        ClientJsonRpcMessage::Notification(notification) => {
            if let (Some(session), ClientNotification::CancelledNotification(cancelled)) =
                (session, &notification.notification)
                && let Some(id) = &cancelled.params.request_id
            {
                state.direct_calls.cancel(session, user, id);
            }
            return None;
        }
        _ => return None,
    };
    let ClientRequest::CallToolRequest(call) = &request.request else {
        return None;
    };
    let meta = request.request.get_meta();
    let plain = meta.get_progress_token().is_none()
        && meta.get("io.modelcontextprotocol/logLevel").is_none()
        && call.params.request_state.is_none()
        && call.params.input_responses.is_none()
        && standard_headers_match(headers, &call.params.name, session.is_none());
    let latest = ProtocolVersion::V_2026_07_28;
    let meta_version = meta.protocol_version();
    let header_version = header_str(headers, VERSION_HEADER);
    let fits = plain
        && match session {
            // Session era: an initialized session of this user whose agent cannot be asked
            // anything, rmcp still holding it, the header naming its version.
            Some(session) => {
                state
                    .agent_sessions
                    .declared(session, user)
                    .is_some_and(|declared| {
                        session_era_fits(&declared, header_version, meta_version.is_some())
                    })
                    && state.sessions.sessions.read().await.contains_key(session)
            }
            // 2026-07-28: the version in the header and in `_meta`, capabilities declared.
            None => {
                header_version == Some(latest.as_str())
                    && meta_version.as_ref() == Some(&latest)
                    && meta.missing_required_keys(&latest).is_empty()
            }
        };
    if !fits {
        return None;
    }
    let era = match session {
        // A call under the same id already in flight on the session is left to rmcp.
        Some(session) => Era::Session(
            session.to_owned(),
            state
                .direct_calls
                .register(session, user, &request.id, &state.cancel)?,
        ),
        None => {
            let capabilities = meta.client_capabilities();
            Era::Stateless {
                elicitation: capabilities
                    .as_ref()
                    .is_some_and(|c| c.elicitation.is_some()),
                elicitation_url: declares_url_elicitation(capabilities.as_ref()),
                sampling: capabilities.as_ref().is_some_and(|c| c.sampling.is_some()),
                capabilities: capabilities_upstream(capabilities.as_ref()),
            }
        }
    };
    let ClientRequest::CallToolRequest(call) = request.request else {
        return None;
    };
    Some(DirectCall {
        id: request.id,
        params: call.params,
        era,
    })
}

/// Runs a direct call and writes its reply.
async fn answer(state: &Arc<GatewayState>, user: &UserId, call: DirectCall<'_>) -> Response {
    let DirectCall { id, params, era } = call;
    let handler = GatewayHandler::new(state.clone());
    let (cancelled, elicitation, elicitation_url, sampling, capabilities) = match &era {
        Era::Session(_, guard) => (guard.token.clone(), false, false, false, None),
        // Going away is dropping this future; 2026-07-28 has no cancel notification.
        Era::Stateless {
            elicitation,
            elicitation_url,
            sampling,
            capabilities,
        } => (
            state.cancel.child_token(),
            *elicitation,
            *elicitation_url,
            *sampling,
            Some(capabilities.clone()),
        ),
    };
    let stateless_agent = capabilities.is_some();
    let agent = AgentRequest {
        user: user.clone(),
        elicitation,
        elicitation_url,
        sampling,
        // Only a 2026-07-28 agent can be asked, in an input_required round passed on as it is.
        roots: capabilities
            .as_ref()
            .is_some_and(|c| c.get("roots").is_some()),
        stateless_agent,
        capabilities,
        // (The direct path takes no request with a log level: those go through rmcp.)
        log_level: None,
        progress: None,
        peer: None,
        cancelled,
        asked: None,
    };
    state.metrics.record_direct();
    let response = handler.forward_call_tool(agent, params).await;
    if let Era::Session(session, guard) = &era {
        if guard.token.is_cancelled() {
            // The agent cancelled (or the gateway is shutting down): no response for a
            // cancelled request, as rmcp does, only the end of an empty stream.
            return empty_stream();
        }
        state.agent_sessions.touch(session);
    }
    reply(response.map(ServerResult::from), id, stateless_agent)
}

/// A POST of JSON that accepts both JSON and SSE replies (what rmcp requires; it answers the
/// rest), with no media parameters in `Accept` (`q=0` means "not that") and no `Origin` (a
/// browser's request, rare: rmcp serves it; its origin was checked at the front).
fn is_plain_json_post(request: &Request) -> bool {
    let headers = request.headers();
    if request.method() != Method::POST || headers.contains_key(header::ORIGIN) {
        return false;
    }
    let content_type = header_str(headers, header::CONTENT_TYPE.as_str()).map(essence);
    if !content_type.is_some_and(|c| c.eq_ignore_ascii_case("application/json")) {
        return false;
    }
    let (mut json, mut sse) = (false, false);
    for accept in headers.get_all(header::ACCEPT) {
        let Ok(accept) = accept.to_str() else {
            return false;
        };
        for media in accept.split(',') {
            if media.contains(';') {
                return false;
            }
            let media = media.trim();
            json |= media.eq_ignore_ascii_case("application/json");
            sse |= media.eq_ignore_ascii_case("text/event-stream");
        }
    }
    json && sse
}

/// The request body, at most rmcp's limit (4 MiB; over it: 413, as rmcp answers).
async fn read_body(body: Body) -> Result<Bytes, Response> {
    use http_body::Body as _;
    let mut body = std::pin::pin!(body);
    let mut collected = bytes::BytesMut::new();
    while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let Ok(frame) = frame else {
            return Err((
                StatusCode::BAD_REQUEST,
                "Bad Request: the request body could not be read",
            )
                .into_response());
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if data.len() > MAX_BODY - collected.len() {
            return Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Payload Too Large: request body exceeds {MAX_BODY} bytes"),
            )
                .into_response());
        }
        collected.extend_from_slice(&data);
    }
    Ok(collected.freeze())
}

/// The end of a reply without a response (a cancelled request gets none).
fn empty_stream() -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        )],
        "",
    )
        .into_response()
}

/// `Mcp-Method` and `Mcp-Name` name this `tools/call` exactly, once each; a 2026-07-28 agent
/// (`required`) must send them. Anything else (a base64-encoded name, a repeated header, any
/// `Mcp-Param-*` header) is left to rmcp's validation.
fn standard_headers_match(headers: &HeaderMap, name: &str, required: bool) -> bool {
    if headers
        .keys()
        .any(|key| key.as_str().starts_with("mcp-param-"))
    {
        return false;
    }
    let fits = |header: &str, expected: &[u8]| {
        let mut values = headers.get_all(header).iter();
        match (values.next(), values.next()) {
            (None, _) => !required,
            (Some(value), None) => value.as_bytes() == expected,
            (Some(_), Some(_)) => false,
        }
    };
    fits("mcp-method", b"tools/call") && fits("mcp-name", name.as_bytes())
}

/// A session-era request the direct path can answer: the agent cannot be asked anything, the
/// header names the session's version, and the request does not negotiate its own.
fn session_era_fits(declared: &Declared, header_version: Option<&str>, per_request: bool) -> bool {
    !declared.elicitation
        && !declared.sampling
        && !per_request
        && header_version == Some(declared.version.as_str())
        && declared.version.as_str() < ProtocolVersion::V_2026_07_28.as_str()
}

/// The JSON-RPC response, shaped as rmcp's own handler shapes it for the agent's era.
fn reply(
    result: Result<ServerResult, rmcp::ErrorData>,
    id: RequestId,
    stateless_agent: bool,
) -> Response {
    let (message, status) = match result {
        Ok(mut result) => {
            if stateless_agent {
                result.fill_missing_cache_hints();
            } else {
                result.strip_result_type_for_legacy_peer();
                result.strip_non_object_output_for_legacy_peer();
            }
            (ServerJsonRpcMessage::response(result, id), StatusCode::OK)
        }
        Err(mut error) => {
            let status = if stateless_agent {
                if error.code == ErrorCode::RESOURCE_NOT_FOUND {
                    error.code = ErrorCode::INVALID_PARAMS;
                }
                http_status(error.code)
            } else {
                StatusCode::OK
            };
            (ServerJsonRpcMessage::error(error, Some(id)), status)
        }
    };
    match serde_json::to_vec(&message) {
        Ok(body) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The HTTP status rmcp gives a 2026-07-28 error reply.
fn http_status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::UNSUPPORTED_PROTOCOL_VERSION
        | ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
        | ErrorCode::HEADER_MISMATCH => StatusCode::BAD_REQUEST,
        ErrorCode::METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// A media type without its parameters.
fn essence(media: &str) -> &str {
    media
        .split_once(';')
        .map_or(media, |(essence, _)| essence)
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(version: &str, elicitation: bool) -> Declared {
        Declared {
            version: version.into(),
            elicitation,
            sampling: false,
        }
    }

    #[test]
    fn session_era_requests_that_fit() {
        let plain = declared("2025-11-25", false);
        assert!(session_era_fits(&plain, Some("2025-11-25"), false));
        assert!(!session_era_fits(&plain, None, false), "no version header");
        assert!(!session_era_fits(&plain, Some("2025-06-18"), false));
        assert!(!session_era_fits(&plain, Some("2025-11-25"), true));
        assert!(!session_era_fits(
            &declared("2025-11-25", true),
            Some("2025-11-25"),
            false
        ));
    }

    #[test]
    fn standard_headers_must_name_the_call() {
        let mut headers = HeaderMap::new();
        assert!(standard_headers_match(&headers, "list_incidents", false));
        assert!(!standard_headers_match(&headers, "list_incidents", true));
        headers.insert("mcp-method", HeaderValue::from_static("tools/call"));
        assert!(!standard_headers_match(&headers, "list_incidents", true));
        headers.insert("mcp-name", HeaderValue::from_static("list_incidents"));
        assert!(standard_headers_match(&headers, "list_incidents", true));
        assert!(!standard_headers_match(&headers, "get_user_data", true));
        let mut twice = headers.clone();
        twice.append("mcp-name", HeaderValue::from_static("list_incidents"));
        assert!(!standard_headers_match(&twice, "list_incidents", true));
        headers.insert("mcp-param-region", HeaderValue::from_static("eu"));
        assert!(!standard_headers_match(&headers, "list_incidents", true));
    }

    #[test]
    fn the_meta_of_a_parsed_call_is_readable() {
        let message: ClientJsonRpcMessage = serde_json::from_value(serde_json::json!({
            "jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": "t", "arguments": {}, "_meta": {
                "progressToken": 3,
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            }},
        }))
        .unwrap();
        let ClientJsonRpcMessage::Request(request) = message else {
            panic!("a request")
        };
        let meta = request.request.get_meta();
        assert!(meta.get_progress_token().is_some());
        assert_eq!(meta.protocol_version(), Some(ProtocolVersion::V_2026_07_28));
    }
}

//! The session era (`2024-11-05` … `2025-11-25`): `initialize`, `Mcp-Session-Id`, the standalone
//! GET stream, resumption with `Last-Event-ID`, DELETE.

use std::sync::Arc;

use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use super::dispatch::{self, Ctx, Handled};
use super::jsonrpc::{INVALID_REQUEST, Incoming, RpcError};
use super::options::{Eras, LATEST_SESSION_VERSION, SESSION_VERSIONS, is_session_version};
use super::replies::{
    self as replies, LAST_EVENT_ID, MCP_PROTOCOL_VERSION, MCP_SESSION_ID, SseOptions, accepts,
    bad_request, empty_response, header_str, reply, rpc_error_response, with_session_header,
};
use super::sse::{self, Ending, ResumeError, StreamStore};
use super::state::{Session, Shared, lock};
use super::users::UserProfile;

/// The `id` of transport-level error bodies: `"server-error"` like the 1.x Python SDK when only
/// the session era is served, `null` like 2.3.0 otherwise.
pub(crate) fn error_id(shared: &Shared) -> Value {
    if shared.config.eras == Eras::SessionOnly {
        Value::String("server-error".into())
    } else {
        Value::Null
    }
}

fn missing_session(shared: &Shared) -> Response {
    bad_request("Bad Request: Missing session ID", &error_id(shared))
}

fn session_not_found(shared: &Shared) -> Response {
    rpc_error_response(
        StatusCode::NOT_FOUND,
        &error_id(shared),
        &RpcError::new(INVALID_REQUEST, "Session not found"),
    )
}

fn resumable(version: &str) -> bool {
    version >= "2025-11-25"
}

/// The session a request names, if it exists and belongs to `user`.
fn find_session(
    shared: &Shared,
    headers: &HeaderMap,
    user: &UserProfile,
) -> Result<(String, Session), Box<Response>> {
    let Some(session_id) = header_str(headers, MCP_SESSION_ID) else {
        return Err(Box::new(missing_session(shared)));
    };
    let sessions = lock(&shared.sessions);
    match sessions.get(session_id) {
        // A session is bound to the user who opened it: another user's credential gets the same
        // answer as an unknown id.
        Some(session) if session.user_id == user.id => Ok((session_id.to_owned(), session.clone())),
        _ => Err(Box::new(session_not_found(shared))),
    }
}

fn check_version_header(shared: &Shared, headers: &HeaderMap) -> Result<(), Box<Response>> {
    match header_str(headers, MCP_PROTOCOL_VERSION) {
        Some(version) if !is_session_version(version) => {
            let message = format!(
                "Bad Request: Unsupported protocol version: {version}. Supported versions: {}",
                SESSION_VERSIONS.join(", ")
            );
            Err(Box::new(bad_request(&message, &error_id(shared))))
        }
        _ => Ok(()),
    }
}

/// A POST in the session era.
pub(crate) fn post(
    shared: &Shared,
    headers: &HeaderMap,
    user: &Arc<UserProfile>,
    message: Incoming,
    drop: bool,
) -> Response {
    if let Incoming::Request { id, method, params } = &message
        && method == "initialize"
    {
        return initialize(shared, user, id, params, drop);
    }
    let (session_id, session) = match find_session(shared, headers, user) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    if let Err(response) = check_version_header(shared, headers) {
        return *response;
    }
    let response = match message {
        Incoming::Notification { method, .. } => {
            if method == "notifications/initialized"
                && let Some(s) = lock(&shared.sessions).get_mut(&session_id)
            {
                s.initialized = true;
            }
            accepted()
        }
        Incoming::Response => accepted(),
        Incoming::Request { id, method, params } => {
            let handled = match method.as_str() {
                "ping" => Handled::ok(&id, json!({})),
                "logging/setLevel" => set_level(shared, &session_id, &id, &params),
                other => {
                    let ctx = Ctx::session(user.clone(), session.log_level.as_deref());
                    dispatch::dispatch(shared, &ctx, &id, other, &params)
                        .unwrap_or_else(|| Handled::err(&id, RpcError::method_not_found(other)))
                }
            };
            reply(
                shared,
                handled,
                StatusCode::OK,
                SseOptions {
                    session_id: Some(&session_id),
                    priming: resumable(&session.version),
                    drop,
                },
            )
        }
    };
    with_session_header(response, &session_id)
}

fn accepted() -> Response {
    let mut response = empty_response(StatusCode::ACCEPTED);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn set_level(shared: &Shared, session_id: &str, id: &Value, params: &Value) -> Handled {
    match params.get("level").and_then(Value::as_str) {
        Some(level) if dispatch::is_level(level) => {
            if let Some(s) = lock(&shared.sessions).get_mut(session_id) {
                s.log_level = Some(level.to_owned());
            }
            Handled::ok(id, json!({}))
        }
        _ => Handled::err(
            id,
            RpcError::invalid_params(
                "`level` must be one of debug, info, notice, warning, error, critical, alert, emergency",
            ),
        ),
    }
}

fn initialize(
    shared: &Shared,
    user: &Arc<UserProfile>,
    id: &Value,
    params: &Value,
    drop: bool,
) -> Response {
    let Some(requested) = params.get("protocolVersion").and_then(Value::as_str) else {
        return reply(
            shared,
            Handled::err(id, RpcError::invalid_params("Missing `protocolVersion`")),
            StatusCode::OK,
            SseOptions {
                session_id: None,
                priming: false,
                drop: false,
            },
        );
    };
    let version = if is_session_version(requested) {
        requested
    } else {
        LATEST_SESSION_VERSION
    };
    let session_id = shared.new_session_id();
    lock(&shared.sessions).insert(
        session_id.clone(),
        Session {
            user_id: user.id.clone(),
            version: version.to_owned(),
            initialized: false,
            log_level: None,
            standalone: None,
        },
    );
    let result = json!({
        "protocolVersion": version,
        "capabilities": {
            "tools": { "listChanged": true },
            "resources": { "subscribe": false, "listChanged": false },
            "prompts": { "listChanged": false },
            "completions": {},
            "logging": {},
        },
        "serverInfo": dispatch::server_info(),
        "instructions": dispatch::INSTRUCTIONS,
    });
    let response = reply(
        shared,
        Handled::ok(id, result),
        StatusCode::OK,
        SseOptions {
            session_id: Some(&session_id),
            priming: resumable(version),
            drop,
        },
    );
    with_session_header(response, &session_id)
}

fn stateless_request(shared: &Shared, headers: &HeaderMap) -> bool {
    match shared.config.eras {
        Eras::StatelessOnly => true,
        Eras::SessionOnly => false,
        _ => header_str(headers, MCP_PROTOCOL_VERSION).is_some_and(|v| !is_session_version(v)),
    }
}

fn method_not_allowed() -> Response {
    let mut response = empty_response(StatusCode::METHOD_NOT_ALLOWED);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

/// A GET: the standalone stream, or a resumption with `Last-Event-ID`.
pub(crate) fn get(shared: &Shared, headers: &HeaderMap, user: &Arc<UserProfile>) -> Response {
    if stateless_request(shared, headers) {
        return method_not_allowed();
    }
    if !accepts(headers, "text/event-stream") {
        return rpc_error_response(
            StatusCode::NOT_ACCEPTABLE,
            &error_id(shared),
            &RpcError::new(
                INVALID_REQUEST,
                "Not Acceptable: Client must accept text/event-stream",
            ),
        );
    }
    let (session_id, session) = match find_session(shared, headers, user) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    if let Err(response) = check_version_header(shared, headers) {
        return *response;
    }
    if let Some(last) = header_str(headers, LAST_EVENT_ID) {
        let resumed = lock(&shared.streams).resume(last, &session_id);
        let response = match resumed {
            Ok(resumed) => {
                let ending = resumed.live.map_or(Ending::Complete, Ending::Live);
                sse::sse_response(resumed.replay, ending, shared.shutdown.clone())
            }
            Err(ResumeError::OtherSession) => session_not_found(shared),
            Err(ResumeError::UnknownEvent) => {
                bad_request("Bad Request: unknown Last-Event-ID", &error_id(shared))
            }
        };
        return with_session_header(response, &session_id);
    }
    // The standalone stream: one per session; a new GET replaces the previous reader.
    let (stream, live) = {
        let mut sessions = lock(&shared.sessions);
        let mut streams = lock(&shared.streams);
        let existing = sessions.get(&session_id).and_then(|s| s.standalone);
        let stream = existing.unwrap_or_else(|| streams.open(&session_id));
        if let Some(s) = sessions.get_mut(&session_id) {
            s.standalone = Some(stream);
        }
        let live = streams.attach(stream).or_else(|| {
            // Forgotten (evicted): open a fresh one.
            let stream = streams.open(&session_id);
            if let Some(s) = sessions.get_mut(&session_id) {
                s.standalone = Some(stream);
            }
            streams.attach(stream)
        });
        (stream, live)
    };
    let Some(live) = live else {
        return replies::text_response(StatusCode::INTERNAL_SERVER_ERROR, "stream unavailable");
    };
    let mut chunks = Vec::new();
    if resumable(&session.version) {
        chunks.push(sse::priming_event(
            &StreamStore::priming_id(stream),
            shared.config.sse_retry.as_millis() as u64,
        ));
    }
    let response = sse::sse_response(chunks, Ending::Live(live), shared.shutdown.clone());
    with_session_header(response, &session_id)
}

/// A DELETE: ends the session.
pub(crate) fn delete(shared: &Shared, headers: &HeaderMap, user: &Arc<UserProfile>) -> Response {
    if stateless_request(shared, headers) {
        return method_not_allowed();
    }
    let (session_id, _) = match find_session(shared, headers, user) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    lock(&shared.sessions).remove(&session_id);
    shared.forget_sessions(&[session_id]);
    empty_response(StatusCode::OK)
}

/// Sends a notification on every open standalone stream; returns how many sessions have one.
pub(crate) fn notify_all(shared: &Shared, message: &Value) -> usize {
    let sessions = lock(&shared.sessions);
    let mut streams = lock(&shared.streams);
    let mut reached = 0;
    for session in sessions.values() {
        if let Some(stream) = session.standalone
            && streams.append(stream, message).is_some()
        {
            reached += 1;
        }
    }
    reached
}

/// Forgets every session (their next request gets 404) and ends their streams.
pub(crate) fn expire_all(shared: &Shared) -> usize {
    let ids: Vec<String> = lock(&shared.sessions).drain().map(|(id, _)| id).collect();
    shared.forget_sessions(&ids);
    ids.len()
}

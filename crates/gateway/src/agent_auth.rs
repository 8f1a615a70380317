//! The agent's side of the door: the front checks (`Host`, `Origin`), `Authorization: Bearer
//! <gateway key or OAuth access token>` → the user, the user's limits, and session-era sessions bound to the user who
//! opened them, all checked before anything reaches the MCP service; then a 2026-07-28
//! `tools/call`'s routing headers ([`param_headers`](super::param_headers), with the direct
//! path).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};

use super::direct::{self, Offer};
use super::limits::OverLimit;
use super::oauth::challenge;
use super::param_headers;
use super::state::{AgentUser, GatewayState, SESSION_HEADER};

/// The JSON-RPC error code of a request refused at the door (no key, unknown key, no such
/// session, shutting down).
pub(crate) const REFUSED_CODE: i32 = -32001;
/// The JSON-RPC error code of a request over the user's limits.
pub(crate) const OVER_LIMIT_CODE: i32 = -32029;

/// What an agent is told when its gateway key is missing or unknown.
const MISSING_KEY: &str = "Unauthorized: this gateway needs your gateway key on every request, as the HTTP header \
     `Authorization: Bearer <gateway key>`. Ask the gateway's operator for your key, and set the \
     header in your MCP client's configuration. (This gateway does not offer OAuth sign-in.)";
const UNKNOWN_KEY: &str = "Unauthorized: unknown gateway key. Check the key your MCP client sends as the HTTP header \
     `Authorization: Bearer <gateway key>`, or ask the gateway's operator for a new one. (This \
     gateway does not offer OAuth sign-in.)";
/// What an agent is told for a session that does not exist, is not its user's, or has ended.
const NO_SESSION: &str =
    "Session not found: it has ended or never existed; start a new session with `initialize`";

/// The axum middleware in front of the MCP service.
pub(crate) async fn authenticate(
    State(state): State<Arc<GatewayState>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Err(refused) = state.front.check(request.headers()) {
        state.metrics.record_rejection(refused.reason());
        return refused.response();
    }
    if state.drain.is_shutting_down() {
        state.metrics.record_rejection("shutting_down");
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the gateway is shutting down; retry shortly",
        );
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_key);
    let Some(bearer) = presented else {
        if let Some(oauth) = &state.oauth {
            state.metrics.record_rejection("missing_credential");
            return challenge::missing(oauth);
        }
        state.metrics.record_rejection("missing_key");
        return unauthorized(MISSING_KEY);
    };
    // A known gateway key first (a digest lookup: see `GatewayKeys`); any other bearer is an
    // OAuth access token when OAuth is on.
    let user = match (state.keys.user_for(bearer), &state.oauth) {
        (Some(user), _) => user,
        (None, Some(oauth)) => match oauth.validate(bearer).await {
            Ok(token) => token.user,
            Err(refused) => {
                state.metrics.record_rejection(refused.reason());
                // The reason, never the token.
                tracing::info!(reason = refused.reason(), error = %refused, "refused an agent's access token");
                return challenge::refused(oauth, &refused);
            }
        },
        (None, None) => {
            state.metrics.record_rejection("unknown_key");
            return unauthorized(UNKNOWN_KEY);
        }
    };
    let session = match request.headers().get(SESSION_HEADER) {
        None => None,
        Some(value) => match value.to_str() {
            Ok(session) => Some(session.to_owned()),
            Err(_) => {
                state.metrics.record_rejection("unknown_session");
                return session_not_found();
            }
        },
    };
    if let Some(session) = &session {
        // A session this user opened through this gateway, or nothing: another user's session
        // and one the gateway never bound get the same answer as one that does not exist.
        match state.agent_sessions.owner(session) {
            Some(owner) if owner == user => state.agent_sessions.touch(session),
            Some(_) => {
                state.metrics.record_rejection("foreign_session");
                tracing::warn!(user = %user, "an agent presented a session opened by another user");
                return session_not_found();
            }
            None => {
                state.metrics.record_rejection("unknown_session");
                return session_not_found();
            }
        }
    }
    let is_delete = request.method() == Method::DELETE;
    // A call is in flight until its reply has been sent in full. Standing streams (GET, and
    // 2026-07-28 `subscriptions/listen`) are not calls: shutdown ends them.
    let is_call = request.method() == Method::POST
        && request
            .headers()
            .get("mcp-method")
            .is_none_or(|m| m.as_bytes() != b"subscriptions/listen");
    let user_permit = match state.limiter.admit(&user, is_call) {
        Ok(permit) => permit,
        Err(over) => {
            state.metrics.record_rejection(match over {
                OverLimit::Rate { .. } => "rate_limited",
                OverLimit::InFlight { .. } => "too_many_in_flight",
            });
            return too_many_requests(over);
        }
    };
    let in_flight = is_call.then(|| state.drain.enter());
    request
        .extensions_mut()
        .insert(AgentUser::new(user.clone()));
    // The gateway key or access token has done its job: nothing behind this point (rmcp keeps
    // the request's parts in every handler's context) can log or forward it; the upstream gets
    // the user's own credential (the MCP authorization specification forbids passing the
    // token through).
    request.headers_mut().remove(header::AUTHORIZATION);
    state.start_session_sweeper();
    let lists_tools = param_headers::lists_tools(request.headers());
    let mut response = match direct::offer(&state, &user, request).await {
        Offer::Answered(response) => response,
        Offer::Declined(request) => next.run(request).await,
    };
    if lists_tools {
        // What the agent is told of its tools' `x-mcp-header` declarations, its calls' routing
        // headers are checked against.
        response = param_headers::learn(&state, &user, response).await;
    }
    if let Some(session) = &session
        && response.status() == StatusCode::NOT_FOUND
        && !is_json(&response)
    {
        // rmcp no longer holds it (ended, or swept): the gateway forgets it too, and answers
        // as it does for any session it does not know.
        state.agent_sessions.unbind(session);
        state.direct_calls.cancel_session(session);
        return session_not_found();
    }
    if in_flight.is_some() || user_permit.is_some() {
        let guards = (in_flight, user_permit);
        response = response.map(|body| Body::new(super::drain::GuardedBody::new(body, guards)));
    }
    match (&session, is_delete) {
        (Some(session), true) if response.status().is_success() => {
            state.agent_sessions.unbind(session);
            state.direct_calls.cancel_session(session);
            // rmcp answers 202 Accepted; a DELETE that did what it was asked is 200 OK (the
            // official Python SDK client reports anything else as a failed termination).
            if response.status() == StatusCode::ACCEPTED {
                *response.status_mut() = StatusCode::OK;
            }
        }
        (None, _) => {
            if let Some(opened) = response
                .headers()
                .get(SESSION_HEADER)
                .and_then(|v| v.to_str().ok())
            {
                state.agent_sessions.bind(opened.to_owned(), user);
                state.prune_agent_sessions();
            }
        }
        _ => {}
    }
    response
}

/// Whether a reply is JSON (rmcp's "no such session" is plain text).
fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|c| c.as_bytes().starts_with(b"application/json"))
}

/// The key of `Bearer <key>` (the scheme word in any case).
fn bearer_key(value: &str) -> Option<&str> {
    let (scheme, key) = value.split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

/// 401 for a missing or unknown key, without OAuth. No `WWW-Authenticate: Bearer …` challenge:
/// it would send OAuth-capable clients (MCP Inspector, mcp-remote) into OAuth discovery, which
/// this gateway then does not offer; the body says what to do instead. (With OAuth, the
/// answers are [`challenge`]'s.)
fn unauthorized(message: &str) -> Response {
    refuse(StatusCode::UNAUTHORIZED, message)
}

/// The one answer for a session that does not exist, is another user's, was never opened
/// through this gateway, or has ended: the same status, headers and body in every case.
pub(crate) fn session_not_found() -> Response {
    refuse(StatusCode::NOT_FOUND, NO_SESSION)
}

/// 429 with `Retry-After` for a user over a limit.
fn too_many_requests(over: OverLimit) -> Response {
    let seconds = over.retry_after().max(Duration::from_secs(1)).as_secs();
    let message = match over {
        OverLimit::Rate { .. } => format!(
            "Too many requests: you are over this gateway's per-user request rate; retry after {seconds} s"
        ),
        OverLimit::InFlight { .. } => format!(
            "Too many requests: too many of your calls are in flight at once; wait for one to finish, or retry after {seconds} s"
        ),
    };
    let mut response = json_rpc_error(StatusCode::TOO_MANY_REQUESTS, OVER_LIMIT_CODE, &message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

fn refuse(status: StatusCode, message: &str) -> Response {
    json_rpc_error(status, REFUSED_CODE, message)
}

/// An HTTP error reply whose body is a JSON-RPC error response (no request id: the request
/// was not read).
pub(crate) fn json_rpc_error(status: StatusCode, code: i32, message: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": code, "message": message },
    });
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Body::from(body.to_string()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_keys() {
        assert_eq!(bearer_key("Bearer abc"), Some("abc"));
        assert_eq!(bearer_key("bearer  abc "), Some("abc"));
        assert_eq!(bearer_key("Token abc"), None);
        assert_eq!(bearer_key("Bearer "), None);
        assert_eq!(bearer_key("Bearer"), None);
    }
}

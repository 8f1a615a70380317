//! The agent's side of the door: `Authorization: Bearer <gateway key>` → the user, checked before
//! anything reaches the MCP service, and session-era sessions bound to the user who opened them.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};

use super::direct::{self, Offer};
use super::state::{AgentUser, GatewayState, SESSION_HEADER};

/// The axum middleware in front of the MCP service.
pub(crate) async fn authenticate(
    State(state): State<Arc<GatewayState>>,
    mut request: Request,
    next: Next,
) -> Response {
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
    let Some(key) = presented else {
        state.metrics.record_rejection("missing_key");
        return unauthorized(
            "this gateway needs `Authorization: Bearer <gateway key>`: ask the gateway's admin for your key",
        );
    };
    let Some(user) = state.keys.user_for(key) else {
        state.metrics.record_rejection("unknown_key");
        return unauthorized(
            "unknown gateway key: check the key your MCP client sends, or ask the gateway's admin for a new one",
        );
    };
    let session = request
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(session) = &session
        && let Some(owner) = state.agent_sessions.owner(session)
    {
        if owner != user {
            state.metrics.record_rejection("foreign_session");
            tracing::warn!(user = %user, "an agent presented a session opened by another user");
            // The same answer as for a session that does not exist: nothing to learn.
            return refuse(StatusCode::NOT_FOUND, "Session not found");
        }
        state.agent_sessions.touch(session);
    }
    let is_delete = request.method() == Method::DELETE;
    // A call is in flight until its reply has been sent in full. Standing streams (GET, and
    // 2026-07-28 `subscriptions/listen`) are not calls: shutdown ends them.
    let is_call = request.method() == Method::POST
        && request
            .headers()
            .get("mcp-method")
            .is_none_or(|m| m.as_bytes() != b"subscriptions/listen");
    let in_flight = is_call.then(|| state.drain.enter());
    request
        .extensions_mut()
        .insert(AgentUser::new(user.clone()));
    // The gateway key has done its job: nothing behind this point (rmcp keeps the request's
    // parts in every handler's context) can log or forward it.
    request.headers_mut().remove(header::AUTHORIZATION);
    state.start_session_sweeper();
    let mut response = match direct::offer(&state, &user, request).await {
        Offer::Answered(response) => response,
        Offer::Declined(request) => next.run(request).await,
    };
    if let Some(in_flight) = in_flight {
        response = response.map(|body| Body::new(super::drain::GuardedBody::new(body, in_flight)));
    }
    match (&session, is_delete) {
        (Some(session), true) if response.status().is_success() => {
            state.agent_sessions.unbind(session);
            state.direct_calls.cancel_session(session);
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

/// The key of `Bearer <key>` (the scheme word in any case).
fn bearer_key(value: &str) -> Option<&str> {
    let (scheme, key) = value.split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

fn unauthorized(message: &str) -> Response {
    let mut response = refuse(StatusCode::UNAUTHORIZED, message);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"mcp-gateway\""),
    );
    response
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "error": { "code": -32001, "message": message },
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

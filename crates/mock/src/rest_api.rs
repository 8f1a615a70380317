//! PagerDuty's REST API as far as a token check needs it: `GET /users/me` with
//! `Authorization: Token token=<token>` (PagerDuty's REST form) and PagerDuty's `Accept`
//! header, answered for the mock's own users, so that a token check (the core's
//! `TokenVerifier` with this mock as its API URL) and a gateway's connect page work against the
//! mock as against PagerDuty.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode, Uri, header};
use serde_json::json;

use super::state::Shared;
use super::transport::Recording;

/// The `Accept` value PagerDuty's REST API v2 expects.
const PAGERDUTY_ACCEPT: &str = "application/vnd.pagerduty+json;version=2";

/// `GET /users/me`: the user whose token the request carries, PagerDuty's way; 401 with
/// PagerDuty's error body otherwise.
pub(crate) async fn users_me(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut recording = Recording::new(&method, uri.path(), &headers);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Token token="));
    let user = token.and_then(|token| shared.directory.user_by_token(token));
    recording.request.auth_present = token.is_some();
    recording.request.auth_matched = user.is_some();
    recording.request.user_id = user.as_ref().map(|u| u.id.clone());
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let response = if accept != PAGERDUTY_ACCEPT {
        (
            StatusCode::NOT_ACCEPTABLE,
            axum::Json(json!({"error": {"message": format!("Accept must be {PAGERDUTY_ACCEPT}"), "code": 2001}})),
        )
            .into_response()
    } else {
        match user {
            Some(user) => axum::Json(json!({
                "user": {
                    "id": user.id,
                    "type": "user",
                    "name": user.name,
                    "email": user.email,
                    "role": user.role,
                    "time_zone": "Etc/UTC",
                }
            }))
            .into_response(),
            None => (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": {"message": "Unauthorized", "code": 2006}})),
            )
                .into_response(),
        }
    };
    recording.finish(&shared, response.status());
    response
}

//! The HTTP side: the axum router, the checks every request goes through (credential, Host,
//! content negotiation, body size), fault injection, recording, and reply framing.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::any;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use serde_json::Value;

use super::faults::{self, Fault};
use super::jsonrpc::{self, INVALID_REQUEST, PARSE_ERROR, RpcError};
use super::options::{Eras, is_session_version};
use super::record::RecordedRequest;
use super::replies::{
    LAST_EVENT_ID, MCP_METHOD, MCP_NAME, MCP_PROTOCOL_VERSION, MCP_SESSION_ID, accepts,
    empty_response, header_str, rpc_error_response, text_response,
};
use super::state::Shared;
use super::users::UserProfile;
use super::{session, stateless};
use pagerduty_mcp_connect::AuthScheme;

/// The router: `/mcp`, the REST API's `GET /users/me` (for token checks), and a recording 404
/// for every other path.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/mcp", any(mcp))
        .route("/users/me", axum::routing::get(super::rest_api::users_me))
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
    pub(crate) fn new(method: &Method, path: &str, headers: &HeaderMap) -> Self {
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

    pub(crate) fn finish(mut self, shared: &Shared, status: StatusCode) {
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
        return Err(Box::new(unauthorized(shared.directory.scheme())));
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

/// 401 with PagerDuty's body; a mock that takes `Bearer` credentials challenges for them, as
/// RFC 6750 has every Bearer server do (PagerDuty's own `Token` answers carry no challenge).
fn unauthorized(scheme: &AuthScheme) -> Response {
    let mut response = Response::new(Body::from(
        r#"{"error":{"message":"Authentication failed","code":2006}}"#,
    ));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if scheme.header_name() == header::AUTHORIZATION && scheme.prefix() == "Bearer " {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"mcp\""),
        );
    }
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
            );
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
    if message.is_request()
        && let Some(fault) = shared.faults.take()
    {
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
    if stateless {
        stateless::post(shared, headers, &user, message, drop_sse)
    } else {
        session::post(shared, headers, &user, message, drop_sse)
    }
}

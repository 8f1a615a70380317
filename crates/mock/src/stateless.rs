//! The stateless era (`2026-07-28`): no session; every request carries its protocol version,
//! method and name in headers and its client context in `params._meta`.

use std::sync::Arc;

use axum::response::Response;
use base64::Engine as _;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::dispatch::{self, Ctx, Handled};
use super::jsonrpc::{
    HEADER_MISMATCH, INVALID_PARAMS, INVALID_REQUEST, Incoming, METHOD_NOT_FOUND, PARSE_ERROR,
    RpcError, UNSUPPORTED_PROTOCOL_VERSION,
};
use super::options::{Eras, STATELESS_VERSION, is_session_version};
use super::replies::{
    MCP_METHOD, MCP_NAME, MCP_PROTOCOL_VERSION, SseOptions, header_str, reply, rpc_error_response,
};
use super::state::Shared;
use super::users::UserProfile;

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";

/// The HTTP status of a stateless JSON-RPC error, like the Python SDK 2.3.0.
fn status_for(code: Option<i64>) -> StatusCode {
    match code {
        Some(
            PARSE_ERROR
            | INVALID_REQUEST
            | INVALID_PARAMS
            | HEADER_MISMATCH
            | UNSUPPORTED_PROTOCOL_VERSION
            | -32021,
        ) => StatusCode::BAD_REQUEST,
        Some(METHOD_NOT_FOUND) => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    }
}

fn unsupported(id: &Value, requested: &str) -> Response {
    let error = RpcError::new(UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version")
        .with_data(json!({ "supported": [STATELESS_VERSION], "requested": requested }));
    rpc_error_response(StatusCode::BAD_REQUEST, id, &error)
}

fn mismatch(id: &Value, message: &str) -> Response {
    rpc_error_response(
        StatusCode::BAD_REQUEST,
        id,
        &RpcError::new(HEADER_MISMATCH, message),
    )
}

/// The one value of a routing header; `Err` when it is repeated or not text.
fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ()> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(());
    }
    first.to_str().map(Some).map_err(|_| ())
}

/// Decodes a `=?base64?…?=` header value (standard alphabet, padded); plain values pass as is.
pub(crate) fn decode_header_value(raw: &str) -> Option<String> {
    match raw
        .strip_prefix("=?base64?")
        .and_then(|inner| inner.strip_suffix("?="))
    {
        Some(inner) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(inner)
                .ok()?;
            String::from_utf8(bytes).ok()
        }
        None => Some(raw.to_owned()),
    }
}

/// A POST in the stateless era.
pub(crate) fn post(
    shared: &Shared,
    headers: &HeaderMap,
    user: &Arc<UserProfile>,
    message: Incoming,
    drop: bool,
) -> Response {
    let header_version = header_str(headers, MCP_PROTOCOL_VERSION);
    // A server that serves only this era answers any older request with the versions it has.
    if shared.config.eras == Eras::StatelessOnly && header_version.is_none_or(is_session_version) {
        let (id, requested) = match &message {
            Incoming::Request { id, params, .. } => (
                id.clone(),
                header_version
                    .or_else(|| params.get("protocolVersion").and_then(Value::as_str))
                    .unwrap_or("2025-03-26")
                    .to_owned(),
            ),
            _ => (
                Value::Null,
                header_version.unwrap_or("2025-03-26").to_owned(),
            ),
        };
        return unsupported(&id, &requested);
    }
    let (id, method, params) = match message {
        Incoming::Request { id, method, params } => (id, method, params),
        Incoming::Notification { .. } | Incoming::Response => {
            return match header_version {
                Some(STATELESS_VERSION) => super::replies::empty_response(StatusCode::ACCEPTED),
                other => unsupported(&Value::Null, other.unwrap_or("")),
            };
        }
    };
    // 1. The envelope.
    let meta = params.get("_meta").and_then(Value::as_object);
    let Some(meta) = meta else {
        return rpc_error_response(
            StatusCode::BAD_REQUEST,
            &id,
            &RpcError::invalid_params(format!(
                "params._meta must be an object carrying the required '{META_VERSION}' and '{META_CAPABILITIES}' envelope keys"
            )),
        );
    };
    let mut missing = Vec::new();
    let meta_version = meta.get(META_VERSION).and_then(Value::as_str);
    if meta_version.is_none() {
        missing.push(META_VERSION);
    }
    if !meta.get(META_CAPABILITIES).is_some_and(Value::is_object) {
        missing.push(META_CAPABILITIES);
    }
    let Some(meta_version) = meta_version.filter(|_| missing.is_empty()) else {
        return rpc_error_response(
            StatusCode::BAD_REQUEST,
            &id,
            &RpcError::invalid_params(format!(
                "params._meta is missing the required envelope key(s): {}",
                missing.join(", ")
            )),
        );
    };
    // 2. The routing headers.
    match single_header(headers, MCP_PROTOCOL_VERSION) {
        Ok(Some(v)) if v == meta_version => {}
        _ => {
            return mismatch(
                &id,
                "mcp-protocol-version header does not match the request envelope's protocol version",
            );
        }
    }
    match single_header(headers, MCP_METHOD) {
        Ok(Some(m)) if m == method => {}
        _ => {
            return mismatch(
                &id,
                "mcp-method header does not match the request body's method",
            );
        }
    }
    let name_key = match method.as_str() {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    };
    if let Some(key) = name_key
        && let Some(expected) = params.get(key).and_then(Value::as_str)
    {
        let decoded = match single_header(headers, MCP_NAME) {
            Ok(Some(raw)) => decode_header_value(raw),
            _ => None,
        };
        if decoded.as_deref() != Some(expected) {
            return mismatch(
                &id,
                &format!("mcp-name header does not match the request body's '{key}' parameter"),
            );
        }
    }
    // 3. The version.
    if meta_version != STATELESS_VERSION {
        return unsupported(&id, meta_version);
    }
    let log_level = meta.get(META_LOG_LEVEL).and_then(Value::as_str);
    let ctx = Ctx::stateless(user.clone(), log_level);
    let mut handled = match method.as_str() {
        "server/discover" => Handled::ok(
            &id,
            json!({
                "supportedVersions": [STATELESS_VERSION],
                "capabilities": {
                    "tools": { "listChanged": false },
                    "resources": { "subscribe": false, "listChanged": false },
                    "prompts": { "listChanged": false },
                    "completions": {},
                },
                "instructions": dispatch::INSTRUCTIONS,
            }),
        ),
        other => dispatch::dispatch(shared, &ctx, &id, other, &params).unwrap_or_else(|| {
            Handled::err(
                &id,
                RpcError::new(METHOD_NOT_FOUND, "Method not found").with_data(json!(other)),
            )
        }),
    };
    dispatch::decorate_stateless(&method, &mut handled.response);
    let status = status_for(handled.error_code);
    reply(
        shared,
        handled,
        status,
        SseOptions {
            session_id: None,
            priming: false,
            drop,
        },
    )
}

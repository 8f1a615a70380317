//! JSON-RPC 2.0 framing: error codes, replies, and the opaque pagination cursor.

use base64::Engine as _;
use serde_json::{Value, json};

pub(crate) const PARSE_ERROR: i64 = -32700;
pub(crate) const INVALID_REQUEST: i64 = -32600;
pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
pub(crate) const INVALID_PARAMS: i64 = -32602;
pub(crate) const RESOURCE_NOT_FOUND: i64 = -32002;
pub(crate) const HEADER_MISMATCH: i64 = -32020;
pub(crate) const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// A JSON-RPC error produced while handling a request.
#[derive(Debug, Clone)]
pub(crate) struct RpcError {
    pub(crate) code: i64,
    pub(crate) message: String,
    pub(crate) data: Option<Value>,
}

impl RpcError {
    pub(crate) fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub(crate) fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, message)
    }

    pub(crate) fn method_not_found(method: &str) -> Self {
        Self::new(METHOD_NOT_FOUND, format!("Method not found: {method}"))
    }

    pub(crate) fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    pub(crate) fn to_value(&self, id: &Value) -> Value {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        json!({ "jsonrpc": "2.0", "id": id, "error": error })
    }
}

/// A successful response.
pub(crate) fn result(id: &Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

/// A notification.
pub(crate) fn notification(method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "method": method, "params": params })
}

/// One incoming JSON-RPC message, classified.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A request: it has an `id` and a `method`.
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    /// A notification: a `method` without an `id`.
    Notification { method: String },
    /// A response to a server→client request (`result` or `error` with an `id`).
    Response,
}

impl Incoming {
    pub(crate) fn is_request(&self) -> bool {
        matches!(self, Incoming::Request { .. })
    }
}

/// Classifies one JSON value as a JSON-RPC message, or says why it is not one.
pub(crate) fn classify(value: Value) -> Result<Incoming, RpcError> {
    let Value::Object(mut object) = value else {
        return Err(RpcError::new(
            INVALID_REQUEST,
            "Invalid Request: a JSON-RPC message must be an object",
        ));
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(RpcError::new(
            INVALID_REQUEST,
            "Invalid Request: \"jsonrpc\" must be \"2.0\"",
        ));
    }
    let id = object.remove("id");
    if let Some(id) = &id
        && !(id.is_string() || id.is_i64() || id.is_u64())
    {
        return Err(RpcError::new(
            INVALID_REQUEST,
            "Invalid Request: \"id\" must be a string or an integer",
        ));
    }
    match object.remove("method") {
        Some(Value::String(method)) => {
            let params = object.remove("params").unwrap_or(Value::Null);
            if !(params.is_null() || params.is_object()) {
                return Err(RpcError::new(
                    INVALID_REQUEST,
                    "Invalid Request: \"params\" must be an object",
                ));
            }
            Ok(match id {
                Some(id) => Incoming::Request { id, method, params },
                None => Incoming::Notification { method },
            })
        }
        Some(_) => Err(RpcError::new(
            INVALID_REQUEST,
            "Invalid Request: \"method\" must be a string",
        )),
        None if id.is_some() && (object.contains_key("result") || object.contains_key("error")) => {
            Ok(Incoming::Response)
        }
        None => Err(RpcError::new(
            INVALID_REQUEST,
            "Invalid Request: no \"method\"",
        )),
    }
}

/// The id of a message for an error reply, when it has a usable one.
pub(crate) fn id_of(value: &Value) -> Value {
    match value.get("id") {
        Some(id) if id.is_string() || id.is_i64() || id.is_u64() => id.clone(),
        _ => Value::Null,
    }
}

const CURSOR_PREFIX: &str = "pdmock:";

/// An opaque cursor for the page starting at `offset` of the list `kind`.
pub(crate) fn encode_cursor(kind: &str, offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{CURSOR_PREFIX}{kind}:{offset}"))
}

/// Decodes a cursor made by [`encode_cursor`] for the same `kind`.
pub(crate) fn decode_cursor(kind: &str, cursor: &str) -> Result<usize, RpcError> {
    let invalid = || RpcError::invalid_params(format!("Invalid cursor for {kind}"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let rest = text
        .strip_prefix(CURSOR_PREFIX)
        .and_then(|r| r.strip_prefix(kind))
        .and_then(|r| r.strip_prefix(':'))
        .ok_or_else(invalid)?;
    rest.parse().map_err(|_| invalid())
}

/// One page of `items`: the items and the cursor of the next page.
pub(crate) fn paginate(
    kind: &str,
    items: Vec<Value>,
    params: &Value,
    page_size: Option<usize>,
) -> Result<(Vec<Value>, Option<String>), RpcError> {
    let offset = match params.get("cursor") {
        None | Some(Value::Null) => 0,
        Some(Value::String(cursor)) => decode_cursor(kind, cursor)?,
        Some(_) => return Err(RpcError::invalid_params("\"cursor\" must be a string")),
    };
    if offset > items.len() {
        return Err(RpcError::invalid_params(format!(
            "Invalid cursor for {kind}"
        )));
    }
    let size = page_size.unwrap_or(usize::MAX).max(1);
    let end = offset.saturating_add(size).min(items.len());
    let next = (end < items.len()).then(|| encode_cursor(kind, end));
    let page = items.into_iter().skip(offset).take(end - offset).collect();
    Ok((page, next))
}

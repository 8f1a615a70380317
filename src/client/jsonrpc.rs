//! JSON-RPC 2.0 messages as MCP uses them.

use serde_json::{Map, Value};

use super::handler::HandlerError;
use crate::error::Error;

/// A message received from the server.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A response (result or error) to the request with `id`.
    Response {
        id: Value,
        outcome: Result<Value, Error>,
    },
    /// A request the server sends to the client.
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    /// A notification.
    Notification { method: String, params: Value },
}

/// Splits a JSON value (one message, or a batch array of them) into messages.
pub(crate) fn parse_messages(value: Value) -> Result<Vec<Incoming>, Error> {
    match value {
        Value::Array(items) => items.into_iter().map(classify).collect(),
        other => Ok(vec![classify(other)?]),
    }
}

/// The messages in the `data` of one SSE event.
pub(crate) fn parse_event_data(data: &str) -> Result<Vec<Incoming>, Error> {
    let value: Value = serde_json::from_str(data)
        .map_err(|err| Error::protocol(format!("an SSE event is not valid JSON: {err}")))?;
    parse_messages(value)
}

/// Classifies one JSON-RPC message.
pub(crate) fn classify(value: Value) -> Result<Incoming, Error> {
    let Value::Object(mut object) = value else {
        return Err(Error::protocol("a JSON-RPC message is not a JSON object"));
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(Error::protocol(
            "a message lacks \"jsonrpc\": \"2.0\" and is not JSON-RPC 2.0",
        ));
    }
    let method = match object.remove("method") {
        Some(Value::String(method)) => Some(method),
        Some(_) => return Err(Error::protocol("a JSON-RPC method is not a string")),
        None => None,
    };
    let id = object.remove("id");
    match (method, id) {
        (Some(method), Some(id)) => Ok(Incoming::Request {
            id,
            method,
            params: object.remove("params").unwrap_or(Value::Null),
        }),
        (Some(method), None) => Ok(Incoming::Notification {
            method,
            params: object.remove("params").unwrap_or(Value::Null),
        }),
        (None, Some(id)) => {
            let outcome = if let Some(error) = object.remove("error") {
                Err(server_error(error))
            } else if let Some(result) = object.remove("result") {
                Ok(result)
            } else {
                return Err(Error::protocol(
                    "a JSON-RPC response has neither \"result\" nor \"error\"",
                ));
            };
            Ok(Incoming::Response { id, outcome })
        }
        (None, None) => Err(Error::protocol(
            "a JSON-RPC message has neither \"method\" nor \"id\"",
        )),
    }
}

/// Turns a JSON-RPC error object into [`Error::Server`].
pub(crate) fn server_error(error: Value) -> Error {
    let Value::Object(mut error) = error else {
        return Error::protocol("a JSON-RPC error is not an object");
    };
    let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
    let message = match error.remove("message") {
        Some(Value::String(message)) => message,
        _ => String::new(),
    };
    // The message is cleaned and bounded; the session redacts it and the data.
    crate::http_support::error_reply::json_rpc_error(code, &message, error.remove("data"))
}

/// Serialises a request.
pub(crate) fn request_bytes(id: u64, method: &str, params: &Map<String, Value>) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Request<'a> {
        jsonrpc: &'static str,
        id: u64,
        method: &'a str,
        params: &'a Map<String, Value>,
    }
    serde_json::to_vec(&Request {
        jsonrpc: "2.0",
        id,
        method,
        params,
    })
    .expect("a JSON map always serialises")
}

/// Serialises a notification.
pub(crate) fn notification_bytes(method: &str, params: Option<&Map<String, Value>>) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Notification<'a> {
        jsonrpc: &'static str,
        method: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        params: Option<&'a Map<String, Value>>,
    }
    serde_json::to_vec(&Notification {
        jsonrpc: "2.0",
        method,
        params,
    })
    .expect("a JSON map always serialises")
}

/// Serialises a response to a server request.
pub(crate) fn response_bytes(id: &Value, outcome: Result<&Value, &HandlerError>) -> Vec<u8> {
    let message = match outcome {
        Ok(result) => serde_json::json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(error) => {
            let mut body = serde_json::json!({"code": error.code(), "message": error.message()});
            if let Some(data) = error.data() {
                body["data"] = data.clone();
            }
            serde_json::json!({"jsonrpc": "2.0", "id": id, "error": body})
        }
    };
    serde_json::to_vec(&message).expect("JSON always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classifies_messages() {
        assert!(matches!(
            classify(json!({"jsonrpc":"2.0","id":1,"result":{}})).unwrap(),
            Incoming::Response { outcome: Ok(_), .. }
        ));
        let Incoming::Response {
            outcome: Err(Error::Server { code, message, .. }),
            ..
        } = classify(json!({"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"nope"}}))
            .unwrap()
        else {
            panic!("expected a server error");
        };
        assert_eq!((code, message.as_str()), (-32601, "nope"));
        assert!(matches!(
            classify(json!({"jsonrpc":"2.0","method":"notifications/progress","params":{}}))
                .unwrap(),
            Incoming::Notification { .. }
        ));
        assert!(matches!(
            classify(json!({"jsonrpc":"2.0","id":"a","method":"ping"})).unwrap(),
            Incoming::Request { .. }
        ));
        assert!(classify(json!([1])).is_err());
        assert!(classify(json!({"id":1,"result":{}})).is_err());
        assert!(classify(json!({"jsonrpc":"2.0","id":1})).is_err());
        assert_eq!(
            parse_messages(json!([{"jsonrpc":"2.0","method":"a"},{"jsonrpc":"2.0","method":"b"}]))
                .unwrap()
                .len(),
            2
        );
    }
}

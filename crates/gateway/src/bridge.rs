//! The one place where the client's model (this workspace's core: JSON as the upstream sent it,
//! or the core's typed [`Tool`]) crosses into rmcp's model (what rmcp's server sends the agent),
//! and back: results and tools to the agent, the agent's params to the upstream, the upstream's
//! server requests to the agent and the agent's answers back.
//!
//! Results cross once: the upstream's `result` arrives as JSON (the client parses the reply
//! into a `serde_json::Value` anyway), and deserializing that owned value into rmcp's type moves
//! its strings rather than copying them. `tools/call` takes the core's raw path
//! ([`Connector::call_tool_raw`](pagerduty_mcp_connect::Connector::call_tool_raw)) for that
//! reason: its typed result would be serialized back into JSON only to be parsed again.
//! Only `tools/list` crosses from a typed value, because the connector's policy filters the
//! typed tools (the list is cached per user, and listed far less often than tools are called).

use pagerduty_mcp_connect::client::HandlerError;
use pagerduty_mcp_connect::{PolicyDenial, Tool};
use rmcp::model::{ClientCapabilities, ClientResult, ErrorData, ListToolsResult, ServerRequest};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The agent's params (an rmcp type) as JSON for the upstream, without the agent's own `_meta`
/// (its protocol version, capabilities and progress token are the gateway's business, not the
/// upstream's).
pub(crate) fn upstream_params<T: Serialize>(params: &T) -> Value {
    match serde_json::to_value(params).unwrap_or(Value::Null) {
        Value::Object(mut map) => {
            map.remove("_meta");
            Value::Object(map)
        }
        other => other,
    }
}

/// A 2026-07-28 agent's declared capabilities as JSON, to declare upstream in the gateway's
/// place (`{}` when it declared none).
pub(crate) fn capabilities_upstream(declared: Option<&ClientCapabilities>) -> Value {
    declared
        .and_then(|c| serde_json::to_value(c).ok())
        .unwrap_or_else(|| json!({}))
}

/// The upstream's `result` for `method` as rmcp's type `T`, after [`sanitize_result`].
pub(crate) fn into_rmcp<T: DeserializeOwned>(result: Value, method: &str) -> Result<T, ErrorData> {
    from_json(sanitize_result(result), method)
}

/// JSON built for `method` (the upstream's, or the gateway's own) as rmcp's type `T`, as it is.
pub(crate) fn from_json<T: DeserializeOwned>(value: Value, method: &str) -> Result<T, ErrorData> {
    serde_json::from_value(value).map_err(|err| {
        ErrorData::internal_error(
            format!("the upstream's {method} result cannot be passed on: {err}"),
            None,
        )
    })
}

/// The user's tools (the connector's typed list, filtered by the gateway's policy) as rmcp's
/// `tools/list` result. A tool without an object `inputSchema` gets `{"type": "object"}`, which
/// rmcp requires.
pub(crate) fn tools_into_rmcp(tools: &[Tool]) -> Result<ListToolsResult, ErrorData> {
    let tools: Vec<Value> = tools
        .iter()
        .map(|tool| {
            let mut tool = serde_json::to_value(tool).unwrap_or(Value::Null);
            if tool.get("inputSchema").is_none_or(|s| !s.is_object()) {
                tool["inputSchema"] = json!({"type": "object"});
            }
            tool
        })
        .collect();
    into_rmcp(json!({ "tools": tools }), "tools/list")
}

/// A tool the gateway's policy refuses the user, as listed to the user's agents: its title and
/// description say so first, with the reason, so that whatever a client shows of a tool (or of
/// a call that fails) names the gateway's policy.
pub(crate) fn marked_refused(mut tool: Tool, denial: &PolicyDenial) -> Tool {
    let mark = format!("[Refused by this gateway's policy: {}]", denial.reason());
    tool.description = Some(match tool.description.take() {
        Some(description) if !description.is_empty() => format!("{mark} {description}"),
        _ => mark.clone(),
    });
    let title = match tool.extra.get("title") {
        Some(Value::String(title)) => title.clone(),
        _ => tool.name.clone(),
    };
    tool.extra.insert(
        "title".into(),
        Value::String(format!("{title} (refused by this gateway's policy)")),
    );
    tool
}

/// Replaces what belongs to the upstream hop (its protocol's result fields and identity) in a
/// result before it goes to the agent, who gets the gateway's own. The result is complete (the
/// client resolved any `input_required` rounds); rmcp removes `resultType` again for agents of
/// the session era and adds its own cache hints for 2026-07-28 agents.
pub(crate) fn sanitize_result(mut result: Value) -> Value {
    if let Value::Object(map) = &mut result {
        for key in ["ttlMs", "cacheScope"] {
            map.remove(key);
        }
        map.insert("resultType".into(), Value::String("complete".into()));
        let empty = match map.get_mut("_meta") {
            Some(Value::Object(meta)) => {
                meta.retain(|key, _| !key.starts_with("io.modelcontextprotocol/"));
                meta.is_empty()
            }
            Some(_) => true,
            None => false,
        };
        if empty {
            map.remove("_meta");
        }
    }
    result
}

/// A request the upstream sends the agent (sampling, elicitation, roots …) as rmcp's type.
pub(crate) fn server_request_into_rmcp(
    method: &str,
    params: Value,
) -> Result<ServerRequest, HandlerError> {
    serde_json::from_value(json!({ "method": method, "params": params })).map_err(|err| {
        HandlerError::invalid_params(format!(
            "the upstream's {method} cannot be passed on: {err}"
        ))
    })
}

/// The agent's answer to such a request, as JSON for the upstream.
pub(crate) fn answer_into_json(answer: ClientResult) -> Result<Value, HandlerError> {
    serde_json::to_value(answer)
        .map_err(|err| HandlerError::internal(format!("the agent's answer: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_crosses_without_the_upstream_hops_fields() {
        let result: rmcp::model::CallToolResult = into_rmcp(
            json!({
                "content": [{"type": "text", "text": "ok"}],
                "ttlMs": 5,
                "_meta": {"io.modelcontextprotocol/related": 1},
            }),
            "tools/call",
        )
        .unwrap();
        let back = serde_json::to_value(&result).unwrap();
        assert_eq!(back["content"][0]["text"], "ok");
        assert!(back.get("ttlMs").is_none() && back.get("_meta").is_none());
    }

    #[test]
    fn a_malformed_result_is_an_error_naming_the_method() {
        let err = into_rmcp::<rmcp::model::CallToolResult>(json!({"content": 3}), "tools/call")
            .unwrap_err();
        assert!(err.message.contains("tools/call"), "{}", err.message);
    }

    #[test]
    fn the_agents_meta_stays_at_the_gateway() {
        let params = json!({"name": "x", "_meta": {"progressToken": 1}});
        assert_eq!(upstream_params(&params), json!({"name": "x"}));
    }
}

//! What a session remembers about each listed tool: whether a call may be retried, and which
//! arguments the 2026-07-28 protocol mirrors into `Mcp-Param-*` headers (`x-mcp-header`).

use std::collections::HashMap;

use http::{HeaderName, HeaderValue};
use serde_json::{Map, Value};

use super::model::Tool;
use super::transport::routing_header_value;

/// Per-tool facts taken from `tools/list`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ToolRouting {
    /// Read-only or idempotent: repeating a call after a 5xx cannot do harm.
    pub(crate) safe_to_repeat: bool,
    /// `(argument name, Mcp-Param-… header)` pairs from the input schema.
    pub(crate) param_headers: Vec<(String, HeaderName)>,
}

/// The facts about every tool of a listing. A tool whose `x-mcp-header` declarations are invalid
/// is left out of the map and reported through the returned list of names (the 2026-07-28
/// specification requires clients to exclude such tools).
pub(crate) fn routing_table(tools: &[Tool]) -> (HashMap<String, ToolRouting>, Vec<String>) {
    let mut table = HashMap::with_capacity(tools.len());
    let mut invalid = Vec::new();
    for tool in tools {
        match param_headers(&tool.input_schema) {
            Some(param_headers) => {
                table.insert(
                    tool.name.clone(),
                    ToolRouting {
                        safe_to_repeat: tool.is_safe_to_repeat(),
                        param_headers,
                    },
                );
            }
            None => invalid.push(tool.name.clone()),
        }
    }
    (table, invalid)
}

/// The `Mcp-Param-*` headers an input schema declares, or `None` if a declaration is invalid
/// (not a string, not a legal header-name token, or a duplicate ignoring case).
fn param_headers(schema: &Value) -> Option<Vec<(String, HeaderName)>> {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Some(Vec::new());
    };
    let mut headers: Vec<(String, HeaderName)> = Vec::new();
    for (property, definition) in properties {
        let Some(declared) = definition.get("x-mcp-header") else {
            continue;
        };
        let name = declared.as_str()?;
        if name.is_empty() {
            return None;
        }
        let header = HeaderName::from_bytes(format!("mcp-param-{name}").as_bytes()).ok()?;
        if headers.iter().any(|(_, h)| h == header) {
            return None;
        }
        headers.push((property.clone(), header));
    }
    Some(headers)
}

/// The header values for the arguments of one call: strings as they are (base64-wrapped when
/// needed), numbers in decimal, booleans as `true`/`false`; absent or null arguments are left out.
pub(crate) fn param_header_values(
    routing: &ToolRouting,
    arguments: Option<&Map<String, Value>>,
) -> Vec<(HeaderName, HeaderValue)> {
    let Some(arguments) = arguments else {
        return Vec::new();
    };
    routing
        .param_headers
        .iter()
        .filter_map(|(property, header)| {
            let value = match arguments.get(property)? {
                Value::String(text) => routing_header_value(text),
                Value::Number(number) => routing_header_value(&number.to_string()),
                Value::Bool(flag) => HeaderValue::from_static(if *flag { "true" } else { "false" }),
                _ => return None,
            };
            Some((header.clone(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(schema: Value) -> Tool {
        serde_json::from_value(json!({"name": "t", "inputSchema": schema})).unwrap()
    }

    #[test]
    fn declared_headers_are_mirrored() {
        let (table, invalid) = routing_table(&[tool(json!({
            "type": "object",
            "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"},
                "limit": {"type": "integer", "x-mcp-header": "Limit"},
                "dry": {"type": "boolean", "x-mcp-header": "Dry-Run"},
                "other": {"type": "string"}
            }
        }))]);
        assert!(invalid.is_empty());
        let args = json!({"region": "café", "limit": 5, "dry": true, "other": "x"});
        let mut values: Vec<(String, String)> = param_header_values(&table["t"], args.as_object())
            .into_iter()
            .map(|(h, v)| (h.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        values.sort();
        assert_eq!(
            values,
            [
                ("mcp-param-dry-run".to_owned(), "true".to_owned()),
                ("mcp-param-limit".to_owned(), "5".to_owned()),
                (
                    "mcp-param-region".to_owned(),
                    "=?base64?Y2Fmw6k=?=".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn invalid_declarations_exclude_the_tool() {
        for schema in [
            json!({"properties": {"a": {"x-mcp-header": "Bad Name"}}}),
            json!({"properties": {"a": {"x-mcp-header": 3}}}),
            json!({"properties": {"a": {"x-mcp-header": ""}}}),
            json!({"properties": {"a": {"x-mcp-header": "X"}, "b": {"x-mcp-header": "x"}}}),
        ] {
            let (table, invalid) = routing_table(&[tool(schema.clone())]);
            assert!(table.is_empty(), "{schema}");
            assert_eq!(invalid, ["t"]);
        }
    }
}

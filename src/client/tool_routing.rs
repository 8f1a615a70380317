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
    /// `(argument path, Mcp-Param-… header)` pairs from the input schema.
    pub(crate) param_headers: Vec<(Vec<String>, HeaderName)>,
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

/// The `Mcp-Param-*` headers an input schema declares, or `None` if a declaration is invalid.
///
/// As the 2026-07-28 specification (and the official SDK) define it: an `x-mcp-header` is valid
/// only on a property reached from the root through `properties` alone, of type `string`,
/// `integer` or `boolean`, naming a non-empty RFC 9110 token that no other declaration uses
/// (ignoring case). One anywhere else in the schema makes the whole tool invalid.
fn param_headers(schema: &Value) -> Option<Vec<(Vec<String>, HeaderName)>> {
    let mut headers = Vec::new();
    walk(schema, Some(Vec::new()), &mut headers, 0)?;
    Some(headers)
}

/// JSON Schema keywords whose values are subschemas (or maps / lists of them).
const SUBSCHEMA_KEYWORDS: [&str; 19] = [
    "items",
    "propertyNames",
    "contentSchema",
    "prefixItems",
    "additionalProperties",
    "patternProperties",
    "anyOf",
    "allOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "$defs",
    "definitions",
    "dependentSchemas",
    "contains",
    "unevaluatedItems",
    "unevaluatedProperties",
];

/// Walks one schema position. `path` is the chain of `properties` keys from the root, or `None`
/// once the walk left that chain. Returns `None` on an invalid declaration.
fn walk(
    schema: &Value,
    path: Option<Vec<String>>,
    headers: &mut Vec<(Vec<String>, HeaderName)>,
    depth: usize,
) -> Option<()> {
    if depth > 32 {
        // Far deeper than any real tool schema. Stop here without judging the rest: excluding a
        // tool for its depth alone would hide tools that declare no header at all.
        return Some(());
    }
    match schema {
        Value::Array(items) => {
            for item in items {
                walk(item, None, headers, depth + 1)?;
            }
        }
        Value::Object(object) => {
            if let Some(declared) = object.get("x-mcp-header") {
                let path = path.as_ref().filter(|p| !p.is_empty())?;
                let name = declared.as_str().filter(|n| is_token(n))?;
                let kind = object.get("type").and_then(Value::as_str)?;
                if !matches!(kind, "string" | "integer" | "boolean") {
                    return None;
                }
                let header = HeaderName::from_bytes(format!("mcp-param-{name}").as_bytes()).ok()?;
                if headers.iter().any(|(_, h)| *h == header) {
                    return None;
                }
                headers.push((path.clone(), header));
            }
            if let Some(Value::Object(properties)) = object.get("properties") {
                for (key, child) in properties {
                    let child_path = path.as_ref().map(|p| {
                        let mut p = p.clone();
                        p.push(key.clone());
                        p
                    });
                    walk(child, child_path, headers, depth + 1)?;
                }
            }
            for keyword in SUBSCHEMA_KEYWORDS {
                match object.get(keyword) {
                    Some(Value::Object(map))
                        if matches!(
                            keyword,
                            "patternProperties" | "$defs" | "definitions" | "dependentSchemas"
                        ) =>
                    {
                        for child in map.values() {
                            walk(child, None, headers, depth + 1)?;
                        }
                    }
                    Some(child) => walk(child, None, headers, depth + 1)?,
                    None => {}
                }
            }
        }
        _ => {}
    }
    Some(())
}

/// An RFC 9110 token: one or more of `!#$%&'*+-.^_`|~`, digits and letters.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
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
        .filter_map(|(path, header)| {
            let (first, rest) = path.split_first()?;
            let mut value = arguments.get(first)?;
            for key in rest {
                value = value.get(key)?;
            }
            let value = match value {
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
                "other": {"type": "string"},
                "nested": {"type": "object", "properties": {
                    "zone": {"type": "string", "x-mcp-header": "Zone"}
                }}
            }
        }))]);
        assert!(invalid.is_empty());
        let args = json!({"region": "café", "limit": 5, "dry": true, "other": "x", "nested": {"zone": "eu-1"}});
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
                ("mcp-param-zone".to_owned(), "eu-1".to_owned()),
            ]
        );
    }

    #[test]
    fn invalid_declarations_exclude_the_tool() {
        for schema in [
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "Bad Name"}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": 3}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": ""}}}),
            json!({"properties": {
                "a": {"type": "string", "x-mcp-header": "X"},
                "b": {"type": "string", "x-mcp-header": "x"}
            }}),
            json!({"properties": {"a": {"type": "object", "x-mcp-header": "A"}}}),
            json!({"properties": {"a": {"x-mcp-header": "A"}}}),
            json!({"properties": {"a": {"type": "array", "items": {"type": "string", "x-mcp-header": "A"}}}}),
            json!({"anyOf": [{"properties": {"a": {"type": "string", "x-mcp-header": "A"}}}]}),
            json!({"type": "string", "x-mcp-header": "Root"}),
        ] {
            let (table, invalid) = routing_table(&[tool(schema.clone())]);
            assert!(table.is_empty(), "{schema}");
            assert_eq!(invalid, ["t"]);
        }
    }
}

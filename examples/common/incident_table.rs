//! Renders a `list_incidents` result as a readable table (shared by the examples).

use pagerduty_mcp_connect::CallToolResult;
use serde_json::Value;

/// The incidents in a `list_incidents` result: from `structuredContent`, or else from the JSON
/// text content, under `response` / `incidents` or as a bare array.
pub fn incidents(result: &CallToolResult) -> Vec<Value> {
    let parsed;
    let value = match &result.structured_content {
        Some(value) => value,
        None => {
            parsed = serde_json::from_str::<Value>(&result.text()).unwrap_or(Value::Null);
            &parsed
        }
    };
    let list = value
        .get("response")
        .or_else(|| value.get("incidents"))
        .unwrap_or(value);
    list.as_array().cloned().unwrap_or_default()
}

/// A fixed-width table of incidents.
pub fn render(incidents: &[Value]) -> String {
    let field = |incident: &Value, key: &str| -> String {
        match incident.get(key) {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Number(number)) => number.to_string(),
            _ => String::new(),
        }
    };
    let mut out = format!(
        "{:<16} {:<13} {:<7} {:<18} {}\n",
        "ID", "STATUS", "URGENCY", "SERVICE", "TITLE"
    );
    out.push_str(&format!("{}\n", "-".repeat(90)));
    for incident in incidents {
        let service = incident
            .get("service")
            .and_then(|s| s.get("summary"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let title: String = field(incident, "title").chars().take(48).collect();
        out.push_str(&format!(
            "{:<16} {:<13} {:<7} {:<18} {}\n",
            field(incident, "id"),
            field(incident, "status"),
            field(incident, "urgency"),
            service.chars().take(18).collect::<String>(),
            title
        ));
    }
    if incidents.is_empty() {
        out.push_str("(no incidents)\n");
    }
    out
}

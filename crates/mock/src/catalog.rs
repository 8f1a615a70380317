//! Resources, the resource template, prompts and completions of the mock.

use std::sync::Arc;

use serde_json::{Value, json};

use super::data::{DataSet, user_json};
use super::jsonrpc::{INVALID_PARAMS, RESOURCE_NOT_FOUND, RpcError};
use super::users::UserProfile;

pub(crate) const INCIDENT_TEMPLATE: &str = "pagerduty://incidents/{incident_id}";
const INCIDENT_PREFIX: &str = "pagerduty://incidents/";

/// The `resources/list` entries.
pub(crate) fn resources() -> Vec<Value> {
    vec![
        json!({
            "uri": "pagerduty://users/me",
            "name": "current_user",
            "title": "Current user",
            "description": "The user the API token belongs to.",
            "mimeType": "application/json",
        }),
        json!({
            "uri": "pagerduty://services",
            "name": "services",
            "title": "Services",
            "description": "Every service of the account.",
            "mimeType": "application/json",
        }),
        json!({
            "uri": "pagerduty://incidents/open",
            "name": "open_incidents",
            "title": "Open incidents",
            "description": "Incidents that are triggered or acknowledged.",
            "mimeType": "application/json",
        }),
    ]
}

/// The `resources/templates/list` entries.
pub(crate) fn resource_templates() -> Vec<Value> {
    vec![json!({
        "uriTemplate": INCIDENT_TEMPLATE,
        "name": "incident",
        "title": "Incident",
        "description": "One incident by id.",
        "mimeType": "application/json",
    })]
}

/// The `prompts/list` entries.
pub(crate) fn prompts() -> Vec<Value> {
    vec![
        json!({
            "name": "incident_summary",
            "title": "Summarize an incident",
            "description": "Summarize an incident for a status update.",
            "arguments": [
                { "name": "incident_id", "description": "The incident id.", "required": true },
            ],
        }),
        json!({
            "name": "oncall_handoff",
            "title": "On-call hand-off",
            "description": "Write an on-call hand-off note for a schedule.",
            "arguments": [
                { "name": "schedule_id", "description": "The schedule (default: all).", "required": false },
            ],
        }),
    ]
}

fn not_found(uri: &str, stateless: bool) -> RpcError {
    let code = if stateless {
        INVALID_PARAMS
    } else {
        RESOURCE_NOT_FOUND
    };
    RpcError::new(code, "Resource not found").with_data(json!({ "uri": uri }))
}

/// `resources/read` of `uri` as `user`.
pub(crate) fn read_resource(
    uri: &str,
    user: &Arc<UserProfile>,
    users: &[Arc<UserProfile>],
    data: &DataSet,
    stateless: bool,
) -> Result<Value, RpcError> {
    let value = match uri {
        "pagerduty://users/me" => user_json(user),
        "pagerduty://services" => json!({
            "response": data.services.iter().map(|s| s.to_json(data)).collect::<Vec<_>>()
        }),
        "pagerduty://incidents/open" => json!({
            "response": data.incidents.iter()
                .filter(|i| i.status != "resolved")
                .map(|i| i.to_json(data, users))
                .collect::<Vec<_>>()
        }),
        other => {
            let id = other
                .strip_prefix(INCIDENT_PREFIX)
                .ok_or_else(|| not_found(uri, stateless))?;
            let incident = data
                .incidents
                .iter()
                .find(|i| i.id == id)
                .ok_or_else(|| not_found(uri, stateless))?;
            incident.to_json(data, users)
        }
    };
    Ok(json!({
        "contents": [{
            "uri": uri,
            "mimeType": "application/json",
            "text": value.to_string(),
        }]
    }))
}

/// `prompts/get`.
pub(crate) fn get_prompt(
    name: &str,
    arguments: &serde_json::Map<String, Value>,
    users: &[Arc<UserProfile>],
    data: &DataSet,
) -> Result<Value, RpcError> {
    let arg = |key: &str| arguments.get(key).and_then(Value::as_str);
    match name {
        "incident_summary" => {
            let id = arg("incident_id").ok_or_else(|| {
                RpcError::invalid_params("Missing required argument `incident_id`")
            })?;
            let incident = data
                .incidents
                .iter()
                .find(|i| i.id == id || i.number.to_string() == id)
                .ok_or_else(|| RpcError::invalid_params(format!("Incident {id} not found")))?;
            Ok(json!({
                "description": "Summarize an incident for a status update.",
                "messages": [{
                    "role": "user",
                    "content": {
                        "type": "text",
                        "text": format!(
                            "Write a three-sentence status update for this PagerDuty incident:\n{}",
                            incident.to_json(data, users)
                        ),
                    },
                }],
            }))
        }
        "oncall_handoff" => {
            let schedules: Vec<Value> = data
                .schedules
                .iter()
                .filter(|s| arg("schedule_id").is_none_or(|id| s.id == id))
                .map(|s| s.to_json(users))
                .collect();
            let open = data
                .incidents
                .iter()
                .filter(|i| i.status != "resolved")
                .count();
            Ok(json!({
                "description": "Write an on-call hand-off note for a schedule.",
                "messages": [{
                    "role": "user",
                    "content": {
                        "type": "text",
                        "text": format!(
                            "Write an on-call hand-off note. {open} incidents are open. Schedules: {}",
                            Value::Array(schedules)
                        ),
                    },
                }],
            }))
        }
        other => Err(RpcError::invalid_params(format!("Unknown prompt: {other}"))),
    }
}

/// `completion/complete`.
pub(crate) fn complete(params: &Value, data: &DataSet) -> Result<Value, RpcError> {
    let reference = params
        .get("ref")
        .ok_or_else(|| RpcError::invalid_params("Missing `ref`"))?;
    let argument = params
        .get("argument")
        .ok_or_else(|| RpcError::invalid_params("Missing `argument`"))?;
    let arg_name = argument.get("name").and_then(Value::as_str).unwrap_or("");
    let prefix = argument.get("value").and_then(Value::as_str).unwrap_or("");
    let kind = reference.get("type").and_then(Value::as_str).unwrap_or("");
    let target = match kind {
        "ref/prompt" => reference.get("name").and_then(Value::as_str),
        "ref/resource" => reference.get("uri").and_then(Value::as_str),
        _ => None,
    }
    .ok_or_else(|| RpcError::invalid_params("Invalid `ref`"))?;
    let candidates: Vec<String> = match (target, arg_name) {
        ("incident_summary" | INCIDENT_TEMPLATE, "incident_id") => {
            data.incidents.iter().map(|i| i.id.clone()).collect()
        }
        ("oncall_handoff", "schedule_id") => data.schedules.iter().map(|s| s.id.clone()).collect(),
        _ => Vec::new(),
    };
    let values: Vec<String> = candidates
        .into_iter()
        .filter(|c| c.to_lowercase().starts_with(&prefix.to_lowercase()))
        .take(100)
        .collect();
    Ok(json!({
        "completion": { "values": values, "total": values.len(), "hasMore": false }
    }))
}

//! The PagerDuty-like tools: their catalogue (names, JSON Schemas, annotations) and what they do
//! to the mock's data set.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::data::{DataSet, Incident, Note, Service, now_iso, user_json};
use super::options::ToolNaming;
use super::users::UserProfile;

/// Whether a tool only reads (`readOnlyHint: true`) or changes data (`destructiveHint: true`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
}

struct ToolDef {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    kind: Kind,
    properties: Value,
    required: &'static [&'static str],
}

fn string(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

fn string_list(description: &str) -> Value {
    json!({ "type": "array", "items": { "type": "string" }, "description": description })
}

fn limit() -> Value {
    json!({
        "type": "integer", "minimum": 1, "maximum": 100, "default": 25,
        "description": "The most results to return."
    })
}

fn definitions() -> Vec<ToolDef> {
    use Kind::{Read, Write};
    vec![
        ToolDef {
            name: "list_incidents",
            title: "List incidents",
            description: "List incidents, newest first, optionally filtered by status, urgency and service.",
            kind: Read,
            properties: json!({
                "statuses": {
                    "type": "array",
                    "items": { "type": "string", "enum": ["triggered", "acknowledged", "resolved"] },
                    "description": "Only incidents in these states."
                },
                "urgencies": {
                    "type": "array",
                    "items": { "type": "string", "enum": ["high", "low"] },
                    "description": "Only incidents of these urgencies."
                },
                "service_ids": string_list("Only incidents of these services."),
                "limit": limit(),
            }),
            required: &[],
        },
        ToolDef {
            name: "get_incident",
            title: "Get an incident",
            description: "Get one incident by its id or its incident number.",
            kind: Read,
            properties: json!({ "incident_id": string("The incident id (e.g. Q1CHKOUT5XX01) or number (e.g. 1001).") }),
            required: &["incident_id"],
        },
        ToolDef {
            name: "list_incident_notes",
            title: "List an incident's notes",
            description: "List the notes added to an incident.",
            kind: Read,
            properties: json!({ "incident_id": string("The incident id.") }),
            required: &["incident_id"],
        },
        ToolDef {
            name: "list_services",
            title: "List services",
            description: "List services, optionally filtered by a name query or teams.",
            kind: Read,
            properties: json!({
                "query": string("Only services whose name contains this text (case-insensitive)."),
                "team_ids": string_list("Only services of these teams."),
                "limit": limit(),
            }),
            required: &[],
        },
        ToolDef {
            name: "get_service",
            title: "Get a service",
            description: "Get one service by its id.",
            kind: Read,
            properties: json!({ "service_id": string("The service id (e.g. PSVC001).") }),
            required: &["service_id"],
        },
        ToolDef {
            name: "list_oncalls",
            title: "List on-calls",
            description: "List who is on call now, per escalation policy level.",
            kind: Read,
            properties: json!({
                "schedule_ids": string_list("Only on-calls of these schedules."),
                "escalation_policy_ids": string_list("Only on-calls of these escalation policies."),
                "user_ids": string_list("Only on-calls of these users."),
            }),
            required: &[],
        },
        ToolDef {
            name: "list_schedules",
            title: "List schedules",
            description: "List on-call schedules.",
            kind: Read,
            properties: json!({ "query": string("Only schedules whose name contains this text."), "limit": limit() }),
            required: &[],
        },
        ToolDef {
            name: "get_schedule",
            title: "Get a schedule",
            description: "Get one on-call schedule with its rotation.",
            kind: Read,
            properties: json!({ "schedule_id": string("The schedule id (e.g. PSCHED1).") }),
            required: &["schedule_id"],
        },
        ToolDef {
            name: "list_users",
            title: "List users",
            description: "List the account's users.",
            kind: Read,
            properties: json!({
                "query": string("Only users whose name or email contains this text."),
                "team_ids": string_list("Only members of these teams."),
                "limit": limit(),
            }),
            required: &[],
        },
        ToolDef {
            name: "get_user_data",
            title: "Get the current user",
            description: "Get the user the API token belongs to: id, name, email and role.",
            kind: Read,
            properties: json!({}),
            required: &[],
        },
        ToolDef {
            name: "list_escalation_policies",
            title: "List escalation policies",
            description: "List escalation policies.",
            kind: Read,
            properties: json!({ "query": string("Only policies whose name contains this text."), "limit": limit() }),
            required: &[],
        },
        ToolDef {
            name: "get_escalation_policy",
            title: "Get an escalation policy",
            description: "Get one escalation policy with its rules.",
            kind: Read,
            properties: json!({ "escalation_policy_id": string("The escalation policy id (e.g. PEP0001).") }),
            required: &["escalation_policy_id"],
        },
        ToolDef {
            name: "list_teams",
            title: "List teams",
            description: "List teams.",
            kind: Read,
            properties: json!({ "query": string("Only teams whose name contains this text."), "limit": limit() }),
            required: &[],
        },
        ToolDef {
            name: "get_team",
            title: "Get a team",
            description: "Get one team with its members.",
            kind: Read,
            properties: json!({ "team_id": string("The team id (e.g. PTEAM01).") }),
            required: &["team_id"],
        },
        ToolDef {
            name: "list_log_entries",
            title: "List log entries",
            description: "List incident log entries (triggers, acknowledgements, notes …), newest first.",
            kind: Read,
            properties: json!({ "incident_id": string("Only entries of this incident."), "limit": limit() }),
            required: &[],
        },
        ToolDef {
            name: "create_incident",
            title: "Create an incident",
            description: "Trigger a new incident on a service; the current user is recorded as its creator.",
            kind: Write,
            properties: json!({
                "title": string("A short summary of the problem."),
                "service_id": string("The service the incident is on."),
                "urgency": { "type": "string", "enum": ["high", "low"], "default": "high" },
                "description": string("Details."),
            }),
            required: &["title", "service_id"],
        },
        ToolDef {
            name: "manage_incidents",
            title: "Acknowledge, resolve or reassign incidents",
            description: "Acknowledge, resolve or reassign one or more incidents.",
            kind: Write,
            properties: json!({
                "incident_ids": string_list("The incidents to change."),
                "action": { "type": "string", "enum": ["acknowledge", "resolve", "reassign"] },
                "assignee_user_id": string("For `reassign`: the user to assign."),
            }),
            required: &["incident_ids", "action"],
        },
        ToolDef {
            name: "add_note_to_incident",
            title: "Add a note to an incident",
            description: "Add a note to an incident's timeline as the current user.",
            kind: Write,
            properties: json!({
                "incident_id": string("The incident id."),
                "note": string("The note's text."),
            }),
            required: &["incident_id", "note"],
        },
        ToolDef {
            name: "create_service",
            title: "Create a service",
            description: "Create a service with an escalation policy.",
            kind: Write,
            properties: json!({
                "name": string("The service's name (unique)."),
                "description": string("What the service is."),
                "escalation_policy_id": string("The escalation policy (e.g. PEP0001)."),
            }),
            required: &["name", "escalation_policy_id"],
        },
    ]
}

/// The tools the hosted server renamed: (the package's name, the hosted server's).
const HOSTED_NAMES: &[(&str, &str)] = &[("list_incidents", "browse_incidents")];

/// The name the tool `name` goes by under `naming`.
fn name_under(name: &'static str, naming: ToolNaming) -> &'static str {
    match naming {
        ToolNaming::Hosted => HOSTED_NAMES
            .iter()
            .find(|(package, _)| *package == name)
            .map_or(name, |(_, hosted)| hosted),
        _ => name,
    }
}

/// The package's name of a tool called `name` under `naming` (what [`call`] dispatches on).
pub(crate) fn package_name(name: &str, naming: ToolNaming) -> &str {
    match naming {
        ToolNaming::Hosted => HOSTED_NAMES
            .iter()
            .find(|(_, hosted)| *hosted == name)
            .map_or(name, |(package, _)| package),
        _ => name,
    }
}

/// The tool catalogue as `tools/list` entries under `naming`, built once per mock.
pub(crate) fn catalogue(naming: ToolNaming) -> Vec<Value> {
    definitions()
        .into_iter()
        .map(|def| {
            let read = def.kind == Kind::Read;
            json!({
                "name": name_under(def.name, naming),
                "title": def.title,
                "description": def.description,
                "inputSchema": {
                    "type": "object",
                    "properties": def.properties,
                    "required": def.required,
                    "additionalProperties": false,
                },
                "annotations": {
                    "title": def.title,
                    "readOnlyHint": read,
                    "destructiveHint": !read,
                    "idempotentHint": read,
                    "openWorldHint": false,
                },
            })
        })
        .collect()
}

/// Why a tool call failed: it becomes an `isError: true` result.
pub(crate) struct ToolFailure(pub(crate) String);

type ToolResult = Result<Value, ToolFailure>;

fn fail<T>(message: impl Into<String>) -> Result<T, ToolFailure> {
    Err(ToolFailure(message.into()))
}

struct Args<'a>(&'a Map<String, Value>);

impl<'a> Args<'a> {
    fn opt_str(&self, key: &str) -> Result<Option<&'a str>, ToolFailure> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => fail(format!("Invalid arguments: `{key}` must be a string")),
        }
    }

    fn str(&self, key: &str) -> Result<&'a str, ToolFailure> {
        match self.opt_str(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => fail(format!("Invalid arguments: `{key}` is required")),
        }
    }

    fn list(&self, key: &str) -> Result<Option<Vec<&'a str>>, ToolFailure> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str().map_or_else(
                        || {
                            fail(format!(
                                "Invalid arguments: `{key}` must be a list of strings"
                            ))
                        },
                        Ok,
                    )
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => fail(format!(
                "Invalid arguments: `{key}` must be a list of strings"
            )),
        }
    }

    fn limit(&self) -> Result<usize, ToolFailure> {
        match self.0.get("limit") {
            None | Some(Value::Null) => Ok(25),
            Some(v) => match v.as_u64() {
                Some(n @ 1..=100) => Ok(n as usize),
                _ => fail("Invalid arguments: `limit` must be an integer from 1 to 100"),
            },
        }
    }
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

fn list_result(items: Vec<Value>, limit: usize) -> Value {
    let total = items.len();
    let more = total > limit;
    let items: Vec<Value> = items.into_iter().take(limit).collect();
    json!({ "response": items, "limit": limit, "more": more, "total": total })
}

/// Whether `name` is a known tool.
pub(crate) fn exists(catalogue: &[Value], name: &str) -> bool {
    catalogue
        .iter()
        .any(|t| t.get("name").and_then(Value::as_str) == Some(name))
}

/// Runs tool `name` as `user`.
pub(crate) fn call(
    name: &str,
    arguments: &Map<String, Value>,
    user: &Arc<UserProfile>,
    users: &[Arc<UserProfile>],
    data: &mut DataSet,
) -> ToolResult {
    let args = Args(arguments);
    let writes = matches!(
        name,
        "create_incident" | "manage_incidents" | "add_note_to_incident" | "create_service"
    );
    if writes && !user.can_write() {
        return fail(format!(
            "Access denied: the role `{}` may not change data (PagerDuty error 2010)",
            user.role
        ));
    }
    match name {
        "list_incidents" => {
            let statuses = args.list("statuses")?;
            let urgencies = args.list("urgencies")?;
            let services = args.list("service_ids")?;
            let limit = args.limit()?;
            let items = data
                .incidents
                .iter()
                .rev()
                .filter(|i| {
                    statuses
                        .as_ref()
                        .is_none_or(|s| s.contains(&i.status.as_str()))
                })
                .filter(|i| {
                    urgencies
                        .as_ref()
                        .is_none_or(|u| u.contains(&i.urgency.as_str()))
                })
                .filter(|i| {
                    services
                        .as_ref()
                        .is_none_or(|s| s.contains(&i.service_id.as_str()))
                })
                .map(|i| i.to_json(data, users))
                .collect();
            Ok(list_result(items, limit))
        }
        "get_incident" => {
            let id = args.str("incident_id")?;
            let incident = find_incident(data, id)?;
            Ok(incident.to_json(data, users))
        }
        "list_incident_notes" => {
            let id = args.str("incident_id")?;
            let incident = find_incident(data, id)?;
            let notes: Vec<Value> = incident.notes.iter().map(|n| n.to_json(users)).collect();
            Ok(json!({ "response": notes }))
        }
        "list_services" => {
            let query = args.opt_str("query")?;
            let teams = args.list("team_ids")?;
            let limit = args.limit()?;
            let items = data
                .services
                .iter()
                .filter(|s| query.is_none_or(|q| contains_ci(&s.name, q)))
                .filter(|s| {
                    teams
                        .as_ref()
                        .is_none_or(|t| s.team_ids.iter().any(|x| t.contains(&x.as_str())))
                })
                .map(|s| s.to_json(data))
                .collect();
            Ok(list_result(items, limit))
        }
        "get_service" => {
            let id = args.str("service_id")?;
            match data.service(id) {
                Some(s) => Ok(s.to_json(data)),
                None => fail(format!("Service {id} not found (PagerDuty error 2100)")),
            }
        }
        "list_oncalls" => {
            let schedules = args.list("schedule_ids")?;
            let policies = args.list("escalation_policy_ids")?;
            let user_filter = args.list("user_ids")?;
            let mut items = Vec::new();
            for ep in &data.escalation_policies {
                if policies
                    .as_ref()
                    .is_some_and(|p| !p.contains(&ep.id.as_str()))
                {
                    continue;
                }
                let schedule = data.schedule(&ep.schedule_id);
                let levels = [
                    (1, schedule.and_then(|s| s.user_ids.first()), schedule),
                    (2, Some(&ep.backup_user_id), None),
                ];
                for (level, oncall_user, schedule) in levels {
                    let Some(oncall_user) = oncall_user else {
                        continue;
                    };
                    if schedules
                        .as_ref()
                        .is_some_and(|s| schedule.is_none_or(|sch| !s.contains(&sch.id.as_str())))
                    {
                        continue;
                    }
                    if user_filter
                        .as_ref()
                        .is_some_and(|u| !u.contains(&oncall_user.as_str()))
                    {
                        continue;
                    }
                    let name = users
                        .iter()
                        .find(|u| &u.id == oncall_user)
                        .map_or_else(|| oncall_user.clone(), |u| u.name.clone());
                    items.push(json!({
                        "escalation_level": level,
                        "escalation_policy": super::data::reference("escalation_policy", &ep.id, &ep.name),
                        "schedule": schedule.map(|s| super::data::reference("schedule", &s.id, &s.name)),
                        "user": super::data::reference("user", oncall_user, &name),
                        "start": "2026-07-27T09:00:00Z",
                        "end": "2026-08-03T09:00:00Z",
                    }));
                }
            }
            Ok(json!({ "response": items }))
        }
        "list_schedules" => {
            let query = args.opt_str("query")?;
            let limit = args.limit()?;
            let items = data
                .schedules
                .iter()
                .filter(|s| query.is_none_or(|q| contains_ci(&s.name, q)))
                .map(|s| s.to_json(users))
                .collect();
            Ok(list_result(items, limit))
        }
        "get_schedule" => {
            let id = args.str("schedule_id")?;
            match data.schedule(id) {
                Some(s) => Ok(s.to_json(users)),
                None => fail(format!("Schedule {id} not found (PagerDuty error 2100)")),
            }
        }
        "list_users" => {
            let query = args.opt_str("query")?;
            let teams = args.list("team_ids")?;
            let limit = args.limit()?;
            let items = users
                .iter()
                .filter(|u| {
                    query.is_none_or(|q| contains_ci(&u.name, q) || contains_ci(&u.email, q))
                })
                .filter(|u| {
                    teams.as_ref().is_none_or(|t| {
                        data.teams.iter().any(|team| {
                            t.contains(&team.id.as_str()) && team.member_ids.contains(&u.id)
                        })
                    })
                })
                .map(|u| user_json(u))
                .collect();
            Ok(list_result(items, limit))
        }
        "get_user_data" => Ok(user_json(user)),
        "list_escalation_policies" => {
            let query = args.opt_str("query")?;
            let limit = args.limit()?;
            let items = data
                .escalation_policies
                .iter()
                .filter(|e| query.is_none_or(|q| contains_ci(&e.name, q)))
                .map(|e| e.to_json(data))
                .collect();
            Ok(list_result(items, limit))
        }
        "get_escalation_policy" => {
            let id = args.str("escalation_policy_id")?;
            match data.escalation_policies.iter().find(|e| e.id == id) {
                Some(e) => Ok(e.to_json(data)),
                None => fail(format!(
                    "Escalation policy {id} not found (PagerDuty error 2100)"
                )),
            }
        }
        "list_teams" => {
            let query = args.opt_str("query")?;
            let limit = args.limit()?;
            let items = data
                .teams
                .iter()
                .filter(|t| query.is_none_or(|q| contains_ci(&t.name, q)))
                .map(|t| t.to_json())
                .collect();
            Ok(list_result(items, limit))
        }
        "get_team" => {
            let id = args.str("team_id")?;
            match data.teams.iter().find(|t| t.id == id) {
                Some(t) => {
                    let mut value = t.to_json();
                    value["members"] = t
                        .member_ids
                        .iter()
                        .filter_map(|m| users.iter().find(|u| &u.id == m))
                        .map(|u| user_json(u))
                        .collect();
                    Ok(value)
                }
                None => fail(format!("Team {id} not found (PagerDuty error 2100)")),
            }
        }
        "list_log_entries" => {
            let incident = args.opt_str("incident_id")?;
            let limit = args.limit()?;
            let items = data
                .log_entries
                .iter()
                .rev()
                .filter(|l| incident.is_none_or(|i| l.incident_id == i))
                .map(|l| l.to_json())
                .collect();
            Ok(list_result(items, limit))
        }
        "create_incident" => {
            let title = args.str("title")?;
            let service_id = args.str("service_id")?;
            let urgency = args.opt_str("urgency")?.unwrap_or("high");
            if !matches!(urgency, "high" | "low") {
                return fail("Invalid arguments: `urgency` must be `high` or `low`");
            }
            let description = args.opt_str("description")?.unwrap_or(title);
            let Some(service) = data.service(service_id) else {
                return fail(format!(
                    "Service {service_id} not found (PagerDuty error 2100)"
                ));
            };
            let assignee = data
                .escalation_policies
                .iter()
                .find(|e| e.id == service.escalation_policy_id)
                .and_then(|e| data.schedule(&e.schedule_id))
                .and_then(|s| s.user_ids.first().cloned())
                .unwrap_or_else(|| user.id.clone());
            let now = now_iso();
            let id = data.fresh_id("Q2MOCKINC");
            let incident = Incident {
                id: id.clone(),
                number: data.next_incident_number(),
                title: title.to_owned(),
                description: description.to_owned(),
                status: "triggered".into(),
                urgency: urgency.into(),
                service_id: service_id.to_owned(),
                assigned_to: vec![assignee],
                created_by: user.id.clone(),
                created_at: now.clone(),
                updated_at: now,
                escalation_level: 1,
                notes: Vec::new(),
            };
            data.incidents.push(incident);
            data.log(
                "trigger_log_entry",
                &id,
                &user.id,
                format!("Triggered by {}: {title}", user.name),
            );
            let created = data.incidents.last().map(|i| i.to_json(data, users));
            Ok(created.unwrap_or(Value::Null))
        }
        "manage_incidents" => {
            let ids = args
                .list("incident_ids")?
                .filter(|ids| !ids.is_empty())
                .map_or_else(|| fail("Invalid arguments: `incident_ids` is required"), Ok)?;
            let action = args.str("action")?;
            let (status, kind) = match action {
                "acknowledge" => (Some("acknowledged"), "acknowledge_log_entry"),
                "resolve" => (Some("resolved"), "resolve_log_entry"),
                "reassign" => (None, "assign_log_entry"),
                other => {
                    return fail(format!(
                        "Invalid arguments: `action` must be acknowledge, resolve or reassign, not `{other}`"
                    ));
                }
            };
            let assignee = if action == "reassign" {
                let id = args.str("assignee_user_id")?;
                if !users.iter().any(|u| u.id == id) {
                    return fail(format!("User {id} not found (PagerDuty error 2100)"));
                }
                Some(id.to_owned())
            } else {
                None
            };
            for id in &ids {
                find_incident(data, id)?;
            }
            let now = now_iso();
            let mut changed = Vec::new();
            for id in &ids {
                let Some(incident) = data
                    .incidents
                    .iter_mut()
                    .find(|i| i.id == *id || i.number.to_string() == *id)
                else {
                    continue;
                };
                if let Some(status) = status {
                    incident.status = status.to_owned();
                    if status == "resolved" {
                        incident.assigned_to.clear();
                    }
                }
                if let Some(assignee) = &assignee {
                    incident.assigned_to = vec![assignee.clone()];
                }
                incident.updated_at = now.clone();
                let incident_id = incident.id.clone();
                data.log(
                    kind,
                    &incident_id,
                    &user.id,
                    format!("{action} by {}", user.name),
                );
                changed.push(incident_id);
            }
            let items: Vec<Value> = data
                .incidents
                .iter()
                .filter(|i| changed.contains(&i.id))
                .map(|i| i.to_json(data, users))
                .collect();
            Ok(json!({ "response": items }))
        }
        "add_note_to_incident" => {
            let id = args.str("incident_id")?;
            let text = args.str("note")?;
            find_incident(data, id)?;
            let note_id = data.fresh_id("PNOTE");
            let now = now_iso();
            let note = Note {
                id: note_id,
                content: text.to_owned(),
                user_id: user.id.clone(),
                created_at: now.clone(),
            };
            let value = note.to_json(users);
            let mut incident_id = String::new();
            if let Some(incident) = data
                .incidents
                .iter_mut()
                .find(|i| i.id == id || i.number.to_string() == id)
            {
                incident.notes.push(note);
                incident.updated_at = now;
                incident_id = incident.id.clone();
            }
            data.log(
                "annotate_log_entry",
                &incident_id,
                &user.id,
                format!("Note added by {}", user.name),
            );
            Ok(value)
        }
        "create_service" => {
            let name = args.str("name")?;
            let ep = args.str("escalation_policy_id")?;
            let description = args.opt_str("description")?.unwrap_or("");
            if data
                .services
                .iter()
                .any(|s| s.name.eq_ignore_ascii_case(name))
            {
                return fail(format!(
                    "A service named `{name}` already exists (PagerDuty error 2001)"
                ));
            }
            let Some(policy) = data.escalation_policies.iter().find(|e| e.id == ep) else {
                return fail(format!(
                    "Escalation policy {ep} not found (PagerDuty error 2100)"
                ));
            };
            let team_ids = policy.team_ids.clone();
            let id = data.fresh_id("PSVCN");
            let service = Service {
                id,
                name: name.to_owned(),
                description: description.to_owned(),
                status: "active".into(),
                escalation_policy_id: ep.to_owned(),
                team_ids,
                created_at: now_iso(),
            };
            let value = service.to_json(data);
            data.services.push(service);
            Ok(value)
        }
        other => fail(format!("Unknown tool: {other}")),
    }
}

fn find_incident<'a>(data: &'a DataSet, id: &str) -> Result<&'a Incident, ToolFailure> {
    data.incidents
        .iter()
        .find(|i| i.id == id || i.number.to_string() == id)
        .map_or_else(
            || fail(format!("Incident {id} not found (PagerDuty error 2100)")),
            Ok,
        )
}

/// The `tools/call` result for a tool's outcome: JSON text plus `structuredContent`, or an
/// `isError` result.
pub(crate) fn to_call_result(outcome: ToolResult) -> Value {
    match outcome {
        Ok(value) => {
            let text = value.to_string();
            json!({
                "content": [{ "type": "text", "text": text }],
                "structuredContent": value,
                "isError": false,
            })
        }
        Err(ToolFailure(message)) => json!({
            "content": [{ "type": "text", "text": message }],
            "isError": true,
        }),
    }
}

#[cfg(test)]
mod naming_tests {
    use super::*;

    fn names(naming: ToolNaming) -> Vec<String> {
        catalogue(naming)
            .iter()
            .filter_map(|tool| tool["name"].as_str().map(str::to_owned))
            .collect()
    }

    #[test]
    fn the_hosted_naming_renames_only_what_the_hosted_server_renamed() {
        let open_source = names(ToolNaming::OpenSource);
        let hosted = names(ToolNaming::Hosted);
        assert!(open_source.contains(&"list_incidents".to_owned()));
        assert!(hosted.contains(&"browse_incidents".to_owned()));
        assert!(!hosted.contains(&"list_incidents".to_owned()));
        assert_eq!(open_source.len(), hosted.len());
        let same = open_source
            .iter()
            .filter(|name| hosted.contains(name))
            .count();
        assert_eq!(same, open_source.len() - HOSTED_NAMES.len());
        assert_eq!(
            package_name("browse_incidents", ToolNaming::Hosted),
            "list_incidents"
        );
        assert_eq!(
            package_name("browse_incidents", ToolNaming::OpenSource),
            "browse_incidents"
        );
        assert_eq!(
            package_name("get_incident", ToolNaming::Hosted),
            "get_incident"
        );
    }
}

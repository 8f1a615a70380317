//! The JSON-RPC methods both eras share: tools, resources, prompts, completions.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::catalog;
use super::jsonrpc::{self, RpcError, paginate};
use super::state::{Shared, lock};
use super::tools;
use super::users::UserProfile;

pub(crate) const SERVER_NAME: &str = "pagerduty-mcp-mock";
pub(crate) const INSTRUCTIONS: &str = "A mock of PagerDuty's MCP server for tests: incidents, services, on-calls, schedules, users and teams of a small demo account. Write tools change the mock's data.";

const LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

/// Whether `level` is a logging level name.
pub(crate) fn is_level(level: &str) -> bool {
    LEVELS.contains(&level)
}

fn level_rank(level: &str) -> usize {
    LEVELS.iter().position(|l| *l == level).unwrap_or(0)
}

/// The `serverInfo` object.
pub(crate) fn server_info() -> Value {
    json!({
        "name": SERVER_NAME,
        "title": "PagerDuty MCP (mock)",
        "version": env!("CARGO_PKG_VERSION"),
    })
}

/// Who asks, and in which era.
pub(crate) struct Ctx {
    pub(crate) user: Arc<UserProfile>,
    pub(crate) stateless: bool,
    /// Whether `notifications/message` at level `info` may be sent for this request.
    pub(crate) info_logs: bool,
}

impl Ctx {
    /// Session era: logs are sent unless `logging/setLevel` asked for a level above `info`.
    pub(crate) fn session(user: Arc<UserProfile>, min_level: Option<&str>) -> Self {
        Ctx {
            user,
            stateless: false,
            info_logs: min_level.is_none_or(|l| level_rank(l) <= level_rank("info")),
        }
    }

    /// Stateless era: logs only when the request's `_meta` carries a log level at or below
    /// `info`.
    pub(crate) fn stateless(user: Arc<UserProfile>, meta_level: Option<&str>) -> Self {
        Ctx {
            user,
            stateless: true,
            info_logs: meta_level.is_some_and(|l| level_rank(l) <= level_rank("info")),
        }
    }
}

/// A handled request: the JSON-RPC response and the notifications to send before it.
pub(crate) struct Handled {
    pub(crate) response: Value,
    pub(crate) notifications: Vec<Value>,
    /// Whether the reply must be an SSE stream (a `tools/call` with a progress token).
    pub(crate) stream: bool,
    /// The JSON-RPC error code, when the response is an error.
    pub(crate) error_code: Option<i64>,
}

impl Handled {
    pub(crate) fn ok(id: &Value, result: Value) -> Self {
        Handled {
            response: jsonrpc::result(id, result),
            notifications: Vec::new(),
            stream: false,
            error_code: None,
        }
    }

    pub(crate) fn err(id: &Value, error: RpcError) -> Self {
        Handled {
            response: error.to_value(id),
            notifications: Vec::new(),
            stream: false,
            error_code: Some(error.code),
        }
    }
}

fn list_page(
    shared: &Shared,
    kind: &str,
    key: &str,
    items: Vec<Value>,
    params: &Value,
) -> Result<Value, RpcError> {
    let (page, next) = paginate(kind, items, params, shared.config.page_size)?;
    let mut result = json!({ key: page });
    if let Some(next) = next {
        result["nextCursor"] = Value::String(next);
    }
    Ok(result)
}

/// Handles one of the shared methods; `None` when `method` is not one of them.
pub(crate) fn dispatch(
    shared: &Shared,
    ctx: &Ctx,
    id: &Value,
    method: &str,
    params: &Value,
) -> Option<Handled> {
    let outcome = match method {
        "tools/list" => {
            if shared.config.page_size.is_none() && params.get("cursor").is_none_or(Value::is_null)
            {
                Ok(json!({ "tools": shared.tools }))
            } else {
                list_page(shared, "tools", "tools", shared.tools.clone(), params)
            }
        }
        "tools/call" => return Some(call_tool(shared, ctx, id, params)),
        "resources/list" => list_page(
            shared,
            "resources",
            "resources",
            catalog::resources(),
            params,
        ),
        "resources/templates/list" => list_page(
            shared,
            "resource_templates",
            "resourceTemplates",
            catalog::resource_templates(),
            params,
        ),
        "resources/read" => match params.get("uri").and_then(Value::as_str) {
            None => Err(RpcError::invalid_params("Missing `uri`")),
            Some(uri) => {
                let users = shared.directory.profiles();
                let data = lock(&shared.data);
                catalog::read_resource(uri, &ctx.user, &users, &data, ctx.stateless)
            }
        },
        "prompts/list" => list_page(shared, "prompts", "prompts", catalog::prompts(), params),
        "prompts/get" => match params.get("name").and_then(Value::as_str) {
            None => Err(RpcError::invalid_params("Missing `name`")),
            Some(name) => {
                let arguments = match params.get("arguments") {
                    None | Some(Value::Null) => Map::new(),
                    Some(Value::Object(args)) => args.clone(),
                    Some(_) => {
                        return Some(Handled::err(
                            id,
                            RpcError::invalid_params("`arguments` must be an object"),
                        ));
                    }
                };
                let users = shared.directory.profiles();
                let data = lock(&shared.data);
                catalog::get_prompt(name, &arguments, &users, &data)
            }
        },
        "completion/complete" => {
            let data = lock(&shared.data);
            catalog::complete(params, &data)
        }
        _ => return None,
    };
    Some(match outcome {
        Ok(result) => Handled::ok(id, result),
        Err(error) => Handled::err(id, error),
    })
}

fn call_tool(shared: &Shared, ctx: &Ctx, id: &Value, params: &Value) -> Handled {
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        return Handled::err(id, RpcError::invalid_params("Missing tool `name`"));
    };
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(args)) => args.clone(),
        Some(_) => {
            return Handled::err(
                id,
                RpcError::invalid_params("Tool `arguments` must be an object"),
            );
        }
    };
    let outcome = if tools::exists(&shared.tools, name) {
        let users = shared.directory.profiles();
        let mut data = lock(&shared.data);
        let name = tools::package_name(name, shared.config.naming);
        tools::call(name, &arguments, &ctx.user, &users, &mut data)
    } else {
        Err(tools::ToolFailure(format!("Unknown tool: {name}")))
    };
    let mut handled = Handled::ok(id, tools::to_call_result(outcome));
    let progress_token = params
        .get("_meta")
        .and_then(|m| m.get("progressToken"))
        .filter(|t| t.is_string() || t.is_i64() || t.is_u64());
    if let Some(token) = progress_token {
        handled.stream = true;
        let progress = |n: u64, message: &str| {
            jsonrpc::notification(
                "notifications/progress",
                json!({ "progressToken": token, "progress": n, "total": 3, "message": message }),
            )
        };
        handled.notifications.push(progress(1, "Authenticating"));
        if ctx.info_logs {
            handled.notifications.push(jsonrpc::notification(
                "notifications/message",
                json!({
                    "level": "info",
                    "logger": "pagerduty",
                    "data": format!("{} called {name}", ctx.user.id),
                }),
            ));
        }
        handled
            .notifications
            .push(progress(2, "Querying PagerDuty"));
        handled.notifications.push(progress(3, "Done"));
    }
    handled
}

/// Adds the 2026-07-28 result fields: `resultType`, the server's identity in `_meta`, and cache
/// hints on cacheable results.
pub(crate) fn decorate_stateless(method: &str, response: &mut Value) {
    let Some(result) = response.get_mut("result").and_then(Value::as_object_mut) else {
        return;
    };
    result.insert("resultType".into(), Value::String("complete".into()));
    let meta = result
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(meta) = meta.as_object_mut() {
        meta.insert("io.modelcontextprotocol/serverInfo".into(), server_info());
    }
    if matches!(
        method,
        "tools/list"
            | "resources/list"
            | "resources/templates/list"
            | "resources/read"
            | "prompts/list"
            | "server/discover"
    ) {
        result.insert("ttlMs".into(), json!(0));
        result.insert("cacheScope".into(), json!("private"));
    }
}

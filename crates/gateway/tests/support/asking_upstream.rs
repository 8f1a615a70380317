//! An upstream MCP server built on the official Rust SDK (`rmcp`'s Streamable HTTP server) whose
//! tool asks the client for input mid-call, the way each protocol era allows: an
//! `elicitation/create` (or `sampling/createMessage`) request on the call's stream in the session
//! era, an `input_required` result (SEP-2322) in the 2026-07-28 era. It accepts
//! `Authorization: Token <token>` for the tokens it is given and answers 401 otherwise.
//!
//! Tools: `confirm_action {action}` asks "Really <action>?" and returns
//! `{"user", "action", "answer"}` with the client's answer; `summarize {text}` asks for a
//! sampling; `whoami` returns the user. The prompt `confirmed_prompt {topic}` and the resource
//! `asking://secret` ask "Really show <topic / the secret>?" the same way and return the user and
//! the answer as their text.
//!
//! Session era only: `confirm_later {action, after_ms}` returns at once and asks "Really
//! <action>?" `after_ms` (default 300) later on the session's standing stream (no call is running then); `later_answer`
//! waits (up to 10 s) for what that request got, the answer or the error, and returns it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ErrorData, GetPromptRequestParams,
    GetPromptResponse, InputRequiredResult, InputResponses, ListToolsResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{RoleServer, ServerHandler};
use serde_json::{Value, json};

#[derive(Clone)]
struct User(String);

#[derive(Clone)]
struct Asking;

fn user_of(context: &RequestContext<RoleServer>) -> String {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<User>())
        .map(|u| u.0.clone())
        .unwrap_or_default()
}

fn stateless(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|v| v.as_str() >= "2026-07-28")
}

fn elicitation(action: &str) -> Value {
    json!({
        "method": "elicitation/create",
        "params": {
            "message": format!("Really {action}?"),
            "requestedSchema": {
                "type": "object",
                "properties": { "confirm": { "type": "boolean" } },
                "required": ["confirm"]
            }
        }
    })
}

fn sampling(text: &str) -> Value {
    json!({
        "method": "sampling/createMessage",
        "params": {
            "messages": [{ "role": "user", "content": { "type": "text", "text": format!("Summarize: {text}") } }],
            "maxTokens": 50
        }
    })
}

/// What each user's `confirm_later` request got: the answer, or the error's text.
fn later_answers() -> &'static (
    std::sync::Mutex<HashMap<String, Value>>,
    tokio::sync::Notify,
) {
    static LATER: std::sync::OnceLock<(
        std::sync::Mutex<HashMap<String, Value>>,
        tokio::sync::Notify,
    )> = std::sync::OnceLock::new();
    LATER.get_or_init(Default::default)
}

fn text_result(value: Value) -> CallToolResult {
    serde_json::from_value(json!({
        "content": [{ "type": "text", "text": value.to_string() }],
        "structuredContent": value,
        "isError": false,
        "resultType": "complete",
    }))
    .unwrap()
}

impl ServerHandler for Asking {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .build(),
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let read_only = json!({ "readOnlyHint": true });
        Ok(serde_json::from_value(json!({
            "resultType": "complete",
            "tools": [
                { "name": "confirm_action", "inputSchema": { "type": "object", "properties": { "action": { "type": "string" } } }, "annotations": read_only },
                { "name": "summarize", "inputSchema": { "type": "object", "properties": { "text": { "type": "string" } } }, "annotations": read_only },
                { "name": "whoami", "inputSchema": { "type": "object" }, "annotations": read_only },
                { "name": "confirm_later", "inputSchema": { "type": "object", "properties": { "action": { "type": "string" } } }, "annotations": read_only },
                { "name": "later_answer", "inputSchema": { "type": "object" }, "annotations": read_only },
            ]
        }))
        .unwrap())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let user = user_of(&context);
        let args = request.arguments.clone().unwrap_or_default();
        let arg = |name: &str| {
            args.get(name)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let (key, ask) = match request.name.as_ref() {
            "whoami" => return Ok(text_result(json!({ "user": user })).into()),
            "confirm_later" => {
                let (answers, _) = later_answers();
                answers.lock().unwrap().remove(&user);
                let peer = context.peer.clone();
                let ask: rmcp::model::ServerRequest =
                    serde_json::from_value(elicitation(&arg("action"))).unwrap();
                let asker = user.clone();
                let after = args.get("after_ms").and_then(Value::as_u64).unwrap_or(300);
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(after)).await;
                    let got = match peer.send_request(ask).await {
                        Ok(answer) => json!({ "answer": answer }),
                        Err(err) => json!({ "error": err.to_string() }),
                    };
                    let (answers, arrived) = later_answers();
                    answers.lock().unwrap().insert(asker, got);
                    arrived.notify_waiters();
                });
                return Ok(text_result(json!({ "user": user, "asking": "later" })).into());
            }
            "later_answer" => {
                let (answers, arrived) = later_answers();
                let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
                loop {
                    let waiting = arrived.notified();
                    if let Some(got) = answers.lock().unwrap().get(&user).cloned() {
                        return Ok(text_result(json!({ "user": user, "later": got })).into());
                    }
                    if tokio::time::timeout_at(deadline, waiting).await.is_err() {
                        return Ok(text_result(json!({ "user": user, "later": null })).into());
                    }
                }
            }
            "confirm_action" => ("confirm", elicitation(&arg("action"))),
            "summarize" => ("sample", sampling(&arg("text"))),
            other => return Err(ErrorData::invalid_params(format!("no tool {other}"), None)),
        };
        let answer: Value = if stateless(&context) {
            match request.input_responses.as_ref().and_then(|r| r.get(key)) {
                Some(answer)
                    if request.request_state.as_deref() == Some(&format!("state-for-{user}")) =>
                {
                    answer.clone()
                }
                Some(_) => return Err(ErrorData::invalid_params("tampered request state", None)),
                None => {
                    let input: rmcp::model::InputRequiredResult = serde_json::from_value(json!({
                        "resultType": "input_required",
                        "inputRequests": { key: ask },
                        "requestState": format!("state-for-{user}"),
                    }))
                    .unwrap();
                    return Ok(CallToolResponse::InputRequired(input));
                }
            }
        } else {
            let request: rmcp::model::ServerRequest = serde_json::from_value(ask).unwrap();
            let answer = context.peer.send_request(request).await.map_err(|e| {
                ErrorData::internal_error(format!("asking the client failed: {e}"), None)
            })?;
            serde_json::to_value(answer).unwrap()
        };
        Ok(text_result(json!({ "user": user, "action": arg("action"), "answer": answer })).into())
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let topic = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("topic"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let answer = match ask_client(
            &context,
            "confirm",
            elicitation(&format!("show {topic}")),
            request.input_responses.as_ref(),
            request.request_state.as_deref(),
        )
        .await?
        {
            Ok(answer) => answer,
            Err(input) => return Ok(GetPromptResponse::InputRequired(input)),
        };
        let text =
            json!({ "user": user_of(&context), "topic": topic, "answer": answer }).to_string();
        Ok(GetPromptResponse::from(
            serde_json::from_value::<rmcp::model::GetPromptResult>(json!({
                "messages": [{ "role": "user", "content": { "type": "text", "text": text } }],
            }))
            .unwrap(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let answer = match ask_client(
            &context,
            "confirm",
            elicitation("show the secret"),
            request.input_responses.as_ref(),
            request.request_state.as_deref(),
        )
        .await?
        {
            Ok(answer) => answer,
            Err(input) => return Ok(ReadResourceResponse::InputRequired(input)),
        };
        let text = json!({ "user": user_of(&context), "answer": answer }).to_string();
        Ok(ReadResourceResponse::from(
            serde_json::from_value::<rmcp::model::ReadResourceResult>(json!({
                "contents": [{ "uri": request.uri, "mimeType": "application/json", "text": text }],
            }))
            .unwrap(),
        ))
    }
}

/// Asks `ask` under `key` the way the era allows: the answer, or the `input_required` result to
/// send first (2026-07-28).
async fn ask_client(
    context: &RequestContext<RoleServer>,
    key: &str,
    ask: Value,
    responses: Option<&InputResponses>,
    state: Option<&str>,
) -> Result<Result<Value, InputRequiredResult>, ErrorData> {
    let user = user_of(context);
    if stateless(context) {
        return match responses.and_then(|r| r.get(key)) {
            Some(answer) if state == Some(format!("state-for-{user}").as_str()) => {
                Ok(Ok(answer.clone()))
            }
            Some(_) => Err(ErrorData::invalid_params("tampered request state", None)),
            None => Ok(Err(serde_json::from_value(json!({
                "resultType": "input_required",
                "inputRequests": { key: ask },
                "requestState": format!("state-for-{user}"),
            }))
            .unwrap())),
        };
    }
    let request: rmcp::model::ServerRequest = serde_json::from_value(ask).unwrap();
    let answer =
        context.peer.send_request(request).await.map_err(|e| {
            ErrorData::internal_error(format!("asking the client failed: {e}"), None)
        })?;
    Ok(Ok(serde_json::to_value(answer).unwrap()))
}

async fn check_token(
    State(tokens): State<Arc<HashMap<String, String>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let user = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Token "))
        .and_then(|t| tokens.get(t))
        .cloned();
    match user {
        Some(user) => {
            request.extensions_mut().insert(User(user));
            next.run(request).await
        }
        None => (
            http::StatusCode::UNAUTHORIZED,
            [("content-type", "application/json")],
            r#"{"error":{"message":"Authentication failed","code":2006}}"#,
        )
            .into_response(),
    }
}

/// Starts the server on loopback; `tokens` maps each accepted token to its user's name.
/// Returns the MCP endpoint URL.
pub async fn start(tokens: &[(&str, &str)]) -> String {
    let tokens: Arc<HashMap<String, String>> = Arc::new(
        tokens
            .iter()
            .map(|(t, u)| ((*t).to_owned(), (*u).to_owned()))
            .collect(),
    );
    let service = StreamableHttpService::new(
        || Ok(Asking),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let router = axum::Router::new()
        .route_service("/mcp", service)
        .route_layer(axum::middleware::from_fn_with_state(tokens, check_token));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}/mcp")
}

//! The MCP server agents talk to: each request is forwarded upstream as the agent's user.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult, ErrorCode,
    ErrorData, GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
    SubscriptionFilter,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{RoleServer, ServerHandler};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::agent_auth::AgentUser;
use super::errors::{outcome, to_error_data};
use super::list_changed::AgentSink;
use super::service::GatewayState;
use crate::client::Session;
use crate::credential::{CredentialProvider, UserId};
use crate::error::Error;

/// One rmcp service instance (rmcp makes one per agent session, or per stateless request); all
/// share the gateway's state.
#[derive(Clone)]
pub(crate) struct GatewayHandler {
    state: Arc<GatewayState>,
}

impl GatewayHandler {
    pub(crate) fn new(state: Arc<GatewayState>) -> Self {
        GatewayHandler { state }
    }

    /// Runs one forwarded request: the user, in-flight accounting, cancellation by the agent,
    /// the log line and the metrics.
    async fn forward<T, F, Fut>(
        &self,
        context: &RequestContext<RoleServer>,
        method: &'static str,
        tool: Option<&str>,
        call: F,
    ) -> Result<T, ErrorData>
    where
        F: FnOnce(UserId) -> Fut,
        Fut: Future<Output = crate::Result<T>>,
    {
        let user = user_of(context.extensions.get::<http::request::Parts>())?;
        let started = Instant::now();
        // Dropping the upstream future (the agent cancelled, or went away) cancels upstream.
        let result = tokio::select! {
            result = call(user.clone()) => Some(result),
            () = context.ct.cancelled() => None,
        };
        let latency = started.elapsed();
        let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        let tool_field = tool.unwrap_or("");
        let Some(result) = result else {
            self.state
                .metrics
                .record_call(method, tool, "cancelled", latency);
            tracing::info!(target: "mcp_gateway::call", user = %user, method, tool = tool_field, outcome = "cancelled", latency_ms, "call cancelled by the agent");
            return Err(ErrorData::new(
                ErrorCode(-32800),
                "the request was cancelled",
                None,
            ));
        };
        let outcome = outcome(&result);
        self.state.metrics.record_call(method, tool, outcome, latency);
        match result {
            Ok(value) => {
                tracing::info!(target: "mcp_gateway::call", user = %user, method, tool = tool_field, outcome, latency_ms, "call forwarded");
                Ok(value)
            }
            Err(err) => {
                tracing::info!(target: "mcp_gateway::call", user = %user, method, tool = tool_field, outcome, latency_ms, error = %err, "call failed");
                Err(to_error_data(&err, &self.state.help))
            }
        }
    }

    /// A request the connector does not wrap, sent on the user's session. A 401 invalidates the
    /// credential and drops the session, as the connector does for its own calls.
    async fn raw(
        state: Arc<GatewayState>,
        user: UserId,
        method: &'static str,
        params: Value,
    ) -> crate::Result<Value> {
        let session: Session = state.connector.session(&user).await?;
        let result = session.request(method, params).await;
        if let Err(Error::Unauthorized { .. }) = &result {
            tracing::warn!(user = %user, "the server rejected the user's credential; invalidating it");
            state
                .credentials
                .invalidate(&user, session.credential())
                .await;
            let _ = state.connector.disconnect(&user).await;
        }
        result.map(sanitize_result)
    }

    async fn forward_raw<T: DeserializeOwned>(
        &self,
        context: &RequestContext<RoleServer>,
        method: &'static str,
        params: Value,
    ) -> Result<T, ErrorData> {
        let state = self.state.clone();
        let value = self
            .forward(context, method, None, |user| {
                Self::raw(state, user, method, upstream_params(params))
            })
            .await?;
        convert(&value, method)
    }
}

/// The user the authentication layer put on the request.
fn user_of(parts: Option<&http::request::Parts>) -> Result<UserId, ErrorData> {
    parts
        .and_then(|parts| parts.extensions.get::<AgentUser>())
        .map(|agent| agent.user().clone())
        .ok_or_else(|| {
            ErrorData::new(
                ErrorCode::INVALID_REQUEST,
                "the request did not pass the gateway's authentication",
                None,
            )
        })
}

/// The agent's params as they go upstream: the agent's own `_meta` (its protocol version,
/// capabilities, progress token) is the gateway's business, not the upstream's.
fn upstream_params(params: Value) -> Value {
    match params {
        Value::Object(mut map) => {
            map.remove("_meta");
            Value::Object(map)
        }
        other => other,
    }
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

/// Converts between this crate's model and rmcp's through their shared JSON form.
fn convert<T: Serialize + ?Sized, U: DeserializeOwned>(
    value: &T,
    what: &str,
) -> Result<U, ErrorData> {
    serde_json::to_value(value)
        .and_then(serde_json::from_value)
        .map_err(|err| {
            ErrorData::internal_error(
                format!("the upstream's {what} result cannot be passed on: {err}"),
                None,
            )
        })
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

impl ServerHandler for GatewayHandler {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_resources()
            .enable_resources_list_changed()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_completions()
            .build();
        let mut info = ServerConfig::new(capabilities).with_server_info(Implementation::new(
            self.state.name.clone(),
            env!("CARGO_PKG_VERSION"),
        ));
        if let Some(instructions) = &self.state.instructions {
            info = info.with_instructions(instructions.clone());
        }
        info
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let connector = self.state.connector.clone();
        let tools = self
            .forward(&context, "tools/list", None, |user| async move {
                connector.list_tools(&user).await
            })
            .await?;
        let tools: Vec<Value> = tools
            .iter()
            .map(|tool| {
                let mut tool = to_json(tool);
                if tool.get("inputSchema").is_none_or(|s| !s.is_object()) {
                    tool["inputSchema"] = serde_json::json!({"type": "object"});
                }
                tool
            })
            .collect();
        convert(
            &sanitize_result(serde_json::json!({ "tools": tools })),
            "tools/list",
        )
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let connector = self.state.connector.clone();
        let name = request.name.to_string();
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        let tool = name.clone();
        let result = self
            .forward(&context, "tools/call", Some(&name), |user| async move {
                connector.call_tool(&user, &tool, arguments).await
            })
            .await?;
        let result: rmcp::model::CallToolResult =
            convert(&sanitize_result(to_json(&result)), "tools/call")?;
        Ok(CallToolResponse::from(result))
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        self.forward_raw(&context, "resources/list", to_json(&request))
            .await
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        self.forward_raw(&context, "resources/templates/list", to_json(&request))
            .await
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let result: rmcp::model::ReadResourceResult = self
            .forward_raw(&context, "resources/read", to_json(&request))
            .await?;
        Ok(result.into())
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        self.forward_raw(&context, "prompts/list", to_json(&request))
            .await
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let result: rmcp::model::GetPromptResult = self
            .forward_raw(&context, "prompts/get", to_json(&request))
            .await?;
        Ok(result.into())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        self.forward_raw(&context, "completion/complete", to_json(&request))
            .await
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = SubscriptionFilter::new();
        accepted.tools_list_changed = requested.tools_list_changed;
        accepted.prompts_list_changed = requested.prompts_list_changed;
        accepted.resources_list_changed = requested.resources_list_changed;
        Some(accepted)
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let user = user_of(
            context
                .request_context()
                .extensions
                .get::<http::request::Parts>(),
        )?;
        let _registration = self.state.list_changed.register(
            &self.state.connector,
            &user,
            AgentSink::Subscription(context.sink().clone()),
        );
        context.cancelled().await;
        Ok(())
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let Ok(user) = user_of(context.extensions.get::<http::request::Parts>()) else {
            return;
        };
        // A session-era agent hears list changes on its session's standing stream; the
        // registration lives as long as that session.
        self.state
            .list_changed
            .register(
                &self.state.connector,
                &user,
                AgentSink::Session(context.peer.clone()),
            )
            .keep();
    }
}

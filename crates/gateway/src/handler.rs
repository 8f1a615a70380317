//! The MCP server agents talk to: each request is forwarded upstream as the agent's user.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use std::collections::HashMap;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult, ErrorCode,
    ErrorData, GetPromptRequestParams, GetPromptResponse, Implementation, InputRequiredResult,
    InputResponses, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ProtocolVersion, ReadResourceRequestParams,
    ReadResourceResponse, ServerCapabilities, ServerConfig, SubscribeRequestParams,
    SubscriptionFilter, UnsubscribeRequestParams,
};
use rmcp::model::{ClientCapabilities, ProgressToken};
// Logging is deprecated by SEP-2577 (2026-07-28) but the session era still uses it (logging.rs).
#[allow(deprecated)]
use rmcp::model::SetLevelRequestParams;
use rmcp::service::{NotificationContext, Peer, RequestContext, SubscriptionContext};
use rmcp::{RoleServer, ServerHandler};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::agent_call::{AgentCall, Askable, Event, Running, Upstream, ask_peer, progress_param};
use super::agent_sessions::Declared;
use super::ask_to_connect::{Ask, Asked, ask, connect_round, needs_connect};
use super::bridge::{
    capabilities_upstream, from_json, into_rmcp, marked_refused, tools_into_rmcp, upstream_params,
};
use super::connect::PendingConnection;
use super::errors::{outcome, to_error_data};
use super::list_changed::AgentSink;
use super::logging::pass_log_on;
use super::metrics::capped_tool_name;
use super::resource_listen::{accepted_uris, forward as forward_resource_updates};
use super::state::{AgentUser, GatewayState};
use super::subscriptions::{Change, MAX_URI_BYTES, Target};
use pagerduty_mcp_connect::client::{HandlerError, RequestOptions};
use pagerduty_mcp_connect::{LoggingLevel, UserId};
use tokio_util::sync::CancellationToken;

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
        Fut: Future<Output = pagerduty_mcp_connect::Result<T>>,
    {
        let user = user_of(context.extensions.get::<http::request::Parts>())?;
        let started = Instant::now();
        // Dropping the upstream future (the agent cancelled, or went away) cancels upstream.
        let result = tokio::select! {
            result = call(user.clone()) => result,
            () = context.ct.cancelled() => return Err(self.cancelled(method, tool, &user, started)),
        };
        let connect = matches!(&result, Err(err) if needs_connect(err));
        match self.finish(method, tool, &user, started, result) {
            Err(error) if connect => {
                let Some(page) = &self.state.connect else {
                    return Err(error);
                };
                let capabilities = context.client_capabilities();
                let asked = Asked {
                    user: &user,
                    method,
                    elicitation_url: declares_url_elicitation(capabilities.as_ref()),
                    stateless_agent: is_stateless(context),
                    peer: Some(&context.peer),
                    again: None,
                };
                match ask(page, asked, &self.state.cancel) {
                    Ask::Error(asking) => Err(asking),
                    // (Only tools/call, prompts/get and resources/read are answered otherwise.)
                    Ask::InputRequired(_) | Ask::ToolResult(_) => Err(error),
                }
            }
            other => other,
        }
    }

    /// Starts `method` upstream for the agent (or, for a 2026-07-28 agent coming back with the
    /// answers to an `input_required` round, resumes the call parked under its `requestState`)
    /// and runs it to its end, passing its progress and server requests to the agent.
    ///
    /// `name` is the tool, prompt or resource URI: a parked call resumes only for the same
    /// user, method and name. `start` sends the request upstream with the given options.
    pub(crate) async fn start_or_resume(
        &self,
        agent: AgentRequest,
        method: &'static str,
        name: String,
        resume: Option<(String, InputResponses)>,
        start: impl FnOnce(UserId, RequestOptions) -> Upstream,
    ) -> Result<Driven, ErrorData> {
        let what = parked_name(method, &name);
        let (running, started) = match resume {
            Some((state, responses)) => {
                let Some(parked) = self.state.pending.take(&state, &agent.user, &what) else {
                    return Err(ErrorData::invalid_params(
                        "unknown or expired requestState: send the request again without it",
                        None,
                    ));
                };
                for (key, answer) in parked.answers {
                    let reply = match responses.get(&key) {
                        Some(value) => Ok(value.clone()),
                        None => Err(HandlerError::invalid_params(format!(
                            "the agent did not answer input request {key}"
                        ))),
                    };
                    let _ = answer.send(reply);
                }
                (parked.running, parked.started)
            }
            None => {
                let declared = Askable {
                    elicitation: agent.elicitation,
                    sampling: agent.sampling,
                    roots: agent.roots,
                };
                let (mut options, events) =
                    AgentCall::options(agent.user.clone(), declared, agent.progress.is_some());
                if agent.stateless_agent {
                    // The upstream's own input_required rounds go to the agent as they are
                    // (its keys, its requestState), and it sees the agent's capabilities.
                    options = options.return_input_required();
                    if let Some(capabilities) = agent.capabilities.clone() {
                        options = options.with_client_capabilities(capabilities);
                    }
                    if let Some(level) = agent.log_level {
                        options = options.with_log_level(level);
                    }
                }
                let upstream = start(agent.user.clone(), options);
                (Running { upstream, events }, Instant::now())
            }
        };
        self.drive(agent, method, name, running, started).await
    }

    /// Runs an upstream call to its end, passing its progress and server requests to the agent;
    /// a 2026-07-28 agent asked for input gets `input_required` and the call waits, parked.
    async fn drive(
        &self,
        agent: AgentRequest,
        method: &'static str,
        name: String,
        mut running: Running,
        started: Instant,
    ) -> Result<Driven, ErrorData> {
        let AgentRequest {
            user,
            stateless_agent,
            elicitation_url,
            progress,
            peer,
            cancelled,
            asked,
            ..
        } = agent;
        let tool = (method == "tools/call").then_some(name.as_str());
        let mut unfinished = Unfinished {
            handler: self,
            method,
            tool,
            user: &user,
            started,
            armed: true,
        };
        enum Step {
            Done(pagerduty_mcp_connect::Result<Value>),
            Event(Option<Event>),
            Cancelled,
        }
        let mut events_open = true;
        loop {
            // Events first: progress sent before the result reaches the agent before it.
            let step = tokio::select! {
                biased;
                event = running.events.recv(), if events_open => Step::Event(event),
                result = &mut running.upstream => Step::Done(result),
                () = cancelled.cancelled() => Step::Cancelled,
            };
            match step {
                Step::Done(result) => {
                    // What the upstream sent before its result reaches the agent before it.
                    while let Ok(event) = running.events.try_recv() {
                        match event {
                            Event::Progress(update) => {
                                if let Some((token, peer)) = &progress {
                                    let _ =
                                        peer.notify_progress(progress_param(token, &update)).await;
                                }
                            }
                            Event::Log(params) => pass_log_on(peer.as_ref(), params).await,
                            // The call is over: nothing waits for an answer any more.
                            Event::Input(_) => {}
                        }
                    }
                    unfinished.armed = false;
                    let connect = matches!(&result, Err(err) if needs_connect(err));
                    let result = match self.finish(method, tool, &user, started, result) {
                        Ok(result) => result,
                        Err(error) => {
                            let Some(page) = self.state.connect.as_ref().filter(|_| connect) else {
                                return Err(error);
                            };
                            let asked = Asked {
                                user: &user,
                                method,
                                elicitation_url,
                                stateless_agent,
                                peer: peer.as_ref(),
                                again: asked,
                            };
                            return match ask(page, asked, &self.state.cancel) {
                                Ask::Error(asking) => Err(asking),
                                Ask::InputRequired(input) => Ok(Driven::InputRequired(input)),
                                Ask::ToolResult(result) => Ok(Driven::Complete(result)),
                            };
                        }
                    };
                    if result.get("resultType").and_then(Value::as_str) == Some("input_required") {
                        // The upstream's own round, for the agent to answer (its keys and
                        // requestState unchanged; the answers go back upstream as they come).
                        let input: InputRequiredResult = from_json(result, method)?;
                        return Ok(Driven::InputRequired(input));
                    }
                    return Ok(Driven::Complete(result));
                }
                Step::Cancelled => {
                    // Dropping `running` cancels the upstream call.
                    unfinished.armed = false;
                    return Err(self.cancelled(method, tool, &user, started));
                }
                Step::Event(None) => events_open = false,
                Step::Event(Some(Event::Progress(update))) => {
                    if let Some((token, peer)) = &progress {
                        let _ = peer.notify_progress(progress_param(token, &update)).await;
                    }
                }
                Step::Event(Some(Event::Log(params))) => pass_log_on(peer.as_ref(), params).await,
                Step::Event(Some(Event::Input(need))) if !stateless_agent => {
                    // The session-era agent is asked on this request's own stream.
                    let answer = match &peer {
                        Some(peer) => {
                            let ask = ask_peer(peer, need.method, need.params);
                            tokio::select! {
                                answer = ask => answer,
                                () = cancelled.cancelled() => {
                                    unfinished.armed = false;
                                    return Err(self.cancelled(method, tool, &user, started));
                                }
                            }
                        }
                        // (The direct path takes no request from an agent that could be asked.)
                        None => Err(HandlerError::internal(
                            "the agent cannot be asked on this request",
                        )),
                    };
                    let _ = need.answer.send(answer);
                }
                Step::Event(Some(Event::Input(need))) => {
                    let key = format!("{}#{}", need.method, self.state.pending.len());
                    let request = json!({ "method": need.method, "params": need.params });
                    let answers = HashMap::from([(key.clone(), need.answer)]);
                    // Parked, the call goes on without this future (and is recorded when it ends).
                    unfinished.armed = false;
                    let state = match self.state.pending.park(
                        user.clone(),
                        parked_name(method, &name),
                        running,
                        answers,
                        started,
                    ) {
                        Ok(state) => state,
                        Err(_running) => {
                            return Err(ErrorData::new(
                                ErrorCode::INTERNAL_ERROR,
                                "too many of your requests are waiting for answers; answer or cancel them first",
                                None,
                            ));
                        }
                    };
                    let input: InputRequiredResult = from_json(
                        json!({
                            "resultType": "input_required",
                            "inputRequests": { key: request },
                            "requestState": state,
                        }),
                        need.method,
                    )?;
                    return Ok(Driven::InputRequired(input));
                }
            }
        }
    }

    /// The log line and metrics of a finished call, and its result for the agent.
    fn finish<T>(
        &self,
        method: &'static str,
        tool: Option<&str>,
        user: &UserId,
        started: Instant,
        result: pagerduty_mcp_connect::Result<T>,
    ) -> Result<T, ErrorData> {
        let latency = started.elapsed();
        let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        // The agent's name, capped: an agent can make one up of any length.
        let tool_field = capped_tool_name(tool.unwrap_or(""));
        let outcome = outcome(&result);
        self.state
            .metrics
            .record_call(method, tool, outcome, latency);
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

    /// The log line and metrics of a call the agent cancelled.
    fn cancelled(
        &self,
        method: &'static str,
        tool: Option<&str>,
        user: &UserId,
        started: Instant,
    ) -> ErrorData {
        let latency = started.elapsed();
        let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.state
            .metrics
            .record_call(method, tool, "cancelled", latency);
        tracing::info!(target: "mcp_gateway::call", user = %user, method, tool = capped_tool_name(tool.unwrap_or("")), outcome = "cancelled", latency_ms, "call cancelled by the agent");
        ErrorData::new(ErrorCode(-32800), "the request was cancelled", None)
    }

    /// A request sent through the connector's path for any method (policy, a 401 invalidating
    /// the credential, redaction, the span).
    async fn raw(
        state: Arc<GatewayState>,
        stateless_agent: bool,
        user: UserId,
        method: &'static str,
        params: Value,
        options: RequestOptions,
    ) -> pagerduty_mcp_connect::Result<Value> {
        state
            .upstream(stateless_agent)
            .request_with(&user, method, params, options)
            .await
    }

    /// How [`GatewayHandler::start_or_resume`] sends `method` with `params` upstream.
    fn raw_start(
        &self,
        stateless_agent: bool,
        method: &'static str,
        params: Value,
    ) -> impl FnOnce(UserId, RequestOptions) -> Upstream + use<> {
        let state = self.state.clone();
        move |user, options| {
            Box::pin(Self::raw(
                state,
                stateless_agent,
                user,
                method,
                params,
                options,
            ))
        }
    }

    async fn forward_raw<T: DeserializeOwned>(
        &self,
        context: &RequestContext<RoleServer>,
        method: &'static str,
        params: Value,
    ) -> Result<T, ErrorData> {
        let state = self.state.clone();
        let stateless_agent = is_stateless(context);
        let value = self
            .forward(context, method, None, |user| {
                Self::raw(
                    state,
                    stateless_agent,
                    user,
                    method,
                    params,
                    RequestOptions::default(),
                )
            })
            .await?;
        into_rmcp(value, method)
    }

    /// `tools/call`, from rmcp's handler or the direct path.
    pub(crate) async fn forward_call_tool(
        &self,
        mut agent: AgentRequest,
        mut request: CallToolRequestParams,
    ) -> Result<CallToolResponse, ErrorData> {
        agent.asked = connect_round(
            self.state.connect.as_ref(),
            &agent.user,
            &mut request.request_state,
            &mut request.input_responses,
        )?;
        let resume = self.own_round(&mut request.request_state, &mut request.input_responses);
        // Answers to the upstream's own round go back upstream with the request.
        let answers_upstream = (request.request_state.is_some()
            || request.input_responses.is_some())
        .then(|| upstream_params(&request));
        let name = request.name.to_string();
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        let connector = self.state.upstream(agent.stateless_agent).clone();
        let tool = name.clone();
        let driven = self
            .start_or_resume(agent, "tools/call", name, resume, move |user, options| {
                Box::pin(async move {
                    match answers_upstream {
                        Some(params) => {
                            connector
                                .request_with(&user, "tools/call", params, options)
                                .await
                        }
                        None => {
                            connector
                                .call_tool_raw(&user, &tool, arguments, options)
                                .await
                        }
                    }
                })
            })
            .await?;
        driven.into_response::<rmcp::model::CallToolResult, _>(
            "tools/call",
            CallToolResponse::InputRequired,
        )
    }
}

/// Records a call as cancelled by the agent when its future is dropped before the call ended:
/// the agent went away, and the HTTP server dropped the request's handler (rmcp cancels its
/// token instead; on the direct path the handler is simply dropped).
struct Unfinished<'a> {
    handler: &'a GatewayHandler,
    method: &'static str,
    tool: Option<&'a str>,
    user: &'a UserId,
    started: Instant,
    armed: bool,
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self
                .handler
                .cancelled(self.method, self.tool, self.user, self.started);
        }
    }
}

/// Whether the agent declared URL-mode elicitation (`capabilities.elicitation.url`).
pub(crate) fn declares_url_elicitation(capabilities: Option<&ClientCapabilities>) -> bool {
    capabilities
        .and_then(|c| c.elicitation.as_ref())
        .is_some_and(|e| e.url.is_some())
}

/// Whether the agent speaks the 2026-07-28 protocol (else the session era).
fn is_stateless(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
}

/// The agent's session id (resource subscriptions are the session era's).
fn agent_session(parts: Option<&http::request::Parts>) -> Result<String, ErrorData> {
    parts
        .and_then(|parts| parts.headers.get(super::state::SESSION_HEADER))
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| {
            ErrorData::invalid_request(
                "resources/subscribe needs a session: initialize first (protocol 2025-11-25 or older)",
                None,
            )
        })
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

/// What the gateway needs of one agent request: from rmcp's context, or built by the
/// [direct path](super::direct) from the request itself.
pub(crate) struct AgentRequest {
    pub(crate) user: UserId,
    /// The agent declared `elicitation` (for this request, or its session).
    pub(crate) elicitation: bool,
    /// The agent declared URL-mode elicitation (`elicitation.url`): it can be asked to open
    /// the connect page's link.
    pub(crate) elicitation_url: bool,
    /// The agent declared `sampling`.
    pub(crate) sampling: bool,
    /// The agent declared `roots`.
    pub(crate) roots: bool,
    /// A 2026-07-28 agent: asked for input with `input_required`, never with a request.
    pub(crate) stateless_agent: bool,
    /// A 2026-07-28 agent's declared capabilities, declared upstream for its requests in place
    /// of the gateway's own (so the upstream asks it only for what it can answer).
    pub(crate) capabilities: Option<Value>,
    /// A 2026-07-28 agent's `logLevel` for this request, asked of the upstream in its place.
    pub(crate) log_level: Option<LoggingLevel>,
    /// Where the call's progress goes: the agent's progress token and its peer.
    pub(crate) progress: Option<(ProgressToken, Peer<RoleServer>)>,
    /// The session-era agent's peer, to ask it on this request's own stream.
    pub(crate) peer: Option<Peer<RoleServer>>,
    /// Cancelled when the agent cancels the request or goes away.
    pub(crate) cancelled: CancellationToken,
    /// A 2026-07-28 retry after a connect `input_required` whose link is still waiting: the
    /// agent is asked again with it if the call still finds no token.
    pub(crate) asked: Option<PendingConnection>,
}

impl AgentRequest {
    fn from_context(context: RequestContext<RoleServer>) -> Result<Self, ErrorData> {
        let user = user_of(context.extensions.get::<http::request::Parts>())?;
        let capabilities = context.client_capabilities();
        let stateless_agent = is_stateless(&context);
        let progress = context
            .meta
            .get_progress_token()
            .map(|token| (token, context.peer.clone()));
        Ok(AgentRequest {
            user,
            elicitation: capabilities
                .as_ref()
                .is_some_and(|c| c.elicitation.is_some()),
            elicitation_url: declares_url_elicitation(capabilities.as_ref()),
            sampling: capabilities.as_ref().is_some_and(|c| c.sampling.is_some()),
            roots: capabilities.as_ref().is_some_and(|c| c.roots.is_some()),
            log_level: stateless_agent
                .then(|| {
                    context
                        .meta
                        .get("io.modelcontextprotocol/logLevel")
                        .cloned()
                })
                .flatten()
                .and_then(|level| serde_json::from_value(level).ok()),
            capabilities: stateless_agent.then(|| capabilities_upstream(capabilities.as_ref())),
            stateless_agent,
            progress,
            peer: Some(context.peer),
            cancelled: context.ct,
            asked: None,
        })
    }
}

/// What a forwarded request's outcome is for the agent.
pub(crate) enum Driven {
    /// The upstream's result, to sanitize and convert to the method's rmcp type.
    Complete(Value),
    /// A 2026-07-28 agent must answer these first; the upstream call waits, parked.
    InputRequired(InputRequiredResult),
}

/// The name a parked request is kept under: only the same method and name resume it.
fn parked_name(method: &str, name: &str) -> String {
    format!("{method} {name}")
}

impl Driven {
    /// The agent's response of type `R`: the upstream's result as rmcp's `T`, or the
    /// `input_required` round (`input_required` is `R`'s variant for it).
    fn into_response<T: DeserializeOwned, R: From<T>>(
        self,
        method: &str,
        input_required: fn(InputRequiredResult) -> R,
    ) -> Result<R, ErrorData> {
        match self {
            Driven::Complete(result) => Ok(R::from(into_rmcp::<T>(result, method)?)),
            Driven::InputRequired(input) => Ok(input_required(input)),
        }
    }
}

impl GatewayHandler {
    /// The agent's `requestState` and answers when it is coming back from one of the
    /// gateway's own `input_required` rounds (a call parked here): taken out of the request,
    /// they never go upstream. Any other `requestState` is the upstream's (its round was passed
    /// to the agent as it was): left in the request, it goes back upstream with the answers.
    fn own_round(
        &self,
        state: &mut Option<String>,
        responses: &mut Option<InputResponses>,
    ) -> Option<(String, InputResponses)> {
        let own = state
            .as_deref()
            .is_some_and(|s| self.state.pending.holds(s));
        if !own {
            return None;
        }
        state
            .take()
            .map(|state| (state, responses.take().unwrap_or_default()))
    }
}

impl ServerHandler for GatewayHandler {
    fn get_info(&self) -> ServerConfig {
        // Logging (deprecated by SEP-2577, still used by the session era) and resource
        // subscriptions are passed through to the upstream (logging.rs, subscriptions.rs).
        #[allow(deprecated)]
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_resources()
            .enable_resources_list_changed()
            .enable_resources_subscribe()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_completions()
            .enable_logging()
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
        let connector = self.state.upstream(is_stateless(&context)).clone();
        let listed = self
            .forward(&context, "tools/list", None, |user| async move {
                connector.list_tools_with_verdicts(&user).await
            })
            .await?;
        let tools: Vec<_> = listed
            .into_iter()
            .filter_map(|(tool, verdict)| match verdict {
                None => Some(tool),
                Some(denial) if self.state.list_refused_tools => {
                    Some(marked_refused(tool, &denial))
                }
                Some(_) => None,
            })
            .collect();
        // From now on only names the upstream listed get their own metrics label.
        self.state
            .metrics
            .record_listed_tools(tools.iter().map(|tool| tool.name.as_str()));
        tools_into_rmcp(&tools)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.forward_call_tool(AgentRequest::from_context(context)?, request)
            .await
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        self.forward_raw(&context, "resources/list", upstream_params(&request))
            .await
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        self.forward_raw(
            &context,
            "resources/templates/list",
            upstream_params(&request),
        )
        .await
    }

    async fn read_resource(
        &self,
        mut request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let mut agent = AgentRequest::from_context(context)?;
        agent.asked = connect_round(
            self.state.connect.as_ref(),
            &agent.user,
            &mut request.request_state,
            &mut request.input_responses,
        )?;
        let resume = self.own_round(&mut request.request_state, &mut request.input_responses);
        let params = upstream_params(&request);
        let start = self.raw_start(agent.stateless_agent, "resources/read", params);
        let driven = self
            .start_or_resume(agent, "resources/read", request.uri, resume, start)
            .await?;
        driven.into_response::<rmcp::model::ReadResourceResult, _>(
            "resources/read",
            ReadResourceResponse::InputRequired,
        )
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        self.forward_raw(&context, "prompts/list", upstream_params(&request))
            .await
    }

    async fn get_prompt(
        &self,
        mut request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let mut agent = AgentRequest::from_context(context)?;
        agent.asked = connect_round(
            self.state.connect.as_ref(),
            &agent.user,
            &mut request.request_state,
            &mut request.input_responses,
        )?;
        let resume = self.own_round(&mut request.request_state, &mut request.input_responses);
        let params = upstream_params(&request);
        let start = self.raw_start(agent.stateless_agent, "prompts/get", params);
        let driven = self
            .start_or_resume(agent, "prompts/get", request.name, resume, start)
            .await?;
        driven.into_response::<rmcp::model::GetPromptResult, _>(
            "prompts/get",
            GetPromptResponse::InputRequired,
        )
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        self.forward_raw(&context, "completion/complete", upstream_params(&request))
            .await
    }

    /// Applies to the user's upstream session (shared by all of the user's agents).
    #[allow(deprecated)]
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        // Through the session, so that an upstream that fell back to the stateless era gets
        // the level in its requests' `_meta` (it has no logging/setLevel).
        let level: LoggingLevel = from_json(
            serde_json::to_value(request.level).unwrap_or(Value::Null),
            "logging/setLevel",
        )?;
        let connector = self.state.upstream(is_stateless(&context)).clone();
        self.forward(&context, "logging/setLevel", None, |user| async move {
            connector.set_logging_level(&user, level).await
        })
        .await
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let parts = context.extensions.get::<http::request::Parts>();
        let user = user_of(parts)?;
        let session = agent_session(parts)?;
        if request.uri.len() > MAX_URI_BYTES {
            return Err(ErrorData::invalid_params(
                format!("the resource URI is longer than {MAX_URI_BYTES} bytes"),
                None,
            ));
        }
        match self.state.list_changed.subscriptions.subscribe(
            &user,
            &request.uri,
            &session,
            Target::Session(context.peer.clone()),
        ) {
            Change::TooMany => Err(ErrorData::invalid_params(
                "too many resource subscriptions for your agents: unsubscribe some first",
                None,
            )),
            Change::Joined => Ok(()),
            Change::First => {
                let forwarded: Result<Value, ErrorData> = self
                    .forward_raw(&context, "resources/subscribe", upstream_params(&request))
                    .await;
                if let Err(err) = forwarded {
                    self.state
                        .list_changed
                        .subscriptions
                        .refused(&user, &request.uri, true);
                    return Err(err);
                }
                Ok(())
            }
        }
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let parts = context.extensions.get::<http::request::Parts>();
        let user = user_of(parts)?;
        let session = agent_session(parts)?;
        if self
            .state
            .list_changed
            .subscriptions
            .unsubscribe(&user, &request.uri, &session, true)
        {
            let _: Value = self
                .forward_raw(&context, "resources/unsubscribe", upstream_params(&request))
                .await?;
        }
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = SubscriptionFilter::new();
        accepted.tools_list_changed = requested.tools_list_changed;
        accepted.prompts_list_changed = requested.prompts_list_changed;
        accepted.resources_list_changed = requested.resources_list_changed;
        // Taken upstream for the agent's stream alone (resource_listen.rs), within bounds.
        accepted.resource_subscriptions = accepted_uris(requested.resource_subscriptions.as_ref());
        Some(accepted)
    }

    /// List changes come from the user's standing listen (list_changed.rs); resource updates
    /// from an upstream listen of this stream's own (resource_listen.rs).
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
        let uris = context
            .accepted()
            .resource_subscriptions
            .clone()
            .unwrap_or_default();
        if uris.is_empty() {
            context.cancelled().await;
            return Ok(());
        }
        let listens = &self.state.list_changed;
        let slot = listens.resource_listens.admit(&user)?;
        tokio::select! {
            ended = forward_resource_updates(
                &self.state.connector,
                &listens.subscriptions,
                &slot,
                context.sink(),
                uris,
                &self.state.help,
            ) => ended,
            // Dropping the forwarding ends the upstream stream.
            () = context.cancelled() => Ok(()),
        }
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let Some(parts) = context.extensions.get::<http::request::Parts>() else {
            return;
        };
        let Ok(user) = user_of(Some(parts)) else {
            return;
        };
        // What the agent declared decides whether its plain calls may take the direct path.
        if let (Some(session), Some(info)) = (
            parts
                .headers
                .get(super::state::SESSION_HEADER)
                .and_then(|v| v.to_str().ok()),
            context.peer.peer_info(),
        ) {
            let declared = Declared {
                version: info.protocol_version.as_str().to_owned(),
                elicitation: info.capabilities.elicitation.is_some(),
                sampling: info.capabilities.sampling.is_some(),
            };
            self.state.agent_sessions.declare(session, &user, declared);
        }
        // A session-era agent hears list changes on its session's standing stream; the
        // registration lives as long as that session.
        self.state
            .list_changed
            .register(
                &self.state.session_connector,
                &user,
                AgentSink::Session(context.peer.clone()),
            )
            .keep();
    }
}

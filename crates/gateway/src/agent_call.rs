//! One agent's request (`tools/call`, `prompts/get`, `resources/read`) while it runs upstream:
//! the upstream's progress and server requests (elicitation, sampling) travel back to the agent
//! that made it.
//!
//! The call goes upstream with a [`RequestOptions`] carrying an [`AgentCall`] as its context and
//! a progress callback. Both feed one channel that the agent's request handler reads while it
//! waits for the upstream result, so everything reaches the agent on that request's own stream:
//! progress as `notifications/progress` with the agent's progress token; a server request as a
//! request to the agent (session era), or, for a 2026-07-28 agent, which may not be sent server
//! requests, as an `input_required` result whose answers complete the same upstream call.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::{ErrorData, ProgressNotificationParam, ProgressToken};
use rmcp::service::{Peer, ServiceError};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::bridge::{answer_into_json, server_request_into_rmcp};
use super::list_changed::ListChanged;
use super::resource_listen::UpstreamListen;

use pagerduty_mcp_connect::client::{
    HandlerError, Progress, RequestOptions, ServerRequest, ServerRequestHandler, server_request_fn,
};
use pagerduty_mcp_connect::{ServerNotification, UserId};

/// How long an agent has to answer a server request.
pub(crate) const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

/// What the upstream call sends back to the agent's handler.
pub(crate) enum Event {
    Progress(Progress),
    Input(InputNeeded),
    /// A `notifications/message` the upstream sent on this call's reply stream: its params.
    Log(Value),
}

/// A server request waiting for the agent's answer.
pub(crate) struct InputNeeded {
    pub(crate) method: &'static str,
    pub(crate) params: Value,
    pub(crate) answer: oneshot::Sender<Result<Value, HandlerError>>,
}

/// The context attached to one agent's upstream call.
pub(crate) struct AgentCall {
    user: UserId,
    events: mpsc::Sender<Event>,
    elicitation: bool,
    sampling: bool,
    roots: bool,
}

/// The upstream call in progress, to its result's JSON.
pub(crate) type Upstream =
    Pin<Box<dyn std::future::Future<Output = pagerduty_mcp_connect::Result<Value>> + Send>>;

/// A running upstream call and the events it produces.
pub(crate) struct Running {
    pub(crate) upstream: Upstream,
    pub(crate) events: mpsc::Receiver<Event>,
}

impl AgentCall {
    /// The options for the upstream call of `user`'s agent, which declared `elicitation` and
    /// `sampling`, and the receiving end of its events. The upstream is asked for progress
    /// only when the agent asked for it (`progress`): a progress token makes a server stream
    /// its reply, which costs both sides.
    pub(crate) fn options(
        user: UserId,
        declared: Askable,
        progress: bool,
    ) -> (RequestOptions, mpsc::Receiver<Event>) {
        let (events, receiver) = mpsc::channel(64);
        let progress_events = progress.then(|| events.clone());
        let call = Arc::new(AgentCall {
            user,
            events,
            elicitation: declared.elicitation,
            sampling: declared.sampling,
            roots: declared.roots,
        });
        let mut options = RequestOptions::default().context(call);
        if let Some(progress) = progress_events {
            options = options.on_progress(move |p: Progress| {
                // A slow agent loses progress updates rather than stalling the call.
                let _ = progress.try_send(Event::Progress(p));
            });
        }
        (options, receiver)
    }

    async fn ask(&self, request: &ServerRequest) -> Result<Value, HandlerError> {
        let declared = match request.method() {
            "elicitation/create" => self.elicitation,
            "sampling/createMessage" => self.sampling,
            "roots/list" => self.roots,
            _ => false,
        };
        if !declared {
            return Err(HandlerError::new(
                -32601,
                format!(
                    "the agent behind this gateway does not support {}",
                    request.method()
                ),
            ));
        }
        let (answer, answered) = oneshot::channel();
        let need = InputNeeded {
            method: request.method(),
            params: request.params().clone(),
            answer,
        };
        if self.events.send(Event::Input(need)).await.is_err() {
            return Err(HandlerError::internal("the agent's call has ended"));
        }
        match tokio::time::timeout(ANSWER_TIMEOUT, answered).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(HandlerError::internal("the agent's call has ended")),
            Err(_) => Err(HandlerError::internal("the agent did not answer in time")),
        }
    }
}

/// The hook the gateway registers on its connector for notifications: a log message the
/// upstream sent while working on an agent's call goes to that call (and so to the agent that
/// made it), in order, before the call's result; what arrives on a 2026-07-28 agent's own
/// upstream listen stream goes to that stream ([`UpstreamListen`]). Other notifications go
/// through the per-user listener ([`list_changed`](super::list_changed)).
pub(crate) fn call_notifications(notification: &ServerNotification) {
    let Some(context) = notification.call_context() else {
        return;
    };
    if let Some(listen) = context.downcast_ref::<UpstreamListen>() {
        listen.hear(notification);
        return;
    }
    if notification.method != "notifications/message" {
        return;
    }
    if let Some(call) = context.downcast_ref::<AgentCall>() {
        // A slow agent loses log lines rather than stalling the call.
        let _ = call
            .events
            .try_send(Event::Log(notification.params.clone()));
    }
}

/// What an agent declared it can be asked (elicitation, sampling, roots).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Askable {
    pub(crate) elicitation: bool,
    pub(crate) sampling: bool,
    pub(crate) roots: bool,
}

/// The handler the gateway registers on its connector for elicitation, sampling and roots: it
/// hands each request to the agent whose call caused it; one the upstream sends on its standing
/// stream (no call) to a session-era agent of the same user that declared the capability. When
/// no agent of the user can answer, the upstream gets a JSON-RPC error and the gateway logs a
/// WARN line naming the user and the method: never a silent success.
pub(crate) fn forwarding_handler(agents: Arc<ListChanged>) -> impl ServerRequestHandler + 'static {
    server_request_fn(move |request: ServerRequest| {
        let agents = agents.clone();
        async move {
            let call = request
                .call_context()
                .cloned()
                .and_then(|context| context.downcast::<AgentCall>().ok());
            match call {
                Some(call) => ask_in_call(&call, &request).await,
                None => ask_any_agent(&agents, &request).await,
            }
        }
    })
}

/// A server request of the upstream's standing stream, to a session-era agent of its user.
async fn ask_any_agent(
    agents: &ListChanged,
    request: &ServerRequest,
) -> Result<Value, HandlerError> {
    let method = request.method();
    let Some(user) = request.user() else {
        return Err(HandlerError::new(
            -32601,
            format!("{method}: no agent to ask (the session belongs to no user)"),
        ));
    };
    for peer in agents.session_agents(user) {
        let declared = peer.peer_info().is_some_and(|info| {
            let capabilities = &info.capabilities;
            match method {
                "elicitation/create" => capabilities.elicitation.is_some(),
                "sampling/createMessage" => capabilities.sampling.is_some(),
                "roots/list" => capabilities.roots.is_some(),
                _ => false,
            }
        });
        if declared {
            return ask_peer(&peer, method, request.params().clone()).await;
        }
    }
    tracing::warn!(
        user = %user,
        method,
        "the upstream asked outside any call, and no agent of this user that can answer is connected; refused"
    );
    Err(HandlerError::new(
        -32601,
        format!("{method}: no agent of this user that can answer it is connected to the gateway"),
    ))
}

/// A server request that came with an agent's call, to that agent.
async fn ask_in_call(call: &AgentCall, request: &ServerRequest) -> Result<Value, HandlerError> {
    {
        if request.user().is_some_and(|user| user != &call.user) {
            // Never happens through a Connector; refuse rather than cross users.
            return Err(HandlerError::internal("the request came for another user"));
        }
        call.ask(request).await
    }
}

/// Sends a server request to a session-era agent and returns its answer.
pub(crate) async fn ask_peer(
    peer: &Peer<RoleServer>,
    method: &str,
    params: Value,
) -> Result<Value, HandlerError> {
    let request = server_request_into_rmcp(method, params)?;
    let answer = tokio::time::timeout(ANSWER_TIMEOUT, peer.send_request(request))
        .await
        .map_err(|_| HandlerError::internal("the agent did not answer in time"))?;
    match answer {
        Ok(result) => answer_into_json(result),
        Err(ServiceError::McpError(error)) => Err(from_error_data(error)),
        Err(err) => Err(HandlerError::internal(format!(
            "the agent could not be asked: {err}"
        ))),
    }
}

/// An agent's JSON-RPC error, for the upstream.
pub(crate) fn from_error_data(error: ErrorData) -> HandlerError {
    let mut out = HandlerError::new(i64::from(error.code.0), error.message.to_string());
    if let Some(data) = error.data {
        out = out.with_data(data);
    }
    out
}

/// The agent's `notifications/progress` for one upstream progress update.
pub(crate) fn progress_param(
    token: &ProgressToken,
    progress: &Progress,
) -> ProgressNotificationParam {
    let mut param = ProgressNotificationParam::new(token.clone(), progress.progress());
    param.total = progress.total();
    param.message = progress.message().map(str::to_owned);
    param
}

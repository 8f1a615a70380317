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
        elicitation: bool,
        sampling: bool,
        progress: bool,
    ) -> (RequestOptions, mpsc::Receiver<Event>) {
        let (events, receiver) = mpsc::channel(64);
        let progress_events = progress.then(|| events.clone());
        let call = Arc::new(AgentCall {
            user,
            events,
            elicitation,
            sampling,
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
/// made it), in order, before the call's result. Other notifications go through the per-user
/// listener ([`list_changed`](super::list_changed)).
pub(crate) fn call_notifications(notification: &ServerNotification) {
    if notification.method != "notifications/message" {
        return;
    }
    if let Some(call) = notification
        .call_context()
        .and_then(|context| context.downcast_ref::<AgentCall>())
    {
        // A slow agent loses log lines rather than stalling the call.
        let _ = call
            .events
            .try_send(Event::Log(notification.params.clone()));
    }
}

/// The handler the gateway registers on its connector for elicitation and sampling: it hands
/// each request to the agent whose call caused it.
pub(crate) fn forwarding_handler() -> impl ServerRequestHandler + 'static {
    server_request_fn(|request: ServerRequest| async move {
        let call = request
            .call_context()
            .cloned()
            .and_then(|context| context.downcast::<AgentCall>().ok());
        let Some(call) = call else {
            return Err(HandlerError::new(
                -32601,
                "this gateway forwards server requests only while an agent's call runs",
            ));
        };
        if request.user().is_some_and(|user| user != &call.user) {
            // Never happens through a Connector; refuse rather than cross users.
            return Err(HandlerError::internal("the request came for another user"));
        }
        call.ask(&request).await
    })
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

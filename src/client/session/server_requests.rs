//! Answering the requests a server sends to the client: through the application's handlers,
//! `-32601` without one, an empty result to `ping`; at most
//! `max_concurrent_server_requests` at once per session.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};

use super::{Route, SessionInner};
use crate::client::handler::HandlerError;
use crate::client::jsonrpc;
use crate::client::server_request::{CallContext, ServerRequest, ServerRequestKind};

impl SessionInner {
    /// Answers a request the server sent on a stream (a call's response stream, or the standing
    /// stream when `context` is `None`). The handler runs and the answer is POSTed on a task of
    /// its own, holding one of the session's permits; without a free permit the request is
    /// dropped unanswered, so a flood costs no more tasks or connections than the limit.
    pub(super) fn answer_server_request(
        self: &Arc<Self>,
        route: &Route,
        id: Value,
        method: &str,
        params: Value,
        context: Option<&CallContext>,
    ) {
        if self.version.is_stateless() {
            return; // the stateless era has no server-to-client requests on a stream
        }
        let Ok(permit) = self.server_request_permits().clone().try_acquire_owned() else {
            tracing::warn!(
                method = %method.chars().take(64).collect::<String>(),
                limit = self.config().max_concurrent_server_requests,
                "too many server requests at once; dropping one unanswered"
            );
            return;
        };
        let request = (method != "ping").then(|| self.server_request(method, params, context));
        let this = self.clone();
        let route = route.clone();
        tokio::spawn(async move {
            let outcome = match request {
                None => Ok(json!({})),
                Some(request) => this.resolve(request).await,
            };
            let body = Bytes::from(jsonrpc::response_bytes(&id, outcome.as_ref()));
            if let Err(err) = this.post_message(&route, body).await {
                tracing::debug!(error = %this.scrub(err), "could not answer a server request");
            }
            drop(permit);
        });
    }

    /// The request as a handler sees it; `Err` when the method is not one a handler can take.
    pub(super) fn server_request(
        &self,
        method: &str,
        params: Value,
        context: Option<&CallContext>,
    ) -> Result<ServerRequest, HandlerError> {
        let kind = ServerRequestKind::from_method(method).ok_or_else(|| {
            HandlerError::new(
                -32601,
                "Method not found: this client offers no such capability",
            )
        })?;
        Ok(ServerRequest::new(kind, params).with_origin(self.user.clone(), context.cloned()))
    }

    /// Runs the registered handler for `request` within the request timeout; `-32601` when no
    /// handler is registered for its kind.
    pub(super) async fn resolve(
        &self,
        request: Result<ServerRequest, HandlerError>,
    ) -> Result<Value, HandlerError> {
        let request = request?;
        let Some(registered) = self.config().handlers.get(request.kind()) else {
            return Err(HandlerError::new(
                -32601,
                format!(
                    "Method not found: this client has no {} handler",
                    request.method()
                ),
            ));
        };
        let handler = registered.handler.clone();
        let limit = self.config().request_timeout;
        tokio::time::timeout(limit, handler.handle(request))
            .await
            .unwrap_or_else(|_| {
                Err(HandlerError::internal(
                    "the client's handler did not answer in time",
                ))
            })
    }
}

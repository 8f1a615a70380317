//! Application handlers for server-to-client requests, and the set a client registers.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::server_request::{ServerRequest, ServerRequestKind};

/// Answers requests the server sends to the client (`elicitation/create`,
/// `sampling/createMessage`, `roots/list`).
///
/// Register one with [`McpClientBuilder::elicitation_handler`](super::McpClientBuilder::elicitation_handler)
/// and its siblings (or on a [`ConnectorBuilder`](crate::ConnectorBuilder)); a closure becomes
/// one with [`server_request_fn`]. The `Ok` value is the JSON-RPC result sent back (for an
/// elicitation for example `{"action": "accept", "content": {…}}`); an `Err` is answered as a
/// JSON-RPC error. A handler runs at most the client's request timeout.
#[async_trait]
pub trait ServerRequestHandler: Send + Sync + fmt::Debug {
    /// Answers one request.
    async fn handle(&self, request: ServerRequest) -> Result<Value, HandlerError>;
}

/// A shared handler is a handler, so one value can serve several kinds (register a clone for
/// each) or several clients.
#[async_trait]
impl<T: ServerRequestHandler + ?Sized> ServerRequestHandler for Arc<T> {
    async fn handle(&self, request: ServerRequest) -> Result<Value, HandlerError> {
        (**self).handle(request).await
    }
}

/// Why a handler did not produce a result; answered to the server as a JSON-RPC error.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} (JSON-RPC error {code})")]
pub struct HandlerError {
    code: i64,
    message: String,
    data: Option<Value>,
}

impl HandlerError {
    /// An error with a JSON-RPC `code` and a message.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        HandlerError {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// `-32602`: the request's params are not acceptable.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(-32602, message)
    }

    /// `-32603`: the handler failed.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(-32603, message)
    }

    /// Adds `data` to the error.
    #[must_use]
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// The JSON-RPC error code.
    pub fn code(&self) -> i64 {
        self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error's `data`, if any.
    pub fn data(&self) -> Option<&Value> {
        self.data.as_ref()
    }
}

/// Turns an async closure into a [`ServerRequestHandler`].
///
/// ```
/// use pagerduty_mcp_connect::{server_request_fn, HandlerError, ServerRequest};
/// use serde_json::json;
///
/// let decline_all = server_request_fn(|request: ServerRequest| async move {
///     tracing::info!(method = request.method(), "declining");
///     Ok::<_, HandlerError>(json!({"action": "decline"}))
/// });
/// # let _ = decline_all;
/// ```
pub fn server_request_fn<F, Fut>(handle: F) -> FnServerRequestHandler<F>
where
    F: Fn(ServerRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, HandlerError>> + Send + 'static,
{
    FnServerRequestHandler { handle }
}

/// The handler [`server_request_fn`] returns.
pub struct FnServerRequestHandler<F> {
    handle: F,
}

impl<F> fmt::Debug for FnServerRequestHandler<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnServerRequestHandler")
    }
}

#[async_trait]
impl<F, Fut> ServerRequestHandler for FnServerRequestHandler<F>
where
    F: Fn(ServerRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, HandlerError>> + Send + 'static,
{
    async fn handle(&self, request: ServerRequest) -> Result<Value, HandlerError> {
        (self.handle)(request).await
    }
}

/// One registered handler and the capability object it declares.
#[derive(Debug, Clone)]
pub(crate) struct Registered {
    pub(crate) handler: Arc<dyn ServerRequestHandler>,
    pub(crate) capability: Value,
}

/// The handlers of a client, by kind.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerRequestHandlers {
    by_kind: BTreeMap<ServerRequestKind, Registered>,
}

impl ServerRequestHandlers {
    pub(crate) fn insert(
        &mut self,
        kind: ServerRequestKind,
        handler: Arc<dyn ServerRequestHandler>,
        capability: Value,
    ) {
        let capability = match capability {
            Value::Object(map) => Value::Object(map),
            _ => Value::Object(Map::new()),
        };
        self.by_kind.insert(
            kind,
            Registered {
                handler,
                capability,
            },
        );
    }

    pub(crate) fn get(&self, kind: ServerRequestKind) -> Option<&Registered> {
        self.by_kind.get(&kind)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_kind.is_empty()
    }

    /// The client capabilities to declare: one entry per registered kind, nothing else.
    pub(crate) fn capabilities(&self) -> Map<String, Value> {
        self.by_kind
            .iter()
            .map(|(kind, registered)| (kind.capability().to_owned(), registered.capability.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn only_registered_kinds_are_declared_and_a_closure_is_a_handler() {
        let mut handlers = ServerRequestHandlers::default();
        assert!(handlers.is_empty());
        assert!(handlers.capabilities().is_empty());
        let handler: Arc<dyn ServerRequestHandler> =
            Arc::new(server_request_fn(|request: ServerRequest| async move {
                Ok(json!({"echo": request.method()}))
            }));
        handlers.insert(
            ServerRequestKind::Roots,
            handler.clone(),
            json!({"listChanged": true}),
        );
        handlers.insert(ServerRequestKind::Sampling, handler, json!("not an object"));
        assert_eq!(
            Value::Object(handlers.capabilities()),
            json!({"roots": {"listChanged": true}, "sampling": {}})
        );
        assert!(handlers.get(ServerRequestKind::Elicitation).is_none());
        let answer = handlers
            .get(ServerRequestKind::Roots)
            .unwrap()
            .handler
            .handle(ServerRequest::new(ServerRequestKind::Roots, Value::Null))
            .await
            .unwrap();
        assert_eq!(answer, json!({"echo": "roots/list"}));
    }

    #[test]
    fn handler_errors_keep_code_message_and_data() {
        let err = HandlerError::invalid_params("no such incident").with_data(json!({"id": 7}));
        assert_eq!(err.code(), -32602);
        assert_eq!(err.message(), "no such incident");
        assert_eq!(err.data(), Some(&json!({"id": 7})));
        assert_eq!(err.to_string(), "no such incident (JSON-RPC error -32602)");
        assert_eq!(HandlerError::internal("x").code(), -32603);
        let bytes = crate::client::jsonrpc::response_bytes(&json!("r1"), Err(&err));
        let sent: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            sent,
            json!({"jsonrpc": "2.0", "id": "r1", "error": {
                "code": -32602, "message": "no such incident", "data": {"id": 7}}})
        );
    }
}

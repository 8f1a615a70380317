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

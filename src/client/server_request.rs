//! Requests a server sends to the client (elicitation, sampling, roots), as an application
//! handler sees them.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::credential::UserId;

/// The opaque value a caller attaches to one call with
/// [`RequestOptions::context`](super::RequestOptions::context), handed back with every server
/// request that call's reply carries (for example to route it to the agent that made the call).
pub type CallContext = Arc<dyn Any + Send + Sync>;

/// The kinds of server-to-client request an application can answer. Each one registered on
/// [`McpClientBuilder`](super::McpClientBuilder) is declared as a client capability; the others
/// are answered `-32601` (method not found) at once.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerRequestKind {
    /// `elicitation/create`: ask the user for input (capability `elicitation`).
    Elicitation,
    /// `sampling/createMessage`: ask the client's model for a completion (capability `sampling`).
    Sampling,
    /// `roots/list`: the client's file-system roots (capability `roots`).
    Roots,
}

impl ServerRequestKind {
    /// Every kind.
    pub const ALL: [ServerRequestKind; 3] = [
        ServerRequestKind::Elicitation,
        ServerRequestKind::Sampling,
        ServerRequestKind::Roots,
    ];

    /// The JSON-RPC method (`"elicitation/create"`).
    pub const fn method(self) -> &'static str {
        match self {
            ServerRequestKind::Elicitation => "elicitation/create",
            ServerRequestKind::Sampling => "sampling/createMessage",
            ServerRequestKind::Roots => "roots/list",
        }
    }

    /// The name of the client capability it declares (`"elicitation"`).
    pub const fn capability(self) -> &'static str {
        match self {
            ServerRequestKind::Elicitation => "elicitation",
            ServerRequestKind::Sampling => "sampling",
            ServerRequestKind::Roots => "roots",
        }
    }

    /// The kind a JSON-RPC method names, if any.
    pub fn from_method(method: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.method() == method)
    }
}

impl fmt::Display for ServerRequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.method())
    }
}

/// One request from the server, handed to a
/// [`ServerRequestHandler`](super::ServerRequestHandler).
///
/// It arrives on the response stream of a call (then [`ServerRequest::call_context`] is that
/// call's context), on the session's standing stream, or inside a 2026-07-28
/// `input_required` result (multi round-trip requests). The handler's `Ok` value is sent back
/// as the JSON-RPC result as it is, so a gateway can forward both ways verbatim.
#[non_exhaustive]
#[derive(Clone)]
pub struct ServerRequest {
    kind: ServerRequestKind,
    params: Value,
    user: Option<UserId>,
    call_context: Option<CallContext>,
}

impl ServerRequest {
    /// A request of `kind` with `params` (for tests of your own handlers).
    pub fn new(kind: ServerRequestKind, params: Value) -> Self {
        ServerRequest {
            kind,
            params,
            user: None,
            call_context: None,
        }
    }

    pub(crate) fn with_origin(
        mut self,
        user: Option<UserId>,
        call_context: Option<CallContext>,
    ) -> Self {
        self.user = user;
        self.call_context = call_context;
        self
    }

    /// What is asked.
    pub fn kind(&self) -> ServerRequestKind {
        self.kind
    }

    /// The JSON-RPC method (`"elicitation/create"`, `"sampling/createMessage"`, `"roots/list"`).
    pub fn method(&self) -> &'static str {
        self.kind.method()
    }

    /// The request's `params`, as the server sent them (`Value::Null` when absent).
    pub fn params(&self) -> &Value {
        &self.params
    }

    /// The user whose session received it, when the session was opened by a
    /// [`Connector`](crate::Connector).
    pub fn user(&self) -> Option<&UserId> {
        self.user.as_ref()
    }

    /// The context attached to the call whose reply carried this request, if any.
    pub fn call_context(&self) -> Option<&CallContext> {
        self.call_context.as_ref()
    }
}

impl fmt::Debug for ServerRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerRequest")
            .field("method", &self.method())
            .field("user", &self.user)
            .field("has_call_context", &self.call_context.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_methods_and_capabilities() {
        for kind in ServerRequestKind::ALL {
            assert_eq!(ServerRequestKind::from_method(kind.method()), Some(kind));
        }
        assert_eq!(ServerRequestKind::from_method("ping"), None);
        assert_eq!(ServerRequestKind::Elicitation.capability(), "elicitation");
        let request = ServerRequest::new(ServerRequestKind::Sampling, Value::Null)
            .with_origin(Some(UserId::from("alice")), Some(Arc::new(7u32)));
        assert_eq!(request.method(), "sampling/createMessage");
        assert_eq!(request.user().map(|u| u.as_ref()), Some("alice"));
        let context = request.call_context().unwrap();
        assert_eq!(context.downcast_ref::<u32>(), Some(&7));
        assert!(!format!("{request:?}").contains("params"));
    }
}

//! The MCP client: Streamable HTTP in both protocol eras.
//!
//! [`McpClient`] holds one connection pool for one remote server; [`Session`] is one user's
//! connection, opened with that user's [`Credential`](crate::Credential).

mod auth_forms;
mod client_state;
mod decoder_proptests;
mod endpoint_cache;
mod handler;
mod jsonrpc;
mod mcp_client;
pub mod model;
mod operations;
pub(crate) use operations::call_tool_result;
mod progress;
mod protocol;
mod server_request;
mod session;
pub(crate) mod sse;
mod sse_decoder;
mod tool_routing;
mod transport;

pub use handler::{FnServerRequestHandler, HandlerError, ServerRequestHandler, server_request_fn};
pub use mcp_client::{McpClient, McpClientBuilder};
pub use progress::Progress;
pub use protocol::{ProtocolPreference, ProtocolVersion};
pub use server_request::{CallContext, ServerRequest, ServerRequestKind};
pub use session::{NotificationStream, RequestOptions, Session};
#[doc(hidden)]
pub use sse_decoder::SseDecoder;

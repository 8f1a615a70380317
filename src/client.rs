//! The MCP client: Streamable HTTP in both protocol eras.
//!
//! [`McpClient`] holds one connection pool for one remote server; [`Session`] is one user's
//! connection, opened with that user's [`Credential`](crate::Credential).

mod endpoint_cache;
mod jsonrpc;
mod mcp_client;
pub mod model;
mod operations;
mod protocol;
mod session;
pub(crate) mod sse;
mod tool_routing;
mod transport;

pub use mcp_client::{McpClient, McpClientBuilder};
pub use protocol::{ProtocolPreference, ProtocolVersion};
pub use session::{NotificationStream, RequestOptions, Session};

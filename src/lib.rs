//! # pagerduty-mcp-connect
//!
//! The connection logic an MCP gateway embeds to connect **each of its users** to PagerDuty's
//! hosted MCP server (or any remote MCP server with a header credential) **with that user's own
//! credential**.
//!
//! PagerDuty's hosted MCP server lives at a per-region URL ([`Region`]) and expects each request
//! to carry the user's User API Token as `Authorization: Token <token>` ([`AuthScheme::token`]).
//! The [`PagerDuty`] preset bundles those facts; [`GenericServer`] describes any other server.
//! Credentials come from a [`CredentialProvider`] and stay in a [`secrecy::SecretString`] until the
//! header value (marked sensitive) is built: no `Debug`, `Display`, error or log line of this crate
//! contains a token.
//!
//! ```
//! use pagerduty_mcp_connect::{
//!     AuthScheme, CredentialProvider, InMemoryCredentialStore, PagerDuty, Region,
//!     RemoteMcpServer, UserId,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), pagerduty_mcp_connect::Error> {
//! let server = PagerDuty::new("us".parse().expect("valid region"));
//! assert_eq!(server.endpoint().as_str(), "https://mcp.pagerduty.com/mcp");
//!
//! let store = InMemoryCredentialStore::new();
//! store.insert("alice@example.com", "u+alice-token");
//! let credential = store.credential(&UserId::from("alice@example.com")).await?;
//! let header = server.auth_scheme().header_value(credential.secret())?;
//! assert!(header.is_sensitive());
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod auth;
pub mod client;
mod connector;
pub mod credential;
mod error;
mod http_error;
mod pagerduty;
mod region;
mod server;
#[cfg(feature = "testing")]
pub mod testing;

pub use auth::AuthScheme;
pub use client::model::{
    CallToolResult, CompleteResult, CompletionTarget, Content, GetPromptResult, LoggingLevel,
    Prompt, ReadResourceResult, Resource, ResourceTemplate, ServerDetails, ServerNotification,
    Tool, ToolAnnotations,
};
pub use client::{
    McpClient, McpClientBuilder, NotificationStream, ProtocolPreference, ProtocolVersion,
    RequestOptions, Session,
};
pub use connector::{Connector, ConnectorBuilder, Policy};
pub use credential::{
    credential_fn, CachedCredentials, Credential, CredentialChain, CredentialError,
    CredentialProvider, EnvCredential, InMemoryCredentialStore, SharedCredentialProvider,
    StaticCredential, UserId,
};
pub use error::{BoxError, Error, Result};
pub use pagerduty::{
    AreaSummary, CatalogueSummary, PagerDutyArea, PagerDutyUser, TokenVerifier, ToolAccess,
    ToolCatalogue, ToolSummary,
};
pub use pagerduty::{PagerDuty, PagerDutyBuilder, CREDENTIAL_HELP};
pub use region::{Region, UnknownRegion};
pub use server::{ConnectionType, GenericServer, RemoteMcpServer};

pub use secrecy;

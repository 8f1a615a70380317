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
//!
//! ## A gateway in a few lines
//!
//! A [`Connector`] serves many users over one connection pool: one session per user, opened
//! lazily with that user's credential, filtered by a [`Policy`]. Here against the embedded mock
//! server (feature `testing`); in production the server is `PagerDuty::new(region)`.
//!
//! ```
//! # #[cfg(feature = "testing")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), pagerduty_mcp_connect::Error> {
//! use pagerduty_mcp_connect::testing::MockPagerDuty;
//! use pagerduty_mcp_connect::{Connector, Error, InMemoryCredentialStore, PagerDuty, Policy, UserId};
//! use serde_json::json;
//!
//! let mock = MockPagerDuty::start().await;
//! let tokens = InMemoryCredentialStore::new();
//! tokens.insert("alice@example.com", MockPagerDuty::ALICE_TOKEN);
//!
//! let connector = Connector::builder()
//!     .server(PagerDuty::builder().endpoint(mock.url().as_str()).build()?)
//!     .credentials(tokens.clone())
//!     .policy(Policy::new().read_only(true))
//!     .build()?;
//!
//! let alice = UserId::from("alice@example.com");
//! let tools = connector.list_tools(&alice).await?;
//! assert!(tools.iter().all(|tool| tool.is_read_only()));
//!
//! let me = connector.call_tool(&alice, "get_user_data", json!({})).await?;
//! assert_eq!(me.structured_content.unwrap()["email"], "alice@example.com");
//!
//! // Writes are refused by the policy before anything is sent.
//! let denied = connector.call_tool(&alice, "create_incident", json!({})).await;
//! assert!(matches!(denied, Err(Error::PolicyDenied { .. })));
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "testing"))]
//! # fn main() {}
//! ```
//!
//! ## Modules
//!
//! - [`client`]: [`McpClient`] and [`Session`], the MCP client over Streamable HTTP in both
//!   protocol eras, and the typed [`client::model`].
//! - [`credential`]: [`UserId`], [`Credential`], [`CredentialProvider`] and the ready providers.
//! - [`testing`] (feature `testing`): the embedded mock PagerDuty MCP server.
//! - At the top level: [`Region`], [`AuthScheme`], [`PagerDuty`], [`GenericServer`],
//!   [`Connector`], [`Policy`], [`TokenVerifier`], [`ToolCatalogue`] and [`Error`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod auth;
pub mod client;
mod connector;
pub mod credential;
mod error;
#[cfg(feature = "gateway")]
pub mod gateway;
mod http_error;
mod pagerduty;
mod redirect_policy;
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
    server_request_fn, CallContext, FnServerRequestHandler, HandlerError, McpClient,
    McpClientBuilder, NotificationStream, Progress, ProtocolPreference, ProtocolVersion,
    RequestOptions, ServerRequest, ServerRequestHandler, ServerRequestKind, Session,
};
pub use connector::{Connector, ConnectorBuilder, Policy};
pub use credential::{
    credential_fn, CachedCredentials, Credential, CredentialChain, CredentialError,
    CredentialProvider, EnvCredential, InMemoryCredentialStore, SharedCredentialProvider,
    StaticCredential, UserId,
};
pub use error::{BoxError, Error, Result};
pub use pagerduty::{
    AreaSummary, CatalogueSummary, PagerDuty, PagerDutyArea, PagerDutyBuilder, PagerDutyUser,
    TokenVerifier, ToolAccess, ToolCatalogue, ToolSummary, CREDENTIAL_HELP,
};
pub use region::{Region, UnknownRegion};
pub use server::{ConnectionType, GenericServer, RemoteMcpServer};

pub use secrecy;

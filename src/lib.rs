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
//! server (the `pagerduty-mcp-connect-mock` crate, a dev-dependency); in production the server
//! is `PagerDuty::new(region)`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use pagerduty_mcp_connect_mock::MockPagerDuty;
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
//! ```
//!
//! ## Implementing a credential provider
//!
//! [`CredentialProvider`] is an async trait. The attribute macro it needs is re-exported as
//! [`pagerduty_mcp_connect::async_trait`](macro@async_trait), so an implementation needs no
//! dependency but this crate:
//!
//! ```
//! use pagerduty_mcp_connect::{async_trait, Credential, CredentialError, CredentialProvider, UserId};
//!
//! #[derive(Debug)]
//! struct MyVault;
//!
//! #[async_trait]
//! impl CredentialProvider for MyVault {
//!     async fn credential(&self, user: &UserId) -> Result<Credential, CredentialError> {
//!         Err(CredentialError::NotFound { user: user.clone() })
//!     }
//! }
//! ```
//!
//! ## Features
//!
//! | feature | default | what it enables |
//! |---|---|---|
//! | `rustls` | yes | TLS through rustls with the aws-lc-rs crypto provider (needs a C compiler and cmake to build) |
//! | `rustls-ring` | no | TLS through rustls with the ring crypto provider (installed as the process default unless the application installed one) |
//! | `native-tls` | no | TLS through the platform's library (OpenSSL on Linux) |
//!
//! With `default-features = false` pick one TLS feature; without any, only `http://` to loopback
//! works.
//!
//! ## Stability
//!
//! The crate follows semantic versioning (before 1.0: a breaking change bumps the minor version).
//! What is public and stable is what rustdoc shows: items hidden from the docs are not part of
//! the API. To let the API grow in minor releases:
//!
//! - Enums ([`Error`], [`CredentialError`], [`Region`], [`ConnectionType`], …) are
//!   `#[non_exhaustive]`: match them with a `_` arm; new variants come in minor releases.
//! - Structs with public fields (the [`client::model`] types, [`CatalogueSummary`],
//!   [`AreaSummary`], [`ToolSummary`]) are `#[non_exhaustive]`: read their fields freely, build
//!   them with their constructors (`Tool::new`, `Content::text`, `CallToolResult::new` …) and
//!   `with_*` methods, never with a struct literal; new fields come in minor releases. The model
//!   types keep what the server sent beyond the modelled fields in `extra`.
//! - Builders are `#[must_use]`; new setters come in minor releases, existing defaults change only
//!   in a breaking release and are noted in `CHANGELOG.md`.
//! - Types of other crates in the API come from the versions re-exported here: [`reqwest`]
//!   (`McpClientBuilder::http_client`, `TokenVerifier::with_client`), [`http`]
//!   (`AuthScheme::header_value`), [`url`] (`RemoteMcpServer::endpoint`), [`serde_json`]
//!   (tool arguments and results), [`secrecy`] (tokens) and [`async_trait`](macro@async_trait).
//!   Use these paths to stay in step with this crate; moving one of them to a new major version
//!   is a breaking change of this crate.
//! - The wire behaviour (which protocol versions are spoken, header names, the PagerDuty endpoints)
//!   follows the MCP specification and PagerDuty; such changes are listed in `CHANGELOG.md`.
//! - The minimum supported Rust version (`rust-version` in `Cargo.toml`, 1.88) is raised only in
//!   a minor release, and CI checks it is not below what the locked dependencies need.
//!
//! ## Modules
//!
//! - [`client`]: [`McpClient`] and [`Session`], the MCP client over Streamable HTTP in both
//!   protocol eras, and the typed [`client::model`].
//! - [`credential`]: [`UserId`], [`Credential`], [`CredentialProvider`] and the ready providers.
//! - At the top level: [`Region`], [`AuthScheme`], [`PagerDuty`], [`GenericServer`],
//!   [`Connector`], [`Policy`], [`TokenVerifier`], [`ToolCatalogue`] and [`Error`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
pub mod client;
mod clock;
mod connector;
pub mod credential;
mod error;
mod http_support;
mod pagerduty;
mod redaction;
mod server;
mod time_limit;
mod verifier;

pub use auth::AuthScheme;
pub use client::model::{
    CallToolResult, CompleteResult, CompletionTarget, Content, GetPromptResult, LoggingLevel,
    Prompt, ReadResourceResult, Resource, ResourceTemplate, ServerDetails, ServerNotification,
    Tool, ToolAnnotations,
};
pub use client::{
    CallContext, FnServerRequestHandler, HandlerError, McpClient, McpClientBuilder,
    NotificationStream, Progress, ProtocolPreference, ProtocolVersion, RequestOptions,
    ServerRequest, ServerRequestHandler, ServerRequestKind, Session, server_request_fn,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use connector::{
    Connector, ConnectorBuilder, Policy, PolicyDenial, PolicyRule, ServerRoutes, UserBudget,
};
pub use credential::{
    CachedCredentials, Credential, CredentialChain, CredentialError, CredentialProvider,
    EnvCredential, InMemoryCredentialStore, Route, SharedCredentialProvider, StaticCredential,
    UserId, credential_fn,
};
pub use error::{BoxError, Error, ErrorKind, Result};
pub use pagerduty::{
    AreaSummary, CREDENTIAL_HELP, CatalogueSummary, NoToolForRole, PagerDuty, PagerDutyArea,
    PagerDutyBuilder, PagerDutyUser, Region, TokenVerifier, ToolAccess, ToolCatalogue, ToolRole,
    ToolSummary, UnknownRegion,
};
pub use server::{ConnectionType, GenericServer, RemoteMcpServer};
pub use verifier::{CredentialVerifier, VerifiedIdentity};

pub use async_trait::async_trait;
pub use http;
pub use reqwest;
pub use secrecy;
pub use serde_json;
pub use url;

/// README.md's code blocks, compiled and run as doctests (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

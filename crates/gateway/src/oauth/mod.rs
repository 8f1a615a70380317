//! The gateway as an OAuth 2.1 resource server, as the MCP authorization specification
//! (2025-11-25, 2026-07-28) asks of a protected MCP server.
//!
//! - [`OAuthResourceServer`] (built with [`OAuthResourceServer::builder`]) names the gateway's
//!   public resource URI, the authorization server(s) whose access tokens it accepts, the
//!   scopes it requires and the claim that names the user; [`GatewayBuilder::oauth`](crate::GatewayBuilder::oauth)
//!   puts it in front of `/mcp`, beside the static [gateway keys](crate::GatewayKeys).
//! - The gateway publishes its Protected Resource Metadata (RFC 9728,
//!   [`ProtectedResourceMetadata`]) at `/.well-known/oauth-protected-resource` and
//!   `/.well-known/oauth-protected-resource/mcp`, and answers a request without a valid
//!   credential with `401` and `WWW-Authenticate: Bearer resource_metadata="…"`, which is where
//!   MCP clients (Claude, Cursor, VS Code, the MCP Inspector, mcp-remote, the SDKs) start their
//!   sign-in; a token without a required scope gets `403` with `error="insufficient_scope"`.
//! - Access tokens are JWTs checked locally against the issuer's JWKS, found through its
//!   metadata (RFC 8414, then OpenID Connect discovery) and cached; or, for opaque tokens,
//!   checked with the issuer's introspection endpoint (RFC 7662, [`Introspection`]).
//! - The token is never sent upstream (the gateway removes the `Authorization` header once the
//!   user is known, and the upstream gets the user's own credential), never logged, and never
//!   part of an error or a `Debug` output.
//!
//! One concept per file: `config` (the builder), `resource_metadata` (the PRM document),
//! `fetch` (bounded HTTP to the issuer), `issuer` (its metadata and JWKS, cached), `jwt`
//! (JWT validation), `introspection`, `token_cache`, `challenge` (the 401/403 replies),
//! `error` and `server` (the type that ties them together).

pub(crate) mod challenge;
mod config;
mod error;
mod fetch;
mod introspection;
mod issuer;
mod jwt;
mod resource_metadata;
mod server;
mod token_cache;

pub use config::{DEFAULT_USER_CLAIM, Introspection, OAuthBuilder};
pub use error::{OAuthConfigError, TokenError};
pub use resource_metadata::ProtectedResourceMetadata;
pub use server::{OAuthResourceServer, ValidatedToken};

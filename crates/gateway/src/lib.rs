//! The agent-facing gateway of `pagerduty-mcp-connect`: a Streamable HTTP MCP server for agents
//! (Claude Desktop, Cursor, the official SDK clients) that forwards each agent's requests to a
//! remote MCP server, such as PagerDuty's hosted one, with **that agent's user's own
//! credential**.
//!
//! - [`Gateway`] is an axum router a team mounts in its own server (`/mcp`, `/healthz`,
//!   `/metrics`), or runs with [`Gateway::serve`] and graceful shutdown.
//! - Agents sign in with OAuth 2.1 as the MCP authorization specification describes
//!   ([`OAuthResourceServer`], [`GatewayBuilder::oauth`]: the gateway is a resource server
//!   publishing its protected resource metadata and checking the access tokens of the
//!   authorization servers it trusts), or authenticate with `Authorization: Bearer <gateway
//!   key>` ([`GatewayKeys`] maps each key to a [`UserId`](pagerduty_mcp_connect::UserId)), or
//!   both at once. A missing or refused credential gets HTTP 401 before anything goes upstream,
//!   the agent's credential never goes upstream, and a session-era session can only be used by
//!   the user who opened it.
//! - Each request goes upstream through a [`Connector`](pagerduty_mcp_connect::Connector): that user's session,
//!   that user's token only, the gateway's [`Policy`](pagerduty_mcp_connect::Policy) (read-only mode, allow and
//!   deny lists) applied before anything is sent. An upstream 401 is an MCP error for that user
//!   only, saying how to create a new token, and invalidates the credential.
//! - Forwarded: `tools/list` (filtered by the policy), `tools/call`, `resources/list`,
//!   `resources/templates/list`, `resources/read`, `prompts/list`, `prompts/get`,
//!   `completion/complete`, the upstream's list-changed notifications to the user's agents, a
//!   call's progress notifications to the agent that made it, and the upstream's server requests
//!   (elicitation, sampling) to the agent whose call caused them: on that call's own stream for a
//!   session-era agent, as `input_required` rounds (SEP-2322) for a 2026-07-28 agent, whose
//!   answers complete the same upstream call. An agent cancelling a request cancels it upstream.
//! - One log line per call (target `mcp_gateway::call`: user, method, tool, outcome, latency;
//!   never a token) and [`GatewayMetrics`].
//! - "Connect your PagerDuty account" (MCP URL-mode elicitation), as parts to embed: the
//!   [`ConnectRegistry`] of single-use, expiring links, the payloads of each protocol era
//!   ([`PendingConnection::elicitation_required_error`],
//!   [`PendingConnection::input_required`] with a sealed `requestState`,
//!   [`PendingConnection::tool_error_result`]), [`Onboarding`] (check a pasted User API
//!   Token with PagerDuty, then seal and store it in a [`ConnectStore`]) and the
//!   [`ConnectPage`] router where the person signs in ([`OidcSignIn`] or their gateway key)
//!   and pastes the token.
//!
//! The agent side is the official Rust SDK's Streamable HTTP server (`rmcp`), which speaks both
//! protocol eras (`2025-11-25` sessions and stateless `2026-07-28`); the upstream side is this
//! crate's client, which negotiates its own era with the upstream.
//!
//! **Design note: the direct path.** A plain `tools/call` (the request agents send most: no
//! progress token, standard headers, nothing the upstream could ask the agent on the call's
//! stream) is answered by the gateway in the HTTP handler that received it, parsed with rmcp's
//! model and shaped with rmcp's own result handling, running the same forwarding code; rmcp
//! serves everything else. Measured in `benches/gateway_hop.rs`: with every request through
//! rmcp's service (its session worker or per-request service, a task per request, the reply
//! as SSE in pieces) a session-era call cost 1.29–1.35× a minimal pass-through proxy, the goal
//! being 1.2×; on the direct path 1.17–1.18×. A test checks that both paths give the agent the
//! same response. [`GatewayBuilder::direct_path`] turns it off.
//!
//! The `pagerduty-mcp-gateway` crate is a command line around it:
//!
//! ```text
//! cargo run -p pagerduty-mcp-gateway -- --listen 127.0.0.1:8080 --users users.toml --region us
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod agent_auth;
mod agent_call;
mod agent_sessions;
mod ask_to_connect;
mod bridge;
mod connect;
mod connections;
mod direct;
mod direct_calls;
mod drain;
mod errors;
mod front;
mod handler;
mod keys;
mod limits;
mod list_changed;
mod logging;
mod metrics;
mod oauth;
mod param_headers;
mod pending;
mod resource_listen;
mod service;
mod state;
mod subscriptions;

pub use connect::{
    CONNECT_CSP, CONNECT_INPUT_KEY, ConnectConfigError, ConnectPage, ConnectPageBuilder,
    ConnectRegistry, ConnectRequestState, ConnectStore, ConnectStoreError, ConnectionStatus,
    ConnectionWatch, DEFAULT_LINK_TTL, DEFAULT_MESSAGE, ELICITATION_COMPLETE, MAX_TOKEN_LENGTH,
    OidcSignIn, OidcSignInBuilder, Onboarding, PastedTokenError, PendingConnection,
    REQUEST_STATE_PREFIX, RegistryLimits, RequestStateError, RequestStateKey, SignInError,
    SignedInUser, StartError, StoredAccount, SubmitError, URL_ELICITATION_REQUIRED,
    check_pasted_token, elicitation_complete_notification,
};
pub use errors::{
    DENIED, UPSTREAM_ERROR, UPSTREAM_RATE_LIMITED, UPSTREAM_TIMEOUT, UPSTREAM_UNAUTHORIZED,
};
pub use keys::{GatewayKeys, KeyError, MIN_KEY_LENGTH, check_key};
pub use metrics::GatewayMetrics;
pub use oauth::{
    DEFAULT_USER_CLAIM, Introspection, OAuthBuilder, OAuthConfigError, OAuthResourceServer,
    ProtectedResourceMetadata, TokenError, ValidatedToken,
};
pub use service::{Gateway, GatewayBuilder};
pub use state::AgentUser;

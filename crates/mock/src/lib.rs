//! The embedded mock PagerDuty MCP server, for testing code built on `pagerduty-mcp-connect`.
//!
//! [`MockPagerDuty`] is a real HTTP server on a random loopback port that speaks MCP over
//! Streamable HTTP like PagerDuty's hosted server would, so tests, examples and benchmarks can
//! run a client end to end without the network. Add it as a dev-dependency:
//!
//! ```toml
//! [dev-dependencies]
//! pagerduty-mcp-connect-mock = "0.1"
//! ```
//!
//! ```
//! use pagerduty_mcp_connect_mock::MockPagerDuty;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mock = MockPagerDuty::start().await;
//! println!("MCP endpoint {} — use the token {}", mock.url(), MockPagerDuty::DEMO_TOKEN);
//! # }
//! ```
//!
//! A [`Connector`](pagerduty_mcp_connect::Connector) reaches it through the PagerDuty preset
//! with the mock's endpoint, `PagerDuty::builder().endpoint(mock.url().as_str()).build()?`.
//! [`MockPagerDuty::start`] panics when the server cannot start;
//! [`MockPagerDutyBuilder::start`] returns the [`std::io::Error`] instead.
//! `cargo run -p pagerduty-mcp-connect-mock --example mock_server` runs it on its own, for any
//! MCP client.
//!
//! This crate was the module `pagerduty_mcp_connect::testing` (feature `testing`).
//!
//! # Protocol
//!
//! One endpoint, `/mcp`, serving both eras and routed like the official Python SDK 2.3.0: a POST
//! without `MCP-Protocol-Version`, or with a session-era version, goes to the **session era**;
//! any other version to the **stateless era** ([`Eras`] restricts this).
//!
//! *Session era* (`2024-11-05`, `2025-03-26`, `2025-06-18`, `2025-11-25`): `initialize` answers
//! with the requested version, or counter-offers `2025-11-25` for an unknown one, and an
//! `Mcp-Session-Id` header (32 hex digits). Later requests must carry it: without it 400
//! `Bad Request: Missing session ID`; with an unknown, expired or deleted one — or one opened by
//! *another user* — 404 `Session not found`. Notifications (`notifications/initialized`,
//! `notifications/cancelled` …) and JSON-RPC responses get 202. `ping` and `logging/setLevel`
//! work. GET opens the session's standalone SSE stream (a second GET replaces the first reader);
//! [`MockPagerDuty::notify`] writes to it. DELETE ends the session (200). With `2025-11-25`
//! sessions every SSE reply starts with a priming event (`id:`, empty `data:`, `retry:`). A GET
//! with `Last-Event-ID` replays the events of that id's stream after it, then ends (or stays
//! open for the standalone stream). Batches are rejected (400), like the Python SDK.
//!
//! *Stateless era* (`2026-07-28`): no `initialize` and no session. Each request is checked in
//! the Python SDK 2.3.0 order: `params._meta` must hold `io.modelcontextprotocol/protocolVersion`
//! and `…/clientCapabilities` (else 400, `-32602`); the `MCP-Protocol-Version` header must equal
//! that version, `Mcp-Method` the body's method, and `Mcp-Name` (decoded from
//! `=?base64?…?=`, standard padded alphabet) the `name` of `tools/call`/`prompts/get` or the
//! `uri` of `resources/read` (else 400, `-32020`); the version must be `2026-07-28` (else 400,
//! `-32022` with `data.supported` and `data.requested`). `server/discover` answers
//! `supportedVersions`, `capabilities`, `instructions`, `ttlMs`, `cacheScope` and the server's
//! identity in `_meta["io.modelcontextprotocol/serverInfo"]`; every result carries
//! `resultType: "complete"`. Unknown methods (`initialize` and `ping` included) get 404 with
//! `-32601`. GET and DELETE get 405. `notifications/message` is sent only when the request's
//! `_meta` carries `io.modelcontextprotocol/logLevel`. SSE events carry no ids.
//!
//! *Both eras*: a POST must send `Content-Type: application/json` (else 400) and `Accept` listing
//! `application/json` and `text/event-stream` (wildcards count; else 406); bodies above 4 MiB
//! get 413; unparseable JSON gets 400 with `-32700`, a non-JSON-RPC body 400 with `-32600`.
//! Replies are `application/json` ([`ResponseMode::Json`], the default) or `text/event-stream`
//! ([`ResponseMode::Sse`]); a `tools/call` whose `_meta` has a `progressToken` is always
//! answered as SSE: a `: ping` comment, `notifications/progress` (1, 2 and 3 of 3), a
//! `notifications/message` log (when allowed), then the result. The `Host` header must be
//! loopback (else 421, as DNS-rebinding protection).
//!
//! # Tools and data
//!
//! Nineteen tools over a small account (4 incidents, 3 services, 2 teams, 2 schedules, 2
//! escalation policies): read tools (`list_incidents`, `get_incident`, `list_incident_notes`,
//! `list_services`, `get_service`, `list_oncalls`, `list_schedules`, `get_schedule`,
//! `list_users`, `get_user_data`, `list_escalation_policies`, `get_escalation_policy`,
//! `list_teams`, `get_team`, `list_log_entries`) with `readOnlyHint: true, destructiveHint:
//! false`, and write tools (`create_incident`, `manage_incidents`, `add_note_to_incident`,
//! `create_service`) with `readOnlyHint: false, destructiveHint: true`: the open-source
//! `pagerduty-mcp` package's names; [`MockPagerDutyBuilder::tool_naming`] with
//! [`ToolNaming::Hosted`] serves the hosted server's instead (`browse_incidents` for
//! `list_incidents`), so that code can be tested against both. Results are JSON text
//! plus `structuredContent`; lists look like `{"response":[…],"limit","more","total"}`. Bad
//! arguments, unknown ids, unknown tools and write attempts by read-only roles are `isError:
//! true` results. Write tools change the mock's data (per instance) and record the calling user
//! (`created_by`, note authors, log entries). There are also three resources
//! (`pagerduty://users/me`, `pagerduty://services`, `pagerduty://incidents/open`), the template
//! `pagerduty://incidents/{incident_id}`, two prompts (`incident_summary`, `oncall_handoff`)
//! and `completion/complete` for their arguments.
//!
//! # Users and credentials
//!
//! Every request (POST, GET, DELETE) must carry the configured [`AuthScheme`](pagerduty_mcp_connect::AuthScheme)
//! header (default `Authorization: Token <token>`) with a token of a known user; otherwise 401
//! with PagerDuty's body `{"error":{"message":"Authentication failed","code":2006}}`. The mock
//! answers as the token's user: `get_user_data` returns them. Users and tokens can be added and
//! revoked while it runs. Tokens are held in [`secrecy::SecretString`]s and never appear in
//! `Debug` output or in [`RecordedRequest`]s.
//!
//! # Faults
//!
//! A fault armed with one of the `*_next(n, …)` methods is used up by the next POST that
//! passed the credential check and carries a JSON-RPC *request* (a message with an `id`):
//! notifications, GET and DELETE never use one up, so background traffic of a client cannot
//! steal it. When several kinds are armed the first of this order fires: hang, redirect, rate
//! limit, failure status, malformed body, oversized body, dropped SSE stream. The request is not
//! processed (except for the dropped stream, whose request did run).

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]

mod catalog;
mod data;
mod dispatch;
mod faults;
mod jsonrpc;
mod mock_server;
mod options;
mod record;
mod replies;
mod rest_api;
mod session;
mod sse;
mod state;
mod stateless;
mod tools;
mod transport;
mod users;

pub use mock_server::{MockPagerDuty, MockPagerDutyBuilder, MockSession};
pub use options::{Eras, ResponseMode, ToolNaming};
pub use record::RecordedRequest;
pub use users::MockUser;

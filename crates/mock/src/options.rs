//! The mock's configuration knobs that are plain values: which protocol eras it serves and how
//! it shapes its replies.

/// Which MCP protocol eras the mock serves on its endpoint.
///
/// The mock routes each request the way the official Python SDK 2.3.0 does: no
/// `MCP-Protocol-Version` header, or one naming a session-era version (`2024-11-05`,
/// `2025-03-26`, `2025-06-18`, `2025-11-25`), goes to the session era (`initialize`,
/// `Mcp-Session-Id`); any other value goes to the stateless era (`2026-07-28`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Eras {
    /// Both eras on one endpoint, routed by the `MCP-Protocol-Version` header (the default).
    #[default]
    Both,
    /// Only the session era, like a server on the older 1.x Python SDK (for example the
    /// `pagerduty-mcp` package): a stateless request without a session id gets
    /// `400 {"jsonrpc":"2.0","id":"server-error","error":{"code":-32600,"message":"Bad Request: Missing session ID"}}`.
    SessionOnly,
    /// Only the stateless `2026-07-28` era: `initialize` and requests without a stateless
    /// `MCP-Protocol-Version` header get HTTP 400 with error `-32022` listing the supported
    /// versions; GET and DELETE get 405.
    StatelessOnly,
}

/// How the mock answers a POST that carries a JSON-RPC request.
///
/// Whatever the mode, a `tools/call` whose `params._meta` carries a `progressToken` is answered
/// as an SSE stream (progress and log notifications, then the result).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ResponseMode {
    /// A single `application/json` body (the default; the cheapest path).
    #[default]
    Json,
    /// A `text/event-stream` body whose events carry the response (and, in the session era,
    /// event ids so the client can resume).
    Sse,
}

/// Which names the mock's tools go by.
///
/// PagerDuty's hosted MCP server renamed some tools of the open-source `pagerduty-mcp` package
/// (it lists `browse_incidents` where the package lists `list_incidents`). The mock serves
/// either naming, so that code can be tested against both; the tools behave the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ToolNaming {
    /// The open-source `pagerduty-mcp` package's names (the default): `list_incidents` …
    #[default]
    OpenSource,
    /// The hosted server's names: `browse_incidents` instead of `list_incidents`; the others
    /// as in the package.
    Hosted,
}

/// The session-era protocol versions the mock negotiates, oldest first.
pub(crate) const SESSION_VERSIONS: [&str; 4] =
    ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// The newest session-era version: the counter-offer to an `initialize` naming an unknown one.
pub(crate) const LATEST_SESSION_VERSION: &str = "2025-11-25";

/// The stateless protocol version.
pub(crate) const STATELESS_VERSION: &str = "2026-07-28";

/// Whether `version` is one of the session-era versions.
pub(crate) fn is_session_version(version: &str) -> bool {
    SESSION_VERSIONS.contains(&version)
}

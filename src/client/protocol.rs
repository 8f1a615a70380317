//! MCP protocol versions, their two eras, and how the client chooses one.

use std::fmt;
use std::str::FromStr;

/// A revision of the Model Context Protocol this client speaks.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolVersion {
    /// `2024-11-05` (session era; no version header).
    V2024_11_05,
    /// `2025-03-26` (session era; Streamable HTTP introduced).
    V2025_03_26,
    /// `2025-06-18` (session era; `MCP-Protocol-Version` header).
    V2025_06_18,
    /// `2025-11-25` (session era; SSE polling with early close).
    V2025_11_25,
    /// `2026-07-28` (stateless era: no initialize, no session, routing headers).
    V2026_07_28,
}

impl ProtocolVersion {
    /// Every version, oldest first.
    pub const ALL: [ProtocolVersion; 5] = [
        ProtocolVersion::V2024_11_05,
        ProtocolVersion::V2025_03_26,
        ProtocolVersion::V2025_06_18,
        ProtocolVersion::V2025_11_25,
        ProtocolVersion::V2026_07_28,
    ];

    /// The newest session-era version.
    pub const LATEST_SESSION: ProtocolVersion = ProtocolVersion::V2025_11_25;

    /// The newest version.
    pub const LATEST: ProtocolVersion = ProtocolVersion::V2026_07_28;

    /// The version string (`"2025-11-25"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::V2024_11_05 => "2024-11-05",
            ProtocolVersion::V2025_03_26 => "2025-03-26",
            ProtocolVersion::V2025_06_18 => "2025-06-18",
            ProtocolVersion::V2025_11_25 => "2025-11-25",
            ProtocolVersion::V2026_07_28 => "2026-07-28",
        }
    }

    /// Whether this version belongs to the stateless era (no initialize, no session).
    pub const fn is_stateless(self) -> bool {
        matches!(self, ProtocolVersion::V2026_07_28)
    }

    /// Whether requests after initialisation carry the `MCP-Protocol-Version` header.
    pub(crate) fn sends_version_header(self) -> bool {
        self >= ProtocolVersion::V2025_06_18
    }

    /// Parses a version string; `None` for a version this client does not speak.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == text)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProtocolVersion {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s.trim()).ok_or_else(|| {
            let known: Vec<_> = Self::ALL.iter().map(|v| v.as_str()).collect();
            crate::Error::config(format!(
                "unknown MCP protocol version {:?}; known versions: {}",
                s.chars().take(32).collect::<String>(),
                known.join(", ")
            ))
        })
    }
}

/// Which protocol version a client uses.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProtocolPreference {
    /// Try the stateless era first and fall back to the newest session-era version the server
    /// accepts. The outcome is remembered per client (per endpoint), so only the first connection
    /// probes. The default.
    #[default]
    Auto,
    /// Use exactly this version; fail if the server does not accept it.
    Exact(ProtocolVersion),
    /// The session era (`initialize`), offering the newest session-era version and accepting
    /// whichever session-era version the server chooses; never probes the stateless era. What
    /// the Python SDK calls legacy mode: for servers that mishandle a 2026-07-28 probe.
    Handshake,
    /// The session era first, like [`Handshake`](Self::Handshake); a server that refuses it
    /// the way a 2026-07-28-only server does (HTTP 400, 404, 405, 415 or 422, or error -32022 or
    /// -32601 to `initialize`) gets the stateless era instead. For a gateway passing a session-era
    /// agent on: its server requests and notifications need the session era where the server
    /// has one. Nothing is remembered: each connection to a stateless-only server costs the
    /// refused `initialize` once.
    SessionFirst,
}

/// The versions this client speaks among those a `-32022` error's `data` lists (under
/// `supported`, or `supportedVersions` as some servers write it).
pub(crate) fn listed_versions(data: Option<&serde_json::Value>) -> Vec<ProtocolVersion> {
    data.and_then(|d| d.get("supported").or_else(|| d.get("supportedVersions")))
        .and_then(serde_json::Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(serde_json::Value::as_str)
                .filter_map(ProtocolVersion::parse)
                .collect()
        })
        .unwrap_or_default()
}

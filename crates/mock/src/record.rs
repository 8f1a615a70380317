//! What the mock remembers of every request it received, for assertions. Never a token.

use std::collections::VecDeque;
use std::sync::Mutex;

/// One HTTP request the mock received, as the mock saw it.
///
/// It holds whether the credential was present and matched, and which mock user it matched,
/// but never the credential itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// Position in the order of arrival, from 0 (kept across [`clear_requests`](super::MockPagerDuty::clear_requests)).
    pub seq: u64,
    /// The HTTP method (`POST`, `GET`, `DELETE` …).
    pub http_method: String,
    /// The request path (`/mcp`).
    pub path: String,
    /// The JSON-RPC method of each message in the body, in order (empty for GET/DELETE,
    /// unparseable bodies and JSON-RPC responses).
    pub jsonrpc_methods: Vec<String>,
    /// The `Mcp-Session-Id` header.
    pub session_id: Option<String>,
    /// The `MCP-Protocol-Version` header.
    pub protocol_version: Option<String>,
    /// The `Mcp-Method` header.
    pub mcp_method: Option<String>,
    /// The `Mcp-Name` header, as sent (still `=?base64?…?=`-encoded when it was).
    pub mcp_name: Option<String>,
    /// The `Last-Event-ID` header.
    pub last_event_id: Option<String>,
    /// The `Accept` header.
    pub accept: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// Whether the configured auth header was present.
    pub auth_present: bool,
    /// Whether the credential matched a known, unrevoked token.
    pub auth_matched: bool,
    /// The id of the mock user the credential belongs to, when it matched.
    pub user_id: Option<String>,
    /// The HTTP status of the answer; `None` when the request was never answered (a hang that
    /// ended with the mock's shutdown, or a client that went away first).
    pub status: Option<u16>,
    /// The injected fault that shaped the answer, if any (`"fail"`, `"rate_limit"`, `"hang"`,
    /// `"redirect"`, `"malformed"`, `"oversized"`, `"drop_sse"`).
    pub fault: Option<&'static str>,
}

/// The bounded log of requests.
pub(crate) struct Recorder {
    limit: usize,
    inner: Mutex<RecorderInner>,
}

struct RecorderInner {
    next_seq: u64,
    entries: VecDeque<RecordedRequest>,
}

impl Recorder {
    pub(crate) fn new(limit: usize) -> Self {
        Recorder {
            limit,
            inner: Mutex::new(RecorderInner {
                next_seq: 0,
                entries: VecDeque::new(),
            }),
        }
    }

    pub(crate) fn push(&self, mut request: RecordedRequest) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        request.seq = inner.next_seq;
        inner.next_seq += 1;
        if self.limit == 0 {
            return;
        }
        if inner.entries.len() >= self.limit {
            inner.entries.pop_front();
        }
        inner.entries.push_back(request);
    }

    pub(crate) fn snapshot(&self) -> Vec<RecordedRequest> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.entries.iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.entries.clear();
    }
}

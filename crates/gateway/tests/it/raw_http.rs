//! Plain HTTP requests to a gateway, for the tests that look at the wire itself (statuses,
//! headers, bodies) rather than at what an SDK client makes of them.

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// The session-era protocol version the raw requests speak.
pub const SESSION_ERA: &str = "2025-11-25";

/// A POST of `body` to `url` with `key` (and `session`), as an MCP client sends it.
pub fn post(
    http: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    session: Option<&str>,
    body: &Value,
) -> reqwest::RequestBuilder {
    let mut request = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", SESSION_ERA)
        .body(body.to_string());
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    request
}

/// `initialize` and `notifications/initialized` with `key`: the new session's id.
pub async fn open_session(http: &reqwest::Client, url: &str, key: &str) -> String {
    let init = json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": SESSION_ERA, "capabilities": {},
                   "clientInfo": {"name": "raw", "version": "0"}},
    });
    let response = post(http, url, Some(key), None, &init)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let _ = response.bytes().await.unwrap();
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let response = post(http, url, Some(key), Some(&session), &initialized)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    session
}

/// A `tools/call` request.
pub fn call(id: u64, tool: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": tool, "arguments": {}}})
}

/// A reply as the agent received it: status, headers, body.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Raw {
    pub async fn of(response: reqwest::Response) -> Raw {
        Raw {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    /// The body's JSON-RPC message (the last `data:` line of an SSE body).
    pub fn message(&self) -> Value {
        let text = String::from_utf8_lossy(&self.body);
        if let Ok(value) = serde_json::from_str(&text) {
            return value;
        }
        text.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
            .next_back()
            .unwrap_or_else(|| panic!("no JSON-RPC message in {text:?}"))
    }

    /// The headers without `date` (which names the second the reply was made).
    pub fn headers_but_date(&self) -> Vec<(String, Vec<u8>)> {
        let mut headers: Vec<(String, Vec<u8>)> = self
            .headers
            .iter()
            .filter(|(name, _)| *name != "date")
            .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
            .collect();
        headers.sort();
        headers
    }
}

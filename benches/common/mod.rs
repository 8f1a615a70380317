//! What the table-printing bench binaries share: the command line, the baselines (a hand-made
//! `reqwest` client and the official `rmcp` client), statistics and small probes.
//!
//! Each binary is `harness = false`: `cargo bench -p pagerduty-mcp-connect-benches --bench NAME`
//! runs it in full; `cargo test` (README's test command) runs each once with small counts, as
//! `cargo bench … -- --test` does.

#![allow(dead_code)] // each binary uses its own part of this module

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::{HeaderValue, header};
use pagerduty_mcp_connect::{
    AuthScheme, Connector, GenericServer, InMemoryCredentialStore, McpClientBuilder,
    ProtocolPreference, ProtocolVersion, UserId,
};
use rmcp::model::{
    CallToolRequestParams, ClientConfig as RmcpClientConfig, ProtocolVersion as RmcpVersion,
};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClientTransport, StreamableHttpClientTransportConfig,
};
use rmcp::{ClientLifecycleMode, ClientServiceExt, RoleClient, ServiceExt};
use serde_json::{Map, Value, json};
use url::Url;

pub const TOOL: &str = "list_incidents";
pub const SESSION_VERSION: &str = "2025-11-25";
pub const STATELESS_VERSION: &str = "2026-07-28";
const ACCEPT: &str = "application/json, text/event-stream";

/// Whether the binary runs once as a test (small counts) or in full: `cargo bench` passes
/// `--bench` (a full run, unless `--test` is given too, as in `cargo bench -- --test`); `cargo
/// test`, which runs every bench once (`test = true` in Cargo.toml), passes neither.
pub fn test_mode() -> bool {
    let mut bench = false;
    for arg in std::env::args() {
        match arg.as_str() {
            "--test" => return true,
            "--bench" => bench = true,
            _ => {}
        }
    }
    !bench
}

/// The arguments of every `call_tool` in the benches.
pub fn arguments() -> Map<String, Value> {
    let Value::Object(map) = json!({"statuses": ["triggered", "acknowledged"], "limit": 10}) else {
        unreachable!()
    };
    map
}

/// The token of bench user `i` (each user has their own).
pub fn token_of(i: usize) -> String {
    format!("u+BenchUserToken{i:06}")
}

pub fn auth_value(token: &str) -> HeaderValue {
    let mut value = HeaderValue::from_str(&format!("Token {token}")).expect("visible ASCII");
    value.set_sensitive(true);
    value
}

/// One [`Connector`] to the mock at `url` for `users` users, user `i` named `user-{i}` (with
/// `width` digits, zero-padded) holding the bench token `token_of(i)`, speaking `version` only.
pub fn connector(
    url: &Url,
    users: usize,
    width: usize,
    version: ProtocolVersion,
) -> (Connector, Vec<UserId>) {
    connector_with(url, users, width, version, |client| client)
}

/// [`connector`], its client configured further by `configure`.
pub fn connector_with(
    url: &Url,
    users: usize,
    width: usize,
    version: ProtocolVersion,
    configure: impl FnOnce(McpClientBuilder) -> McpClientBuilder + Send + 'static,
) -> (Connector, Vec<UserId>) {
    let store = InMemoryCredentialStore::new();
    let ids: Vec<UserId> = (0..users)
        .map(|i| UserId::from(format!("user-{i:0width$}")))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        store.insert(id.clone(), token_of(i));
    }
    let server =
        GenericServer::new("mock", url.as_str(), AuthScheme::token()).expect("loopback endpoint");
    let connector = Connector::builder()
        .server(server)
        .credentials(store)
        .configure_client(move |client| {
            configure(client.protocol(ProtocolPreference::Exact(version)))
        })
        .build()
        .expect("connector");
    (connector, ids)
}

// ---------------------------------------------------------------------------------------------
// Baseline: a hand-written minimal JSON-RPC over HTTP client (one shared pool).
// ---------------------------------------------------------------------------------------------

/// The least an MCP client must do per user: hold the auth header (and the session id).
pub struct Raw {
    http: reqwest::Client,
    url: Url,
    auth: HeaderValue,
    session_id: Option<String>,
    stateless: bool,
    next_id: AtomicU64,
}

impl Raw {
    /// Session era: a hand-made `initialize` + `notifications/initialized` (2 round trips).
    pub async fn session(http: &reqwest::Client, url: &Url, token: &str) -> Raw {
        let mut raw = Raw {
            http: http.clone(),
            url: url.clone(),
            auth: auth_value(token),
            session_id: None,
            stateless: false,
            next_id: AtomicU64::new(1),
        };
        let body = json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {
                "protocolVersion": SESSION_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "raw-bench", "version": "0"},
            },
        });
        let response = raw
            .http
            .post(raw.url.clone())
            .header(header::AUTHORIZATION, raw.auth.clone())
            .header(header::ACCEPT, ACCEPT)
            .header(header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(&body).expect("JSON"))
            .send()
            .await
            .expect("initialize sent");
        // Copied out: a cloned `HeaderValue` would keep the response's read buffer alive.
        raw.session_id = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        assert!(raw.session_id.is_some(), "the mock gave no session id");
        let init = read_result(response).await;
        assert_eq!(init["protocolVersion"], SESSION_VERSION);
        let initialized = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        let response = raw
            .base_request()
            .body(&initialized[..])
            .send()
            .await
            .expect("initialized sent");
        assert_eq!(response.status(), 202);
        raw
    }

    /// Stateless era: nothing to set up (0 round trips).
    pub fn stateless(http: &reqwest::Client, url: &Url, token: &str) -> Raw {
        Raw {
            http: http.clone(),
            url: url.clone(),
            auth: auth_value(token),
            session_id: None,
            stateless: true,
            next_id: AtomicU64::new(1),
        }
    }

    fn base_request(&self) -> reqwest::RequestBuilder {
        let version = if self.stateless {
            STATELESS_VERSION
        } else {
            SESSION_VERSION
        };
        let mut request = self
            .http
            .post(self.url.clone())
            .header(header::AUTHORIZATION, self.auth.clone())
            .header(header::ACCEPT, ACCEPT)
            .header(header::CONTENT_TYPE, "application/json")
            .header("mcp-protocol-version", version);
        if let Some(id) = &self.session_id {
            request = request.header("mcp-session-id", id.as_str());
        }
        request
    }

    /// `tools/call list_incidents`; returns its `result`.
    pub async fn call_tool(&self) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut params = Map::new();
        params.insert("name".into(), json!(TOOL));
        params.insert("arguments".into(), Value::Object(arguments()));
        let mut request = self.base_request();
        if self.stateless {
            params.insert(
                "_meta".into(),
                json!({
                    "io.modelcontextprotocol/protocolVersion": STATELESS_VERSION,
                    "io.modelcontextprotocol/clientCapabilities": {},
                    "io.modelcontextprotocol/clientInfo": {"name": "raw-bench", "version": "0"},
                }),
            );
            request = request
                .header("mcp-method", "tools/call")
                .header("mcp-name", TOOL);
        }
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params});
        let response = request
            .body(serde_json::to_vec(&body).expect("JSON"))
            .send()
            .await
            .expect("request sent");
        let result = read_result(response).await;
        assert_ne!(result["isError"], json!(true));
        result
    }

    pub async fn delete(&self) {
        if let Some(id) = &self.session_id {
            let _ = self
                .http
                .delete(self.url.clone())
                .header(header::AUTHORIZATION, self.auth.clone())
                .header("mcp-session-id", id.as_str())
                .header("mcp-protocol-version", SESSION_VERSION)
                .send()
                .await;
        }
    }
}

/// Reads a reply, JSON or SSE, to its end and returns the response's `result`.
async fn read_result(response: reqwest::Response) -> Value {
    assert!(response.status().is_success(), "HTTP {}", response.status());
    let sse = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"text/event-stream"));
    let bytes = response.bytes().await.expect("body");
    let bytes = if sse {
        sse_response(&bytes)
    } else {
        &bytes[..]
    };
    match serde_json::from_slice::<Value>(bytes).expect("JSON reply") {
        Value::Object(mut message) => message
            .remove("result")
            .unwrap_or_else(|| panic!("not a result: {message:?}")),
        other => panic!("not a JSON-RPC response: {other}"),
    }
}

/// The data of the last non-empty event of an SSE body (the response: what a minimal client
/// reads, after the stream's end, when it asked one request on it).
fn sse_response(body: &[u8]) -> &[u8] {
    body.split(|&b| b == b'\n')
        .filter_map(|line| line.strip_prefix(b"data:"))
        .map(|data| data.trim_ascii())
        .rfind(|data| !data.is_empty())
        .expect("an SSE event with data")
}

// ---------------------------------------------------------------------------------------------
// Baseline: the official Rust SDK.
// ---------------------------------------------------------------------------------------------

pub type RmcpClient = RunningService<RoleClient, RmcpClientConfig>;

/// rmcp's transport for `token`: over `http` (a shared pool) or, with `None`, its default
/// client (one per transport, without idle pooling).
pub fn rmcp_transport(
    http: Option<&reqwest::Client>,
    url: &Url,
    token: &str,
) -> StreamableHttpClientTransport<reqwest::Client> {
    // `auth_header` always writes `Bearer <value>`; the `Token` scheme goes through
    // `custom_headers`.
    let headers = HashMap::from([(header::AUTHORIZATION, auth_value(token))]);
    let config =
        StreamableHttpClientTransportConfig::with_uri(url.as_str()).custom_headers(headers);
    match http {
        Some(http) => StreamableHttpClientTransport::with_client(http.clone(), config),
        None => StreamableHttpClientTransport::from_config(config),
    }
}

/// An rmcp client in the session era (`initialize` + `notifications/initialized`).
pub async fn rmcp_session(http: Option<&reqwest::Client>, url: &Url, token: &str) -> RmcpClient {
    RmcpClientConfig::default()
        .with_protocol_version(RmcpVersion::V_2025_11_25)
        .serve(rmcp_transport(http, url, token))
        .await
        .expect("rmcp initialize")
}

/// An rmcp client in the stateless era (`server/discover`).
pub async fn rmcp_stateless(http: Option<&reqwest::Client>, url: &Url, token: &str) -> RmcpClient {
    RmcpClientConfig::default()
        .serve_with_lifecycle(
            rmcp_transport(http, url, token),
            ClientLifecycleMode::Discover {
                preferred_versions: vec![RmcpVersion::V_2026_07_28],
            },
        )
        .await
        .expect("rmcp discover")
}

pub async fn rmcp_call_tool(client: &RmcpClient) {
    let result = client
        .call_tool(CallToolRequestParams::new(TOOL).with_arguments(arguments()))
        .await
        .expect("rmcp call_tool");
    assert_ne!(result.is_error, Some(true));
}

// ---------------------------------------------------------------------------------------------
// Statistics and probes.
// ---------------------------------------------------------------------------------------------

/// Latency percentiles of a run.
#[derive(Clone, Copy, Debug)]
pub struct Percentiles {
    pub p50: Duration,
    pub p99: Duration,
}

pub fn percentiles(latencies: &mut [Duration]) -> Percentiles {
    assert!(!latencies.is_empty(), "no latency recorded");
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    Percentiles {
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// The median of some figures.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The CPU time (user + system) in a `/proc/.../stat` line, in clock ticks of 10 ms, and the
/// command name it holds.
fn stat_ticks(stat: &str) -> Option<(&str, u64)> {
    // The command name (field 2, in parentheses) may hold spaces; the fields after it are plain.
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let mut fields = stat.get(close + 2..)?.split(' ');
    // utime and stime are fields 14 and 15, i.e. the 12th and 13th after the name.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((&stat[open + 1..close], utime + stime))
}

/// CPU time (user + system, all threads) this process has used so far, from `/proc/self/stat`;
/// `None` off Linux.
pub fn process_cpu() -> Option<Duration> {
    let (_, ticks) = stat_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
    Some(Duration::from_millis(ticks * 10))
}

/// CPU time (user + system) used so far by this process's live threads whose name starts with
/// `prefix` (from `/proc/self/task/*/stat`); `None` off Linux.
pub fn threads_cpu(prefix: &str) -> Option<Duration> {
    let mut ticks = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let Ok(stat) = std::fs::read_to_string(task.ok()?.path().join("stat")) else {
            continue; // the thread ended meanwhile
        };
        // A line not read as expected gives no figure rather than an undercount.
        let (name, used) = stat_ticks(&stat)?;
        if name.starts_with(prefix) {
            ticks += used;
        }
    }
    Some(Duration::from_millis(ticks * 10))
}

/// TCP sockets of the machine in `TIME_WAIT` (from `/proc/net/tcp` and `tcp6`); `None` off
/// Linux.
pub fn sockets_in_time_wait() -> Option<usize> {
    let mut count = 0;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        // Lines: `sl local rem st ...`; state 06 is TIME_WAIT.
        count += text
            .lines()
            .skip(1)
            .filter(|line| line.split_whitespace().nth(3) == Some("06"))
            .count();
    }
    Some(count)
}

/// Open TCP sockets of this process (from `/proc/self/fd`); `None` off Linux.
pub fn open_sockets() -> Option<usize> {
    let dir = std::fs::read_dir("/proc/self/fd").ok()?;
    Some(
        dir.filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
            .filter(|target| target.to_string_lossy().starts_with("socket:"))
            .count(),
    )
}

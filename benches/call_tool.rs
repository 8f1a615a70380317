//! Benchmarks of `pagerduty_mcp_connect` against two baselines measured in the same run, on the
//! same embedded mock server ([`MockPagerDuty`]) and the same Tokio runtime.
//!
//! # How to read the results
//!
//! Absolute times depend on the machine; only **ratios within one run** mean anything. Each
//! criterion group is one scenario and holds the same operation done three ways:
//!
//! * `raw_reqwest`: a hand-written minimal POST of the same JSON-RPC request with the same
//!   headers (`Authorization: Token <token>`, `Accept`, `Content-Type`, `MCP-Protocol-Version`,
//!   `Mcp-Session-Id` from a hand-made `initialize` in the session era; `Mcp-Method`, `Mcp-Name`
//!   and `_meta` in the stateless era), its body parsed into a `serde_json::Value`. The floor: no
//!   MCP client can be much faster than this.
//! * `rmcp`: the official Rust SDK (`rmcp` 3.11, `StreamableHttpClientTransport` over `reqwest`,
//!   the `Token` header sent through `custom_headers`, since its `auth_header` always writes
//!   `Bearer`).
//! * `pagerduty_mcp_connect`: this crate's [`Session`] (or [`Connector`]).
//!
//! Read `pagerduty_mcp_connect / raw_reqwest` (the overhead of this crate's client machinery
//! over the bare HTTP exchange; close to 1.0 is the goal) and `pagerduty_mcp_connect / rmcp`
//! (below 1.0 means faster than the official SDK). `benches/README.md` lists the ratios of one
//! run. Groups:
//!
//! * `call_tool/list_incidents/session_json`: session era (`2025-11-25`), JSON replies.
//! * `call_tool/list_incidents/stateless_json`: stateless era (`2026-07-28`), JSON replies.
//! * `call_tool/list_incidents/session_sse`: session era, replies as SSE streams.
//! * `list_tools/session_json`: every page of `tools/list` (19 tools in pages of 5: 4 requests).
//! * `connector`: `Connector::call_tool` for one user vs `Session::call_tool` on the same
//!   session (the cost of the per-user façade: credential lookup, policy, span).
//! * `connect`: a new session per iteration (`initialize` + `notifications/initialized` in the
//!   session era, `server/discover` in the stateless era); closing it is not timed.
//!
//! Run with `cargo bench -p pagerduty-mcp-connect-benches --bench call_tool` (a few minutes on 2 cores).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderValue, header};
use pagerduty_mcp_connect::{
    AuthScheme, Connector, Credential, GenericServer, InMemoryCredentialStore, McpClient,
    ProtocolPreference, ProtocolVersion, Session, UserId,
};
use pagerduty_mcp_connect_mock::{MockPagerDuty, ResponseMode};
use rmcp::model::{
    CallToolRequestParams, ClientConfig as RmcpClientConfig, ProtocolVersion as RmcpVersion,
};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClientTransport, StreamableHttpClientTransportConfig,
};
use rmcp::{ClientLifecycleMode, ClientServiceExt, RoleClient, ServiceExt};
use serde_json::{Map, Value, json};
use tokio::runtime::Runtime;
use url::Url;

const TOKEN: &str = MockPagerDuty::DEMO_TOKEN;
const TOOL: &str = "list_incidents";
const SESSION_VERSION: &str = "2025-11-25";
const STATELESS_VERSION: &str = "2026-07-28";
const ACCEPT: &str = "application/json, text/event-stream";
/// `tools/list` page size of the mocks: 19 tools, so 4 pages.
const PAGE_SIZE: usize = 5;

fn arguments() -> Map<String, Value> {
    let Value::Object(map) = json!({"statuses": ["triggered", "acknowledged"], "limit": 10}) else {
        unreachable!()
    };
    map
}

fn auth_value() -> HeaderValue {
    let mut value = HeaderValue::from_str(&format!("Token {TOKEN}")).expect("visible ASCII");
    value.set_sensitive(true);
    value
}

// ---------------------------------------------------------------------------------------------
// Baseline (a): a hand-written minimal JSON-RPC over HTTP client.
// ---------------------------------------------------------------------------------------------

/// The least an MCP client must do: build the body, POST it with the headers, parse the reply.
struct Raw {
    http: reqwest::Client,
    url: Url,
    auth: HeaderValue,
    session_id: Option<HeaderValue>,
    stateless: bool,
    next_id: AtomicU64,
}

impl Raw {
    /// Session era: a hand-made `initialize` + `notifications/initialized`.
    async fn session(http: &reqwest::Client, url: &Url) -> Raw {
        let mut raw = Raw {
            http: http.clone(),
            url: url.clone(),
            auth: auth_value(),
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
        raw.session_id = response.headers().get("mcp-session-id").cloned();
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

    /// Stateless era: nothing to set up.
    fn stateless(http: &reqwest::Client, url: &Url) -> Raw {
        Raw {
            http: http.clone(),
            url: url.clone(),
            auth: auth_value(),
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
            request = request.header("mcp-session-id", id.clone());
        }
        request
    }

    /// One request; returns its `result`. `name` is the stateless era's `Mcp-Name`.
    async fn request(
        &self,
        method: &str,
        mut params: Map<String, Value>,
        name: Option<&str>,
    ) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
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
            request = request.header("mcp-method", method);
            if let Some(name) = name {
                request = request.header("mcp-name", name);
            }
        }
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let response = request
            .body(serde_json::to_vec(&body).expect("JSON"))
            .send()
            .await
            .expect("request sent");
        read_result(response).await
    }

    async fn call_tool(&self) -> Value {
        let params = json!({"name": TOOL, "arguments": arguments()});
        let Value::Object(params) = params else {
            unreachable!()
        };
        self.request("tools/call", params, Some(TOOL)).await
    }

    /// Every page of `tools/list`; returns the number of tools.
    async fn list_tools(&self) -> usize {
        let mut cursor: Option<String> = None;
        let mut count = 0;
        loop {
            let mut params = Map::new();
            if let Some(cursor) = cursor.take() {
                params.insert("cursor".into(), Value::String(cursor));
            }
            let mut page = self.request("tools/list", params, None).await;
            count += page["tools"].as_array().map_or(0, Vec::len);
            match page.get_mut("nextCursor").map(Value::take) {
                Some(Value::String(next)) => cursor = Some(next),
                _ => return count,
            }
        }
    }

    async fn delete(&self) {
        if let Some(id) = &self.session_id {
            let _ = self
                .http
                .delete(self.url.clone())
                .header(header::AUTHORIZATION, self.auth.clone())
                .header("mcp-session-id", id.clone())
                .header("mcp-protocol-version", SESSION_VERSION)
                .send()
                .await;
        }
    }
}

/// Reads a JSON or SSE reply and returns the response's `result`.
async fn read_result(response: reqwest::Response) -> Value {
    assert!(response.status().is_success(), "HTTP {}", response.status());
    let sse = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let bytes = response.bytes().await.expect("body");
    let message: Value = if sse {
        let text = std::str::from_utf8(&bytes).expect("UTF-8");
        text.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(str::trim)
            .filter(|data| !data.is_empty())
            .map(|data| serde_json::from_str::<Value>(data).expect("JSON event"))
            .find(|message| message.get("id").is_some())
            .expect("a response event")
    } else {
        serde_json::from_slice(&bytes).expect("JSON reply")
    };
    match message {
        Value::Object(mut message) => message
            .remove("result")
            .unwrap_or_else(|| panic!("not a result: {message:?}")),
        other => panic!("not a JSON-RPC response: {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Baseline (b): the official Rust SDK.
// ---------------------------------------------------------------------------------------------

type RmcpClient = RunningService<RoleClient, RmcpClientConfig>;

fn rmcp_transport(
    http: &reqwest::Client,
    url: &Url,
) -> StreamableHttpClientTransport<reqwest::Client> {
    // `auth_header` always writes `Bearer <value>`; `Authorization` is not a reserved custom
    // header, so the PagerDuty `Token` scheme goes through `custom_headers`.
    let headers = HashMap::from([(header::AUTHORIZATION, auth_value())]);
    let config =
        StreamableHttpClientTransportConfig::with_uri(url.as_str()).custom_headers(headers);
    StreamableHttpClientTransport::with_client(http.clone(), config)
}

async fn rmcp_session(http: &reqwest::Client, url: &Url) -> RmcpClient {
    RmcpClientConfig::default()
        .with_protocol_version(RmcpVersion::V_2025_11_25)
        .serve(rmcp_transport(http, url))
        .await
        .expect("rmcp initialize")
}

async fn rmcp_stateless(http: &reqwest::Client, url: &Url) -> RmcpClient {
    RmcpClientConfig::default()
        .serve_with_lifecycle(
            rmcp_transport(http, url),
            ClientLifecycleMode::Discover {
                preferred_versions: vec![RmcpVersion::V_2026_07_28],
            },
        )
        .await
        .expect("rmcp discover")
}

async fn rmcp_call_tool(client: &RmcpClient) -> rmcp::model::CallToolResult {
    let result = client
        .call_tool(CallToolRequestParams::new(TOOL).with_arguments(arguments()))
        .await
        .expect("rmcp call_tool");
    assert_ne!(result.is_error, Some(true));
    result
}

// ---------------------------------------------------------------------------------------------
// This crate.
// ---------------------------------------------------------------------------------------------

fn our_client(url: &Url, version: ProtocolVersion) -> McpClient {
    let server =
        GenericServer::new("mock", url.as_str(), AuthScheme::token()).expect("loopback endpoint");
    McpClient::builder(server)
        .protocol(ProtocolPreference::Exact(version))
        .build()
        .expect("client")
}

async fn our_call_tool(session: &Session) -> pagerduty_mcp_connect::CallToolResult {
    let result = session
        .call_tool(TOOL, Value::Object(arguments()))
        .await
        .expect("call_tool");
    assert_ne!(result.is_error, Some(true));
    result
}

// ---------------------------------------------------------------------------------------------
// Set-up shared by every group: one runtime, the mocks, one pool per client kind.
// ---------------------------------------------------------------------------------------------

struct Fixture {
    json: MockPagerDuty,
    sse: MockPagerDuty,
    /// The pool of the raw and rmcp baselines (this crate builds its own, like a gateway would).
    http: reqwest::Client,
}

async fn start_mock(mode: ResponseMode) -> MockPagerDuty {
    MockPagerDuty::builder()
        .response_mode(mode)
        .page_size(PAGE_SIZE)
        .max_recorded_requests(256)
        .start()
        .await
        .expect("mock")
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn fixture(rt: &Runtime) -> Fixture {
    rt.block_on(async {
        Fixture {
            json: start_mock(ResponseMode::Json).await,
            sse: start_mock(ResponseMode::Sse).await,
            http: reqwest::Client::builder().build().expect("reqwest client"),
        }
    })
}

/// The number of requests `work` sends to `mock` (to check a baseline does not cache).
async fn requests_sent<F: std::future::Future>(mock: &MockPagerDuty, work: F) -> usize {
    mock.clear_requests();
    work.await;
    mock.requests().len()
}

// ---------------------------------------------------------------------------------------------
// The groups.
// ---------------------------------------------------------------------------------------------

/// `call_tool list_incidents` on `mock` in one era: raw vs rmcp vs ours.
fn call_tool_group(
    c: &mut Criterion,
    rt: &Runtime,
    http: &reqwest::Client,
    mock: &MockPagerDuty,
    name: &str,
    stateless: bool,
) {
    let url = mock.url();
    let version = if stateless {
        ProtocolVersion::V2026_07_28
    } else {
        ProtocolVersion::V2025_11_25
    };
    let (raw, rmcp_client, session) = rt.block_on(async {
        let raw = if stateless {
            Raw::stateless(http, &url)
        } else {
            Raw::session(http, &url).await
        };
        let rmcp_client = if stateless {
            rmcp_stateless(http, &url).await
        } else {
            rmcp_session(http, &url).await
        };
        let session = our_client(&url, version)
            .connect(&Credential::new(TOKEN))
            .await
            .expect("connect");
        // Same answer from all three, one request each.
        let raw_result = raw.call_tool().await;
        let rmcp_result = rmcp_call_tool(&rmcp_client).await;
        let our_result = our_call_tool(&session).await;
        assert_eq!(
            raw_result["structuredContent"],
            json!(rmcp_result.structured_content)
        );
        assert_eq!(
            raw_result["structuredContent"],
            json!(our_result.structured_content)
        );
        assert_eq!(requests_sent(mock, raw.call_tool()).await, 1);
        assert_eq!(requests_sent(mock, rmcp_call_tool(&rmcp_client)).await, 1);
        assert_eq!(requests_sent(mock, our_call_tool(&session)).await, 1);
        (raw, rmcp_client, session)
    });

    let mut group = c.benchmark_group(name);
    group.bench_function("raw_reqwest", |b| b.to_async(rt).iter(|| raw.call_tool()));
    group.bench_function("rmcp", |b| {
        b.to_async(rt).iter(|| rmcp_call_tool(&rmcp_client))
    });
    group.bench_function("pagerduty_mcp_connect", |b| {
        b.to_async(rt).iter(|| our_call_tool(&session))
    });
    group.finish();

    rt.block_on(async {
        raw.delete().await;
        let _ = rmcp_client.cancel().await;
        let _ = session.close().await;
    });
}

/// Every page of `tools/list`, session era.
fn list_tools_group(c: &mut Criterion, rt: &Runtime, fx: &Fixture) {
    let url = fx.json.url();
    let (raw, rmcp_client, session) = rt.block_on(async {
        let raw = Raw::session(&fx.http, &url).await;
        let rmcp_client = rmcp_session(&fx.http, &url).await;
        let session = our_client(&url, ProtocolVersion::V2025_11_25)
            .connect(&Credential::new(TOKEN))
            .await
            .expect("connect");
        let pages = 19usize.div_ceil(PAGE_SIZE);
        assert_eq!(raw.list_tools().await, 19);
        assert_eq!(rmcp_client.list_all_tools().await.expect("rmcp").len(), 19);
        assert_eq!(session.list_tools().await.expect("list_tools").len(), 19);
        // Nobody answers from a cache: every run fetches every page.
        assert_eq!(requests_sent(&fx.json, raw.list_tools()).await, pages);
        assert_eq!(
            requests_sent(&fx.json, rmcp_client.list_all_tools()).await,
            pages
        );
        assert_eq!(requests_sent(&fx.json, session.list_tools()).await, pages);
        (raw, rmcp_client, session)
    });

    let mut group = c.benchmark_group("list_tools/session_json");
    group.bench_function("raw_reqwest", |b| b.to_async(rt).iter(|| raw.list_tools()));
    group.bench_function("rmcp", |b| {
        b.to_async(rt)
            .iter(|| async { rmcp_client.list_all_tools().await.expect("rmcp").len() })
    });
    group.bench_function("pagerduty_mcp_connect", |b| {
        b.to_async(rt)
            .iter(|| async { session.list_tools().await.expect("list_tools").len() })
    });
    group.finish();

    rt.block_on(async {
        raw.delete().await;
        let _ = rmcp_client.cancel().await;
        let _ = session.close().await;
    });
}

/// `Connector::call_tool` for one user vs `Session::call_tool` on that user's session.
fn connector_group(c: &mut Criterion, rt: &Runtime, fx: &Fixture) {
    let url = fx.json.url();
    let user = UserId::from("demo@example.com");
    let (connector, session) = rt.block_on(async {
        let store = InMemoryCredentialStore::new();
        store.insert(user.clone(), TOKEN);
        let server = GenericServer::new("mock", url.as_str(), AuthScheme::token())
            .expect("loopback endpoint");
        let connector = Connector::builder()
            .server(server)
            .credentials(store)
            .configure_client(|client| {
                client.protocol(ProtocolPreference::Exact(ProtocolVersion::V2025_11_25))
            })
            .build()
            .expect("connector");
        let result = connector
            .call_tool(&user, TOOL, Value::Object(arguments()))
            .await
            .expect("connector call_tool");
        assert_ne!(result.is_error, Some(true));
        let session = connector.session(&user).await.expect("session");
        let sent = requests_sent(&fx.json, async {
            connector
                .call_tool(&user, TOOL, Value::Object(arguments()))
                .await
                .expect("connector call_tool")
        })
        .await;
        assert_eq!(sent, 1, "the connector reuses the user's session");
        (connector, session)
    });

    let mut group = c.benchmark_group("connector");
    group.bench_function("session_call_tool", |b| {
        b.to_async(rt).iter(|| our_call_tool(&session))
    });
    group.bench_function("connector_call_tool", |b| {
        b.to_async(rt).iter(|| async {
            let result = connector
                .call_tool(&user, TOOL, Value::Object(arguments()))
                .await
                .expect("connector call_tool");
            assert_ne!(result.is_error, Some(true));
            result
        })
    });
    group.finish();

    rt.block_on(async {
        let _ = connector.disconnect(&user).await;
    });
}

/// A new session per iteration; only opening it is timed.
fn connect_group(c: &mut Criterion, rt: &Runtime, fx: &Fixture) {
    let url = &fx.json.url();
    let http = &fx.http;
    let session_client = our_client(url, ProtocolVersion::V2025_11_25);
    let stateless_client = our_client(url, ProtocolVersion::V2026_07_28);
    let credential = Credential::new(TOKEN);
    rt.block_on(async {
        // Warm every pool (the connections are then reused, as in a running gateway).
        let _ = session_client.connect(&credential).await.expect("connect");
        let _ = stateless_client
            .connect(&credential)
            .await
            .expect("connect");
        // A stateless session on an endpoint this client knows opens without a round trip
        // (the mock's discover result is `cacheScope: private`, `ttlMs: 0`; the new_user bench
        // counts round trips). Timed like for like below: opening it and fetching the
        // server's details, one server/discover as for the other two clients.
        assert_eq!(
            requests_sent(&fx.json, async {
                drop(
                    stateless_client
                        .connect(&credential)
                        .await
                        .expect("connect"),
                );
            })
            .await,
            0,
            "a stateless connect on a known endpoint sends nothing"
        );
        assert_eq!(
            requests_sent(&fx.json, async {
                let session = stateless_client
                    .connect(&credential)
                    .await
                    .expect("connect");
                session.refresh_server_details().await.expect("discover");
                drop(session);
            })
            .await,
            1,
            "stateless connect with the server's details is one server/discover"
        );
    });

    let mut group = c.benchmark_group("connect");
    group.bench_function("session_era/raw_reqwest", |b| {
        b.to_async(rt).iter_custom(|iters| async move {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let raw = Raw::session(http, url).await;
                total += start.elapsed();
                raw.delete().await;
            }
            total
        })
    });
    group.bench_function("session_era/rmcp", |b| {
        b.to_async(rt).iter_custom(|iters| async move {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let client = rmcp_session(http, url).await;
                total += start.elapsed();
                let _ = client.cancel().await;
            }
            total
        })
    });
    group.bench_function("session_era/pagerduty_mcp_connect", |b| {
        b.to_async(rt).iter_custom(|iters| {
            let (client, credential) = (&session_client, &credential);
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let session = client.connect(credential).await.expect("connect");
                    total += start.elapsed();
                    session.close().await.expect("close");
                }
                total
            }
        })
    });
    group.bench_function("stateless_era/raw_reqwest", |b| {
        let raw = Raw::stateless(http, url);
        b.to_async(rt)
            .iter(|| raw.request("server/discover", Map::new(), None))
    });
    group.bench_function("stateless_era/rmcp", |b| {
        b.to_async(rt).iter_custom(|iters| async move {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let client = rmcp_stateless(http, url).await;
                total += start.elapsed();
                let _ = client.cancel().await;
            }
            total
        })
    });
    group.bench_function("stateless_era/pagerduty_mcp_connect", |b| {
        b.to_async(rt).iter_custom(|iters| {
            let (client, credential) = (&stateless_client, &credential);
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let session = client.connect(credential).await.expect("connect");
                    session.refresh_server_details().await.expect("discover");
                    total += start.elapsed();
                    drop(session);
                }
                total
            }
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    let fx = fixture(&rt);
    call_tool_group(
        c,
        &rt,
        &fx.http,
        &fx.json,
        "call_tool/list_incidents/session_json",
        false,
    );
    call_tool_group(
        c,
        &rt,
        &fx.http,
        &fx.json,
        "call_tool/list_incidents/stateless_json",
        true,
    );
    call_tool_group(
        c,
        &rt,
        &fx.http,
        &fx.sse,
        "call_tool/list_incidents/session_sse",
        false,
    );
    list_tools_group(c, &rt, &fx);
    connector_group(c, &rt, &fx);
    connect_group(c, &rt, &fx);
    rt.block_on(async {
        fx.json.shutdown().await;
        fx.sse.shutdown().await;
    });
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = call_tool;
    config = config();
    targets = benches
}
criterion_main!(call_tool);

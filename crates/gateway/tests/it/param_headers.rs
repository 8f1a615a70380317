//! The routing headers of a 2026-07-28 `tools/call` (SEP-2243: `Mcp-Method`, `Mcp-Name`, and an
//! `Mcp-Param-<Name>` for each argument whose property in the tool's listed `inputSchema`
//! carries `x-mcp-header`) are checked against the body at the gateway's front, on both paths:
//! a mismatch is HTTP 400 with JSON-RPC error -32020 answering the request, and nothing goes
//! upstream. What the official conformance suite's `http-custom-header-server-validation`
//! scenario checks, and more.
//!
//! The upstream is an rmcp server whose `deploy` tool mirrors `region` (a string) and
//! `target.replicas` (an integer, nested) into headers; it validates the headers the gateway's
//! own client sends it, so a call that reaches it went through both checks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use pagerduty_mcp_connect::{AuthScheme, GenericServer, InMemoryCredentialStore};
use pagerduty_mcp_connect_gateway::{Gateway, GatewayKeys};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ErrorData, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{RoleServer, ServerHandler};
use serde_json::{Value, json};

use crate::shared::serve_on_loopback;

const KEY: &str = "gk_param_headers_0123456789";
const STATELESS: &str = "2026-07-28";

/// What the upstream saw, and whether `deploy` declares its headers.
#[derive(Default)]
struct Upstream {
    calls: AtomicUsize,
    lists: AtomicUsize,
    undeclared: AtomicBool,
}

#[derive(Clone)]
struct Deploying(Arc<Upstream>);

impl Deploying {
    fn deploy(&self) -> Tool {
        let mut schema = json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "note": {"type": "string"},
            "target": {"type": "object", "properties": {
                "replicas": {"type": "integer", "x-mcp-header": "Replicas"}}},
        }});
        if self.0.undeclared.load(Ordering::SeqCst) {
            schema = json!({"type": "object", "properties": {
                "region": {"type": "string"}, "note": {"type": "string"}}});
        }
        let schema = schema.as_object().unwrap().clone();
        Tool::new("deploy", "Deploys to a region", Arc::new(schema))
    }
}

impl ServerHandler for Deploying {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        (name == "deploy").then(|| self.deploy())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.0.lists.fetch_add(1, Ordering::SeqCst);
        Ok(ListToolsResult::with_all_items(vec![self.deploy()]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.0.calls.fetch_add(1, Ordering::SeqCst);
        let args = Value::Object(request.arguments.unwrap_or_default());
        let result: CallToolResult = serde_json::from_value(json!({
            "content": [{"type": "text", "text": args.to_string()}],
            "isError": false,
        }))
        .unwrap();
        Ok(result.into())
    }
}

/// A gateway (direct path on or off) in front of a fresh upstream: its MCP URL and the upstream.
async fn gateway(direct_path: bool) -> (Gateway, String, Arc<Upstream>) {
    let upstream = Arc::new(Upstream::default());
    let handler = Deploying(upstream.clone());
    let service = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let router = axum::Router::new().route_service("/mcp", service);
    tokio::spawn(async move { axum::serve(listener, router).await });

    let credentials = InMemoryCredentialStore::new();
    credentials.insert("alice", "u+alice-upstream");
    let keys = GatewayKeys::new();
    keys.insert(KEY, "alice").unwrap();
    let server =
        GenericServer::new("upstream", upstream_url.as_str(), AuthScheme::bearer()).unwrap();
    let connector = pagerduty_mcp_connect::Connector::builder()
        .server(server)
        .credentials(credentials);
    let gateway = Gateway::builder(connector, keys)
        .direct_path(direct_path)
        .build()
        .unwrap();
    let url = serve_on_loopback(&gateway).await;
    (gateway, url, upstream)
}

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": STATELESS,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw-agent", "version": "0"},
    })
}

/// A reply: HTTP status and the JSON-RPC message.
struct Reply {
    status: u16,
    message: Value,
}

/// A 2026-07-28 request with `headers` (the routing headers are exactly these).
async fn post(url: &str, body: &Value, headers: &[(&str, &str)]) -> Reply {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", STATELESS);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.body(body.to_string()).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let message = serde_json::from_str(&text)
        .ok()
        .or_else(|| {
            text.lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .filter_map(|data| serde_json::from_str(data.trim()).ok())
                .next_back()
        })
        .unwrap_or_else(|| panic!("no JSON-RPC message in {status} {text:?}"));
    Reply { status, message }
}

/// `deploy` with `arguments`, and `Mcp-Method`/`Mcp-Name` plus `params` as headers.
async fn deploy(url: &str, id: u64, arguments: Value, params: &[(&str, &str)]) -> Reply {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                      "params": {"name": "deploy", "arguments": arguments, "_meta": meta()}});
    let mut headers = vec![("mcp-method", "tools/call"), ("mcp-name", "deploy")];
    headers.extend_from_slice(params);
    post(url, &body, &headers).await
}

async fn list_tools(url: &str) -> Reply {
    let body = json!({"jsonrpc": "2.0", "id": 99, "method": "tools/list",
                      "params": {"_meta": meta()}});
    post(url, &body, &[("mcp-method", "tools/list")]).await
}

#[track_caller]
fn assert_refused(reply: &Reply, id: u64, says: &str, case: &str) {
    assert_eq!(reply.status, 400, "{case}: {}", reply.message);
    assert_eq!(reply.message["id"], id, "{case}: {}", reply.message);
    assert_eq!(
        reply.message["error"]["code"], -32020,
        "{case}: {}",
        reply.message
    );
    let message = reply.message["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains(says), "{case}: {message}");
}

#[track_caller]
fn assert_served(reply: &Reply, case: &str) -> Value {
    assert_eq!(reply.status, 200, "{case}: {}", reply.message);
    let text = reply.message["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{case}: no result: {}", reply.message));
    serde_json::from_str(text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mismatched_param_headers_are_refused_before_anything_goes_upstream() {
    for direct_path in [true, false] {
        let (gateway, url, upstream) = gateway(direct_path).await;
        let path = if direct_path {
            "direct path"
        } else {
            "rmcp path"
        };
        // The agent sees the declarations as the upstream lists them.
        let listed = list_tools(&url).await;
        assert_eq!(
            listed.message["result"]["tools"][0]["inputSchema"]["properties"]["region"]["x-mcp-header"],
            "Region",
            "{path}: {}",
            listed.message
        );

        let served = [
            (
                "plain value",
                json!({"region": "eu"}),
                vec![("mcp-param-region", "eu")],
            ),
            (
                "valid Base64",
                json!({"region": "Hello"}),
                vec![("Mcp-Param-Region", "=?base64?SGVsbG8=?=")],
            ),
            (
                "no =?base64? prefix: literal",
                json!({"region": "SGVsbG8="}),
                vec![("mcp-param-region", "SGVsbG8=")],
            ),
            (
                "no ?= suffix: literal",
                json!({"region": "=?base64?SGVsbG8="}),
                vec![("mcp-param-region", "=?base64?SGVsbG8=")],
            ),
            (
                "nested integer, argument not declared",
                json!({"region": "eu", "note": "n", "target": {"replicas": 3}}),
                vec![("mcp-param-region", "eu"), ("mcp-param-replicas", "3")],
            ),
            (
                "no declared argument, no header",
                json!({"note": "n"}),
                vec![],
            ),
            (
                "a header the tool does not declare is ignored",
                json!({"region": "eu"}),
                vec![("mcp-param-region", "eu"), ("mcp-param-other", "x")],
            ),
        ];
        for (i, (case, arguments, params)) in served.iter().enumerate() {
            let reply = deploy(&url, i as u64, arguments.clone(), params).await;
            assert_eq!(assert_served(&reply, case), *arguments, "{path}: {case}");
        }
        let calls = upstream.calls.load(Ordering::SeqCst);
        assert_eq!(calls, served.len(), "{path}");

        let refused = [
            (
                "invalid Base64 padding",
                json!({"region": "Hello"}),
                vec![("mcp-param-region", "=?base64?SGVsbG8?=")],
                "not valid Base64",
            ),
            (
                "non-alphabet Base64",
                json!({"region": "Hello"}),
                vec![("mcp-param-region", "=?base64?SGVs!!!bG8=?=")],
                "not valid Base64",
            ),
            (
                "header omitted, value in the body",
                json!({"region": "test-value"}),
                vec![],
                "missing Mcp-Param-Region",
            ),
            (
                "another value",
                json!({"region": "eu"}),
                vec![("mcp-param-region", "us")],
                "does not match",
            ),
            (
                "header without its argument",
                json!({"note": "n"}),
                vec![("mcp-param-region", "eu")],
                "unexpected Mcp-Param-Region",
            ),
            (
                "nested integer, another value",
                json!({"region": "eu", "target": {"replicas": 3}}),
                vec![("mcp-param-region", "eu"), ("mcp-param-replicas", "4")],
                "Mcp-Param-Replicas header `4` does not match body value `3`",
            ),
            (
                "header twice",
                json!({"region": "eu"}),
                vec![("mcp-param-region", "eu"), ("mcp-param-region", "eu")],
                "duplicate",
            ),
        ];
        for (i, (case, arguments, params, says)) in refused.iter().enumerate() {
            let id = 100 + i as u64;
            let reply = deploy(&url, id, arguments.clone(), params).await;
            assert_refused(&reply, id, says, &format!("{path}: {case}"));
        }
        // Mcp-Name and Mcp-Method are checked too, before the tool list is needed.
        let body = json!({"jsonrpc": "2.0", "id": 200, "method": "tools/call",
                          "params": {"name": "deploy", "arguments": {}, "_meta": meta()}});
        let reply = post(
            &url,
            &body,
            &[
                ("mcp-method", "tools/call"),
                ("mcp-name", "wrong_tool_name"),
            ],
        )
        .await;
        assert_refused(&reply, 200, "Mcp-Name", path);
        let reply = post(&url, &body, &[("mcp-method", "tools/call")]).await;
        assert_refused(&reply, 200, "missing required Mcp-Name", path);
        let reply = post(
            &url,
            &body,
            &[
                ("mcp-method", "tools/call"),
                ("mcp-name", "=?base64?ZGVwbG95?="),
            ],
        )
        .await;
        assert_served(&reply, "Mcp-Name in Base64");

        assert_eq!(
            upstream.calls.load(Ordering::SeqCst),
            calls + 1,
            "{path}: nothing refused went upstream"
        );
        let metrics = gateway.metrics().render();
        assert!(
            metrics.contains("mcp_gateway_rejected_requests_total{reason=\"header_mismatch\"} 9"),
            "{path}: {metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tool_list_is_fetched_once_and_a_refusal_never_rests_on_a_stale_copy() {
    let (_gateway, url, upstream) = gateway(true).await;
    let eu = [("mcp-param-region", "eu")];
    for id in 0..5 {
        assert_served(
            &deploy(&url, id, json!({"region": "eu"}), &eu).await,
            "cached",
        );
    }
    let lists = upstream.lists.load(Ordering::SeqCst);
    assert!(
        lists <= 2,
        "one listing for the checks (and the client's own): {lists}"
    );

    // The upstream stops declaring the header; the gateway still has the old declarations. A
    // call without the header would be refused on them: the gateway fetches the list again
    // first (its copy is older than a few seconds) and serves it.
    upstream.undeclared.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let reply = deploy(&url, 10, json!({"region": "eu"}), &[]).await;
    assert_served(&reply, "declaration withdrawn");

    // It declares it again; the agent lists the tools (the gateway learns from the reply), and
    // a call without the header is refused at once, on what the agent was told.
    upstream.undeclared.store(false, Ordering::SeqCst);
    let listed = list_tools(&url).await;
    assert_eq!(
        listed.message["result"]["tools"][0]["inputSchema"]["properties"]["region"]["x-mcp-header"],
        "Region"
    );
    let calls = upstream.calls.load(Ordering::SeqCst);
    let lists = upstream.lists.load(Ordering::SeqCst);
    let reply = deploy(&url, 11, json!({"region": "eu"}), &[]).await;
    assert_refused(&reply, 11, "missing Mcp-Param-Region", "declared again");
    assert_eq!(upstream.calls.load(Ordering::SeqCst), calls);
    assert_eq!(
        upstream.lists.load(Ordering::SeqCst),
        lists,
        "learnt from the agent's own listing: nothing fetched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_era_calls_are_not_checked() {
    let (_gateway, url, upstream) = gateway(true).await;
    let http = reqwest::Client::new();
    let session = crate::raw_http::open_session(&http, &url, KEY).await;
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "deploy", "arguments": {"region": "eu"}}});
    // No Mcp-Param-Region: the session era has no routing headers.
    let response = crate::raw_http::post(&http, &url, Some(KEY), Some(&session), &call)
        .send()
        .await
        .unwrap();
    let raw = crate::raw_http::Raw::of(response).await;
    assert_eq!(raw.status, 200);
    assert!(
        raw.message()["result"]["content"][0]["text"]
            .as_str()
            .is_some_and(|text| text.contains("eu")),
        "{}",
        raw.message()
    );
    assert_eq!(upstream.calls.load(Ordering::SeqCst), 1);
}

//! Memory stays bounded however much a server sends before its response: an `initialize`, or a
//! `tools/call`, answered by an endless event stream of notifications and requests. The
//! client's resident memory is sampled while the server streams gigabytes; the call ends with
//! the time-out, and memory does not grow with what was streamed.
//!
//! One test function (the tests of one binary share the process, so their memory would mix).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use pagerduty_mcp_connect::{
    AuthScheme, Credential, Error, GenericServer, HandlerError, McpClient, ServerRequest,
    server_request_fn,
};
use serde_json::{Value, json};

#[path = "support/loopback.rs"]
mod loopback;

/// Resident memory of this process, in bytes (Linux).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[derive(Clone, Copy, PartialEq)]
enum Flood {
    /// `initialize` answered with endless notifications.
    Initialize,
    /// `tools/call` answered with endless notifications and server requests.
    ToolCall,
}

/// A 64 KiB chunk of SSE events: progress and log notifications, and (for tool calls)
/// elicitation requests and pings, each with a fresh-looking id.
fn flood_chunk(with_requests: bool) -> Bytes {
    let mut text = String::new();
    let mut n = 0;
    while text.len() < 64 * 1024 {
        n += 1;
        let message = if with_requests && n % 3 == 0 {
            json!({"jsonrpc":"2.0","id":format!("r{n}"),"method":"elicitation/create",
                "params":{"message":"again?","requestedSchema":{"type":"object"}}})
        } else if with_requests && n % 3 == 1 {
            json!({"jsonrpc":"2.0","id":format!("p{n}"),"method":"ping"})
        } else {
            json!({"jsonrpc":"2.0","method":"notifications/message",
                "params":{"level":"info","data":"x".repeat(200)}})
        };
        text.push_str(&format!("data: {message}\n\n"));
    }
    Bytes::from(text)
}

async fn serve(flood: Flood, streamed: Arc<AtomicU64>, answers: Arc<AtomicUsize>) -> String {
    let handler = move |method: Method, _headers: HeaderMap, body: Bytes| {
        let streamed = streamed.clone();
        let answers = answers.clone();
        async move {
            if method != Method::POST {
                return StatusCode::METHOD_NOT_ALLOWED.into_response();
            }
            let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let rpc = message["method"].as_str().unwrap_or("");
            if message.get("method").is_none() {
                answers.fetch_add(1, Ordering::Relaxed);
                return StatusCode::ACCEPTED.into_response();
            }
            if message.get("id").is_none() {
                return StatusCode::ACCEPTED.into_response();
            }
            let endless = match (flood, rpc) {
                (_, "server/discover") => {
                    return (
                        StatusCode::BAD_REQUEST,
                        [("content-type", "application/json")],
                        json!({"jsonrpc":"2.0","id":message["id"],"error":{"code":-32600,"message":"Missing session ID"}}).to_string(),
                    )
                        .into_response()
                }
                (Flood::Initialize, "initialize") => true,
                (Flood::ToolCall, "tools/call") => true,
                (_, "initialize") => {
                    return (
                        StatusCode::OK,
                        [("content-type", "application/json"), ("mcp-session-id", "flood")],
                        json!({"jsonrpc":"2.0","id":message["id"],"result":{
                            "protocolVersion":"2025-11-25","capabilities":{},
                            "serverInfo":{"name":"flood","version":"0"}}})
                        .to_string(),
                    )
                        .into_response()
                }
                _ => false,
            };
            if !endless {
                return StatusCode::NOT_FOUND.into_response();
            }
            let chunk = flood_chunk(flood == Flood::ToolCall);
            let stream = futures_util::stream::repeat(chunk).map(move |chunk| {
                streamed.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                Ok::<_, std::convert::Infallible>(chunk)
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .header("mcp-session-id", "flood")
                .body(Body::from_stream(stream))
                .unwrap()
        }
    };
    loopback::serve_mcp(Router::new().route("/mcp", any(handler))).await
}

use futures_util::StreamExt as _;

/// Runs `call` while sampling resident memory; returns (its result, peak growth in bytes).
async fn sampled<T>(call: impl std::future::Future<Output = T>) -> (T, u64) {
    let baseline = resident_bytes();
    let peak = Arc::new(AtomicU64::new(baseline));
    let sampler_peak = peak.clone();
    let sampler = tokio::spawn(async move {
        loop {
            sampler_peak.fetch_max(resident_bytes(), Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let result = call.await;
    sampler.abort();
    let growth = peak.load(Ordering::Relaxed).saturating_sub(baseline);
    (result, growth)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_streams_before_a_response_cost_bounded_memory() {
    const LIMIT: u64 = 64 * 1024 * 1024;
    for flood in [Flood::Initialize, Flood::ToolCall] {
        let streamed = Arc::new(AtomicU64::new(0));
        let answers = Arc::new(AtomicUsize::new(0));
        let url = serve(flood, streamed.clone(), answers.clone()).await;
        let server = GenericServer::new("flood", &url, AuthScheme::token()).unwrap();
        let client = McpClient::builder(server)
            .request_timeout(Duration::from_secs(5))
            .max_concurrent_server_requests(4)
            .elicitation_handler(server_request_fn(|_request: ServerRequest| async move {
                Ok::<_, HandlerError>(json!({"action":"decline"}))
            }))
            .listen_for_server_requests(false)
            .build()
            .unwrap();
        let credential = Credential::new("u+flood-token");
        let (outcome, growth) = sampled(async {
            match flood {
                Flood::Initialize => client.connect(&credential).await.map(drop),
                Flood::ToolCall => {
                    let session = client.connect(&credential).await?;
                    session.call_tool("anything", json!({})).await.map(drop)
                }
            }
        })
        .await;
        let streamed = streamed.load(Ordering::Relaxed);
        println!(
            "{}: server streamed {} MiB, client memory grew {} MiB at most, {} answers",
            if flood == Flood::Initialize {
                "initialize"
            } else {
                "tools/call"
            },
            streamed / (1024 * 1024),
            growth / (1024 * 1024),
            answers.load(Ordering::Relaxed)
        );
        let err = outcome.expect_err("the endless reply ends with the time-out");
        assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
        // The client reads as fast as it parses; kept messages would take more memory than
        // their JSON text, so growth below half of what was streamed means nothing is kept.
        assert!(
            streamed > 8 * 1024 * 1024,
            "the server streamed enough to matter ({streamed} bytes)"
        );
        assert!(
            growth < LIMIT && growth < streamed / 2,
            "client memory grew by {growth} bytes while {streamed} were streamed"
        );
    }
}

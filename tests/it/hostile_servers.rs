//! Servers that misbehave on purpose: the client answers with a clear error in bounded time and
//! never loops.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::common::assert_took_less_than;
use super::loopback::serve_mcp;
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use pagerduty_mcp_connect::{
    AuthScheme, Credential, Error, GenericServer, McpClient, ProtocolPreference, ProtocolVersion,
};
use serde_json::{Value, json};

const TOKEN: &str = "u+hostile-test-token";

#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    /// Answers `initialize`, then never answers `notifications/initialized`.
    HangOnInitialized,
    /// Offers a GET stream that ends at once asking for `retry: 0`.
    FlappingGetStream,
    /// Answers every request with an unknown `resultType`.
    UnknownResultType,
    /// Repeats pagination cursors A, B, A, B …
    CursorCycle,
    /// Sends requests, a notification, a keep-alive and multi-line data before the response.
    ServerRequestsOnStream,
    /// Starts an SSE reply to `tools/call` with one keep-alive, then falls silent.
    StallAfterHeaders,
}

async fn serve(behaviour: Behaviour, gets: Arc<AtomicUsize>) -> String {
    serve_recording(behaviour, gets, Arc::default()).await
}

async fn serve_recording(
    behaviour: Behaviour,
    gets: Arc<AtomicUsize>,
    posted: Arc<std::sync::Mutex<Vec<Value>>>,
) -> String {
    let handler = move |method: Method, headers: HeaderMap, body: Bytes| {
        let gets = gets.clone();
        let posted = posted.clone();
        async move {
            if method == Method::GET {
                gets.fetch_add(1, Ordering::SeqCst);
                return (
                    StatusCode::OK,
                    [("content-type", "text/event-stream")],
                    "retry: 0\n\n",
                )
                    .into_response();
            }
            if method == Method::DELETE {
                return StatusCode::OK.into_response();
            }
            let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            posted.lock().unwrap().push(request.clone());
            let id = request.get("id").cloned().unwrap_or(Value::Null);
            let rpc = request["method"].as_str().unwrap_or("").to_owned();
            let stateless = headers.contains_key("mcp-method");
            if stateless {
                // Behave like a session-era-only server.
                return (
                    StatusCode::BAD_REQUEST,
                    [("content-type", "application/json")],
                    json!({"jsonrpc":"2.0","id":"server-error","error":{"code":-32600,"message":"Bad Request: Missing session ID"}}).to_string(),
                )
                    .into_response();
            }
            let result = match rpc.as_str() {
                "initialize" => json!({
                    "protocolVersion": "2025-11-25",
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "hostile", "version": "0"}
                }),
                "notifications/initialized" => {
                    if behaviour == Behaviour::HangOnInitialized {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    return StatusCode::ACCEPTED.into_response();
                }
                "tools/call" if behaviour == Behaviour::ServerRequestsOnStream => {
                    let response = json!({"jsonrpc": "2.0", "id": id, "result": {
                        "content": [{"type": "text", "text": "done"}]
                    }})
                    .to_string();
                    // Split between two JSON tokens, where the joining newline is whitespace.
                    let (head, tail) = response.split_at(response.find("\"result\"").unwrap());
                    let stream = format!(
                        ": keep-alive\n\n\
                         event: message\ndata: {{\"jsonrpc\":\"2.0\",\"id\":\"srv-1\",\"method\":\"ping\"}}\n\n\
                         data: {{\"jsonrpc\":\"2.0\",\"id\":\"srv-2\",\"method\":\"sampling/createMessage\",\"params\":{{}}}}\n\n\
                         data: {{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{{\"level\":\"info\",\"data\":\"working\"}}}}\n\n\
                         : ping\n\n\
                         data: {head}\ndata: {tail}\n\n"
                    );
                    return (
                        StatusCode::OK,
                        [
                            ("content-type", "text/event-stream"),
                            ("mcp-session-id", "hostile-session"),
                        ],
                        stream,
                    )
                        .into_response();
                }
                "tools/call" if behaviour == Behaviour::StallAfterHeaders => {
                    let first = futures_util::stream::once(async {
                        Ok::<_, std::convert::Infallible>(Bytes::from_static(b": ping\n\n"))
                    });
                    let body = axum::body::Body::from_stream(futures_util::StreamExt::chain(
                        first,
                        futures_util::stream::pending(),
                    ));
                    return Response::builder()
                        .status(StatusCode::OK)
                        .header("content-type", "text/event-stream")
                        .header("mcp-session-id", "hostile-session")
                        .body(body)
                        .unwrap();
                }
                "tools/list" if behaviour == Behaviour::CursorCycle => {
                    let next = if request["params"]["cursor"] == "A" {
                        "B"
                    } else {
                        "A"
                    };
                    json!({"tools": [{"name": "t", "inputSchema": {}}], "nextCursor": next})
                }
                _ if behaviour == Behaviour::UnknownResultType => {
                    json!({"tools": [], "resultType": "something_new"})
                }
                _ => json!({"tools": []}),
            };
            let mut response: Response = (
                StatusCode::OK,
                [("content-type", "application/json")],
                json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string(),
            )
                .into_response();
            response
                .headers_mut()
                .insert("mcp-session-id", "hostile-session".parse().unwrap());
            response
        }
    };
    serve_mcp(Router::new().route("/mcp", any(handler))).await
}

fn client(url: &str) -> McpClient {
    let server = GenericServer::new("hostile", url, AuthScheme::token()).unwrap();
    McpClient::builder(server)
        .protocol(ProtocolPreference::Auto)
        .request_timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_server_that_never_acknowledges_initialized_times_out() {
    let url = serve(Behaviour::HangOnInitialized, Arc::default()).await;
    let started = Instant::now();
    let err = client(&url)
        .connect(&Credential::new(TOKEN))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert_took_less_than(started, Duration::from_secs(5), "connecting");
}

#[tokio::test]
async fn a_get_stream_asking_for_retry_zero_is_not_reopened_in_a_tight_loop() {
    let gets = Arc::new(AtomicUsize::new(0));
    let url = serve(Behaviour::FlappingGetStream, gets.clone()).await;
    let session = client(&url).connect(&Credential::new(TOKEN)).await.unwrap();
    let _notifications = session.notifications();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let count = gets.load(Ordering::SeqCst);
    assert!(count >= 1, "the GET stream was never opened");
    assert!(count <= 4, "{count} GETs in 1.5 s: a reconnect loop");
}

/// The protocol error a server behaving as `behaviour` causes on tools/list.
async fn protocol_error_listing_tools(behaviour: Behaviour) -> Error {
    let url = serve(behaviour, Arc::default()).await;
    let session = client(&url).connect(&Credential::new(TOKEN)).await.unwrap();
    let err = session.list_tools().await.unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    err
}

#[tokio::test]
async fn an_unknown_result_type_is_a_protocol_error() {
    protocol_error_listing_tools(Behaviour::UnknownResultType).await;
}

#[tokio::test]
async fn a_pagination_cycle_is_detected() {
    let err = protocol_error_listing_tools(Behaviour::CursorCycle).await;
    assert!(err.to_string().contains("cursor"), "{err}");
}

#[tokio::test]
async fn pinned_version_refused_by_the_server_is_an_error() {
    let url = serve(Behaviour::UnknownResultType, Arc::default()).await;
    let server = GenericServer::new("hostile", &url, AuthScheme::bearer()).unwrap();
    let client = McpClient::builder(server)
        .protocol(ProtocolPreference::Exact(ProtocolVersion::V2025_06_18))
        .build()
        .unwrap();
    let err = client.connect(&Credential::new(TOKEN)).await.unwrap_err();
    assert!(err.to_string().contains("2025-11-25"), "{err}");
}

#[tokio::test]
async fn server_requests_and_notifications_before_the_response_are_handled() {
    let posted = Arc::new(std::sync::Mutex::new(Vec::new()));
    let url = serve_recording(
        Behaviour::ServerRequestsOnStream,
        Arc::default(),
        posted.clone(),
    )
    .await;
    let session = client(&url).connect(&Credential::new(TOKEN)).await.unwrap();
    let mut notifications = session.notifications();
    let result = session.call_tool("work", json!({})).await.unwrap();
    // The response was split over two `data:` lines of one event.
    assert_eq!(result.text(), "done");
    let note = tokio::time::timeout(Duration::from_secs(2), async {
        use futures_util::StreamExt;
        loop {
            let n = notifications.next().await.unwrap();
            if n.method == "notifications/message" {
                return n;
            }
        }
    })
    .await
    .expect("the log notification arrived");
    assert_eq!(note.params["data"], "working");
    // The server's requests were answered: ping with an empty result, the rest "not found".
    let mut answers = Vec::new();
    for _ in 0..40 {
        answers = posted
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.get("method").is_none() && m.get("id").is_some())
            .cloned()
            .collect::<Vec<_>>();
        if answers.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let ping = answers
        .iter()
        .find(|a| a["id"] == "srv-1")
        .expect("ping answered");
    assert_eq!(ping["result"], json!({}));
    let sampling = answers
        .iter()
        .find(|a| a["id"] == "srv-2")
        .expect("sampling answered");
    assert_eq!(sampling["error"]["code"], -32601);
}

#[tokio::test]
async fn a_stream_that_falls_silent_hits_the_idle_timeout() {
    let url = serve(Behaviour::StallAfterHeaders, Arc::default()).await;
    let server = GenericServer::new("hostile", &url, AuthScheme::token()).unwrap();
    let client = McpClient::builder(server)
        .request_timeout(Duration::from_secs(30))
        .idle_timeout(Duration::from_millis(300))
        .max_retries(0)
        .build()
        .unwrap();
    let session = client.connect(&Credential::new(TOKEN)).await.unwrap();
    let started = Instant::now();
    let err = session.call_tool("slow", json!({})).await.unwrap_err();
    let Error::Timeout { what, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(what.contains("idle"), "{what}");
    assert_took_less_than(started, Duration::from_secs(5), "the stalled reply");
}

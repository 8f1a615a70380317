//! An SSE reply's connection (to `initialize` or to a call) goes back to the pool after its
//! response, even when the server ends the stream a moment later; a server that never ends it
//! does not hold a call up.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::common::assert_took_less_than;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::serve::ListenerExt;
use pagerduty_mcp_connect::{
    AuthScheme, Credential, GenericServer, McpClient, ProtocolPreference, ProtocolVersion,
};
use serde_json::{Value, json};

/// What the server does after the response event of a `tools/call` stream.
#[derive(Clone, Copy)]
enum AfterResponse {
    /// Ends the stream this long after the response (in a separate write).
    EndAfter(Duration),
    /// Never ends it.
    StayOpen,
}

/// A session-era server answering `initialize` and `tools/call` as SSE streams; returns its URL and the count
/// of TCP connections it accepted.
async fn serve(after: AfterResponse) -> (String, Arc<AtomicUsize>) {
    let accepted = Arc::new(AtomicUsize::new(0));
    let handler = move |method: Method, _headers: HeaderMap, body: Bytes| async move {
        if method == Method::DELETE {
            return StatusCode::OK.into_response();
        }
        if method != Method::POST {
            return StatusCode::METHOD_NOT_ALLOWED.into_response();
        }
        let request: Value = serde_json::from_slice(&body).unwrap();
        let Some(id) = request.get("id").cloned() else {
            return StatusCode::ACCEPTED.into_response();
        };
        let result = if request["method"] == "initialize" {
            json!({
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "reuse", "version": "1"}
            })
        } else {
            json!({"content": [{"type": "text", "text": "ok"}]})
        };
        let event = format!(
            "id: 1\ndata: \n\nid: 2\ndata: {}\n\n",
            json!({"jsonrpc": "2.0", "id": id, "result": result})
        );
        let stream = futures_util::stream::unfold(0u8, move |step| {
            let event = event.clone();
            async move {
                match step {
                    0 => Some((Ok::<_, Infallible>(Bytes::from(event)), 1)),
                    _ => {
                        match after {
                            AfterResponse::EndAfter(pause) => tokio::time::sleep(pause).await,
                            AfterResponse::StayOpen => std::future::pending::<()>().await,
                        }
                        None
                    }
                }
            }
        });
        let mut response = Response::builder()
            .header("content-type", "text/event-stream")
            .body(Body::from_stream(stream))
            .unwrap();
        response
            .headers_mut()
            .insert("mcp-session-id", "reuse-session".parse().unwrap());
        response
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let counter = accepted.clone();
    let listener = listener.tap_io(move |tcp| {
        let _ = tcp.set_nodelay(true);
        counter.fetch_add(1, Ordering::SeqCst);
    });
    tokio::spawn(async move {
        axum::serve(listener, Router::new().route("/mcp", any(handler)))
            .await
            .unwrap()
    });
    (format!("http://{address}/mcp"), accepted)
}

fn client(url: &str) -> McpClient {
    let server = GenericServer::new("reuse", url, AuthScheme::token()).unwrap();
    McpClient::builder(server)
        .protocol(ProtocolPreference::Exact(ProtocolVersion::V2025_11_25))
        .request_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_stream_that_ends_after_its_response_keeps_its_connection() {
    let (url, accepted) = serve(AfterResponse::EndAfter(Duration::from_millis(20))).await;
    let session = client(&url)
        .connect(&Credential::new("u+reuse-token"))
        .await
        .unwrap();
    let before = accepted.load(Ordering::SeqCst);
    for _ in 0..20 {
        let result = session.call_tool("anything", json!({})).await.unwrap();
        assert_eq!(result.content[0].text.as_deref(), Some("ok"));
        // The next call starts after the server has ended the previous stream.
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let opened = accepted.load(Ordering::SeqCst) - before;
    assert!(
        opened <= 2,
        "20 sequential SSE calls opened {opened} new connections; the pooled one should serve them"
    );
}

#[tokio::test]
async fn a_stream_that_never_ends_does_not_hold_up_calls() {
    let (url, _accepted) = serve(AfterResponse::StayOpen).await;
    let session = client(&url)
        .connect(&Credential::new("u+reuse-token"))
        .await
        .unwrap();
    let started = Instant::now();
    for _ in 0..20 {
        let result = session.call_tool("anything", json!({})).await.unwrap();
        assert_eq!(result.content[0].text.as_deref(), Some("ok"));
    }
    assert_took_less_than(
        started,
        Duration::from_secs(2),
        "each call returns at its response, not when its stream ends",
    );
}

#[tokio::test]
async fn an_initialize_stream_that_ends_after_its_response_keeps_its_connection() {
    let (url, accepted) = serve(AfterResponse::EndAfter(Duration::from_millis(20))).await;
    let client = client(&url);
    let credential = Credential::new("u+reuse-token");
    drop(client.connect(&credential).await.unwrap());
    tokio::time::sleep(Duration::from_millis(40)).await;
    let before = accepted.load(Ordering::SeqCst);
    for _ in 0..10 {
        let session = client.connect(&credential).await.unwrap();
        session.close().await.unwrap();
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let opened = accepted.load(Ordering::SeqCst) - before;
    assert!(
        opened <= 2,
        "10 sequential sessions opened {opened} new connections; the pooled one should serve them"
    );
}

/// Established TCP connections from this process to `port` on loopback (Linux).
fn connections_to(port: u16) -> usize {
    let mut count = 0;
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let table = std::fs::read_to_string(file).unwrap_or_default();
        for line in table.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 4 || fields[3] != "01" {
                continue;
            }
            let remote = fields[2].rsplit(':').next();
            if remote.and_then(|p| u16::from_str_radix(p, 16).ok()) == Some(port) {
                count += 1;
            }
        }
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_that_never_end_do_not_make_connections_grow_with_the_call_rate() {
    let (url, accepted) = serve(AfterResponse::StayOpen).await;
    let port = url::Url::parse(&url).unwrap().port().unwrap();
    let session = client(&url)
        .connect(&Credential::new("u+reuse-token"))
        .await
        .unwrap();
    let calls = 600;
    for _ in 0..calls {
        session.call_tool("anything", json!({})).await.unwrap();
    }
    assert!(
        accepted.load(Ordering::SeqCst) > calls / 2,
        "each call needed a new connection: the server kept the old ones busy"
    );
    // Within the 2 s a reply's rest may be read, at most 256 replies are kept reading.
    let open = connections_to(port);
    assert!(
        open <= 256 + 8,
        "{open} connections open after {calls} calls to a server that never ends its streams"
    );
}

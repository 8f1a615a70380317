//! The fault suite: for each fault an upstream can have, the outcome this crate promises, checked.
//!
//! | fault | expected outcome |
//! |---|---|
//! | 5xx burst on a read | retried with backoff; succeeds once the server recovers |
//! | 5xx on a write | not retried (one POST); `HttpStatus`, `may_have_run`, not retryable |
//! | 429 with `Retry-After: <seconds>` | waited out as asked; succeeds |
//! | 429 with `Retry-After: <HTTP date>` | waited out as asked; succeeds |
//! | session expiry (404) | re-initialised once, request replayed; succeeds |
//! | hang | `Timeout` at the request limit; a write's says `may_have_run` |
//! | stalled body (headers, half a body, silence) | `Timeout` at the idle limit |
//! | slow-loris (a byte at a time, never silent long enough) | `Timeout` at the request limit |
//! | SSE drop with event ids | resumed with `Last-Event-ID`; succeeds |
//! | SSE drop without ids | `Transport` error; a write is not sent again |
//! | connection reset after a write was sent | `Transport`, `may_have_run`, not retryable; one POST |
//! | malformed reply | `Protocol` error; the session keeps working |
//! | oversized reply | `TooLarge`; the session keeps working |
//! | endless SSE stream of notifications | `Timeout` at the request limit |
//! | request flood (2,000 server requests before the response) | answered; the call succeeds |
//! | redirect to another origin | not followed (the other origin sees nothing); `HttpStatus` 3xx |
//! | redirect within the origin | followed with the credential; succeeds |

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::common::{assert_took_at_least, assert_took_less_than, call_err, new_incident, start};
use pagerduty_mcp_connect::{
    AuthScheme, Credential, Error, ErrorKind, GenericServer, McpClient, McpClientBuilder,
    ProtocolPreference, ProtocolVersion, Session,
};
use pagerduty_mcp_connect_mock::{MockPagerDuty, ResponseMode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SESSION: ProtocolPreference = ProtocolPreference::Exact(ProtocolVersion::V2025_11_25);
const TOKEN: &str = "u+fault-suite-token";

fn builder(url: &str) -> McpClientBuilder {
    let server = GenericServer::new("faulty", url, AuthScheme::token()).unwrap();
    McpClient::builder(server)
        .protocol(SESSION)
        .retry_base_delay(Duration::from_millis(20))
        .request_timeout(Duration::from_secs(3))
        .idle_timeout(Duration::from_secs(2))
}

async fn mock_session(_mock: &MockPagerDuty, builder: McpClientBuilder) -> Session {
    builder
        .build()
        .unwrap()
        .connect(&Credential::new(MockPagerDuty::DEMO_TOKEN))
        .await
        .expect("connects")
}

fn posts_of(mock: &MockPagerDuty, method: &str) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.jsonrpc_methods.first().map(String::as_str) == Some(method))
        .count()
}

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 server, for faults a well-behaved framework cannot produce (resets, stalls,
// trickles, endless streams).

/// What the raw server does with one request.
enum Reply {
    /// A complete answer.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Close the connection without answering.
    Reset,
    /// Send the head and `body`'s first half, then fall silent until the client gives up.
    Stall {
        content_type: &'static str,
        body: String,
    },
    /// Send the head, then one byte of `body` every `every`.
    Trickle { body: String, every: Duration },
    /// An SSE stream of notifications without end.
    EndlessSse,
}

fn json_reply(value: Value) -> Reply {
    Reply::Full {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: value.to_string(),
    }
}

fn sse_reply(events: &[Value]) -> Reply {
    let body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    Reply::Full {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body,
    }
}

/// A parsed request: the HTTP method and the JSON body.
struct Request {
    http_method: String,
    body: Value,
}

impl Request {
    fn rpc(&self) -> &str {
        self.body["method"].as_str().unwrap_or("")
    }
    fn id(&self) -> Value {
        self.body.get("id").cloned().unwrap_or(Value::Null)
    }
}

/// The session-era answers of a normal server; `None` for what the scenario decides.
fn normal(request: &Request) -> Option<Reply> {
    if request.http_method == "DELETE" {
        return Some(Reply::Full {
            status: 200,
            headers: vec![],
            body: String::new(),
        });
    }
    if request.http_method == "GET" {
        return Some(Reply::Full {
            status: 405,
            headers: vec![],
            body: String::new(),
        });
    }
    if request.body.get("id").is_none() || request.body.get("method").is_none() {
        return Some(Reply::Full {
            status: 202,
            headers: vec![],
            body: String::new(),
        });
    }
    let result = match request.rpc() {
        "initialize" => json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "raw", "version": "1"}
        }),
        "tools/list" => json!({"tools": [
            {"name": "read", "inputSchema": {"type": "object"}, "annotations": {"readOnlyHint": true}},
            {"name": "write", "inputSchema": {"type": "object"}, "annotations": {"readOnlyHint": false, "destructiveHint": true}}
        ]}),
        _ => return None,
    };
    let mut reply = json_reply(json!({"jsonrpc": "2.0", "id": request.id(), "result": result}));
    if request.rpc() == "initialize"
        && let Reply::Full { headers, .. } = &mut reply
    {
        headers.push(("mcp-session-id".into(), "raw-session".into()));
    }
    Some(reply)
}

type Script = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// Starts the raw server; `script` answers what [`normal`] leaves. Counts connections and
/// requests.
async fn raw_server(script: Script) -> (String, Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (c, s) = (connections.clone(), seen.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            c.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve_connection(stream, script.clone(), s.clone()));
        }
    });
    (url, connections, seen)
}

async fn serve_connection(mut stream: TcpStream, script: Script, seen: Arc<Mutex<Vec<String>>>) {
    let mut buffer = Vec::new();
    loop {
        // Read one request: head, then Content-Length bytes of body.
        let head_end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        let http_method = head.split(' ').next().unwrap_or("").to_owned();
        let length = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())
                    .flatten()
            })
            .unwrap_or(0);
        while buffer.len() < head_end + length {
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Value =
            serde_json::from_slice(&buffer[head_end..head_end + length]).unwrap_or(Value::Null);
        buffer.drain(..head_end + length);
        let request = Request { http_method, body };
        seen.lock()
            .unwrap()
            .push(format!("{} {}", request.http_method, request.rpc()));
        let reply = normal(&request).unwrap_or_else(|| script(&request));
        match reply {
            Reply::Full {
                status,
                headers,
                body,
            } => {
                let mut out = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
                for (name, value) in headers {
                    out.push_str(&format!("{name}: {value}\r\n"));
                }
                out.push_str("\r\n");
                out.push_str(&body);
                if stream.write_all(out.as_bytes()).await.is_err() {
                    return;
                }
            }
            Reply::Reset => return,
            Reply::Stall { content_type, body } => {
                let out = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n{}",
                    body.len(),
                    &body[..body.len() / 2]
                );
                let _ = stream.write_all(out.as_bytes()).await;
                tokio::time::sleep(Duration::from_secs(30)).await;
                return;
            }
            Reply::Trickle { body, every } => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for byte in body.bytes() {
                    tokio::time::sleep(every).await;
                    if stream.write_all(&[byte]).await.is_err() {
                        return;
                    }
                }
            }
            Reply::EndlessSse => {
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let event = format!(
                    "data: {}\n\n",
                    json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "x".repeat(512)}})
                );
                let chunk = format!("{:x}\r\n{event}\r\n", event.len());
                loop {
                    if stream.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
    }
}

async fn raw_session(url: &str, builder: McpClientBuilder) -> Session {
    let _ = url;
    let session = builder
        .build()
        .unwrap()
        .connect(&Credential::new(TOKEN))
        .await
        .expect("connects");
    session.list_tools().await.expect("lists tools");
    session
}

/// Asserts that `session`'s prompts/list (held up by `what`) ends in a time-out in less than
/// `limit`; returns the error.
async fn assert_prompts_time_out(session: &Session, limit: Duration, what: &str) -> Error {
    let started = Instant::now();
    let err = session.list_prompts().await.expect_err(what);
    assert!(err.is_timeout(), "{what}: {err:?}");
    assert_took_less_than(started, limit, what);
    err
}

fn count(seen: &Mutex<Vec<String>>, what: &str) -> usize {
    seen.lock().unwrap().iter().filter(|s| *s == what).count()
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_5xx_burst_on_a_read_is_retried_until_it_succeeds() {
    let mock = MockPagerDuty::start().await;
    let session = mock_session(&mock, builder(mock.url().as_str())).await;
    mock.fail_next(2, 503);
    let tools = session.list_tools().await.expect("recovers");
    assert!(!tools.is_empty());
    assert_eq!(posts_of(&mock, "tools/list"), 3);
}

#[tokio::test]
async fn a_5xx_on_a_write_is_not_retried_and_may_have_run() {
    let mock = MockPagerDuty::start().await;
    let session = mock_session(&mock, builder(mock.url().as_str())).await;
    session.list_tools().await.unwrap();
    mock.fail_next(1, 500);
    let err = call_err(&session, "create_incident", new_incident("x")).await;
    assert_eq!(err.status(), Some(500), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::HttpStatus);
    assert!(err.may_have_run(), "{err:?}");
    assert!(!err.is_retryable(), "{err:?}");
    assert_eq!(posts_of(&mock, "tools/call"), 1);
}

#[tokio::test]
async fn a_429_with_delta_seconds_is_waited_out() {
    let mock = MockPagerDuty::start().await;
    let session = mock_session(&mock, builder(mock.url().as_str())).await;
    mock.rate_limit_next(1, Duration::from_secs(1));
    let started = Instant::now();
    session.list_tools().await.expect("waits and succeeds");
    assert_eq!(posts_of(&mock, "tools/list"), 2);
    assert_took_at_least(started, Duration::from_millis(900), "waiting out 429");
}

#[tokio::test]
async fn a_429_with_an_http_date_is_waited_out() {
    let limited = Arc::new(AtomicUsize::new(0));
    let l = limited.clone();
    let (url, _, seen) = raw_server(Arc::new(move |request: &Request| {
        if request.rpc() == "prompts/list" && l.fetch_add(1, Ordering::SeqCst) == 0 {
            let at = SystemTime::now() + Duration::from_secs(2);
            return Reply::Full {
                status: 429,
                headers: vec![("retry-after".into(), httpdate::fmt_http_date(at))],
                body: String::new(),
            };
        }
        json_reply(json!({"jsonrpc": "2.0", "id": request.id(), "result": {"prompts": []}}))
    }))
    .await;
    let session = raw_session(&url, builder(&url)).await;
    let started = Instant::now();
    session.list_prompts().await.expect("waits and succeeds");
    // The date has a one-second resolution: between one and two seconds.
    assert_took_at_least(started, Duration::from_millis(900), "waiting out 429");
    assert_eq!(count(&seen, "POST prompts/list"), 2);
}

#[tokio::test]
async fn an_expired_session_is_reinitialised_and_the_call_succeeds() {
    let mock = MockPagerDuty::start().await;
    let session = mock_session(&mock, builder(mock.url().as_str())).await;
    assert_eq!(mock.expire_sessions(), 1);
    session.list_tools().await.expect("re-initialised");
    assert_eq!(posts_of(&mock, "initialize"), 2);
}

#[tokio::test]
async fn a_hang_is_a_timeout_and_a_hung_write_may_have_run() {
    let mock = start(MockPagerDuty::builder().hang_duration(Duration::from_secs(10))).await;
    let session = mock_session(
        &mock,
        builder(mock.url().as_str()).request_timeout(Duration::from_millis(500)),
    )
    .await;
    session.list_tools().await.unwrap();
    mock.hang_next(1);
    let err = session.list_tools().await.expect_err("hangs");
    assert!(err.is_timeout(), "{err:?}");
    assert!(!err.may_have_run() && err.is_retryable(), "a read: {err:?}");
    mock.hang_next(1);
    let err = call_err(&session, "create_incident", new_incident("x")).await;
    assert!(err.is_timeout(), "{err:?}");
    assert!(err.may_have_run(), "{err:?}");
    assert!(!err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn a_stalled_body_hits_the_idle_limit() {
    let (url, _, _) = raw_server(Arc::new(|request: &Request| {
        let mut body =
            json!({"jsonrpc": "2.0", "id": request.id(), "result": {"prompts": []}}).to_string();
        if body.len() % 2 == 1 {
            // An even length: the half sent is exactly what remains to come, which once passed
            // for the whole body (reqwest's content length shrinks as the body is read).
            body.push(' ');
        }
        Reply::Stall {
            content_type: "application/json",
            body,
        }
    }))
    .await;
    let session = raw_session(
        &url,
        builder(&url)
            .idle_timeout(Duration::from_millis(300))
            .max_retries(0),
    )
    .await;
    let err = assert_prompts_time_out(&session, Duration::from_secs(2), "the stalled body").await;
    assert!(err.to_string().contains("idle"), "{err}");
}

#[tokio::test]
async fn a_slow_loris_reply_hits_the_request_limit() {
    let (url, _, _) = raw_server(Arc::new(|request: &Request| Reply::Trickle {
        body: json!({"jsonrpc": "2.0", "id": request.id(), "result": {"prompts": [], "pad": "x".repeat(4096)}}).to_string(),
        every: Duration::from_millis(50),
    }))
    .await;
    let session = raw_session(
        &url,
        builder(&url)
            .idle_timeout(Duration::from_secs(1))
            .request_timeout(Duration::from_millis(800)),
    )
    .await;
    assert_prompts_time_out(&session, Duration::from_secs(3), "the slow-loris reply").await;
}

#[tokio::test]
async fn an_sse_drop_with_ids_is_resumed() {
    let mock = MockPagerDuty::builder()
        .response_mode(ResponseMode::Sse)
        .sse_retry(Duration::from_millis(20))
        .start()
        .await
        .unwrap();
    let session = mock_session(&mock, builder(mock.url().as_str())).await;
    mock.drop_sse_next(1);
    session.list_tools().await.expect("resumed");
    assert!(
        mock.requests()
            .iter()
            .any(|r| r.http_method == "GET" && r.last_event_id.is_some())
    );
}

#[tokio::test]
async fn an_sse_drop_without_ids_is_a_transport_error_and_a_write_is_not_resent() {
    let (url, _, seen) = raw_server(Arc::new(|request: &Request| {
        // A notification, then the stream ends without the response (and without ids).
        sse_reply(&[json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": request.rpc()}})])
    }))
    .await;
    let session = raw_session(&url, builder(&url)).await;
    let err = call_err(&session, "write", json!({})).await;
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert!(err.may_have_run(), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(count(&seen, "POST tools/call"), 1);
}

#[tokio::test]
async fn a_reset_after_a_write_was_sent_may_have_run_and_is_not_repeated() {
    let (url, _, seen) = raw_server(Arc::new(|_: &Request| Reply::Reset)).await;
    let session = raw_session(&url, builder(&url)).await;
    let err = call_err(&session, "write", json!({})).await;
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert!(err.may_have_run(), "{err:?}");
    assert!(!err.is_retryable(), "{err:?}");
    assert_eq!(count(&seen, "POST tools/call"), 1);

    // A read reset the same way is safe to repeat (and is repeated by the client itself).
    let err = call_err(&session, "read", json!({})).await;
    assert!(!err.may_have_run(), "{err:?}");
    assert!(err.is_retryable(), "{err:?}");
    assert!(count(&seen, "POST tools/call") > 2);
}

#[tokio::test]
async fn malformed_and_oversized_replies_are_typed_errors_and_the_session_survives() {
    let mock = MockPagerDuty::start().await;
    let session = mock_session(
        &mock,
        builder(mock.url().as_str()).max_body_bytes(64 * 1024),
    )
    .await;
    mock.malformed_next(1);
    let err = session.list_tools().await.expect_err("malformed");
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err:?}");
    mock.oversized_next(1, 1024 * 1024);
    let err = session.list_tools().await.expect_err("oversized");
    assert!(
        matches!(err, Error::TooLarge { limit, .. } if limit == 64 * 1024),
        "{err:?}"
    );
    session.list_tools().await.expect("the session survives");
}

#[tokio::test]
async fn an_endless_stream_ends_at_the_request_limit() {
    let (url, _, _) = raw_server(Arc::new(|_: &Request| Reply::EndlessSse)).await;
    let session = raw_session(
        &url,
        builder(&url).request_timeout(Duration::from_millis(700)),
    )
    .await;
    assert_prompts_time_out(&session, Duration::from_secs(3), "the endless stream").await;
}

#[tokio::test]
async fn a_flood_of_server_requests_is_answered_and_the_call_succeeds() {
    const FLOOD: usize = 2000;
    let (url, _, seen) = raw_server(Arc::new(|request: &Request| {
        let mut events: Vec<Value> = (0..FLOOD)
            .map(|i| json!({"jsonrpc": "2.0", "id": format!("srv-{i}"), "method": "ping"}))
            .collect();
        events.push(json!({"jsonrpc": "2.0", "id": request.id(), "result": {"prompts": []}}));
        sse_reply(&events)
    }))
    .await;
    let session = raw_session(&url, builder(&url)).await;
    session
        .list_prompts()
        .await
        .expect("succeeds despite the flood");
    // Answers (JSON-RPC responses, no method) went back; none was a request of ours.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answers = count(&seen, "POST ");
    assert!(answers <= FLOOD, "{answers}");
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed() {
    let mock = MockPagerDuty::start().await;
    let other = MockPagerDuty::start().await;
    let session = mock_session(&mock, builder(mock.url().as_str())).await;
    mock.redirect_next(1, other.url().to_string());
    let err = session.list_tools().await.expect_err("not followed");
    assert!(matches!(err.status(), Some(300..=399)), "{err:?}");
    assert!(err.to_string().contains("another origin"), "{err}");
    assert!(
        other.requests().is_empty(),
        "the other origin saw a request"
    );
}

#[tokio::test]
async fn a_redirect_within_the_origin_is_followed() {
    let mock = MockPagerDuty::start().await;
    let session = mock_session(&mock, builder(mock.url().as_str())).await;
    mock.redirect_next(1, mock.url().to_string());
    session.list_tools().await.expect("followed");
    assert!(mock.requests().iter().all(|r| r.auth_matched));
}

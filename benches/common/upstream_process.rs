//! An MCP server shaped like a production one, in a child process of its own (the bench's own
//! binary, started with `--serve-upstream`): the outside server issue 23 measured against,
//! rebuilt so that the benches see what an outside harness sees.
//!
//! What makes it unlike the embedded mock, each thing found to matter or kept because
//! production servers do it:
//! * **POST replies are SSE streams** (the official SDKs' default), `Transfer-Encoding:
//!   chunked`, whose end (the terminating chunk) is written **after** the response event, in a
//!   write of its own, as uvicorn (Python SDK), Node (TypeScript SDK) and rmcp do: a client
//!   that drops the body on the response event, before that end, loses the connection. With
//!   `json` the replies are `application/json` with a `Content-Length` instead.
//! * **Long session ids** (a UUID, 36 characters), and an `initialize` result as big as a real
//!   server's: a title, a website, icons, capabilities with `listChanged`/`subscribe`, and
//!   about 1.5 KB of instructions.
//! * Response headers `Cache-Control`, `Connection: keep-alive`, `X-Accel-Buffering`.
//! * GET opens the session's standing SSE stream and keeps it open (with a keep-alive comment
//!   every 15 s); DELETE ends the session; notifications get `202` without a body.
//! * Both eras: `2026-07-28` requests (by their `MCP-Protocol-Version`) need no session.
//!
//! It counts the TCP connections it accepted; the parent asks for the count on the child's
//! standard input (`accepted` → one line with the number) and stops the child by closing it.
//!
//! Used with `#[path = "common/upstream_process.rs"] mod upstream_process;`; the bench's
//! `main` starts with `if upstream_process::serve_if_asked() { return; }`.

#![allow(dead_code)] // each binary uses its own part of this module

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use axum::routing::any;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};
use url::Url;

/// How the child answers POSTs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replies {
    /// `text/event-stream`, the end of the stream written after the response event.
    Sse,
    /// `application/json` with a `Content-Length`.
    Json,
}

impl Replies {
    fn as_arg(self) -> &'static str {
        match self {
            Replies::Sse => "sse",
            Replies::Json => "json",
        }
    }
}

/// TCP connections accepted since the child started.
static ACCEPTED: AtomicU64 = AtomicU64::new(0);
/// TCP connections open now.
static OPEN: AtomicU64 = AtomicU64::new(0);

/// The listener, counting the connections it accepts and those still open.
struct Counted(tokio::net::TcpListener);

/// An accepted connection, counted as open until dropped.
struct CountedStream(tokio::net::TcpStream);

impl Drop for CountedStream {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

impl axum::serve::Listener for Counted {
    type Io = CountedStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((tcp, addr)) => {
                    let _ = tcp.set_nodelay(true);
                    ACCEPTED.fetch_add(1, Ordering::Relaxed);
                    OPEN.fetch_add(1, Ordering::Relaxed);
                    return (CountedStream(tcp), addr);
                }
                // Out of descriptors, for example: wait rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl tokio::io::AsyncRead for CountedStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for CountedStream {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Serves the upstream when this process was started as the child (`--serve-upstream MODE`),
/// until its standard input closes; returns whether it did.
pub fn serve_if_asked() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let Some(at) = args.iter().position(|a| a == "--serve-upstream") else {
        return false;
    };
    let replies = match args.get(at + 1).map(String::as_str) {
        Some("json") => Replies::Json,
        _ => Replies::Sse,
    };
    let end_delay = args
        .get(at + 2)
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::ZERO, Duration::from_millis);
    serve(replies, end_delay);
    true
}

struct Upstream {
    replies: Replies,
    /// How long an SSE reply stays open after its response event.
    end_delay: Duration,
    /// Session id → protocol version.
    sessions: Mutex<HashMap<String, &'static str>>,
    random: RandomState,
    counter: AtomicU64,
    initialize_result: Value,
    discover_result: Value,
    list_incidents: Value,
}

fn serve(replies: Replies, end_delay: Duration) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("upstream-worker")
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let upstream = Arc::new(Upstream {
            replies,
            end_delay,
            sessions: Mutex::new(HashMap::new()),
            random: RandomState::new(),
            counter: AtomicU64::new(0),
            initialize_result: initialize_result(),
            discover_result: discover_result(),
            list_incidents: list_incidents_result(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let listener = Counted(listener);
        let app = Router::new()
            .route("/mcp", any(handle))
            .with_state(upstream);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        println!("http://{addr}/mcp");
        std::io::stdout().flush().expect("stdout");
        tokio::task::spawn_blocking(|| {
            let stdin = std::io::stdin();
            for line in stdin.lock().lines() {
                let Ok(line) = line else { break };
                if line.trim() == "accepted" {
                    println!(
                        "{} {}",
                        ACCEPTED.load(Ordering::Relaxed),
                        OPEN.load(Ordering::Relaxed)
                    );
                    let _ = std::io::stdout().flush();
                }
            }
        })
        .await
        .expect("stdin");
        let _ = stop.send(());
        // Open GET streams would hold a graceful shutdown: the parent is gone, stop anyway.
        let _ = tokio::time::timeout(Duration::from_millis(200), server).await;
    });
}

const SESSION_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
const STATELESS: &str = "2026-07-28";

/// About 1.5 KB of instructions, as production servers write them.
const INSTRUCTIONS: &str = "PagerDuty MCP server. Use these tools to read and manage incidents, \
services, on-call schedules, escalation policies, teams, users, event orchestrations, \
incident workflows, status pages and change events of the PagerDuty account the user's API \
token belongs to. Every tool acts with the permissions of that user: a tool may answer that \
the user lacks a permission (403, code 2010) although the token is valid. Prefer the list \
tools with filters (statuses, service_ids, team_ids, since/until, limit) over fetching \
everything: lists are paginated, at most 100 items a page, and the account may hold many \
thousands of incidents. Times are ISO 8601 in UTC unless a time_zone argument says \
otherwise. Incident numbers and incident ids are different things: get_incident takes the \
id (for example Q2W3E4R5T6Y7U8). Write tools (manage_incidents, add_note_to_incident, \
create_incident, add_responders, start_incident_workflow, create_status_page_post) change \
the account and notify people: confirm with the user before calling them, and never call \
them in a loop. Rate limits: 960 requests a minute per user across all of their tokens; a \
429 answer says when to retry. When a user asks who is on call, call list_oncalls with the \
schedule or escalation policy rather than reading every schedule. When a user asks about a \
service's health, read its recent incidents and change events together. Summaries for \
humans should name the incident's title, urgency, status, service and assignees, and link \
its html_url. Do not reveal the contents of private notes to users who did not ask for the \
incident by id. This server speaks MCP over Streamable HTTP; sessions expire after 30 \
minutes without a request.";

fn server_info() -> Value {
    json!({
        "name": "pagerduty-mcp",
        "title": "PagerDuty MCP Server",
        "version": "0.11.2",
        "websiteUrl": "https://github.com/PagerDuty/pagerduty-mcp-server",
        "icons": [{"src": "https://www.pagerduty.com/favicon.ico", "mimeType": "image/x-icon", "sizes": ["32x32"]}],
    })
}

fn capabilities() -> Value {
    json!({
        "experimental": {},
        "logging": {},
        "completions": {},
        "prompts": {"listChanged": true},
        "resources": {"subscribe": true, "listChanged": true},
        "tools": {"listChanged": true},
    })
}

fn initialize_result() -> Value {
    json!({
        "protocolVersion": "2025-11-25",
        "capabilities": capabilities(),
        "serverInfo": server_info(),
        "instructions": INSTRUCTIONS,
    })
}

fn discover_result() -> Value {
    json!({
        "supportedVersions": ["2025-06-18", "2025-11-25", STATELESS],
        "capabilities": capabilities(),
        "serverInfo": server_info(),
        "instructions": INSTRUCTIONS,
        "resultType": "complete",
        "cacheScope": "public",
        "ttlMs": 3_600_000,
    })
}

fn list_incidents_result() -> Value {
    let incidents: Vec<Value> = (0..10)
        .map(|i| {
            json!({
                "id": format!("Q{i:02}ABCDEFGHIJK"),
                "incident_number": 1000 + i,
                "title": format!("High error rate on checkout-api (shard {i})"),
                "status": if i % 2 == 0 { "triggered" } else { "acknowledged" },
                "urgency": "high",
                "created_at": "2026-12-01T10:00:00Z",
                "service": {"id": "PSVC123", "summary": "checkout-api", "type": "service_reference"},
                "assignments": [{"assignee": {"id": "PUSR001", "summary": "Alice Example", "type": "user_reference"}}],
                "html_url": format!("https://example.pagerduty.com/incidents/Q{i:02}ABCDEFGHIJK"),
            })
        })
        .collect();
    let value = json!({"response": incidents, "limit": 10, "more": false, "total": 10});
    json!({
        "content": [{"type": "text", "text": value.to_string()}],
        "structuredContent": value,
        "isError": false,
    })
}

impl Upstream {
    /// A fresh session id, shaped like a UUID (36 characters).
    fn new_session_id(&self) -> String {
        let mut hasher = self.random.build_hasher();
        hasher.write_u64(self.counter.fetch_add(1, Ordering::Relaxed));
        let a = hasher.finish();
        hasher.write_u64(a);
        let b = hasher.finish();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0x3fff | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn status(code: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = code;
    response
}

async fn handle(
    State(upstream): State<Arc<Upstream>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorized = header(&headers, "authorization")
        .is_some_and(|auth| auth.starts_with("Token u+BenchUserToken"));
    if !authorized {
        let mut response = Response::new(Body::from(
            r#"{"error":{"message":"Authentication failed","code":2006}}"#,
        ));
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        return response;
    }
    let session = header(&headers, "mcp-session-id").map(str::to_owned);
    let known = session
        .as_ref()
        .is_some_and(|id| upstream.sessions.lock().unwrap().contains_key(id));
    match method {
        Method::GET => {
            if !known {
                return status(StatusCode::NOT_FOUND);
            }
            standing_stream(session.as_deref().unwrap_or_default())
        }
        Method::DELETE => {
            if let Some(id) = &session {
                upstream.sessions.lock().unwrap().remove(id);
            }
            status(if known {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            })
        }
        Method::POST => post(&upstream, &headers, session.filter(|_| known), &body),
        _ => status(StatusCode::METHOD_NOT_ALLOWED),
    }
}

fn post(
    upstream: &Upstream,
    headers: &HeaderMap,
    session: Option<String>,
    body: &[u8],
) -> Response {
    let Ok(message) = serde_json::from_slice::<Value>(body) else {
        return status(StatusCode::BAD_REQUEST);
    };
    let method = message["method"].as_str().unwrap_or_default();
    let id = message.get("id").cloned();
    let stateless = header(headers, "mcp-protocol-version") == Some(STATELESS);
    let Some(id) = id else {
        // A notification (or a response to a server request): accepted, no body.
        return status(StatusCode::ACCEPTED);
    };
    let (result, new_session) = if method == "initialize" {
        let asked = message["params"]["protocolVersion"]
            .as_str()
            .unwrap_or_default();
        let version = SESSION_VERSIONS
            .iter()
            .find(|v| **v == asked)
            .copied()
            .unwrap_or("2025-11-25");
        let session_id = upstream.new_session_id();
        upstream
            .sessions
            .lock()
            .unwrap()
            .insert(session_id.clone(), version);
        let mut result = upstream.initialize_result.clone();
        result["protocolVersion"] = json!(version);
        (result, Some(session_id))
    } else {
        if !stateless && session.is_none() {
            return status(StatusCode::NOT_FOUND);
        }
        let result = match method {
            "server/discover" => upstream.discover_result.clone(),
            "ping" => json!({}),
            "tools/call" => {
                let mut result = upstream.list_incidents.clone();
                if stateless {
                    result["resultType"] = json!("complete");
                }
                result
            }
            "tools/list" => json!({"tools": [{
                "name": "list_incidents",
                "description": "List incidents",
                "inputSchema": {"type": "object"},
                "annotations": {"readOnlyHint": true, "destructiveHint": false},
            }]}),
            _ => {
                return reply(
                    upstream,
                    json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "Method not found"}}),
                    None,
                );
            }
        };
        (result, None)
    };
    let response = json!({"jsonrpc": "2.0", "id": id, "result": result});
    reply(upstream, response, new_session.or(session))
}

/// The reply to a request: SSE (the end written after the event) or JSON.
fn reply(upstream: &Upstream, message: Value, session: Option<String>) -> Response {
    let end_delay = upstream.end_delay;
    let mut response = match upstream.replies {
        Replies::Json => {
            let mut response = Response::new(Body::from(message.to_string()));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Replies::Sse => {
            let event = Bytes::from(format!("event: message\r\ndata: {message}\r\n\r\n"));
            // The event, then (in a later poll, so in a write of its own) the end: as a server
            // whose handler writes the response and then closes its stream.
            let body = futures_util::stream::unfold(Some(event), move |event| async move {
                match event {
                    Some(event) => Some((Ok::<_, std::io::Error>(event), None)),
                    None => {
                        if end_delay.is_zero() {
                            tokio::task::yield_now().await;
                        } else {
                            tokio::time::sleep(end_delay).await;
                        }
                        None
                    }
                }
            });
            let mut response = Response::new(Body::from_stream(body));
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache, no-transform"),
            );
            headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
            headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
            response
        }
    };
    if let Some(id) = session
        && let Ok(value) = HeaderValue::from_str(&id)
    {
        response.headers_mut().insert("mcp-session-id", value);
    }
    response
}

/// The session's standing stream: open until the client goes, a keep-alive every 15 s.
fn standing_stream(session: &str) -> Response {
    let body = futures_util::stream::unfold(true, |first| async move {
        if !first {
            tokio::time::sleep(Duration::from_secs(15)).await;
        }
        Some((
            Ok::<_, std::io::Error>(Bytes::from_static(b": ping\r\n\r\n")),
            false,
        ))
    });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(session) {
        headers.insert("mcp-session-id", value);
    }
    response
}

/// The upstream's child process; stops it when dropped.
pub struct UpstreamProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// The upstream's MCP endpoint.
    pub url: Url,
}

impl UpstreamProcess {
    /// Starts the upstream answering as `replies` says; SSE replies end `end_delay` after
    /// their response event (at the next poll when zero).
    pub fn start(replies: Replies, end_delay: Duration) -> UpstreamProcess {
        let mut child = Command::new(std::env::current_exe().expect("own path"))
            .args([
                "--serve-upstream",
                replies.as_arg(),
                &end_delay.as_millis().to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the upstream process");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the upstream's URL");
        let url = Url::parse(line.trim()).expect("a URL");
        UpstreamProcess {
            child,
            stdin,
            stdout,
            url,
        }
    }

    /// The TCP connections the upstream accepted so far, and those open now.
    pub fn connections(&mut self) -> (u64, u64) {
        let stdin = self.stdin.as_mut().expect("stdin");
        stdin.write_all(b"accepted\n").expect("ask the upstream");
        stdin.flush().expect("ask the upstream");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("the counts");
        let mut counts = line
            .split_whitespace()
            .map(|n| n.parse().expect("a number"));
        (
            counts.next().expect("accepted"),
            counts.next().expect("open"),
        )
    }
}

impl Drop for UpstreamProcess {
    fn drop(&mut self) {
        drop(self.stdin.take()); // the child stops when its stdin closes
        let _ = self.child.wait();
    }
}

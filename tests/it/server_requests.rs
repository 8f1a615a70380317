//! Requests from the server to the client, told as stories against small scripted servers on
//! loopback (real HTTP, the real client):
//!
//! - an elicitation sent on a call's response stream is answered through the application's
//!   handler, with the call's context, and the call completes with the answer;
//! - without a handler the answer is `-32601` at once, and only registered kinds are declared;
//! - a request on the standing GET stream is answered though nobody reads notifications;
//! - a flood of requests costs at most the configured number of tasks and connections;
//! - 2026-07-28 `input_required` results go round through the handlers (multi round-trip
//!   requests): new ids, `requestState` echoed, several rounds, the server's error on a refused
//!   state, an error without a handler;
//! - per-call progress reaches the call's own callback;
//! - through a `Connector`, the handler knows the user.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::common::{assert_took_less_than, call_err};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use pagerduty_mcp_connect::{
    AuthScheme, Connector, Credential, Error, GenericServer, HandlerError, InMemoryCredentialStore,
    McpClient, McpClientBuilder, Progress, ProtocolPreference, ProtocolVersion, RequestOptions,
    ServerRequest, ServerRequestKind, UserId, server_request_fn,
};
use serde_json::{Value, json};

const TOKEN: &str = "u+server-requests-token";

/// What the scripted server saw.
#[derive(Default)]
struct Seen {
    /// Every JSON-RPC request and notification POSTed, with its headers.
    posts: Mutex<Vec<(HeaderMap, Value)>>,
    /// The client's answers to server requests, by request id.
    answers: Mutex<HashMap<String, Value>>,
    answered: tokio::sync::Notify,
    /// The client's TCP connections (peer addresses).
    peers: Mutex<HashSet<SocketAddr>>,
    gets: AtomicUsize,
}

impl Seen {
    fn posts_of(&self, method: &str) -> Vec<Value> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, body)| body["method"] == method)
            .map(|(_, body)| body.clone())
            .collect()
    }

    fn answer(&self, id: &str) -> Option<Value> {
        self.answers.lock().unwrap().get(id).cloned()
    }

    /// Waits (at most 10 s) for the client's answer to request `id`.
    async fn wait_answer(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.answered.notified();
            if let Some(answer) = self.answer(id) {
                return answer;
            }
            assert!(
                Instant::now() < deadline,
                "no answer to server request {id}"
            );
            let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
        }
    }
}

/// A scripted reply to one request: `None` falls back to the session-era basics.
type Script = Arc<
    dyn Fn(Arc<Seen>, Method, HeaderMap, Value) -> BoxFuture<'static, Option<Response>>
        + Send
        + Sync,
>;

async fn serve(script: Script) -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let state = seen.clone();
    let handler = move |ConnectInfo(peer): ConnectInfo<SocketAddr>,
                        method: Method,
                        headers: HeaderMap,
                        body: Bytes| {
        let seen = state.clone();
        let script = script.clone();
        async move {
            seen.peers.lock().unwrap().insert(peer);
            if method == Method::DELETE {
                return StatusCode::OK.into_response();
            }
            if method == Method::GET {
                seen.gets.fetch_add(1, Ordering::SeqCst);
                return script(seen.clone(), method, headers, Value::Null)
                    .await
                    .unwrap_or_else(|| StatusCode::METHOD_NOT_ALLOWED.into_response());
            }
            let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if message.get("method").is_none() {
                // The client's answer to one of our requests.
                let id = message["id"].as_str().unwrap_or("").to_owned();
                seen.answers.lock().unwrap().insert(id, message);
                seen.answered.notify_waiters();
                return StatusCode::ACCEPTED.into_response();
            }
            seen.posts
                .lock()
                .unwrap()
                .push((headers.clone(), message.clone()));
            if message.get("id").is_none() {
                return StatusCode::ACCEPTED.into_response();
            }
            if let Some(reply) = script(seen.clone(), method, headers, message.clone()).await {
                return reply;
            }
            session_basics(&message)
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            Router::new()
                .route("/mcp", any(handler))
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    (format!("http://{address}/mcp"), seen)
}

/// A session-era server: refuses the stateless probe, answers `initialize` and lists a tool.
fn session_basics(message: &Value) -> Response {
    let id = message["id"].clone();
    match message["method"].as_str().unwrap_or("") {
        "server/discover" => json_reply(
            StatusCode::BAD_REQUEST,
            json!({"jsonrpc":"2.0","id":id,"error":{"code":-32600,"message":"Bad Request: Missing session ID"}}),
        ),
        "initialize" => json_reply(
            StatusCode::OK,
            json!({"jsonrpc":"2.0","id":id,"result":{
                "protocolVersion":"2025-11-25",
                "capabilities":{"tools":{}},
                "serverInfo":{"name":"scripted","version":"0"}}}),
        ),
        "tools/list" => json_reply(
            StatusCode::OK,
            json!({"jsonrpc":"2.0","id":id,"result":{"tools":[
                {"name":"ask","inputSchema":{"type":"object"}}]}}),
        ),
        _ => json_reply(
            StatusCode::OK,
            json!({"jsonrpc":"2.0","id":id,"error":{"code":-32601,"message":"Method not found"}}),
        ),
    }
}

fn json_reply(status: StatusCode, body: Value) -> Response {
    (
        status,
        [
            ("content-type", "application/json"),
            ("mcp-session-id", "scripted-session"),
        ],
        body.to_string(),
    )
        .into_response()
}

fn sse_event(message: &Value) -> String {
    format!("event: message\ndata: {message}\n\n")
}

/// An SSE reply whose body is produced by `body` (a future yielding the whole text at once, or
/// an endless stream).
fn sse_stream(body: Body) -> Response {
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("mcp-session-id", "scripted-session")
        .body(body)
        .unwrap()
}

fn builder(url: &str) -> McpClientBuilder {
    let server = GenericServer::new("scripted", url, AuthScheme::token()).unwrap();
    McpClient::builder(server)
        .request_timeout(Duration::from_secs(10))
        .retry_base_delay(Duration::from_millis(10))
}

fn credential() -> Credential {
    Credential::new(TOKEN)
}

/// `tools/call` answered on an SSE stream that first asks `elicitation/create` (id `e1`), waits
/// for the client's answer and returns it inside the tool result.
fn elicit_on_call_stream() -> Script {
    Arc::new(|seen: Arc<Seen>, _method, _headers, message: Value| {
        async move {
            if message["method"] != "tools/call" {
                return None;
            }
            let id = message["id"].clone();
            let ask = json!({"jsonrpc":"2.0","id":"e1","method":"elicitation/create","params":{
                "message":"Which incident?",
                "requestedSchema":{"type":"object","properties":{"incident":{"type":"string"}}}}});
            let first = futures_util::stream::once(async move {
                Ok::<_, std::convert::Infallible>(Bytes::from(sse_event(&ask)))
            });
            let rest = futures_util::stream::once(async move {
                let answer = seen.wait_answer("e1").await;
                let result = json!({"jsonrpc":"2.0","id":id,"result":{
                    "content":[{"type":"text","text": answer.to_string()}]}});
                Ok(Bytes::from(sse_event(&result)))
            });
            Some(sse_stream(Body::from_stream(
                futures_util::StreamExt::chain(first, rest),
            )))
        }
        .boxed()
    })
}

#[tokio::test]
async fn an_elicitation_on_the_call_stream_is_answered_by_the_handler_with_the_call_context() {
    let (url, seen) = serve(elicit_on_call_stream()).await;
    let contexts = Arc::new(Mutex::new(Vec::new()));
    let witness = contexts.clone();
    let client = builder(&url)
        .elicitation_handler(server_request_fn(move |request: ServerRequest| {
            let witness = witness.clone();
            async move {
                let context = request
                    .call_context()
                    .and_then(|c| c.downcast_ref::<&str>().copied());
                witness
                    .lock()
                    .unwrap()
                    .push((request.method(), context, request.user().cloned()));
                assert_eq!(request.params()["message"], "Which incident?");
                Ok::<_, HandlerError>(json!({"action":"accept","content":{"incident":"P123"}}))
            }
        }))
        .build()
        .unwrap();
    let session = client.connect(&credential()).await.unwrap();
    assert_eq!(session.version(), ProtocolVersion::V2025_11_25);

    let options = RequestOptions::default().context(Arc::new("agent-7"));
    let result = session
        .call_tool_with("ask", json!({}), options)
        .await
        .expect("the call completes with the elicitation's answer");
    let text = result.text();
    assert!(text.contains("P123") && text.contains("accept"), "{text}");
    assert_eq!(
        *contexts.lock().unwrap(),
        vec![("elicitation/create", Some("agent-7"), None)]
    );
    // The capability is declared, and only that one.
    let initialize = &seen.posts_of("initialize")[0];
    assert_eq!(
        initialize["params"]["capabilities"],
        json!({"elicitation": {}})
    );
}

#[tokio::test]
async fn without_a_handler_the_answer_is_method_not_found_at_once_and_nothing_is_declared() {
    let (url, seen) = serve(elicit_on_call_stream()).await;
    let client = builder(&url).build().unwrap();
    let session = client.connect(&credential()).await.unwrap();
    let started = Instant::now();
    let result = session.call_tool("ask", json!({})).await.unwrap();
    assert_took_less_than(
        started,
        Duration::from_secs(2),
        "answered at once, not after a time-out",
    );
    let answer = seen.answer("e1").expect("answered");
    assert_eq!(answer["error"]["code"], -32601, "{answer}");
    assert!(result.text().contains("-32601"));
    let initialize = &seen.posts_of("initialize")[0];
    assert_eq!(initialize["params"]["capabilities"], json!({}));
}

#[tokio::test]
async fn a_request_on_the_standing_get_stream_is_answered_without_a_notification_reader() {
    // The GET stream carries `sampling/createMessage` (id `s1`) and `ping` (id `p1`), then
    // stays open.
    let script: Script = Arc::new(|_seen, method: Method, _headers, _message| {
        async move {
            if method != Method::GET {
                return None;
            }
            let sample = json!({"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{
                "messages":[{"role":"user","content":{"type":"text","text":"hi"}}],"maxTokens":10}});
            let ping = json!({"jsonrpc":"2.0","id":"p1","method":"ping"});
            let first = futures_util::stream::iter([
                Ok::<_, std::convert::Infallible>(Bytes::from(sse_event(&sample))),
                Ok(Bytes::from(sse_event(&ping))),
            ]);
            Some(sse_stream(Body::from_stream(futures_util::StreamExt::chain(
                first,
                futures_util::stream::pending(),
            ))))
        }
        .boxed()
    });
    let (url, seen) = serve(script).await;
    let client = builder(&url)
        .sampling_handler(server_request_fn(|request: ServerRequest| async move {
            assert_eq!(request.kind(), ServerRequestKind::Sampling);
            Ok::<_, HandlerError>(
                json!({"role":"assistant","model":"m","content":{"type":"text","text":"hello"}}),
            )
        }))
        .build()
        .unwrap();
    let session = client.connect(&credential()).await.unwrap();
    let answer = seen.wait_answer("s1").await;
    assert_eq!(answer["result"]["content"]["text"], "hello", "{answer}");
    assert_eq!(seen.wait_answer("p1").await["result"], json!({}));
    assert_eq!(seen.gets.load(Ordering::SeqCst), 1);
    let initialize = &seen.posts_of("initialize")[0];
    assert_eq!(
        initialize["params"]["capabilities"],
        json!({"sampling": {}})
    );
    drop(session);
}

#[tokio::test]
async fn a_flood_of_server_requests_costs_bounded_tasks_and_connections() {
    const FLOOD: usize = 5_000;
    const LIMIT: usize = 8;
    // One reply carries 5,000 pings and then the response.
    let script: Script = Arc::new(|_seen, _method, _headers, message: Value| {
        async move {
            if message["method"] != "tools/call" {
                return None;
            }
            let mut body = String::new();
            for n in 0..FLOOD {
                body.push_str(&sse_event(
                    &json!({"jsonrpc":"2.0","id":format!("ping-{n}"),"method":"ping"}),
                ));
            }
            body.push_str(&sse_event(
                &json!({"jsonrpc":"2.0","id":message["id"],"result":{
                "content":[{"type":"text","text":"done"}]}}),
            ));
            Some(sse_stream(Body::from(body)))
        }
        .boxed()
    });
    let (url, seen) = serve(script).await;
    let client = builder(&url)
        .max_concurrent_server_requests(LIMIT)
        .build()
        .unwrap();
    let session = client.connect(&credential()).await.unwrap();
    let tasks_before = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let peers_before = seen.peers.lock().unwrap().len();

    let result = session.call_tool("ask", json!({})).await.unwrap();
    assert_eq!(result.text(), "done");
    let tasks_during = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let answered = seen.answers.lock().unwrap().len();
    let connections = seen.peers.lock().unwrap().len() - peers_before;
    println!(
        "flood of {FLOOD} pings: {answered} answered, {connections} new connections, \
         tasks {tasks_before} -> {tasks_during}"
    );
    assert!(answered >= 1, "some pings are answered");
    assert!(answered < FLOOD, "the excess is dropped, not queued");
    assert!(
        connections <= LIMIT + 1,
        "answers reuse the pool: {connections} new connections"
    );
    // Per answer at most: the client's answering task, its pooled connection's task and this
    // test server's task for that connection (the runtime is shared with the server).
    assert!(
        tasks_during <= tasks_before + 3 * LIMIT + 4,
        "tasks bounded: {tasks_before} -> {tasks_during}"
    );
}

/// A 2026-07-28 server whose `tools/call` needs input: `rounds` rounds of `input_required`
/// (elicitation, then sampling, …) with a signed `requestState`, then the final result; a
/// tampered state is refused with `-32602`.
fn mrtr_server(rounds: usize) -> Script {
    Arc::new(move |_seen, _method, headers: HeaderMap, message: Value| {
        async move {
            let id = message["id"].clone();
            let stateless = headers.get("mcp-protocol-version").is_some_and(|v| v == "2026-07-28");
            if !stateless {
                return Some(json_reply(StatusCode::BAD_REQUEST, json!({"jsonrpc":"2.0","id":id,
                    "error":{"code":-32600,"message":"stateless only"}})));
            }
            let result = match message["method"].as_str().unwrap_or("") {
                "server/discover" => json!({"supportedVersions":["2026-07-28"],
                    "capabilities":{"tools":{}},"serverInfo":{"name":"mrtr","version":"0"}}),
                "tools/list" => json!({"tools":[{"name":"ask","inputSchema":{"type":"object"}}]}),
                "tools/call" => {
                    let params = &message["params"];
                    let round = match params.get("requestState").and_then(Value::as_str) {
                        None => 0,
                        Some(state) => match state.strip_prefix("signed:round-") {
                            Some(n) => n.parse::<usize>().unwrap_or(usize::MAX),
                            None => {
                                return Some(json_reply(StatusCode::OK, json!({"jsonrpc":"2.0","id":id,
                                    "error":{"code":-32602,"message":"requestState failed verification"}})))
                            }
                        },
                    };
                    if round > 0 && params["inputResponses"].get(format!("q{round}")).is_none() {
                        return Some(json_reply(StatusCode::OK, json!({"jsonrpc":"2.0","id":id,
                            "error":{"code":-32602,"message":"missing input response"}})));
                    }
                    if round >= rounds {
                        json!({"resultType":"complete","content":[{"type":"text",
                            "text": format!("done after {round} rounds: {}", params["inputResponses"])}]})
                    } else {
                        let next = round + 1;
                        let request = if next % 2 == 1 {
                            json!({"method":"elicitation/create","params":{"message":"confirm?",
                                "requestedSchema":{"type":"object","properties":{"ok":{"type":"boolean"}}}}})
                        } else {
                            json!({"method":"sampling/createMessage","params":{"messages":[],"maxTokens":5}})
                        };
                        let state = if params["arguments"]["tamper"] == true {
                            "forged".to_owned()
                        } else {
                            format!("signed:round-{next}")
                        };
                        json!({"resultType":"input_required",
                            "inputRequests":{ format!("q{next}"): request },
                            "requestState": state})
                    }
                }
                _ => return None,
            };
            Some(json_reply(StatusCode::OK, json!({"jsonrpc":"2.0","id":id,"result":result})))
        }
        .boxed()
    })
}

fn answering_client(url: &str) -> McpClient {
    builder(url)
        .protocol(ProtocolPreference::Exact(ProtocolVersion::V2026_07_28))
        .elicitation_handler(server_request_fn(|_request: ServerRequest| async move {
            Ok::<_, HandlerError>(json!({"action":"accept","content":{"ok":true}}))
        }))
        .sampling_handler(server_request_fn(|_request: ServerRequest| async move {
            Ok::<_, HandlerError>(
                json!({"role":"assistant","model":"m","content":{"type":"text","text":"yes"}}),
            )
        }))
        .build()
        .unwrap()
}

#[tokio::test]
async fn input_required_rounds_go_through_the_handlers_until_complete() {
    let (url, seen) = serve(mrtr_server(3)).await;
    let client = answering_client(&url);
    let session = client.connect(&credential()).await.unwrap();
    let result = session.call_tool("ask", json!({})).await.unwrap();
    assert!(
        result.text().starts_with("done after 3 rounds"),
        "{}",
        result.text()
    );

    let calls = seen.posts_of("tools/call");
    assert_eq!(calls.len(), 4, "the first request and three retries");
    let ids: HashSet<String> = calls.iter().map(|c| c["id"].to_string()).collect();
    assert_eq!(ids.len(), 4, "each retry under a new JSON-RPC id");
    assert!(calls[0]["params"].get("requestState").is_none());
    for (round, call) in calls.iter().enumerate().skip(1) {
        assert_eq!(
            call["params"]["requestState"],
            format!("signed:round-{round}")
        );
        let responses = call["params"]["inputResponses"].as_object().unwrap();
        assert_eq!(
            responses.len(),
            1,
            "only this round's answers: {responses:?}"
        );
        assert!(responses.contains_key(&format!("q{round}")));
        // The retry still carries the request's own _meta.
        assert_eq!(
            call["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"],
            "2026-07-28"
        );
    }
    // The stateless era declares the capabilities in every request's _meta.
    assert_eq!(
        calls[0]["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"],
        json!({"elicitation": {}, "sampling": {}})
    );
}

#[tokio::test]
async fn a_refused_request_state_ends_in_the_servers_error_not_a_loop() {
    let (url, seen) = serve(mrtr_server(3)).await;
    let client = answering_client(&url);
    let session = client.connect(&credential()).await.unwrap();
    let err = call_err(&session, "ask", json!({"tamper": true})).await;
    assert!(matches!(err, Error::Server { code: -32602, .. }), "{err:?}");
    assert_eq!(seen.posts_of("tools/call").len(), 2);
}

#[tokio::test]
async fn input_required_without_a_handler_is_a_clear_error() {
    let (url, seen) = serve(mrtr_server(1)).await;
    let client = builder(&url)
        .protocol(ProtocolPreference::Exact(ProtocolVersion::V2026_07_28))
        .build()
        .unwrap();
    let session = client.connect(&credential()).await.unwrap();
    let err = session.call_tool("ask", json!({})).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("elicitation/create"), "{text}");
    assert_eq!(
        seen.posts_of("tools/call").len(),
        1,
        "no retry without answers"
    );
}

#[tokio::test]
async fn each_call_receives_its_own_progress() {
    // tools/call streams three progress notifications for the call's own token, one for a
    // foreign token, then the result.
    let script: Script = Arc::new(|_seen, _method, _headers, message: Value| {
        async move {
            if message["method"] != "tools/call" {
                return None;
            }
            let token = message["params"]["_meta"]["progressToken"].clone();
            assert!(!token.is_null(), "a progress token was generated");
            let mut body = String::new();
            for step in 1..=3 {
                body.push_str(&sse_event(&json!({"jsonrpc":"2.0","method":"notifications/progress",
                    "params":{"progressToken":token,"progress":step,"total":3,"message":format!("step {step}")}})));
            }
            body.push_str(&sse_event(&json!({"jsonrpc":"2.0","method":"notifications/progress",
                "params":{"progressToken":"someone-else","progress":99}})));
            body.push_str(&sse_event(&json!({"jsonrpc":"2.0","id":message["id"],"result":{
                "content":[{"type":"text","text":"done"}]}})));
            Some(sse_stream(Body::from(body)))
        }
        .boxed()
    });
    let (url, _seen) = serve(script).await;
    let client = builder(&url).build().unwrap();
    let session = client.connect(&credential()).await.unwrap();
    let (first, second) = (
        Arc::new(Mutex::new(Vec::<Progress>::new())),
        Arc::new(Mutex::new(Vec::<Progress>::new())),
    );
    let (a, b) = (first.clone(), second.clone());
    let (one, two) = tokio::join!(
        session.call_tool_with(
            "ask",
            json!({}),
            RequestOptions::default().on_progress(move |p| a.lock().unwrap().push(p))
        ),
        session.call_tool_with(
            "ask",
            json!({}),
            RequestOptions::default().on_progress(move |p| b.lock().unwrap().push(p))
        ),
    );
    one.unwrap();
    two.unwrap();
    for seen in [first, second] {
        let seen = seen.lock().unwrap();
        let steps: Vec<f64> = seen.iter().map(Progress::progress).collect();
        assert_eq!(steps, vec![1.0, 2.0, 3.0], "own progress only, in order");
        assert_eq!(seen[2].total(), Some(3.0));
        assert_eq!(seen[2].message(), Some("step 3"));
    }
}

#[tokio::test]
async fn through_a_connector_the_handler_knows_the_user() {
    let (url, _seen) = serve(elicit_on_call_stream()).await;
    let users = Arc::new(Mutex::new(Vec::new()));
    let witness = users.clone();
    let store = InMemoryCredentialStore::new();
    store.insert("alice", TOKEN);
    let server = GenericServer::new("scripted", &url, AuthScheme::token()).unwrap();
    let connector = Connector::builder()
        .server(server)
        .credentials(store)
        .elicitation_handler(server_request_fn(move |request: ServerRequest| {
            let witness = witness.clone();
            async move {
                witness.lock().unwrap().push(request.user().cloned());
                Ok::<_, HandlerError>(json!({"action":"decline"}))
            }
        }))
        .build()
        .unwrap();
    let alice = UserId::from("alice");
    let result = connector
        .call_tool_with(&alice, "ask", json!({}), RequestOptions::default())
        .await
        .unwrap();
    assert!(result.text().contains("decline"));
    assert_eq!(*users.lock().unwrap(), vec![Some(alice)]);
}

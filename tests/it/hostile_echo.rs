//! A server that echoes the request's `Authorization` value into every field of every reply type,
//! in both protocol eras: as `protocolVersion`, inside `capabilities` and `serverInfo`, in
//! `tools/list` entries, in the `server/discover` result, in tool content, in JSON-RPC error
//! messages and data, in HTTP error bodies (JSON, text, HTML), in SSE event ids, in headers
//! (`Content-Type`, `Location`), as a response id, as the method of a server request.
//!
//! Every error the client or the connector returns is checked (`Display`, `Debug`, the whole
//! source chain), and so is everything any crate logs at TRACE: no form of the token appears
//! (raw, with its prefix, JSON-escaped once or twice, percent-encoded, or either half of it).
//! The token holds `"`, `\` and `/`, characters JSON escapes, which the scheme accepts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::common::authorization;
use super::loopback::serve_mcp;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use pagerduty_mcp_connect::{
    AuthScheme, Connector, Credential, Error, GenericServer, InMemoryCredentialStore, McpClient,
    ProtocolPreference, ProtocolVersion, UserId,
};
use serde_json::{Value, json};

/// Printable ASCII without spaces, as `AuthScheme::header_value` accepts, with the characters JSON
/// escapes.
const TOKEN: &str = "u+EchoSecret\"Quote\\Slash/Tail7731";

// ---------------------------------------------------------------------------------------------
// Log capture: the binary's one global subscriber at TRACE (tests/it/log_capture.rs).

// ---------------------------------------------------------------------------------------------
// The forms of the token that must never appear.

fn percent(value: &str, lower: bool) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else if lower {
                format!("%{b:02x}")
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn json_escaped(value: &str) -> String {
    let quoted = serde_json::to_string(value).unwrap();
    quoted[1..quoted.len() - 1].to_owned()
}

fn forbidden_forms() -> Vec<String> {
    let half = TOKEN.len() / 2;
    let escaped = json_escaped(TOKEN);
    vec![
        TOKEN.to_owned(),
        escaped.clone(),
        json_escaped(&escaped),
        format!("{:?}", TOKEN),
        percent(TOKEN, false),
        percent(TOKEN, true),
        // Either half, as a cut would leave it.
        TOKEN[..half].to_owned(),
        TOKEN[half..].to_owned(),
        json_escaped(&TOKEN[..half]),
        json_escaped(&TOKEN[half..]),
        // The distinctive core, whatever surrounds it.
        "EchoSecret".to_owned(),
        "Tail7731".to_owned(),
    ]
}

fn assert_clean(what: &str, text: &str) {
    for form in forbidden_forms() {
        assert!(
            !text.contains(&form),
            "{what}: a form of the token ({} chars) is in: {text}",
            form.len()
        );
    }
}

fn assert_error_clean(what: &str, err: &Error) {
    assert_clean(what, &err.to_string());
    assert_clean(what, &format!("{err:?}"));
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        assert_clean(what, &inner.to_string());
        assert_clean(what, &format!("{inner:?}"));
        source = inner.source();
    }
}

// ---------------------------------------------------------------------------------------------
// The echo server.

/// How the next replies misbehave.
#[derive(Clone, Debug)]
enum Plan {
    /// Replace the value at a JSON pointer of `method`'s result by the echo (a string), or by an
    /// object holding it (`nested`).
    Field {
        method: &'static str,
        pointer: &'static str,
        nested: bool,
    },
    /// Answer `method` with a JSON-RPC error whose message and data hold the echo.
    RpcError { method: &'static str },
    /// Answer `method` with this HTTP status and a body holding the echo (`html`: as a page).
    Http {
        method: &'static str,
        status: u16,
        html: bool,
    },
    /// Answer `method` with the echo as its `Content-Type`.
    ContentType { method: &'static str },
    /// Answer `method` with a response whose `id` is the echo (and no other response).
    WrongId { method: &'static str },
    /// Redirect `method` to another origin whose host name holds the token.
    Redirect { method: &'static str },
    /// Answer `method` as an SSE stream: events whose `id` is the token, a notification and a
    /// server request holding the echo, then drop the stream; the resumption GET is refused
    /// with the echo.
    SseDrop { method: &'static str },
    /// Answer `method` with the echo in an SSE `data` line that is not JSON.
    SseGarbage { method: &'static str },
}

struct Echo {
    plan: Mutex<Option<Plan>>,
}

fn echo_text(auth: &str) -> String {
    let bare = auth.strip_prefix("Token ").unwrap_or(auth);
    format!(
        "got {auth} | bare {bare} | pct {} | esc {} | Authorization: {auth}",
        percent(auth, false),
        json_escaped(auth)
    )
}

fn base_result(method: &str, requested_version: &str) -> Value {
    match method {
        "initialize" => json!({
            "protocolVersion": requested_version,
            "capabilities": {"tools": {"listChanged": false}},
            "serverInfo": {"name": "echo", "version": "1"},
            "instructions": "echo server",
        }),
        "server/discover" => json!({
            "supportedVersions": ["2026-07-28"],
            "capabilities": {"tools": {"listChanged": false}},
            "serverInfo": {"name": "echo", "version": "1"},
            "instructions": "echo server",
        }),
        "tools/list" => json!({
            "tools": [{
                "name": "echo_tool",
                "description": "echoes",
                "inputSchema": {"type": "object"},
                "annotations": {"readOnlyHint": false, "destructiveHint": true},
            }],
        }),
        "tools/call" => json!({
            "content": [{"type": "text", "text": "done"}],
            "structuredContent": {"ok": true},
            "isError": false,
        }),
        _ => json!({}),
    }
}

fn rpc(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

fn json_reply(status: u16, body: &Value, session_id: Option<&str>) -> Response {
    let mut response = (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response();
    if let Some(id) = session_id {
        response
            .headers_mut()
            .insert("mcp-session-id", id.parse().unwrap());
    }
    response
}

fn sse_reply(body: String) -> Response {
    (
        StatusCode::OK,
        [("content-type", "text/event-stream")],
        body,
    )
        .into_response()
}

async fn handle(
    State(echo): State<Arc<Echo>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let auth = authorization(&headers);
    let text = echo_text(&auth);
    let plan = echo.plan.lock().unwrap().clone();
    if method == Method::DELETE {
        return StatusCode::OK.into_response();
    }
    if method == Method::GET {
        // Only a resumption (Last-Event-ID) gets here in these scenarios: refuse it with the echo.
        return json_reply(
            500,
            &json!({"error": {"message": text, "code": 2000, "errors": [text]}}),
            None,
        );
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let rpc_method = request["method"].as_str().unwrap_or("").to_owned();
    let Some(id) = request.get("id").cloned() else {
        return StatusCode::ACCEPTED.into_response(); // a notification or a response
    };
    let stateless = headers.contains_key("mcp-method");
    let requested = request["params"]["protocolVersion"]
        .as_str()
        .unwrap_or("2025-11-25")
        .to_owned();
    let session_id = (!stateless && rpc_method == "initialize").then_some("echo-session-1");
    let mut result = base_result(&rpc_method, &requested);

    let targets = |m: &str| m == rpc_method;
    match plan {
        Some(Plan::Field {
            method,
            pointer,
            nested,
        }) if targets(method) => {
            let value = if nested {
                json!({ text.clone(): [text.clone()], "k": text })
            } else {
                Value::String(text)
            };
            if pointer.is_empty() {
                result = value;
            } else if let Some(slot) = result.pointer_mut(pointer) {
                *slot = value;
            } else {
                // A field the base result does not have: add it at the top.
                result[pointer.trim_start_matches('/')] = value;
            }
        }
        Some(Plan::RpcError { method }) if targets(method) => {
            let error = json!({"jsonrpc": "2.0", "id": id, "error": {
                "code": -32000,
                "message": text,
                "data": {"echo": text, text.clone(): [text.clone(), {"nested": text}]},
            }});
            return json_reply(200, &error, session_id);
        }
        Some(Plan::Http {
            method,
            status,
            html,
        }) if targets(method) => {
            let mut response = if html {
                (
                    StatusCode::from_u16(status).unwrap(),
                    [("content-type", "text/html")],
                    format!("<html><body><h1>{text}</h1><p>{text}</p></body></html>"),
                )
                    .into_response()
            } else if status == 400 {
                json_reply(
                    400,
                    &json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32022, "message": text, "data": {"supported": [text]}}}),
                    None,
                )
            } else {
                json_reply(
                    status,
                    &json!({"error": {"message": text, "code": 2006, "errors": [text, {"k": text}]}}),
                    None,
                )
            };
            response
                .headers_mut()
                .insert("retry-after", "1".parse().unwrap());
            return response;
        }
        Some(Plan::ContentType { method }) if targets(method) => {
            let bare = auth.strip_prefix("Token ").unwrap_or(&auth).to_owned();
            return (
                StatusCode::OK,
                [("content-type", format!("application/{bare}"))],
                rpc(&id, result).to_string(),
            )
                .into_response();
        }
        Some(Plan::WrongId { method }) if targets(method) => {
            return json_reply(200, &rpc(&Value::String(text), result), session_id);
        }
        Some(Plan::Redirect { method }) if targets(method) => {
            let bare = auth.strip_prefix("Token ").unwrap_or(&auth).to_owned();
            return (
                StatusCode::TEMPORARY_REDIRECT,
                [(
                    "location",
                    format!(
                        "https://evil.example/{}?t={}",
                        percent(&bare, false),
                        percent(&auth, true)
                    ),
                )],
                text,
            )
                .into_response();
        }
        Some(Plan::SseDrop { method }) if targets(method) => {
            let bare = auth.strip_prefix("Token ").unwrap_or(&auth).to_owned();
            let notification = json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": text}});
            let request =
                json!({"jsonrpc": "2.0", "id": text, "method": text, "params": {"x": text}});
            return sse_reply(format!(
                "id: {bare}\nretry: 10\ndata: \n\nid: {bare}\ndata: {notification}\n\nid: {bare}\ndata: {request}\n\n"
            ));
        }
        Some(Plan::SseGarbage { method }) if targets(method) => {
            return sse_reply(format!("data: {text}\n\n"));
        }
        _ => {}
    }
    json_reply(200, &rpc(&id, result), session_id)
}

async fn start() -> (String, Arc<Echo>) {
    let echo = Arc::new(Echo {
        plan: Mutex::new(None),
    });
    let app = Router::new()
        .route("/mcp", any(handle))
        .with_state(echo.clone());
    let url = serve_mcp(app).await;
    (url, echo)
}

fn server(url: &str) -> GenericServer {
    GenericServer::new("echo", url, AuthScheme::token()).unwrap()
}

fn client(url: &str, version: ProtocolVersion) -> McpClient {
    McpClient::builder(server(url))
        .protocol(ProtocolPreference::Exact(version))
        .request_timeout(Duration::from_secs(5))
        .idle_timeout(Duration::from_secs(2))
        .max_retries(1)
        .retry_base_delay(Duration::from_millis(5))
        .build()
        .unwrap()
}

/// Every plan, for the methods of an era.
fn plans(stateless: bool) -> Vec<Plan> {
    let handshake = if stateless {
        "server/discover"
    } else {
        "initialize"
    };
    let mut fields: Vec<(&'static str, &'static str)> = vec![
        ("tools/list", ""),
        ("tools/list", "/tools"),
        ("tools/list", "/tools/0"),
        ("tools/list", "/tools/0/name"),
        ("tools/list", "/tools/0/description"),
        ("tools/list", "/tools/0/inputSchema"),
        ("tools/list", "/tools/0/annotations"),
        ("tools/list", "/tools/0/annotations/readOnlyHint"),
        ("tools/list", "/nextCursor"),
        ("tools/call", ""),
        ("tools/call", "/content"),
        ("tools/call", "/content/0"),
        ("tools/call", "/content/0/type"),
        ("tools/call", "/content/0/text"),
        ("tools/call", "/structuredContent"),
        ("tools/call", "/isError"),
        ("tools/call", "/resultType"),
    ];
    if stateless {
        fields.extend([
            ("server/discover", ""),
            ("server/discover", "/supportedVersions"),
            ("server/discover", "/capabilities"),
            ("server/discover", "/capabilities/tools"),
            ("server/discover", "/serverInfo"),
            ("server/discover", "/serverInfo/name"),
            ("server/discover", "/instructions"),
            ("server/discover", "/_meta"),
        ]);
    } else {
        fields.extend([
            ("initialize", ""),
            ("initialize", "/protocolVersion"),
            ("initialize", "/capabilities"),
            ("initialize", "/capabilities/tools"),
            ("initialize", "/serverInfo"),
            ("initialize", "/serverInfo/name"),
            ("initialize", "/serverInfo/version"),
            ("initialize", "/instructions"),
        ]);
    }
    let mut plans = Vec::new();
    for (method, pointer) in fields {
        for nested in [false, true] {
            plans.push(Plan::Field {
                method,
                pointer,
                nested,
            });
        }
    }
    for method in [handshake, "tools/list", "tools/call"] {
        plans.push(Plan::RpcError { method });
        for status in [400, 401, 403, 404, 429, 500, 503] {
            plans.push(Plan::Http {
                method,
                status,
                html: false,
            });
        }
        plans.push(Plan::Http {
            method,
            status: 502,
            html: true,
        });
        plans.push(Plan::ContentType { method });
        plans.push(Plan::WrongId { method });
        plans.push(Plan::Redirect { method });
        plans.push(Plan::SseDrop { method });
        plans.push(Plan::SseGarbage { method });
    }
    plans
}

/// Connects and calls, returning every error met.
async fn exercise(client: &McpClient) -> Vec<Error> {
    let mut errors = Vec::new();
    let credential = Credential::new(TOKEN);
    match client.connect(&credential).await {
        Err(err) => errors.push(err),
        Ok(session) => {
            if let Err(err) = session.list_tools().await {
                errors.push(err);
            }
            if let Err(err) = session.call_tool("echo_tool", json!({})).await {
                errors.push(err);
            }
            if let Err(err) = session.close().await {
                errors.push(err);
            }
        }
    }
    errors
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_form_of_the_token_reaches_an_error_or_a_log_line_in_either_era() {
    super::log_capture::start();
    let (url, echo) = start().await;
    let mut errors_seen = 0usize;
    for (version, stateless) in [
        (ProtocolVersion::V2025_11_25, false),
        (ProtocolVersion::V2026_07_28, true),
    ] {
        let client = client(&url, version);
        for plan in plans(stateless) {
            *echo.plan.lock().unwrap() = Some(plan.clone());
            let errors = exercise(&client).await;
            for err in &errors {
                assert_error_clean(&format!("{version} {plan:?}"), err);
            }
            errors_seen += errors.len();
        }
    }
    // The scenarios really fail (a check that cannot fail would prove nothing).
    assert!(errors_seen > 100, "only {errors_seen} errors");

    // The same through a connector, with its audit log.
    for (version, stateless) in [
        (ProtocolVersion::V2025_11_25, false),
        (ProtocolVersion::V2026_07_28, true),
    ] {
        let store = InMemoryCredentialStore::new();
        store.insert("mallory", TOKEN);
        let connector = Connector::builder()
            .server(server(&url))
            .credentials(store)
            .configure_client(move |b| {
                b.protocol(ProtocolPreference::Exact(version))
                    .request_timeout(Duration::from_secs(5))
                    .idle_timeout(Duration::from_secs(2))
                    .max_retries(0)
            })
            .build()
            .unwrap();
        let user = UserId::from("mallory");
        for plan in plans(stateless) {
            *echo.plan.lock().unwrap() = Some(plan.clone());
            for result in [
                connector.list_tools(&user).await.map(drop),
                connector
                    .call_tool(&user, "echo_tool", json!({}))
                    .await
                    .map(drop),
            ] {
                if let Err(err) = result {
                    assert_error_clean(&format!("connector {version} {plan:?}"), &err);
                }
            }
            let _ = connector.disconnect(&user).await;
        }
    }
    *echo.plan.lock().unwrap() = None;
    // Give background tasks (answers to server requests, DELETEs) time to log.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = super::log_capture::logs();
    assert!(
        text.contains("mcp call failed"),
        "the capture works and holds the connector's audit lines"
    );
    assert_clean("the logs", &text);
}

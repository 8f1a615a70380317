//! The gateway's direct path (plain `tools/call` answered without rmcp's service): the agent gets
//! what rmcp would have sent, in both eras; what the direct path cannot answer goes to rmcp;
//! `notifications/cancelled` reaches a call on the direct path; idle sessions end.
//!
//! The agent here is hand-written HTTP (reqwest), so that every header and field is under the
//! test's control.

use super::gateway_support;

use std::time::{Duration, Instant};

use gateway_support::{ALICE_KEY, DEMO_KEY, TestGateway};
use pagerduty_mcp_connect::Policy;
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::{Value, json};

const SESSION_ERA: &str = "2025-11-25";
const STATELESS: &str = "2026-07-28";

/// One hand-written agent of Alice's, in one era.
struct RawAgent {
    http: reqwest::Client,
    key: &'static str,
    url: String,
    version: &'static str,
    session: Option<String>,
}

struct Reply {
    status: u16,
    content_type: String,
    /// The JSON-RPC response (the last message of an SSE reply), or the whole JSON body.
    message: Value,
    /// Every JSON-RPC message of the reply, in order.
    messages: Vec<Value>,
}

impl RawAgent {
    /// A session-era agent that declared `capabilities` (initialized), or a 2026-07-28 one.
    async fn new(url: &str, version: &'static str, capabilities: Value) -> RawAgent {
        let mut agent = RawAgent {
            http: reqwest::Client::new(),
            key: ALICE_KEY,
            url: url.to_owned(),
            version,
            session: None,
        };
        if version == SESSION_ERA {
            let init = json!({
                "jsonrpc": "2.0", "id": 0, "method": "initialize",
                "params": {"protocolVersion": version, "capabilities": capabilities,
                           "clientInfo": {"name": "raw-agent", "version": "0"}},
            });
            let response = agent.request(&init, &[]).send().await.unwrap();
            assert_eq!(response.status(), 200);
            agent.session = response
                .headers()
                .get("mcp-session-id")
                .map(|v| v.to_str().unwrap().to_owned());
            assert!(agent.session.is_some(), "initialize gave a session id");
            let _ = response.bytes().await.unwrap();
            let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
            let response = agent.request(&initialized, &[]).send().await.unwrap();
            assert_eq!(response.status(), 202);
        }
        agent
    }

    fn request(&self, body: &Value, extra: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .post(&self.url)
            .header("authorization", format!("Bearer {}", self.key))
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-protocol-version", self.version);
        if let Some(session) = &self.session {
            request = request.header("mcp-session-id", session);
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        request.body(body.to_string())
    }

    /// A `tools/call` as this agent's era sends it, with `meta` added to its `_meta`.
    fn call_body(&self, id: u64, tool: &str, arguments: Value, meta: Value) -> Value {
        let mut meta = meta;
        if self.version == STATELESS {
            meta["io.modelcontextprotocol/protocolVersion"] = json!(STATELESS);
            meta["io.modelcontextprotocol/clientCapabilities"] = json!({});
            meta["io.modelcontextprotocol/clientInfo"] =
                json!({"name": "raw-agent", "version": "0"});
        }
        let mut params = json!({"name": tool, "arguments": arguments});
        if meta.as_object().is_some_and(|m| !m.is_empty()) {
            params["_meta"] = meta;
        }
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
    }

    fn routing<'a>(&self, tool: &'a str) -> Vec<(&'static str, &'a str)> {
        if self.version == STATELESS {
            vec![("mcp-method", "tools/call"), ("mcp-name", tool)]
        } else {
            Vec::new()
        }
    }

    async fn call(&self, id: u64, tool: &str, arguments: Value, meta: Value) -> Reply {
        let body = self.call_body(id, tool, arguments, meta);
        let routing = self.routing(tool);
        let response = self.request(&body, &routing).send().await.unwrap();
        read_reply(response).await
    }
}

async fn read_reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    let messages: Vec<Value> = if content_type.starts_with("text/event-stream") {
        text.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .filter_map(|data| serde_json::from_str(data.trim()).ok())
            .collect()
    } else if text.is_empty() {
        Vec::new()
    } else {
        vec![serde_json::from_str(&text).unwrap_or_else(|_| json!({ "text": text }))]
    };
    let message = messages
        .iter()
        .rev()
        .find(|m| m.get("id").is_some())
        .cloned()
        .unwrap_or(Value::Null);
    Reply {
        status,
        content_type,
        message,
        messages,
    }
}

async fn gateway(direct_path: bool, policy: Policy) -> TestGateway {
    let mock = MockPagerDuty::start().await;
    TestGateway::start_with(mock, policy, move |builder| {
        builder.direct_path(direct_path)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_direct_path_answers_what_rmcp_would_have_in_both_eras() {
    let policy = || Policy::new().deny_tools(["list_incidents"]);
    let direct = gateway(true, policy()).await;
    let rmcp = gateway(false, policy()).await;
    for version in [SESSION_ERA, STATELESS] {
        let via_direct = RawAgent::new(&direct.url, version, json!({})).await;
        let via_rmcp = RawAgent::new(&rmcp.url, version, json!({})).await;
        let cases = [
            ("get_user_data", json!({})),                     // a result
            ("list_incidents", json!({})),                    // refused by the policy
            ("no_such_tool", json!({})),                      // an upstream error
            ("get_incident", json!({"incident_id": "NOPE"})), // a tool error (isError)
        ];
        for (i, (tool, arguments)) in cases.into_iter().enumerate() {
            let before = direct.gateway.metrics().direct_requests();
            let a = via_direct
                .call(i as u64 + 1, tool, arguments.clone(), json!({}))
                .await;
            let b = via_rmcp
                .call(i as u64 + 1, tool, arguments, json!({}))
                .await;
            assert_eq!(
                direct.gateway.metrics().direct_requests(),
                before + 1,
                "{version} {tool}: answered on the direct path"
            );
            assert!(
                a.content_type.starts_with("application/json"),
                "{version} {tool}: {}",
                a.content_type
            );
            assert_eq!(a.status, b.status, "{version} {tool}: the same HTTP status");
            assert_eq!(
                a.message, b.message,
                "{version} {tool}: the same JSON-RPC response"
            );
            assert!(a.message.get("result").is_some() || a.message.get("error").is_some());
        }
        assert_eq!(rmcp.gateway.metrics().direct_requests(), 0);
    }
    direct.shutdown().await;
    rmcp.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_direct_path_cannot_answer_goes_to_rmcp() {
    let gw = gateway(true, Policy::new()).await;
    let direct_requests = || gw.gateway.metrics().direct_requests();
    for version in [SESSION_ERA, STATELESS] {
        let agent = RawAgent::new(&gw.url, version, json!({})).await;
        // A progress token: the reply streams the upstream's progress, so rmcp answers (SSE).
        let before = direct_requests();
        let reply = agent
            .call(
                1,
                "get_user_data",
                json!({}),
                json!({"progressToken": "p1"}),
            )
            .await;
        assert_eq!(direct_requests(), before, "{version}: progress token");
        assert!(
            reply.content_type.starts_with("text/event-stream"),
            "{version}"
        );
        assert!(
            reply
                .messages
                .iter()
                .any(|m| m["method"] == "notifications/progress"),
            "{version}: the upstream's progress reached the agent: {:?}",
            reply.messages
        );
        assert!(reply.message["result"]["structuredContent"].is_object());
        // Another method.
        let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}});
        let mut params = list.clone();
        if version == STATELESS {
            params["params"]["_meta"] = json!({
                "io.modelcontextprotocol/protocolVersion": STATELESS,
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "raw-agent", "version": "0"},
            });
        }
        let routing: &[(&str, &str)] = if version == STATELESS {
            &[("mcp-method", "tools/list")]
        } else {
            &[]
        };
        let reply = read_reply(agent.request(&params, routing).send().await.unwrap()).await;
        assert!(reply.message["result"]["tools"].is_array(), "{version}");
        assert_eq!(direct_requests(), before, "{version}: tools/list");
        // A header naming another tool: rmcp's validation answers it.
        let body = agent.call_body(3, "get_user_data", json!({}), json!({}));
        let mut headers = vec![("mcp-name", "list_incidents")];
        if version == STATELESS {
            headers.push(("mcp-method", "tools/call"));
        }
        let _ = agent.request(&body, &headers).send().await.unwrap();
        assert_eq!(direct_requests(), before, "{version}: mismatched Mcp-Name");
    }
    // What rmcp checks and refuses is left to it: a Host not allowed (DNS rebinding), a
    // repeated or missing routing header, Accept with parameters, an Origin.
    let agent = RawAgent::new(&gw.url, STATELESS, json!({})).await;
    let body = agent.call_body(4, "get_user_data", json!({}), json!({}));
    let before = direct_requests();
    let rebound = agent
        .request(
            &body,
            &[("mcp-method", "tools/call"), ("mcp-name", "get_user_data")],
        )
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403, "rmcp's Host check");
    for headers in [
        vec![("mcp-name", "get_user_data")],
        vec![("mcp-method", "tools/call")],
        vec![
            ("mcp-method", "tools/call"),
            ("mcp-name", "get_user_data"),
            ("mcp-name", "get_user_data"),
        ],
        vec![
            ("mcp-method", "tools/call"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "get_user_data"),
        ],
    ] {
        let mut request = agent.request(&body, &[]);
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        let reply = request.send().await.unwrap();
        assert_eq!(reply.status(), 400, "rmcp refuses {headers:?}");
    }
    let routing = [("mcp-method", "tools/call"), ("mcp-name", "get_user_data")];
    for (name, value) in [
        ("accept", "application/json, text/event-stream;q=0"),
        ("origin", "http://localhost:3000"),
    ] {
        let request = agent.request(&body, &routing).header(name, value);
        let _ = request.send().await.unwrap().bytes().await;
    }
    assert_eq!(
        direct_requests(),
        before,
        "none of these took the direct path"
    );
    // A session-era agent that declared elicitation may be asked on the call's stream.
    let asked = RawAgent::new(&gw.url, SESSION_ERA, json!({"elicitation": {}})).await;
    let before = direct_requests();
    let reply = asked.call(9, "get_user_data", json!({}), json!({})).await;
    assert!(reply.message["result"]["structuredContent"].is_object());
    assert_eq!(
        direct_requests(),
        before,
        "an agent that can be asked goes to rmcp"
    );
    // A session the gateway does not know: rmcp's 404.
    let mut stranger = RawAgent::new(&gw.url, SESSION_ERA, json!({})).await;
    stranger.session = Some("not-a-session".into());
    let reply = stranger
        .call(10, "get_user_data", json!({}), json!({}))
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(direct_requests(), before);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_cancelled_cancels_a_call_on_the_direct_path() {
    // A session-era upstream, which is told with `notifications/cancelled` (a 2026-07-28 one
    // sees its request's connection close).
    let mock = TestGateway::hanging_session_mock().await;
    let gw = TestGateway::start_with(mock, Policy::new(), |b| b).await;
    let agent = RawAgent::new(&gw.url, SESSION_ERA, json!({})).await;
    // Open the upstream session first, so that the hang hits the call itself.
    let warm = agent.call(1, "get_user_data", json!({}), json!({})).await;
    assert!(warm.message["result"].is_object());
    let cancels_before = gw.upstream_cancels();
    gw.mock.hang_next(1);
    let body = agent.call_body(2, "list_incidents", json!({}), json!({}));
    let call = agent.request(&body, &[]).send();
    let started = Instant::now();
    let call = tokio::spawn(async move { read_reply(call.await.unwrap()).await });
    // Wait until the call is in flight upstream, then cancel it the session-era way.
    let deadline = Instant::now() + Duration::from_secs(10);
    while gw.gateway.metrics().direct_requests() < 2 {
        assert!(Instant::now() < deadline, "the call never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(gw.gateway.in_flight(), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                        "params": {"requestId": 2, "reason": "the user gave up"}});
    // Another user naming Alice's session and request id cancels nothing.
    let mut bob = RawAgent::new(&gw.url, SESSION_ERA, json!({})).await;
    bob.key = DEMO_KEY;
    bob.session = agent.session.clone();
    let refused = bob.request(&cancel, &[]).send().await.unwrap();
    assert_eq!(refused.status(), 404, "not Bob's session");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(gw.gateway.in_flight(), 1, "Alice's call still runs");
    // Alice's notification, sent chunked (no Content-Length), reaches her call.
    let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(cancel.to_string())]);
    let response = agent
        .request(&json!(null), &[])
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let reply = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the cancelled call is answered at once, not after the upstream's 30 s")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    // No response for a cancelled request (as rmcp does): the reply's stream just ends.
    assert!(reply.content_type.starts_with("text/event-stream"));
    assert!(reply.messages.is_empty(), "{:?}", reply.messages);
    assert_eq!(gw.gateway.metrics().direct_requests(), 2);
    let deadline = Instant::now() + Duration::from_secs(10);
    while gw.upstream_cancels() == cancels_before {
        assert!(
            Instant::now() < deadline,
            "no cancellation reached upstream"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_ends_sessions_left_idle() {
    let mock = MockPagerDuty::start().await;
    let gw = TestGateway::start_with(mock, Policy::new(), |b| {
        b.session_idle_timeout(Duration::from_millis(800))
    })
    .await;
    let idle = RawAgent::new(&gw.url, SESSION_ERA, json!({})).await;
    let busy = RawAgent::new(&gw.url, SESSION_ERA, json!({})).await;
    // Used only on the direct path, the busy session stays open (rmcp never sees those calls).
    let until = Instant::now() + Duration::from_millis(2500);
    let mut id = 1;
    while Instant::now() < until {
        let reply = busy.call(id, "get_user_data", json!({}), json!({})).await;
        assert_eq!(reply.status, 200, "call {id} on a session in use");
        assert!(reply.message["result"].is_object());
        id += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(gw.gateway.metrics().direct_requests() >= 5);
    let reply = idle.call(1, "get_user_data", json!({}), json!({})).await;
    assert_eq!(
        reply.status, 404,
        "the idle session was ended: {:?}",
        reply.message
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_direct_calls_after_the_grace_period() {
    for version in [SESSION_ERA, STATELESS] {
        let mock = TestGateway::hanging_session_mock().await;
        let gw = TestGateway::start_with(mock, Policy::new(), |b| {
            b.shutdown_grace(Duration::from_millis(300))
        })
        .await;
        let agent = RawAgent::new(&gw.url, version, json!({})).await;
        let warm = agent.call(1, "get_user_data", json!({}), json!({})).await;
        assert!(warm.message["result"].is_object(), "{version}");
        gw.mock.hang_next(1);
        let body = agent.call_body(2, "list_incidents", json!({}), json!({}));
        let call = agent
            .request(&body, &agent.routing("list_incidents"))
            .send();
        let call = tokio::spawn(call);
        let deadline = Instant::now() + Duration::from_secs(10);
        // In flight counts from the door; the direct path counts once it has taken the call.
        while gw.gateway.metrics().direct_requests() < 2 {
            assert!(
                Instant::now() < deadline,
                "{version}: the call never started"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(gw.gateway.metrics().direct_requests(), 2, "{version}");
        assert_eq!(gw.gateway.in_flight(), 1, "{version}");
        let started = Instant::now();
        tokio::time::timeout(Duration::from_secs(10), gw.shutdown())
            .await
            .unwrap_or_else(|_| panic!("{version}: the gateway stops after its grace period"));
        assert!(started.elapsed() < Duration::from_secs(5), "{version}");
        let _ = call.await;
    }
}

//! Resource subscriptions through the gateway. A 2026-07-28 agent's `subscriptions/listen` that
//! names `resourceSubscriptions` gets an upstream stream of its own, as its user, for the same
//! URIs: the updates reach that agent's stream only, for the URIs it asked for only, and the
//! upstream stream ends with the agent's. Against an upstream that speaks only the session era
//! the URIs are subscribed there with `resources/subscribe`, once per user and URI. A session-era
//! agent's `resources/subscribe` is forwarded the same way.
//!
//! The upstream is an rmcp server that keeps its users' subscriptions apart
//! (`support/subscribing_upstream.rs`); the agents are raw HTTP clients, so the test sees the
//! wire: the acknowledgment first, the subscription id on every message.

use std::collections::VecDeque;
use std::time::Duration;

use pagerduty_mcp_connect::{InMemoryCredentialStore, PagerDuty, ProtocolPreference, UserBudget};
use pagerduty_mcp_connect_gateway::{Gateway, GatewayKeys};
use serde_json::{Value, json};

use super::gateway_support::{ALICE_KEY, DEMO_KEY};
use super::raw_http;
use super::shared::serve_on_loopback;
use super::subscribing_upstream::{self, Upstream};

const STATELESS: &str = "2026-07-28";
const UPDATED: &str = "notifications/resources/updated";
/// How long an agent is watched for a message that must not come.
const QUIET: Duration = Duration::from_millis(600);
/// How long an agent may take to hear what must come.
const SOON: Duration = Duration::from_secs(10);

/// An upstream for users `alice` and `demo`, and a gateway in front of it: its MCP URL. With
/// `session_era`, the gateway's connector speaks only the session era upstream (as in front of
/// a server that has no other).
async fn gateway(session_era: bool) -> (Upstream, Gateway, String) {
    let upstream =
        subscribing_upstream::start(&[("u+alice-upstream", "alice"), ("u+demo-upstream", "demo")])
            .await;
    let credentials = InMemoryCredentialStore::new();
    credentials.insert("alice", "u+alice-upstream");
    credentials.insert("demo", "u+demo-upstream");
    let keys = GatewayKeys::new();
    keys.insert(ALICE_KEY, "alice").unwrap();
    keys.insert(DEMO_KEY, "demo").unwrap();
    // The PagerDuty preset: `Token` credentials, and its per-user budget (4 calls in flight),
    // which it keeps for PagerDuty's own endpoint.
    let mut connector = pagerduty_mcp_connect::Connector::builder()
        .server(
            PagerDuty::builder()
                .endpoint(upstream.url.as_str())
                .user_budget(Some(UserBudget::pagerduty()))
                .build()
                .unwrap(),
        )
        .credentials(credentials);
    if session_era {
        connector = connector.configure_client(|c| c.protocol(ProtocolPreference::Handshake));
    }
    let gateway = Gateway::builder(connector, keys).build().unwrap();
    let url = serve_on_loopback(&gateway).await;
    (upstream, gateway, url)
}

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": STATELESS,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw-agent", "version": "0"},
    })
}

/// A 2026-07-28 agent's `subscriptions/listen` stream, read message by message.
struct AgentStream {
    id: u64,
    response: reqwest::Response,
    buffer: Vec<u8>,
    messages: VecDeque<Value>,
    ended: bool,
}

impl AgentStream {
    /// Opens a stream with request id `id` and the filter `notifications`.
    async fn open(url: &str, key: &str, id: u64, notifications: Value) -> AgentStream {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "subscriptions/listen",
                          "params": {"_meta": meta(), "notifications": notifications}});
        let response = reqwest::Client::new()
            .post(url)
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", STATELESS)
            .header("mcp-method", "subscriptions/listen")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "subscriptions/listen refused");
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        AgentStream {
            id,
            response,
            buffer: Vec::new(),
            messages: VecDeque::new(),
            ended: false,
        }
    }

    /// The next message within `within`; `None` when none came (or the stream ended).
    async fn next(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(message) = self.messages.pop_front() {
                return Some(message);
            }
            if self.ended {
                return None;
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return None,
                Ok(Ok(Some(chunk))) => {
                    self.buffer.extend_from_slice(&chunk);
                    self.parse();
                }
                Ok(_) => self.ended = true,
            }
        }
    }

    /// Takes the complete SSE events out of the buffer.
    fn parse(&mut self) {
        while let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = self.buffer.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&event).replace('\r', "");
            let data: Vec<&str> = text
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            if data.is_empty() || data.iter().all(|d| d.is_empty()) {
                continue; // a comment (keep-alive) or a priming event
            }
            let message: Value = serde_json::from_str(&data.join("\n"))
                .unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"));
            self.messages.push_back(message);
        }
    }

    /// The next message, which must come.
    async fn expect(&mut self, what: &str) -> Value {
        match self.next(SOON).await {
            Some(message) => message,
            None => panic!("stream {}: no {what} came", self.id),
        }
    }

    /// The acknowledgment, which must be the first message: its filter.
    async fn acknowledged(&mut self) -> Value {
        let ack = self.expect("acknowledgment").await;
        assert_eq!(
            ack["method"], "notifications/subscriptions/acknowledged",
            "the first message: {ack}"
        );
        assert_eq!(
            ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], self.id,
            "{ack}"
        );
        ack["params"]["notifications"].clone()
    }

    /// The next message must be an update of `uri`, tagged with this stream's id.
    async fn expect_update(&mut self, uri: &str) {
        let message = self.expect(&format!("update of {uri}")).await;
        assert_eq!(message["method"], UPDATED, "{message}");
        assert_eq!(message["params"]["uri"], uri, "{message}");
        assert_eq!(
            message["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], self.id,
            "{message}"
        );
    }

    /// Nothing comes for a while.
    async fn expect_quiet(&mut self, why: &str) {
        if let Some(message) = self.next(QUIET).await {
            panic!("stream {}: {why}, yet it got {message}", self.id);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_hears_of_the_resources_it_subscribed_to_and_of_no_other() {
    let (upstream, _gateway, url) = gateway(false).await;
    let mut a = AgentStream::open(
        &url,
        ALICE_KEY,
        1,
        json!({"resourceSubscriptions": ["res://a"]}),
    )
    .await;
    let mut b = AgentStream::open(
        &url,
        ALICE_KEY,
        2,
        json!({"resourceSubscriptions": ["res://b", "res://b"], "toolsListChanged": true}),
    )
    .await;
    assert_eq!(
        a.acknowledged().await,
        json!({"resourceSubscriptions": ["res://a"]})
    );
    let acknowledged_b = b.acknowledged().await;
    assert_eq!(acknowledged_b["toolsListChanged"], true, "{acknowledged_b}");
    assert_eq!(
        acknowledged_b["resourceSubscriptions"][0], "res://b",
        "{acknowledged_b}"
    );
    // One upstream stream per agent stream, as its user, for the same URIs (each once).
    upstream
        .wait_for("alice's two streams", |u| {
            u.open_listens("alice") == vec![vec!["res://a".to_owned()], vec!["res://b".to_owned()]]
        })
        .await;

    assert_eq!(upstream.touch("alice", "res://a").await, 1);
    a.expect_update("res://a").await;
    b.expect_quiet("it did not subscribe to res://a").await;

    // An upstream that sends an update the agent did not ask for on its stream: dropped.
    upstream.touch_every_stream("alice", "res://c").await;
    assert_eq!(upstream.touch("alice", "res://b").await, 1);
    b.expect_update("res://b").await;
    a.expect_quiet("it did not subscribe to res://b or res://c")
        .await;
    b.expect_quiet("it did not subscribe to res://c").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_never_hear_each_others_updates() {
    let (upstream, _gateway, url) = gateway(false).await;
    let filter = json!({"resourceSubscriptions": ["res://shared"]});
    let mut alice = AgentStream::open(&url, ALICE_KEY, 7, filter.clone()).await;
    let mut demo = AgentStream::open(&url, DEMO_KEY, 7, filter).await;
    alice.acknowledged().await;
    demo.acknowledged().await;
    upstream
        .wait_for("a stream of each user", |u| {
            u.open_listens("alice").len() == 1 && u.open_listens("demo").len() == 1
        })
        .await;

    // Alice's resource changed: only her upstream stream (her credential's) says so, and only
    // her agent hears of it.
    assert_eq!(upstream.touch("alice", "res://shared").await, 1);
    alice.expect_update("res://shared").await;
    demo.expect_quiet("alice's resource changed, not demo's")
        .await;

    assert_eq!(upstream.touch("demo", "res://shared").await, 1);
    demo.expect_update("res://shared").await;
    alice
        .expect_quiet("demo's resource changed, not alice's")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_stream_ends_with_the_agents() {
    let (upstream, _gateway, url) = gateway(false).await;
    let mut stream = AgentStream::open(
        &url,
        ALICE_KEY,
        3,
        json!({"resourceSubscriptions": ["res://a"]}),
    )
    .await;
    stream.acknowledged().await;
    upstream
        .wait_for("alice's stream", |u| u.open_listens("alice").len() == 1)
        .await;
    drop(stream);
    upstream
        .wait_for("alice's stream end", |u| u.open_listens("alice").is_empty())
        .await;
    // And the gateway does not listen again for an agent that is gone.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(upstream.opened().len(), 1, "{:?}", upstream.opened());
    assert!(upstream.open_listens("alice").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_streams_take_nothing_from_the_users_call_budget() {
    let (upstream, _gateway, url) = gateway(false).await;
    // More streams than the PagerDuty budget lets calls be in flight (4).
    let mut streams = Vec::new();
    for id in 0..6 {
        let uri = format!("res://{id}");
        let mut stream =
            AgentStream::open(&url, ALICE_KEY, id, json!({"resourceSubscriptions": [uri]})).await;
        stream.acknowledged().await;
        streams.push(stream);
    }
    upstream
        .wait_for("alice's six streams", |u| {
            u.open_listens("alice").len() == 6
        })
        .await;
    let body = json!({"jsonrpc": "2.0", "id": 99, "method": "tools/call",
                      "params": {"name": "whoami", "arguments": {}, "_meta": meta()}});
    let response = reqwest::Client::new()
        .post(&url)
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", STATELESS)
        .header("mcp-method", "tools/call")
        .header("mcp-name", "whoami")
        .body(body.to_string())
        .timeout(Duration::from_secs(8))
        .send()
        .await
        .expect("the call is answered while the streams are open");
    let reply = raw_http::Raw::of(response).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.message()["result"]["content"][0]["text"],
        "alice",
        "{}",
        reply.message()
    );
    // Every stream still hears its own resource.
    for (id, stream) in streams.iter_mut().enumerate() {
        let uri = format!("res://{id}");
        assert_eq!(upstream.touch("alice", &uri).await, 1);
        stream.expect_update(&uri).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_the_upstream_refuses_ends_with_an_error() {
    let (upstream, _gateway, url) = gateway(false).await;
    // The upstream honours none of these: the agent's stream ends with an error saying so.
    let mut refused = AgentStream::open(
        &url,
        ALICE_KEY,
        5,
        json!({"resourceSubscriptions": ["refused:x"], "toolsListChanged": true}),
    )
    .await;
    refused.acknowledged().await;
    let end = refused.expect("the stream's end").await;
    assert_eq!(end["id"], 5, "{end}");
    assert_eq!(end["error"]["code"], -32602, "{end}");
    let message = end["error"]["message"].as_str().unwrap();
    assert!(message.contains("listen again without"), "{message}");
    upstream
        .wait_for("no stream of alice's left", |u| {
            u.open_listens("alice").is_empty()
        })
        .await;

    // Some of them: the others work.
    let mut partly = AgentStream::open(
        &url,
        ALICE_KEY,
        6,
        json!({"resourceSubscriptions": ["refused:y", "res://a"]}),
    )
    .await;
    partly.acknowledged().await;
    upstream
        .wait_for("alice's stream", |u| {
            u.open_listens("alice") == vec![vec!["res://a".to_owned()]]
        })
        .await;
    assert_eq!(upstream.touch("alice", "res://a").await, 1);
    partly.expect_update("res://a").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_end_upstream_ends_the_agents_stream_gracefully() {
    let (upstream, _gateway, url) = gateway(false).await;
    let mut stream = AgentStream::open(
        &url,
        ALICE_KEY,
        8,
        json!({"resourceSubscriptions": ["res://a"]}),
    )
    .await;
    stream.acknowledged().await;
    upstream
        .wait_for("alice's stream", |u| u.open_listens("alice").len() == 1)
        .await;
    upstream.end_streams("alice");
    let end = stream.expect("the stream's end").await;
    assert_eq!(end["id"], 8, "{end}");
    assert_eq!(end["result"]["resultType"], "complete", "{end}");
    assert_eq!(
        end["result"]["_meta"]["io.modelcontextprotocol/subscriptionId"], 8,
        "{end}"
    );
}

/// Touches `user`'s `uri` until `stream` hears of it (the upstream's standing stream, which
/// carries session-era updates, opens a little after the subscription).
async fn touch_until_heard(upstream: &Upstream, user: &str, uri: &str, stream: &mut AgentStream) {
    for _ in 0..20 {
        upstream.touch(user, uri).await;
        if let Some(message) = stream.next(Duration::from_millis(500)).await {
            assert_eq!(message["method"], UPDATED, "{message}");
            assert_eq!(message["params"]["uri"], uri, "{message}");
            assert_eq!(
                message["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], stream.id,
                "{message}"
            );
            return;
        }
    }
    panic!("stream {} never heard of {uri}", stream.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_a_session_era_upstream_the_uris_are_subscribed_once_per_user() {
    let (upstream, _gateway, url) = gateway(true).await;
    let filter = json!({"resourceSubscriptions": ["res://a"]});
    let mut first = AgentStream::open(&url, ALICE_KEY, 1, filter.clone()).await;
    let mut second = AgentStream::open(&url, ALICE_KEY, 2, filter.clone()).await;
    let mut demo = AgentStream::open(&url, DEMO_KEY, 3, filter).await;
    first.acknowledged().await;
    second.acknowledged().await;
    demo.acknowledged().await;
    let subscribe = |user: &str| {
        (
            user.to_owned(),
            "resources/subscribe".to_owned(),
            "res://a".to_owned(),
        )
    };
    upstream
        .wait_for("one subscription per user", |u| {
            let calls = u.subscribe_calls();
            calls.contains(&subscribe("alice")) && calls.contains(&subscribe("demo"))
        })
        .await;
    assert_eq!(
        upstream.subscribe_calls().len(),
        2,
        "{:?}",
        upstream.subscribe_calls()
    );
    assert!(upstream.opened().is_empty(), "no listen stream upstream");

    touch_until_heard(&upstream, "alice", "res://a", &mut first).await;
    // Every alice update the first stream heard, the second hears too (and demo none).
    while first.next(Duration::from_millis(200)).await.is_some() {}
    let mut heard = 0;
    while let Some(message) = second.next(QUIET).await {
        assert_eq!(message["params"]["uri"], "res://a", "{message}");
        heard += 1;
    }
    assert!(heard >= 1, "the second stream heard nothing");
    demo.expect_quiet("alice's resource changed, not demo's")
        .await;
    touch_until_heard(&upstream, "demo", "res://a", &mut demo).await;

    // The subscription upstream goes with alice's last stream.
    drop(first);
    tokio::time::sleep(QUIET).await;
    let unsubscribe = (
        "alice".to_owned(),
        "resources/unsubscribe".to_owned(),
        "res://a".to_owned(),
    );
    assert!(!upstream.subscribe_calls().contains(&unsubscribe));
    drop(second);
    upstream
        .wait_for("alice's unsubscribe", |u| {
            u.subscribe_calls().contains(&unsubscribe)
        })
        .await;
    assert_eq!(
        upstream.subscribe_calls().len(),
        3,
        "{:?}",
        upstream.subscribe_calls()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_era_agents_subscription_is_forwarded() {
    let (upstream, _gateway, url) = gateway(false).await;
    let http = reqwest::Client::new();
    let session = raw_http::open_session(&http, &url, ALICE_KEY).await;
    let subscribe = json!({"jsonrpc": "2.0", "id": 1, "method": "resources/subscribe",
                           "params": {"uri": "res://a"}});
    let reply = raw_http::Raw::of(
        raw_http::post(&http, &url, Some(ALICE_KEY), Some(&session), &subscribe)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.message().get("result").is_some(),
        "{}",
        reply.message()
    );
    upstream
        .wait_for("alice's subscription", |u| {
            u.subscribe_calls()
                == vec![(
                    "alice".to_owned(),
                    "resources/subscribe".to_owned(),
                    "res://a".to_owned(),
                )]
        })
        .await;
    // The agent's standing stream hears of the update.
    let standing = http
        .get(&url)
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .header("accept", "text/event-stream")
        .header("mcp-protocol-version", raw_http::SESSION_ERA)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(standing.status(), 200);
    let mut stream = AgentStream {
        id: 0,
        response: standing,
        buffer: Vec::new(),
        messages: VecDeque::new(),
        ended: false,
    };
    for _ in 0..20 {
        upstream.touch("alice", "res://a").await;
        if let Some(message) = stream.next(Duration::from_millis(500)).await {
            assert_eq!(message["method"], UPDATED, "{message}");
            assert_eq!(message["params"]["uri"], "res://a", "{message}");
            return;
        }
    }
    panic!("the session-era agent never heard of the update");
}

//! The gateway asks the person to connect their PagerDuty account when it has no usable token
//! for them (issue 27, point 1), in each protocol era, over real HTTP: the gateway with a
//! connect page in front of the mock PagerDuty MCP server, reading the encrypted SQLite store
//! in which Alice has no token yet; the person connects through the page over HTTP (signed in
//! with their gateway key), and the agent's retried request works.
//!
//! - a 2025-11-25 agent that declared URL elicitation gets -32042 with the link, then
//!   `notifications/elicitation/complete` on its session's stream;
//! - a 2026-07-28 agent gets `input_required` (both paths); its retry with the sealed
//!   `requestState` completes once connected; forged, another user's or expired states are
//!   refused;
//! - an agent without URL elicitation gets an `isError` tool result with the link (and an
//!   error with the link for `resources/read`);
//! - a token PagerDuty revokes (401) asks again.

use std::time::Duration;

use pagerduty_mcp_connect::{Connector, Region};
use pagerduty_mcp_connect_gateway::{Gateway, RegistryLimits};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::connect_support::{ALICE, ALICE_KEY, BOB_KEY, Browser, ConnectHarness, Options};
use crate::shared::serve_on_loopback;

const SESSION_ERA: &str = "2025-11-25";
const STATELESS: &str = "2026-07-28";

/// The gateway with the harness's connect page, in front of `mock`; its MCP URL.
async fn gateway(h: &ConnectHarness, mock: &MockPagerDuty, connect: bool) -> String {
    let connector = Connector::builder()
        .route(Region::Us, mock.pagerduty())
        .credentials(h.store.clone());
    let mut builder = Gateway::builder(connector, h.keys.clone());
    if connect {
        builder = builder.connect(h.page.clone());
    }
    serve_on_loopback(&builder.build().unwrap()).await
}

/// The person opens `link`, signs in with their gateway key and pastes their token.
async fn connect_through_the_page(h: &ConnectHarness, link: &str, key: &str, token: &str) {
    let browser = Browser::new();
    let form = browser.sign_in_with_key(&h.base, link, key).await;
    assert_eq!(form.status, reqwest::StatusCode::OK, "{}", form.body);
    let done = browser.paste(link, token).await;
    assert!(done.body.contains("Connected as"), "{}", done.body);
}

/// A hand-written agent in one era.
struct Agent {
    http: reqwest::Client,
    url: String,
    key: &'static str,
    version: &'static str,
    capabilities: Value,
    session: Option<String>,
}

impl Agent {
    async fn new(
        url: &str,
        key: &'static str,
        version: &'static str,
        capabilities: Value,
    ) -> Agent {
        let mut agent = Agent {
            http: reqwest::Client::new(),
            url: url.to_owned(),
            key,
            version,
            capabilities: capabilities.clone(),
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
            agent.session = Some(
                response.headers()["mcp-session-id"]
                    .to_str()
                    .unwrap()
                    .to_owned(),
            );
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

    /// Sends `method` with `params` (a 2026-07-28 agent adds its `_meta` and routing
    /// headers); the JSON-RPC response.
    async fn send(&self, id: u64, method: &str, mut params: Value) -> Value {
        let mut routing = Vec::new();
        if self.version == STATELESS {
            params["_meta"] = json!({
                "io.modelcontextprotocol/protocolVersion": STATELESS,
                "io.modelcontextprotocol/clientCapabilities": self.capabilities,
                "io.modelcontextprotocol/clientInfo": {"name": "raw-agent", "version": "0"},
            });
            routing.push(("mcp-method", method.to_owned()));
            if let Some(name) = params
                .get("name")
                .or(params.get("uri"))
                .and_then(Value::as_str)
            {
                routing.push(("mcp-name", name.to_owned()));
            }
        }
        let routing: Vec<(&str, &str)> = routing.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let response = self.request(&body, &routing).send().await.unwrap();
        let text = response.text().await.unwrap();
        let messages: Vec<Value> = if text.trim_start().starts_with('{') {
            vec![serde_json::from_str(&text).unwrap()]
        } else {
            text.lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .filter_map(|data| serde_json::from_str(data.trim()).ok())
                .collect()
        };
        messages
            .into_iter()
            .rev()
            .find(|m| m.get("id") == Some(&json!(id)))
            .unwrap_or_else(|| panic!("no response to {method}: {text}"))
    }

    async fn call(&self, id: u64, tool: &str) -> Value {
        self.send(id, "tools/call", json!({"name": tool, "arguments": {}}))
            .await
    }

    /// The session's standing stream (GET): every message on it, as it arrives.
    async fn listen(&self) -> mpsc::UnboundedReceiver<Value> {
        let mut response = self
            .http
            .get(&self.url)
            .header("authorization", format!("Bearer {}", self.key))
            .header("accept", "text/event-stream")
            .header("mcp-protocol-version", self.version)
            .header("mcp-session-id", self.session.as_deref().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut buffer = String::new();
            while let Ok(Some(chunk)) = response.chunk().await {
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find('\n') {
                    let line: String = buffer.drain(..=end).collect();
                    if let Some(data) = line.trim().strip_prefix("data:")
                        && let Ok(message) = serde_json::from_str::<Value>(data.trim())
                    {
                        let _ = sender.send(message);
                    }
                }
            }
        });
        receiver
    }
}

fn url_elicitation() -> Value {
    json!({"elicitation": {"url": {}}})
}

/// A 2025-11-25 agent that declared URL elicitation: -32042 with the link; once the person has
/// connected, `notifications/elicitation/complete` on its session's stream, and the retried
/// call works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_era_agent_gets_the_url_elicitation_error_then_the_completion() {
    let h = ConnectHarness::start(Options::default()).await.unwrap();
    let mock = MockPagerDuty::start().await;
    let url = gateway(&h, &mock, true).await;
    let agent = Agent::new(&url, ALICE_KEY, SESSION_ERA, url_elicitation()).await;
    let mut stream = agent.listen().await;

    let asked = agent.call(1, "get_user_data").await;
    let error = &asked["error"];
    assert_eq!(error["code"], -32042, "{asked}");
    let elicitation = &error["data"]["elicitations"][0];
    assert_eq!(elicitation["mode"], "url");
    let id = elicitation["elicitationId"].as_str().unwrap().to_owned();
    let link = elicitation["url"].as_str().unwrap().to_owned();
    assert_eq!(link, format!("{}/connect/{id}", h.base));
    assert!(!asked.to_string().contains(MockPagerDuty::ALICE_TOKEN));
    // The same for any request that needs the token (here tools/list).
    let listed = agent.send(2, "tools/list", json!({})).await;
    assert_eq!(listed["error"]["code"], -32042, "{listed}");

    connect_through_the_page(&h, &link, ALICE_KEY, MockPagerDuty::ALICE_TOKEN).await;
    let complete = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let message = stream.recv().await.expect("the stream stays open");
            if message["method"] == "notifications/elicitation/complete"
                && message["params"]["elicitationId"] == id.as_str()
            {
                return message;
            }
        }
    })
    .await
    .expect("notifications/elicitation/complete on the agent's stream");
    assert!(complete.get("id").is_none(), "a notification: {complete}");

    let retried = agent.call(3, "get_user_data").await;
    assert!(retried.get("result").is_some(), "{retried}");
    assert_ne!(retried["result"]["isError"], true, "{retried}");
    assert!(retried.to_string().contains("Alice"), "{retried}");
}

/// A 2026-07-28 agent that declared URL elicitation: `input_required` (on the direct path and
/// through rmcp), asked again with the same link while the person has not finished; the retry
/// with the `requestState` completes once connected. Forged and another user's states are
/// refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2026_agent_gets_input_required_and_its_retry_completes_after_connecting() {
    let h = ConnectHarness::start(Options::default()).await.unwrap();
    let mock = MockPagerDuty::start().await;
    let url = gateway(&h, &mock, true).await;
    let agent = Agent::new(&url, ALICE_KEY, STATELESS, url_elicitation()).await;

    let asked = agent.call(1, "get_user_data").await;
    let result = &asked["result"];
    assert_eq!(result["resultType"], "input_required", "{asked}");
    let request = &result["inputRequests"]["connect_pagerduty"];
    assert_eq!(request["method"], "elicitation/create");
    assert_eq!(request["params"]["mode"], "url");
    let link = request["params"]["url"].as_str().unwrap().to_owned();
    assert!(link.starts_with(&format!("{}/connect/", h.base)), "{link}");
    let state = result["requestState"].as_str().unwrap().to_owned();
    assert!(state.starts_with("gwc1."), "{state}");
    assert!(!asked.to_string().contains("-32042"));

    let retry = |state: &str| {
        json!({"name": "get_user_data", "arguments": {}, "requestState": state,
               "inputResponses": {"connect_pagerduty": {"action": "accept"}}})
    };
    // Retried before the person finished: asked again, with the same link.
    let again = agent.send(2, "tools/call", retry(&state)).await;
    assert_eq!(again["result"]["resultType"], "input_required", "{again}");
    assert_eq!(
        again["result"]["inputRequests"]["connect_pagerduty"]["params"]["url"],
        link.as_str()
    );
    // resources/read and prompts/get are asked the same way.
    let read = agent
        .send(3, "resources/read", json!({"uri": "pagerduty://users/me"}))
        .await;
    assert_eq!(read["result"]["resultType"], "input_required", "{read}");

    // A forged (altered) state, and Alice's state sent by Bob's agent: refused.
    let mut forged = state.clone().into_bytes();
    let at = forged.len() - 4;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let refused = agent.send(4, "tools/call", retry(&forged)).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    assert!(
        refused.to_string().contains("not made by this gateway"),
        "{refused}"
    );
    let bob = Agent::new(&url, BOB_KEY, STATELESS, url_elicitation()).await;
    let other = bob.send(5, "tools/call", retry(&state)).await;
    assert!(other.to_string().contains("another user"), "{other}");
    assert!(
        !other.to_string().contains(&link),
        "no link for Bob: {other}"
    );

    connect_through_the_page(&h, &link, ALICE_KEY, MockPagerDuty::ALICE_TOKEN).await;
    let done = agent.send(6, "tools/call", retry(&state)).await;
    assert!(done["result"]["content"].is_array(), "{done}");
    assert_ne!(done["result"]["isError"], true, "{done}");
    assert!(done.to_string().contains("Alice"), "{done}");
}

/// An expired `requestState` is refused (a registry whose links live one second).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_request_state_is_refused() {
    let h = ConnectHarness::start(Options {
        limits: RegistryLimits::default().with_ttl(Duration::from_secs(1)),
        ..Options::default()
    })
    .await
    .unwrap();
    let mock = MockPagerDuty::start().await;
    let url = gateway(&h, &mock, true).await;
    let agent = Agent::new(&url, ALICE_KEY, STATELESS, url_elicitation()).await;
    let asked = agent.call(1, "get_user_data").await;
    let state = asked["result"]["requestState"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = agent
        .send(
            2,
            "tools/call",
            json!({"name": "get_user_data", "arguments": {}, "requestState": state,
                   "inputResponses": {"connect_pagerduty": {"action": "accept"}}}),
        )
        .await;
    assert_eq!(expired["error"]["code"], -32602, "{expired}");
    assert!(expired.to_string().contains("expired"), "{expired}");
}

/// Agents without URL elicitation, in both eras: a tool result with `isError: true` whose text
/// gives the link and what to do; `resources/read` an error whose message does. Without a
/// connect page, the answer is today's error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_without_url_elicitation_get_the_link_in_text() {
    let h = ConnectHarness::start(Options::default()).await.unwrap();
    let mock = MockPagerDuty::start().await;
    let url = gateway(&h, &mock, true).await;
    for version in [SESSION_ERA, STATELESS] {
        // A form-only elicitation capability is not URL elicitation.
        let agent = Agent::new(
            &url,
            ALICE_KEY,
            version,
            json!({"elicitation": {"form": {}}}),
        )
        .await;
        let called = agent.call(1, "get_user_data").await;
        let result = &called["result"];
        assert_eq!(result["isError"], true, "{version}: {called}");
        let text = result["content"][0]["text"].as_str().unwrap();
        assert!(text.contains(&format!("{}/connect/", h.base)), "{text}");
        assert!(text.contains("User API Token"), "{text}");
        let read = agent
            .send(2, "resources/read", json!({"uri": "pagerduty://users/me"}))
            .await;
        let message = read["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&format!("{}/connect/", h.base)),
            "{version}: {read}"
        );
        let plain = Agent::new(&url, ALICE_KEY, version, json!({})).await;
        let called = plain.call(3, "get_user_data").await;
        assert_eq!(
            called["result"]["isError"], true,
            "{version} (direct path): {called}"
        );
    }

    // No connect page: today's error, no link.
    let without = gateway(&h, &mock, false).await;
    let agent = Agent::new(&without, ALICE_KEY, SESSION_ERA, url_elicitation()).await;
    let called = agent.call(1, "get_user_data").await;
    assert_eq!(called["error"]["code"], -32001, "{called}");
    assert!(!called.to_string().contains("/connect/"), "{called}");
}

/// PagerDuty revokes Alice's token (the mock answers 401): the next call asks her to connect,
/// and so does the one after (the store remembers the rejection); connecting a new token works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_asks_to_connect_again() {
    let h = ConnectHarness::start(Options::default()).await.unwrap();
    let mock = MockPagerDuty::start().await;
    let url = gateway(&h, &mock, true).await;
    let link = h.link(ALICE);
    connect_through_the_page(&h, link.url.as_str(), ALICE_KEY, MockPagerDuty::ALICE_TOKEN).await;
    let agent = Agent::new(&url, ALICE_KEY, SESSION_ERA, json!({})).await;
    let works = agent.call(1, "get_user_data").await;
    assert_ne!(works["result"]["isError"], true, "{works}");
    assert!(works.to_string().contains("Alice"), "{works}");

    assert!(mock.revoke_token(MockPagerDuty::ALICE_TOKEN));
    for id in [2, 3] {
        let asked = agent.call(id, "get_user_data").await;
        assert_eq!(asked["result"]["isError"], true, "call {id}: {asked}");
        let text = asked["result"]["content"][0]["text"].as_str().unwrap();
        assert!(text.contains(&format!("{}/connect/", h.base)), "{text}");
        assert!(!text.contains(MockPagerDuty::ALICE_TOKEN));
    }
    let stateless = Agent::new(&url, ALICE_KEY, STATELESS, url_elicitation()).await;
    let asked = stateless.call(4, "get_user_data").await;
    assert_eq!(asked["result"]["resultType"], "input_required", "{asked}");
    let link = asked["result"]["inputRequests"]["connect_pagerduty"]["params"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    // A new token of Alice's.
    let fresh = "u+MockAliceToken0000N";
    assert!(mock.add_token(MockPagerDuty::ALICE_USER_ID, fresh));
    h.us.add(crate::connect_rest::RestUser::new(
        fresh,
        MockPagerDuty::ALICE_USER_ID,
        "Alice Example",
        ALICE,
    ));
    connect_through_the_page(&h, &link, ALICE_KEY, fresh).await;
    let works = agent.call(5, "get_user_data").await;
    assert_ne!(works["result"]["isError"], true, "{works}");
}

/// The Python SDK client as the agent, in both eras, with and without URL elicitation (the
/// SDK declares form and URL elicitation whenever it has an elicitation callback;
/// `--no-elicitation` gives it none): the 2025-11-25 client sees -32042 with the URL-mode
/// elicitation; the 2026-07-28 client's own `input_required` driver hands the URL-mode
/// elicitation to its callback (and, the person not having connected, gives up after its
/// rounds); without elicitation both see the `isError` tool result with the link. Once Alice
/// has connected, the same clients' calls work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_client_is_asked_in_both_eras() {
    use crate::gateway_support::{agent_with, err, ok, python};
    if python().is_none() {
        return;
    }
    let h = ConnectHarness::start(Options::default()).await.unwrap();
    let mock = MockPagerDuty::start().await;
    let url = gateway(&h, &mock, true).await;
    let base = format!("{}/connect/", h.base);
    let steps = json!([{"op": "call", "tool": "get_user_data"}]);

    let legacy = agent_with(&url, ALICE_KEY, "legacy", steps.clone(), &[]).await;
    let error = err(&legacy, 0);
    assert_eq!(error["code"], -32042, "{legacy}");
    assert!(error.to_string().contains(&base), "{legacy}");

    let stateless = agent_with(&url, ALICE_KEY, STATELESS, steps.clone(), &[]).await;
    let elicitation = &stateless["elicitations"][0];
    assert_eq!(elicitation["mode"], "url", "{stateless}");
    assert!(
        elicitation["url"].as_str().unwrap().starts_with(&base),
        "{stateless}"
    );
    assert!(
        stateless["results"][0].get("error").is_some(),
        "{stateless}"
    );

    for mode in ["legacy", STATELESS] {
        let out = agent_with(&url, ALICE_KEY, mode, steps.clone(), &["--no-elicitation"]).await;
        let result = ok(&out, 0);
        assert_eq!(result["is_error"], true, "{mode}: {out}");
        assert!(
            result["text"].as_str().unwrap().contains(&base),
            "{mode}: {out}"
        );
    }

    let link = h.link(ALICE);
    connect_through_the_page(&h, link.url.as_str(), ALICE_KEY, MockPagerDuty::ALICE_TOKEN).await;
    for mode in ["legacy", STATELESS] {
        let out = agent_with(&url, ALICE_KEY, mode, steps.clone(), &[]).await;
        let result = ok(&out, 0);
        assert_eq!(result["is_error"], false, "{mode}: {out}");
        assert!(
            result["text"].as_str().unwrap().contains("Alice"),
            "{mode}: {out}"
        );
    }
}

/// The TypeScript SDK clients as the agent (`scripts/clients/agent.mjs --elicitation url|none`):
/// the v1 SDK (`@modelcontextprotocol/sdk`, session era only) and the v2 SDK
/// (`@modelcontextprotocol/client`: `legacy`, `auto` and pinned 2026-07-28). With URL
/// elicitation declared, a 2025-11-25 client's requests fail with -32042 whose
/// `data.elicitations[0]` is the URL-mode elicitation with the link (its handler is never
/// called); the v2 2026-07-28 client's `input_required` driver hands the URL-mode elicitation to
/// its `elicitation/create` handler and, the person not having connected, gives up after its
/// rounds. Without elicitation, every client gets the `isError` tool result with the link. Once
/// Alice has connected, the same clients' calls work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_sdk_client_is_asked_in_both_eras() {
    use crate::real_clients::NodeClients;
    let Some(clients) = NodeClients::find() else {
        return;
    };
    let h = ConnectHarness::start(Options::default()).await.unwrap();
    let mock = MockPagerDuty::start().await;
    let url = gateway(&h, &mock, true).await;
    let base = format!("{}/connect/", h.base);
    let session_era = [
        ["--sdk", "v1", "--era", "legacy"],
        ["--sdk", "v2", "--era", "legacy"],
    ];
    let stateless = [
        ["--sdk", "v2", "--era", "auto"],
        ["--sdk", "v2", "--era", STATELESS],
    ];
    let run = |sdk: [&'static str; 4], elicitation: &'static str| {
        let (clients, url) = (&clients, &url);
        async move {
            let mut args = sdk.to_vec();
            args.extend(["--elicitation", elicitation]);
            let out = clients.agent(&args, url, ALICE_KEY).await;
            assert!(out.get("connect_error").is_none(), "{args:?}: {out}");
            (args, out)
        }
    };

    for sdk in session_era {
        let (args, out) = run(sdk, "url").await;
        assert_eq!(out["protocol_version"], SESSION_ERA, "{args:?}: {out}");
        for step in ["list_tools", "call_get_user_data", "read_resource"] {
            let failed = &out["results"][step];
            assert_eq!(failed["code"], -32042, "{args:?} {step}: {out}");
            let elicitation = &failed["data"]["elicitations"][0];
            assert_eq!(elicitation["mode"], "url", "{args:?} {step}: {out}");
            let id = elicitation["elicitationId"].as_str().unwrap();
            assert_eq!(elicitation["url"], format!("{base}{id}"), "{args:?}: {out}");
            assert!(elicitation["message"].is_string(), "{args:?}: {out}");
        }
        assert_eq!(out["elicitations"], json!([]), "{args:?}: {out}");
    }
    for sdk in stateless {
        let (args, out) = run(sdk, "url").await;
        assert_eq!(out["protocol_version"], STATELESS, "{args:?}: {out}");
        let elicitation = &out["elicitations"][0];
        assert_eq!(elicitation["mode"], "url", "{args:?}: {out}");
        assert!(
            elicitation["url"].as_str().unwrap().starts_with(&base),
            "{args:?}: {out}"
        );
        assert!(elicitation["message"].is_string(), "{args:?}: {out}");
        // Its retry (with the requestState) is asked again with the same link.
        assert_eq!(
            out["elicitations"][1]["url"], elicitation["url"],
            "{args:?}: {out}"
        );
        // Never connected: the driver gives up after its rounds, and says so.
        let call = &out["results"]["call_get_user_data"];
        assert_eq!(
            call["code"], "INPUT_REQUIRED_ROUNDS_EXCEEDED",
            "{args:?}: {out}"
        );
        assert_eq!(call["data"]["rounds"], 2, "{args:?}: {out}");
    }
    for sdk in session_era.into_iter().chain(stateless) {
        let (args, out) = run(sdk, "none").await;
        let result = &out["results"]["call_get_user_data"]["ok"];
        assert_eq!(result["is_error"], true, "{args:?}: {out}");
        assert!(
            result["text"].as_str().unwrap().contains(&base),
            "{args:?}: {out}"
        );
        assert!(!out.to_string().contains(MockPagerDuty::ALICE_TOKEN));
    }

    let link = h.link(ALICE);
    connect_through_the_page(&h, link.url.as_str(), ALICE_KEY, MockPagerDuty::ALICE_TOKEN).await;
    for sdk in session_era.into_iter().chain(stateless) {
        for elicitation in ["url", "none"] {
            let (args, out) = run(sdk, elicitation).await;
            let result = &out["results"]["call_get_user_data"]["ok"];
            assert_eq!(result["is_error"], false, "{args:?}: {out}");
            assert!(
                result["text"].as_str().unwrap().contains("Alice"),
                "{args:?}: {out}"
            );
            assert!(
                out["results"]["list_tools"]["ok"].is_array(),
                "{args:?}: {out}"
            );
            assert_eq!(out["elicitations"], json!([]), "{args:?}: {out}");
        }
    }
}

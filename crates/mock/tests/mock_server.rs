//! The embedded mock PagerDuty MCP server, driven with raw HTTP requests over loopback: both
//! protocol eras, credentials and identity, pagination, SSE with progress and resumption, and
//! every fault knob.

use std::time::Duration;

use pagerduty_mcp_connect::AuthScheme;
use pagerduty_mcp_connect_mock::{
    Eras, MockPagerDuty, MockPagerDutyBuilder, MockUser, ResponseMode,
};
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};

const ACCEPT_BOTH: &str = "application/json, text/event-stream";
const STATELESS: &str = "2026-07-28";

/// A raw HTTP client for one mock and one token.
struct Raw {
    client: reqwest::Client,
    url: url::Url,
    auth: String,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn session_id(&self) -> Option<String> {
        self.headers
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// The JSON-RPC message: the body, or the last SSE data event.
    fn message(&self) -> Value {
        if self.content_type().starts_with("text/event-stream") {
            let events = sse_events(&self.body);
            let last = events.last().expect("an SSE event");
            serde_json::from_str(&last.1).unwrap()
        } else {
            self.json()
        }
    }
}

/// A default mock, and a raw client of it with the demo user's token.
async fn demo_raw() -> (MockPagerDuty, Raw) {
    let mock = MockPagerDuty::start().await;
    let raw = Raw::new(&mock, MockPagerDuty::DEMO_TOKEN);
    (mock, raw)
}

/// Starts the mock `builder` describes.
async fn started(builder: MockPagerDutyBuilder) -> MockPagerDuty {
    builder.start().await.expect("mock starts")
}

/// The next chunk of `response`'s body, waiting at most five seconds; panics at its end.
async fn next_chunk(response: &mut reqwest::Response) -> bytes::Bytes {
    let chunk = tokio::time::timeout(Duration::from_secs(5), response.chunk()).await;
    chunk.expect("in time").expect("readable").expect("a chunk")
}

/// (id, data) of every SSE event with non-empty data.
fn sse_events(text: &str) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    for block in text.replace("\r\n", "\n").split("\n\n") {
        let mut id = None;
        let mut data = String::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("id:") {
                id = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        if !data.is_empty() {
            out.push((id, data));
        }
    }
    out
}

/// Every `id:` of an SSE text, in order (priming events included).
fn sse_ids(text: &str) -> Vec<String> {
    text.replace("\r\n", "\n")
        .lines()
        .filter_map(|l| l.strip_prefix("id:").map(|v| v.trim().to_owned()))
        .collect()
}

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": STATELESS,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": { "name": "raw-test", "version": "1" },
    })
}

impl Raw {
    fn new(mock: &MockPagerDuty, token: &str) -> Self {
        Raw {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            url: mock.url(),
            auth: format!("Token {token}"),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        Reply {
            status,
            headers,
            body,
        }
    }

    fn post_builder(
        &self,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> reqwest::RequestBuilder {
        let mut request = self
            .client
            .post(self.url.clone())
            .header("Authorization", &self.auth)
            .header("Content-Type", "application/json")
            .header("Accept", ACCEPT_BOTH)
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
    }

    /// A `method` request to the mock with the token and only `headers` (no defaults).
    fn bare(&self, method: Method, headers: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let mut request = self.client.request(method, self.url.clone());
        request = request.header("Authorization", &self.auth);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
    }

    /// [`bare`](Self::bare), sent without a body.
    async fn request(&self, method: Method, headers: &[(&str, &str)]) -> Reply {
        self.send(self.bare(method, headers)).await
    }

    /// [`bare`](Self::bare) POST of `body`.
    async fn post_text(&self, headers: &[(&str, &str)], body: &'static str) -> Reply {
        self.send(self.bare(Method::POST, headers).body(body)).await
    }

    async fn post(&self, headers: &[(&str, &str)], body: Value) -> Reply {
        self.send(self.post_builder(headers, body.to_string()))
            .await
    }

    /// initialize + notifications/initialized; returns the session id.
    async fn open_session(&self, version: &str) -> String {
        let reply = self
            .post(
                &[],
                json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
                    "protocolVersion": version, "capabilities": {},
                    "clientInfo": {"name":"raw-test","version":"1"}}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let session = reply.session_id().expect("Mcp-Session-Id");
        let reply = self
            .post(
                &[
                    ("Mcp-Session-Id", &session),
                    ("MCP-Protocol-Version", version),
                ],
                json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        session
    }

    /// notifications/initialized on `session`, with no version header.
    async fn initialized(&self, session: &str) -> Reply {
        let body = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
        self.post(&[("Mcp-Session-Id", session)], body).await
    }

    async fn session_call(&self, session: &str, id: u64, method: &str, params: Value) -> Reply {
        self.post(
            &[
                ("Mcp-Session-Id", session),
                ("MCP-Protocol-Version", "2025-11-25"),
            ],
            json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}),
        )
        .await
    }

    /// [`session_call`](Self::session_call) of tools/call for `tool` with `arguments`.
    async fn session_tool(&self, session: &str, id: u64, tool: &str, arguments: Value) -> Reply {
        let params = json!({"name": tool, "arguments": arguments});
        self.session_call(session, id, "tools/call", params).await
    }

    /// [`stateless`](Self::stateless) tools/call for `tool` with `arguments`, `Mcp-Name: tool`.
    async fn stateless_tool(&self, tool: &str, arguments: Value) -> Reply {
        let params = json!({"name": tool, "arguments": arguments});
        self.stateless("tools/call", params, Some(tool)).await
    }

    /// POSTs `body` as-is with the stateless era's version header and `Mcp-Method: method`.
    async fn post_stateless(&self, method: &str, body: Value) -> Reply {
        let headers = [("MCP-Protocol-Version", STATELESS), ("Mcp-Method", method)];
        self.post(&headers, body).await
    }

    async fn stateless(&self, method: &str, mut params: Value, name: Option<&str>) -> Reply {
        params["_meta"] = meta();
        let mut headers = vec![("MCP-Protocol-Version", STATELESS), ("Mcp-Method", method)];
        if let Some(name) = name {
            headers.push(("Mcp-Name", name));
        }
        self.post(
            &headers,
            json!({"jsonrpc":"2.0","id":"s1","method":method,"params":params}),
        )
        .await
    }
}

/// Asserts that `reply` has HTTP `status` and carries the JSON-RPC error `code`.
fn assert_error(reply: &Reply, status: StatusCode, code: i64) {
    let got = (reply.status, reply.json()["error"]["code"].clone());
    assert_eq!(got, (status, json!(code)), "{}", reply.body);
}

/// Asserts that `reply` carries the JSON-RPC error `code` (whatever its HTTP status).
fn assert_rpc_error(reply: &Reply, code: i64) {
    assert_eq!(reply.json()["error"]["code"], code, "{}", reply.body);
}

/// Asserts that `reply` is a tool result marked `isError`.
fn assert_tool_error(reply: &Reply) {
    assert_eq!(
        reply.json()["result"]["isError"],
        json!(true),
        "{}",
        reply.body
    );
}

fn structured(reply: &Reply) -> Value {
    let message = reply.message();
    let result = &message["result"];
    assert_eq!(result["isError"], json!(false), "{message}");
    // The text content is the same JSON as structuredContent.
    let text = result["content"][0]["text"].as_str().unwrap();
    let parsed: Value = serde_json::from_str(text).unwrap();
    assert_eq!(parsed, result["structuredContent"]);
    result["structuredContent"].clone()
}

#[tokio::test]
async fn session_era_handshake_tools_and_lifecycle() {
    let (mock, raw) = demo_raw().await;
    let reply = raw
        .post(
            &[],
            json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
                "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type(), "application/json");
    let result = &reply.json()["result"];
    assert_eq!(result["protocolVersion"], "2025-06-18");
    assert!(result["capabilities"]["tools"].is_object());
    assert_eq!(result["serverInfo"]["name"], "pagerduty-mcp-mock");
    let session = reply.session_id().unwrap();
    assert_eq!(session.len(), 32);
    assert!(session.bytes().all(|b| b.is_ascii_graphic()));

    let reply = raw.initialized(&session).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert!(reply.body.is_empty());

    // tools/list: enough tools, with the right annotations.
    let reply = raw.session_call(&session, 2, "tools/list", json!({})).await;
    let tools = reply.json()["result"]["tools"].as_array().unwrap().clone();
    assert!(tools.len() >= 15, "{}", tools.len());
    assert!(reply.json()["result"].get("nextCursor").is_none());
    for tool in &tools {
        let name = tool["name"].as_str().unwrap();
        let read = name.starts_with("list_") || name.starts_with("get_");
        assert_eq!(tool["annotations"]["readOnlyHint"], json!(read), "{name}");
        assert_eq!(
            tool["annotations"]["destructiveHint"],
            json!(!read),
            "{name}"
        );
        assert_eq!(tool["inputSchema"]["type"], "object");
    }
    for name in [
        "list_incidents",
        "get_incident",
        "list_oncalls",
        "manage_incidents",
        "create_incident",
    ] {
        assert!(tools.iter().any(|t| t["name"] == name), "{name}");
    }

    let arguments = json!({"statuses":["triggered"]});
    let reply = raw
        .session_tool(&session, 3, "list_incidents", arguments)
        .await;
    let incidents = structured(&reply)["response"].as_array().unwrap().clone();
    assert!(!incidents.is_empty());
    assert!(incidents.iter().all(|i| i["status"] == "triggered"));

    let reply = raw.session_call(&session, 4, "ping", json!({})).await;
    assert_eq!(reply.json()["result"], json!({}));
    let params = json!({"level":"warning"});
    let reply = raw
        .session_call(&session, 5, "logging/setLevel", params)
        .await;
    assert_eq!(reply.json()["result"], json!({}));
    let reply = raw.session_call(&session, 6, "no/such", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_rpc_error(&reply, -32601);
    let reply = raw
        .post(
            &[("Mcp-Session-Id", &session)],
            json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3,"reason":"user"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);

    // Resources, templates, prompts, completion.
    let reply = raw
        .session_call(&session, 7, "resources/list", json!({}))
        .await;
    assert!(
        reply.json()["result"]["resources"]
            .as_array()
            .unwrap()
            .len()
            >= 2
    );
    let reply = raw
        .session_call(&session, 8, "resources/templates/list", json!({}))
        .await;
    assert_eq!(
        reply.json()["result"]["resourceTemplates"][0]["uriTemplate"],
        "pagerduty://incidents/{incident_id}"
    );
    let params = json!({"uri":"pagerduty://users/me"});
    let reply = raw
        .session_call(&session, 9, "resources/read", params)
        .await;
    let text = reply.json()["result"]["contents"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["id"],
        MockPagerDuty::DEMO_USER_ID
    );
    let params = json!({"uri":"pagerduty://nope"});
    let reply = raw
        .session_call(&session, 10, "resources/read", params)
        .await;
    assert_rpc_error(&reply, -32002);
    let reply = raw
        .session_call(&session, 11, "prompts/list", json!({}))
        .await;
    assert!(reply.json()["result"]["prompts"].as_array().unwrap().len() >= 2);
    let params = json!({"name":"incident_summary","arguments":{"incident_id":"Q1CHKOUT5XX01"}});
    let reply = raw.session_call(&session, 12, "prompts/get", params).await;
    assert_eq!(reply.json()["result"]["messages"][0]["role"], "user");
    let params = json!({ "ref":{"type":"ref/prompt","name":"incident_summary"},"argument":{"name":"incident_id","value":"Q1CH"}});
    let reply = raw
        .session_call(&session, 13, "completion/complete", params)
        .await;
    assert_eq!(
        reply.json()["result"]["completion"]["values"],
        json!(["Q1CHKOUT5XX01"])
    );

    assert_eq!(mock.sessions().len(), 1);
    assert!(mock.sessions()[0].initialized);
    // DELETE ends the session.
    let reply = raw
        .request(Method::DELETE, &[("Mcp-Session-Id", &session)])
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = raw.session_call(&session, 14, "ping", json!({})).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json()["error"]["message"], "Session not found");
}

#[tokio::test]
async fn session_era_versions_and_session_errors() {
    let (_mock, raw) = demo_raw().await;
    for (asked, got) in [
        ("2024-11-05", "2024-11-05"),
        ("2025-03-26", "2025-03-26"),
        ("2025-11-25", "2025-11-25"),
        ("1999-01-01", "2025-11-25"),
        ("2026-07-28", "2025-11-25"),
    ] {
        let reply = raw
            .post(&[], json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
                "protocolVersion":asked,"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}))
            .await;
        assert_eq!(reply.json()["result"]["protocolVersion"], got, "{asked}");
    }
    let reply = raw
        .post(&[], json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.json()["error"]["message"],
        "Bad Request: Missing session ID"
    );
    let reply = raw
        .session_call(
            "0123456789abcdef0123456789abcdef",
            1,
            "tools/list",
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn credentials_are_checked_on_every_request() {
    let (mock, raw) = demo_raw().await;
    let body = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}).to_string();
    let expected = json!({"error":{"message":"Authentication failed","code":2006}});
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        (
            "bearer",
            Some(format!("Bearer {}", MockPagerDuty::DEMO_TOKEN)),
        ),
        (
            "token=",
            Some(format!("Token token={}", MockPagerDuty::DEMO_TOKEN)),
        ),
        ("unknown", Some("Token u+not-a-real-token".to_owned())),
        ("empty", Some("Token ".to_owned())),
    ];
    for (case, auth) in cases {
        let mut request = raw
            .client
            .post(mock.url())
            .header("Content-Type", "application/json")
            .header("Accept", ACCEPT_BOTH)
            .body(body.clone());
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let reply = raw.send(request).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{case}");
        assert_eq!(reply.json(), expected, "{case}");
    }
    // GET and DELETE too.
    let reply = raw
        .send(
            raw.client
                .get(mock.url())
                .header("Accept", "text/event-stream"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = raw.send(raw.client.delete(mock.url())).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    let records = mock.requests();
    assert_eq!(records.len(), 7);
    assert!(!records[0].auth_present);
    assert!(records[1].auth_present && !records[1].auth_matched);
    assert!(
        records
            .iter()
            .all(|r| r.user_id.is_none() && r.status == Some(401))
    );

    // A custom scheme: Bearer accepted, Token refused.
    let bearer = started(MockPagerDuty::builder().auth_scheme(AuthScheme::bearer())).await;
    let mut raw = Raw::new(&bearer, MockPagerDuty::DEMO_TOKEN);
    let reply = raw.post(&[], serde_json::from_str(&body).unwrap()).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    raw.auth = format!("Bearer {}", MockPagerDuty::DEMO_TOKEN);
    let reply = raw.post(&[], serde_json::from_str(&body).unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn answers_as_the_tokens_user_and_binds_sessions_to_users() {
    let mock = MockPagerDuty::start().await;
    let alice = Raw::new(&mock, MockPagerDuty::ALICE_TOKEN);
    let demo = Raw::new(&mock, MockPagerDuty::DEMO_TOKEN);
    let bob = Raw::new(&mock, MockPagerDuty::BOB_TOKEN);

    let alice_session = alice.open_session("2025-11-25").await;
    let reply = alice
        .session_tool(&alice_session, 1, "get_user_data", json!({}))
        .await;
    let me = structured(&reply);
    assert_eq!(me["id"], MockPagerDuty::ALICE_USER_ID);
    assert_eq!(me["email"], "alice@example.com");

    // Writes record the creator and really change the data.
    let arguments = json!({ "title":"Checkout down","service_id":"PSVC001","urgency":"high"});
    let reply = alice
        .session_tool(&alice_session, 2, "create_incident", arguments)
        .await;
    let created = structured(&reply);
    assert_eq!(created["created_by"]["id"], MockPagerDuty::ALICE_USER_ID);
    assert_eq!(created["status"], "triggered");
    let id = created["id"].as_str().unwrap().to_owned();
    let arguments = json!({ "incident_ids":[id], "action":"acknowledge"});
    let reply = alice
        .session_tool(&alice_session, 3, "manage_incidents", arguments)
        .await;
    assert_eq!(structured(&reply)["response"][0]["status"], "acknowledged");
    let arguments = json!({ "incident_id": id, "note":"Rolling back"});
    let reply = alice
        .session_tool(&alice_session, 4, "add_note_to_incident", arguments)
        .await;
    assert_eq!(
        structured(&reply)["user"]["id"],
        MockPagerDuty::ALICE_USER_ID
    );
    let reply = demo
        .stateless_tool("get_incident", json!({"incident_id": id}))
        .await;
    assert_eq!(structured(&reply)["status"], "acknowledged");

    // Tool errors are isError results: an unknown incident, a missing argument.
    for (id, arguments) in [(5, json!({"incident_id":"QNOPE"})), (6, json!({}))] {
        let reply = alice.session_tool(&alice_session, id, "get_incident", arguments);
        assert_tool_error(&reply.await);
    }
    // A read-only user may not write.
    let reply = bob
        .stateless_tool(
            "create_incident",
            json!({"title":"x","service_id":"PSVC001"}),
        )
        .await;
    assert_tool_error(&reply);
    assert!(reply.body.contains("Access denied"));

    // Another user's token on Alice's session is never served as that user.
    let reply = demo
        .session_tool(&alice_session, 7, "get_user_data", json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(!reply.body.contains("PDEMO01") && !reply.body.contains("PALICE1"));

    // Tokens can be revoked and users added while the mock runs.
    assert!(mock.revoke_token(MockPagerDuty::ALICE_TOKEN));
    let reply = alice
        .session_call(&alice_session, 8, "ping", json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    mock.add_user(MockUser::new(
        "PCAROL1",
        "Carol",
        "carol@example.com",
        "user",
        "u+carol-token",
    ));
    let carol = Raw::new(&mock, "u+carol-token");
    let reply = carol.stateless_tool("get_user_data", json!({})).await;
    assert_eq!(structured(&reply)["id"], "PCAROL1");
    assert!(mock.add_token("PCAROL1", "u+carol-rotated"));
    let carol2 = Raw::new(&mock, "u+carol-rotated");
    let reply = carol2.stateless("tools/list", json!({}), None).await;
    assert_eq!(reply.status, StatusCode::OK);

    let users: Vec<Option<String>> = mock.requests().iter().map(|r| r.user_id.clone()).collect();
    assert!(users.contains(&Some("PALICE1".to_owned())));
    assert!(users.contains(&Some("PCAROL1".to_owned())));
}

#[tokio::test]
async fn stateless_era() {
    let (mock, raw) = demo_raw().await;

    let reply = raw.stateless("server/discover", json!({}), None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.session_id().is_none());
    let result = reply.json()["result"].clone();
    assert_eq!(result["supportedVersions"], json!([STATELESS]));
    assert!(result["capabilities"]["tools"].is_object());
    assert_eq!(result["resultType"], "complete");
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "pagerduty-mcp-mock"
    );

    let reply = raw.stateless("tools/list", json!({}), None).await;
    assert!(reply.json()["result"]["tools"].as_array().unwrap().len() >= 15);
    assert_eq!(reply.json()["result"]["cacheScope"], "private");

    let reply = raw.stateless_tool("get_user_data", json!({})).await;
    assert_eq!(structured(&reply)["id"], MockPagerDuty::DEMO_USER_ID);
    // Mcp-Name in base64 form.
    let params = json!({"name":"get_user_data","arguments":{}});
    let reply = raw
        .stateless(
            "tools/call",
            params,
            Some("=?base64?Z2V0X3VzZXJfZGF0YQ==?="),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    // resources/read carries the URI.
    let params = json!({"uri":"pagerduty://services"});
    let reply = raw
        .stateless("resources/read", params, Some("pagerduty://services"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let params = json!({"name":"oncall_handoff","arguments":{}});
    let reply = raw
        .stateless("prompts/get", params, Some("oncall_handoff"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    // Header/body mismatches: -32020.
    let params = json!({"name":"get_user_data","arguments":{}});
    let reply = raw.stateless("tools/call", params, None).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, -32020);
    let params = json!({"name":"get_user_data","arguments":{}});
    let reply = raw
        .stateless("tools/call", params, Some("list_users"))
        .await;
    assert_rpc_error(&reply, -32020);
    let reply = raw
        .post_stateless(
            "tools/call",
            json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":meta()}}),
        )
        .await;
    assert_error(&reply, StatusCode::BAD_REQUEST, -32020);
    // No _meta: -32602.
    let reply = raw
        .post_stateless(
            "tools/list",
            json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}),
        )
        .await;
    assert_error(&reply, StatusCode::BAD_REQUEST, -32602);
    // An unsupported version: -32022 with the supported list.
    let mut old_meta = meta();
    old_meta["io.modelcontextprotocol/protocolVersion"] = json!("2099-01-01");
    let reply = raw
        .post(
            &[
                ("MCP-Protocol-Version", "2099-01-01"),
                ("Mcp-Method", "tools/list"),
            ],
            json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":old_meta}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let error = reply.json()["error"].clone();
    assert_eq!(error["code"], -32022);
    assert_eq!(error["data"]["supported"], json!([STATELESS]));
    assert_eq!(error["data"]["requested"], "2099-01-01");
    // Unknown methods (and the session-era ones): 404 + -32601.
    for method in ["no/such", "ping", "initialize"] {
        let reply = raw.stateless(method, json!({}), None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method}");
        assert_rpc_error(&reply, -32601);
    }
    // GET and DELETE: 405.
    let reply = raw
        .request(
            Method::GET,
            &[
                ("Accept", "text/event-stream"),
                ("MCP-Protocol-Version", STATELESS),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    let reply = raw
        .request(Method::DELETE, &[("MCP-Protocol-Version", STATELESS)])
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    // Notifications: 202.
    let reply = raw
        .post_stateless(
            "notifications/cancelled",
            json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"s1"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);

    // The records show the routing headers.
    let records = mock.requests();
    let call = records
        .iter()
        .find(|r| r.mcp_name.as_deref() == Some("=?base64?Z2V0X3VzZXJfZGF0YQ==?="))
        .unwrap();
    assert_eq!(call.mcp_method.as_deref(), Some("tools/call"));
    assert_eq!(call.protocol_version.as_deref(), Some(STATELESS));
    assert_eq!(call.jsonrpc_methods, vec!["tools/call".to_owned()]);
    assert_eq!(call.status, Some(200));
    assert_eq!(call.user_id.as_deref(), Some(MockPagerDuty::DEMO_USER_ID));
}

#[tokio::test]
async fn one_era_only() {
    let old = started(MockPagerDuty::builder().eras(Eras::SessionOnly)).await;
    let raw = Raw::new(&old, MockPagerDuty::DEMO_TOKEN);
    let reply = raw.stateless("server/discover", json!({}), None).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.json(),
        json!({"jsonrpc":"2.0","id":"server-error","error":{"code":-32600,"message":"Bad Request: Missing session ID"}})
    );
    let session = raw.open_session("2025-11-25").await;
    assert!(!session.is_empty());

    let new = started(MockPagerDuty::builder().eras(Eras::StatelessOnly)).await;
    let raw = Raw::new(&new, MockPagerDuty::DEMO_TOKEN);
    let reply = raw
        .post(&[], json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
            "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_rpc_error(&reply, -32022);
    assert_eq!(
        reply.json()["error"]["data"]["supported"],
        json!([STATELESS])
    );
    let reply = raw
        .send(
            raw.client
                .get(new.url())
                .header("Authorization", &raw.auth)
                .header("Accept", "text/event-stream"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    let reply = raw.stateless("server/discover", json!({}), None).await;
    assert_eq!(reply.status, StatusCode::OK);
}

async fn collect_pages(
    raw: &Raw,
    session: Option<&str>,
    method: &str,
    key: &str,
) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let params = match &cursor {
            Some(c) => json!({ "cursor": c }),
            None => json!({}),
        };
        let reply = match session {
            Some(s) => raw.session_call(s, 1, method, params).await,
            None => raw.stateless(method, params, None).await,
        };
        let result = reply.json()["result"].clone();
        items.extend(result[key].as_array().unwrap().iter().cloned());
        pages += 1;
        match result.get("nextCursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 100);
    }
    (items, pages)
}

#[tokio::test]
async fn pagination_with_a_small_page_size() {
    let mock = started(MockPagerDuty::builder().page_size(4)).await;
    let raw = Raw::new(&mock, MockPagerDuty::DEMO_TOKEN);
    let session = raw.open_session("2025-11-25").await;
    let (tools, pages) = collect_pages(&raw, Some(&session), "tools/list", "tools").await;
    assert!(tools.len() >= 15);
    assert_eq!(pages, tools.len().div_ceil(4));
    let mut names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), tools.len());
    let (stateless_tools, _) = collect_pages(&raw, None, "tools/list", "tools").await;
    assert_eq!(stateless_tools, tools);

    let small = started(MockPagerDuty::builder().page_size(1)).await;
    let raw = Raw::new(&small, MockPagerDuty::DEMO_TOKEN);
    let session = raw.open_session("2025-11-25").await;
    let (resources, pages) =
        collect_pages(&raw, Some(&session), "resources/list", "resources").await;
    assert_eq!(pages, resources.len());
    assert!(pages >= 2);
    let (prompts, pages) = collect_pages(&raw, Some(&session), "prompts/list", "prompts").await;
    assert_eq!(pages, prompts.len());
    assert!(pages >= 2);
    for bad in ["not-a-cursor", "cGRtb2NrOnByb21wdHM6MQ"] {
        let params = json!({"cursor": bad});
        let reply = raw.session_call(&session, 1, "tools/list", params).await;
        assert_eq!(reply.json()["error"]["code"], -32602, "{bad}");
    }
}

#[tokio::test]
async fn sse_replies_and_progress() {
    // ResponseMode::Sse: every reply is a stream; 2025-11-25 sessions get a priming event.
    let mock = started(MockPagerDuty::builder().response_mode(ResponseMode::Sse)).await;
    let raw = Raw::new(&mock, MockPagerDuty::DEMO_TOKEN);
    let session = raw.open_session("2025-11-25").await;
    let reply = raw.session_call(&session, 7, "tools/list", json!({})).await;
    assert_eq!(reply.content_type(), "text/event-stream");
    assert!(reply.body.contains("retry: "));
    let ids = sse_ids(&reply.body);
    assert_eq!(ids.len(), 2, "{}", reply.body);
    let events = sse_events(&reply.body);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0.as_deref(), Some(ids[1].as_str()));
    assert_eq!(reply.message()["id"], 7);
    // 2025-06-18: ids but no priming.
    let old = raw
        .post(&[], json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
            "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}))
        .await;
    let events = sse_events(&old.body);
    assert_eq!(sse_ids(&old.body).len(), 1);
    assert_eq!(events.len(), 1);
    // Stateless SSE: no ids.
    let reply = raw.stateless("tools/list", json!({}), None).await;
    assert_eq!(reply.content_type(), "text/event-stream");
    assert!(sse_ids(&reply.body).is_empty());

    // JSON mode: a progress token still gets SSE with progress and a log before the result.
    let (_mock, raw) = demo_raw().await;
    let session = raw.open_session("2025-11-25").await;
    let params = json!({"name":"list_oncalls","arguments":{},"_meta":{"progressToken":"tok-1"}});
    let reply = raw.session_call(&session, 9, "tools/call", params).await;
    assert_eq!(reply.content_type(), "text/event-stream");
    let messages: Vec<Value> = sse_events(&reply.body)
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    let methods: Vec<&str> = messages
        .iter()
        .filter_map(|m| m["method"].as_str())
        .collect();
    assert!(methods.contains(&"notifications/progress"));
    assert!(methods.contains(&"notifications/message"));
    assert!(
        messages
            .iter()
            .filter(|m| m["method"] == "notifications/progress")
            .all(|m| m["params"]["progressToken"] == "tok-1")
    );
    assert_eq!(messages.last().unwrap()["id"], 9);
    assert!(messages.last().unwrap()["result"]["structuredContent"]["response"].is_array());
    // Without a token: plain JSON.
    let reply = raw
        .session_tool(&session, 10, "list_oncalls", json!({}))
        .await;
    assert_eq!(reply.content_type(), "application/json");
    // Stateless: logs only with a logLevel in _meta.
    let mut params = json!({"name":"list_teams","arguments":{}});
    params["_meta"] = meta();
    params["_meta"]["progressToken"] = json!(5);
    let reply = raw
        .post(
            &[
                ("MCP-Protocol-Version", STATELESS),
                ("Mcp-Method", "tools/call"),
                ("Mcp-Name", "list_teams"),
            ],
            json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":params}),
        )
        .await;
    assert!(reply.body.contains("notifications/progress"));
    assert!(!reply.body.contains("notifications/message"));
}

/// Reads a response body until the connection breaks; returns what arrived.
async fn read_until_cut(response: reqwest::Response) -> (String, bool) {
    let mut response = response;
    let mut body = Vec::new();
    let mut broken = false;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(_) => {
                broken = true;
                break;
            }
        }
    }
    (String::from_utf8_lossy(&body).into_owned(), broken)
}

#[tokio::test]
async fn dropped_sse_stream_resumes_with_last_event_id() {
    let (mock, raw) = demo_raw().await;
    let session = raw.open_session("2025-11-25").await;
    mock.drop_sse_next(1);
    let body = json!({"jsonrpc":"2.0","id":42,"method":"tools/call","params":{
        "name":"list_incidents","arguments":{},"_meta":{"progressToken":"p"}}});
    let response = raw
        .post_builder(
            &[
                ("Mcp-Session-Id", &session),
                ("MCP-Protocol-Version", "2025-11-25"),
            ],
            body.to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (partial, broken) = read_until_cut(response).await;
    assert!(broken, "the stream must break: {partial}");
    assert!(partial.contains("retry: "));
    // Complete events only: the cut one has no blank line after it.
    let complete = &partial[..partial.rfind("\r\n\r\n").unwrap() + 4];
    let last_id = sse_ids(complete).last().cloned().expect("a primed id");
    let seen: Vec<Value> = sse_events(complete)
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    assert!(seen.iter().all(|m| m.get("result").is_none()));

    let resumed = raw
        .request(
            Method::GET,
            &[
                ("Accept", "text/event-stream"),
                ("Mcp-Session-Id", &session),
                ("MCP-Protocol-Version", "2025-11-25"),
                ("Last-Event-ID", &last_id),
            ],
        )
        .await;
    assert_eq!(resumed.status, StatusCode::OK);
    let rest: Vec<Value> = sse_events(&resumed.body)
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(rest.last().unwrap()["id"], 42);
    assert!(rest.last().unwrap()["result"]["structuredContent"].is_object());
    assert_eq!(
        seen.len() + rest.len(),
        5,
        "3 progress + 1 log + the result"
    );

    let records = mock.requests();
    assert!(records.iter().any(|r| r.fault == Some("drop_sse")));
    assert!(
        records
            .iter()
            .any(|r| r.last_event_id.as_deref() == Some(last_id.as_str()))
    );

    // Stateless: the stream breaks without ids (the request is lost).
    mock.drop_sse_next(1);
    let body = json!({"jsonrpc":"2.0","id":43,"method":"tools/list","params":{"_meta":meta()}});
    let response = raw
        .post_builder(
            &[
                ("MCP-Protocol-Version", STATELESS),
                ("Mcp-Method", "tools/list"),
            ],
            body.to_string(),
        )
        .send()
        .await
        .unwrap();
    let (partial, broken) = read_until_cut(response).await;
    assert!(broken);
    assert!(sse_ids(&partial).is_empty());

    // A Last-Event-ID of another session's stream is refused.
    let other = raw.open_session("2025-11-25").await;
    let reply = raw
        .request(
            Method::GET,
            &[
                ("Accept", "text/event-stream"),
                ("Mcp-Session-Id", &other),
                ("Last-Event-ID", &last_id),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn standalone_stream_carries_notifications() {
    let (mock, raw) = demo_raw().await;
    let session = raw.open_session("2025-11-25").await;
    let mut response = raw
        .client
        .get(mock.url())
        .header("Authorization", &raw.auth)
        .header("Accept", "text/event-stream")
        .header("Mcp-Session-Id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let priming = next_chunk(&mut response).await;
    assert!(String::from_utf8_lossy(&priming).contains("retry: "));
    assert_eq!(
        mock.notify("notifications/tools/list_changed", json!({})),
        1
    );
    let chunk = next_chunk(&mut response).await;
    assert!(String::from_utf8_lossy(&chunk).contains("notifications/tools/list_changed"));
    assert!(mock.sessions()[0].has_standalone_stream);
    mock.shutdown().await;
    // The stream ends with the mock.
    let end = tokio::time::timeout(Duration::from_secs(5), response.chunk())
        .await
        .unwrap();
    assert!(!matches!(end, Ok(Some(_))));
}

#[tokio::test]
async fn status_faults() {
    let (mock, raw) = demo_raw().await;
    let session = raw.open_session("2025-11-25").await;

    mock.fail_next(2, 503);
    for _ in 0..2 {
        let reply = raw.session_call(&session, 1, "tools/list", json!({})).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    }
    // Notifications do not use faults up.
    mock.fail_next(1, 502);
    let reply = raw.initialized(&session).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let reply = raw.session_call(&session, 1, "tools/list", json!({})).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    let reply = raw.session_call(&session, 1, "tools/list", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK);

    mock.rate_limit_next(1, Duration::from_secs(7));
    let reply = raw.session_call(&session, 1, "tools/list", json!({})).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.headers["retry-after"], "7");
    assert_rpc_error(&reply, 2020);

    mock.redirect_next(1, "http://203.0.113.9:1/mcp");
    let reply = raw.session_call(&session, 1, "tools/list", json!({})).await;
    assert_eq!(reply.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(reply.headers["location"], "http://203.0.113.9:1/mcp");

    mock.malformed_next(1);
    let reply = raw.session_call(&session, 1, "tools/list", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type(), "application/json");
    assert!(serde_json::from_str::<Value>(&reply.body).is_err());

    mock.oversized_next(1, 3 * 1024 * 1024);
    let reply = raw
        .session_tool(&session, 77, "list_teams", json!({}))
        .await;
    assert!(
        reply.body.len() >= 3 * 1024 * 1024 - 64,
        "{}",
        reply.body.len()
    );
    assert_eq!(reply.json()["id"], 77);

    assert_eq!(mock.expire_sessions(), 1);
    let reply = raw.session_call(&session, 1, "tools/list", json!({})).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    let faults: Vec<&str> = mock.requests().iter().filter_map(|r| r.fault).collect();
    assert_eq!(
        faults,
        vec![
            "fail",
            "fail",
            "fail",
            "rate_limit",
            "redirect",
            "malformed",
            "oversized"
        ]
    );
}

#[tokio::test]
async fn hanging_requests_never_answer_until_shutdown() {
    let (mock, raw) = demo_raw().await;
    mock.hang_next(1);
    let request = raw
        .post_builder(
            &[
                ("MCP-Protocol-Version", STATELESS),
                ("Mcp-Method", "tools/list"),
            ],
            json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":meta()}})
                .to_string(),
        )
        .timeout(Duration::from_millis(300));
    let err = request.send().await.expect_err("the request hangs");
    assert!(err.is_timeout());
    let records = mock.requests();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].fault, Some("hang"));
    assert_eq!(records[0].status, None);
    // The next request is served.
    let reply = raw.stateless("tools/list", json!({}), None).await;
    assert_eq!(reply.status, StatusCode::OK);
    // Shutdown releases a hanging request.
    mock.hang_next(1);
    let pending = tokio::spawn(
        raw.post_builder(
            &[
                ("MCP-Protocol-Version", STATELESS),
                ("Mcp-Method", "tools/list"),
            ],
            json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":meta()}})
                .to_string(),
        )
        .send(),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    tokio::time::timeout(Duration::from_secs(5), mock.shutdown())
        .await
        .expect("shutdown is prompt");
    let outcome = tokio::time::timeout(Duration::from_secs(5), pending)
        .await
        .expect("released")
        .unwrap();
    if let Ok(response) = outcome {
        assert_ne!(response.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn bad_input_gets_errors_never_a_panic() {
    let (mock, raw) = demo_raw().await;
    let session = raw.open_session("2025-11-25").await;
    let post_raw =
        |body: &'static str| raw.send(raw.post_builder(&[("Mcp-Session-Id", &session)], body));

    let reply = post_raw("{not json").await;
    assert_error(&reply, StatusCode::BAD_REQUEST, -32700);
    let reply = post_raw(r#"{"id":1,"method":"ping"}"#).await;
    assert_rpc_error(&reply, -32600);
    let reply = post_raw(r#"{"jsonrpc":"2.0","id":1,"method":42}"#).await;
    assert_rpc_error(&reply, -32600);
    let reply = post_raw(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = post_raw(r#""just a string""#).await;
    assert_rpc_error(&reply, -32600);
    let params = json!({"arguments":{}});
    let reply = raw.session_call(&session, 1, "tools/call", params).await;
    assert_rpc_error(&reply, -32602);
    let arguments = json!([1]);
    let reply = raw.session_tool(&session, 1, "list_users", arguments).await;
    assert_rpc_error(&reply, -32602);
    let params = json!({"level":"loud"});
    let reply = raw
        .session_call(&session, 1, "logging/setLevel", params)
        .await;
    assert_rpc_error(&reply, -32602);
    let arguments = json!({"limit":"many"});
    let reply = raw
        .session_tool(&session, 1, "list_incidents", arguments)
        .await;
    assert_tool_error(&reply);

    // Transport checks.
    let reply = raw
        .post_text(
            &[("Accept", ACCEPT_BOTH), ("Content-Type", "text/plain")],
            "{}",
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = raw
        .post_text(
            &[
                ("Accept", "application/json"),
                ("Content-Type", "application/json"),
            ],
            "{}",
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_ACCEPTABLE);
    let huge = vec![b' '; 5 * 1024 * 1024];
    let reply = raw
        .send(raw.post_builder(&[("Mcp-Session-Id", &session)], huge))
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    let reply = raw
        .post_text(
            &[
                ("Host", "evil.example:80"),
                ("Accept", ACCEPT_BOTH),
                ("Content-Type", "application/json"),
            ],
            "{}",
        )
        .await;
    assert_eq!(reply.status, StatusCode::MISDIRECTED_REQUEST);
    let reply = raw.request(Method::PUT, &[]).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    let mut other = mock.url();
    other.set_path("/other");
    let reply = raw
        .send(raw.client.get(other).header("Authorization", &raw.auth))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(mock.requests().last().unwrap().path, "/other");

    // The mock still works.
    let reply = raw.session_call(&session, 2, "ping", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn records_and_debug_never_hold_a_token() {
    let mock = MockPagerDuty::builder()
        .user(MockUser::new(
            "PSECRET",
            "Secret",
            "s@example.com",
            "user",
            "u+VERY-SECRET-TOKEN",
        ))
        .start()
        .await
        .unwrap();
    for token in [
        MockPagerDuty::DEMO_TOKEN,
        "u+VERY-SECRET-TOKEN",
        "u+WRONG-SECRET-TOKEN",
    ] {
        let raw = Raw::new(&mock, token);
        let _ = raw.stateless("tools/list", json!({}), None).await;
        let _ = raw
            .post(&[], json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
                "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}))
            .await;
    }
    let records = mock.requests();
    assert_eq!(records.len(), 6);
    assert_eq!(records.iter().filter(|r| r.auth_matched).count(), 4);
    let text = format!("{records:?}");
    let debug = format!("{mock:?}");
    for text in [&text, &debug] {
        assert!(!text.contains("SECRET-TOKEN"), "{text}");
        assert!(!text.contains(MockPagerDuty::DEMO_TOKEN), "{text}");
    }
    assert!(debug.contains("PSECRET"));
    mock.clear_requests();
    assert!(mock.requests().is_empty());
}

#[test]
fn the_mock_can_be_shared_between_tasks() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<MockPagerDuty>();
    assert_send_sync::<MockUser>();
    assert_send_sync::<pagerduty_mcp_connect_mock::RecordedRequest>();
}

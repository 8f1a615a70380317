//! Protocol negotiation, told as stories against the crate's own embedded mock server: the real
//! client, real HTTP on loopback, and the mock's request records as the witness.
//!
//! - `Auto` finds the 2026-07-28 stateless era on a dual-era server, falls back to the session era
//!   on a server that answers like a 1.x SDK, and remembers the outcome for the next user.
//! - Pinned session-era versions send `MCP-Protocol-Version` from 2025-06-18 on (never before)
//!   and `Mcp-Session-Id` on every request after `initialize`.
//! - 401 and 403 are never evidence of an older server.
//! - The stateless era's routing headers, and every typed operation in both eras.

use super::common::{call, client, complete, connect, methods, mock, start};
use pagerduty_mcp_connect::{
    CompletionTarget, Credential, Error, LoggingLevel, ProtocolPreference, ProtocolVersion,
};
use pagerduty_mcp_connect_mock::{Eras, MockPagerDuty, RecordedRequest};
use serde_json::json;

const DEMO: &str = MockPagerDuty::DEMO_TOKEN;
const ALICE: &str = MockPagerDuty::ALICE_TOKEN;
const STATELESS: ProtocolPreference = ProtocolPreference::Exact(ProtocolVersion::V2026_07_28);
const SESSION: ProtocolPreference = ProtocolPreference::Exact(ProtocolVersion::V2025_11_25);

/// Every recorded request carried a credential the mock accepted, and the crate's User-Agent.
fn assert_all_authorised(records: &[RecordedRequest]) {
    assert!(!records.is_empty(), "the mock saw no requests");
    for record in records {
        assert!(
            record.auth_matched,
            "request without a valid token: {record:?}"
        );
        let agent = record.user_agent.as_deref().unwrap_or("");
        assert!(agent.starts_with("pagerduty-mcp-connect/"), "{record:?}");
    }
}

#[tokio::test]
async fn auto_finds_the_stateless_era_on_a_dual_era_server_and_remembers_it() {
    let mock = mock(Eras::Both).await;
    let client = client(&mock, ProtocolPreference::Auto);
    assert_eq!(client.negotiated_version(), None);

    // The first user's connection is the probe: one server/discover, no initialize.
    let demo = client.connect(&Credential::new(DEMO)).await.expect("demo");
    assert_eq!(demo.version(), ProtocolVersion::V2026_07_28);
    assert_eq!(
        client.negotiated_version(),
        Some(ProtocolVersion::V2026_07_28)
    );
    assert_eq!(demo.server_details().server_info.name, "pagerduty-mcp-mock");
    let records = mock.requests();
    assert_eq!(methods(&records), ["POST server/discover"]);
    assert_eq!(records[0].protocol_version.as_deref(), Some("2026-07-28"));
    assert_eq!(records[0].status, Some(200));
    assert_all_authorised(&records);

    // The second user goes straight to the remembered era: no probe, no discover, nothing
    // refused, nothing initialised.
    mock.clear_requests();
    let alice = connect(&client, ALICE).await;
    assert_eq!(alice.version(), ProtocolVersion::V2026_07_28);
    let who = call(&alice, "get_user_data", json!({})).await;
    assert!(
        who.text().contains(MockPagerDuty::ALICE_USER_ID),
        "{}",
        who.text()
    );
    let records = mock.requests();
    // Discover runs once per endpoint: the new user's only request is the call (the mock's
    // discover result is `private` with `ttlMs: 0`, so Alice starts from the server's identity
    // and versions only).
    assert_eq!(methods(&records), ["POST tools/call"]);
    assert_eq!(
        alice.server_details().server_info.name,
        "pagerduty-mcp-mock"
    );
    for record in &records {
        assert_eq!(record.status, Some(200), "{record:?}");
        assert_eq!(record.protocol_version.as_deref(), Some("2026-07-28"));
        assert_eq!(record.session_id, None);
        assert_eq!(
            record.user_id.as_deref(),
            Some(MockPagerDuty::ALICE_USER_ID)
        );
    }
    assert_all_authorised(&records);
    assert!(
        mock.sessions().is_empty(),
        "the stateless era opens no session"
    );
}

#[tokio::test]
async fn auto_falls_back_to_the_session_era_on_a_1x_style_server_and_remembers_it() {
    let mock = mock(Eras::SessionOnly).await;
    let client = client(&mock, ProtocolPreference::Auto);

    // The probe gets 400 "Bad Request: Missing session ID" (JSON-RPC shaped, id "server-error"):
    // the answer of a handshake-era server. The client falls back to initialize.
    let demo = client.connect(&Credential::new(DEMO)).await.expect("demo");
    assert_eq!(demo.version(), ProtocolVersion::V2025_11_25);
    assert_eq!(
        client.negotiated_version(),
        Some(ProtocolVersion::V2025_11_25)
    );
    let records = mock.requests();
    assert_eq!(
        methods(&records),
        [
            "POST server/discover",
            "POST initialize",
            "POST notifications/initialized"
        ]
    );
    assert_eq!(records[0].status, Some(400));
    assert_eq!(records[1].status, Some(200));
    assert_eq!(records[1].session_id, None, "initialize carries no session");
    let session_id = mock.sessions()[0].id.clone();
    assert_eq!(records[2].session_id.as_deref(), Some(session_id.as_str()));
    assert_eq!(records[2].protocol_version.as_deref(), Some("2025-11-25"));
    assert_all_authorised(&records);
    let tools = demo.list_tools().await.expect("tools/list");
    assert!(tools.iter().any(|t| t.name == "list_incidents"));

    // The second user does not probe again: initialize straight away.
    mock.clear_requests();
    let alice = connect(&client, ALICE).await;
    assert_eq!(alice.version(), ProtocolVersion::V2025_11_25);
    let records = mock.requests();
    assert_eq!(
        methods(&records),
        ["POST initialize", "POST notifications/initialized"]
    );
    assert_all_authorised(&records);
    assert_eq!(mock.sessions().len(), 2, "one session per user");
}

#[tokio::test]
async fn auto_against_a_stateless_only_server_and_a_pinned_session_version_there() {
    let mock = mock(Eras::StatelessOnly).await;
    let session = client(&mock, ProtocolPreference::Auto)
        .connect(&Credential::new(DEMO))
        .await
        .expect("auto");
    assert_eq!(session.version(), ProtocolVersion::V2026_07_28);
    let tools = session.list_tools().await.expect("tools/list");
    assert_eq!(tools.len(), 19);
    assert_eq!(
        methods(&mock.requests()),
        ["POST server/discover", "POST tools/list"]
    );

    // Pinned to the session era, the same server refuses initialize with -32022.
    mock.clear_requests();
    let err = client(&mock, SESSION)
        .connect(&Credential::new(DEMO))
        .await
        .expect_err("no session era here");
    match &err {
        Error::Server { code, data, .. } => {
            assert_eq!(*code, -32022, "{err}");
            assert_eq!(data.as_ref().unwrap()["supported"], json!(["2026-07-28"]));
        }
        other => panic!("expected the unsupported-version error, got {other:?}"),
    }
    let records = mock.requests();
    assert_eq!(methods(&records), ["POST initialize"]);
    assert_all_authorised(&records);
}

#[tokio::test]
async fn pinned_session_versions_send_the_version_header_from_2025_06_18_and_the_session_id_always()
{
    let mock = mock(Eras::Both).await;
    for version in [
        ProtocolVersion::V2024_11_05,
        ProtocolVersion::V2025_03_26,
        ProtocolVersion::V2025_06_18,
        ProtocolVersion::V2025_11_25,
    ] {
        mock.clear_requests();
        let session = client(&mock, ProtocolPreference::Exact(version))
            .connect(&Credential::new(DEMO))
            .await
            .unwrap_or_else(|e| panic!("{version}: {e}"));
        assert_eq!(session.version(), version);
        let held = mock.sessions();
        assert_eq!(held.len(), 1, "{version}");
        assert_eq!(held[0].protocol_version, version.as_str());
        assert!(held[0].initialized, "{version}: notifications/initialized");
        let session_id = held[0].id.clone();

        session.list_tools().await.expect("tools/list");
        let arguments = json!({"statuses": ["triggered"]});
        let incidents = call(&session, "list_incidents", arguments).await;
        assert!(!incidents.is_error(), "{}", incidents.text());
        session.ping().await.expect("ping");
        session.close().await.expect("close");
        assert!(mock.sessions().is_empty(), "{version}: DELETE ended it");

        let records = mock.requests();
        assert_eq!(
            methods(&records),
            [
                "POST initialize",
                "POST notifications/initialized",
                "POST tools/list",
                "POST tools/call",
                "POST ping",
                "DELETE -"
            ],
            "{version}"
        );
        assert_all_authorised(&records);
        let (init, rest) = records.split_first().unwrap();
        assert_eq!(
            init.session_id, None,
            "{version}: initialize has no session"
        );
        for record in rest {
            assert_eq!(
                record.session_id.as_deref(),
                Some(session_id.as_str()),
                "{version}: {record:?}"
            );
            let expected = (version >= ProtocolVersion::V2025_06_18).then(|| version.as_str());
            assert_eq!(
                record.protocol_version.as_deref(),
                expected,
                "{version}: {record:?}"
            );
            assert_eq!(
                record.mcp_method, None,
                "{version}: no stateless headers in the session era"
            );
            assert!(
                matches!(record.status, Some(200 | 202)),
                "{version}: {record:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized_at_once_never_a_sign_of_an_older_server() {
    for eras in [Eras::Both, Eras::SessionOnly] {
        let mock = mock(eras).await;
        let client = client(&mock, ProtocolPreference::Auto);
        let err = client
            .connect(&Credential::new("u+NotAKnownToken9999"))
            .await
            .expect_err("wrong token");
        assert!(
            matches!(err, Error::Unauthorized { .. }),
            "{eras:?}: {err:?}"
        );
        assert!(err.is_credential_problem());
        assert!(!err.to_string().contains("NotAKnownToken"), "{err}");
        let records = mock.requests();
        assert_eq!(
            records.len(),
            1,
            "{eras:?}: exactly one request: {records:?}"
        );
        assert_eq!(records[0].status, Some(401));
        assert!(records[0].auth_present);
        assert!(!records[0].auth_matched);
        assert_eq!(client.negotiated_version(), None, "nothing was learned");
    }
}

#[tokio::test]
async fn a_403_is_forbidden_at_once_never_a_sign_of_an_older_server() {
    // The mock has no role that gets 403 from the transport; a failure status of 403 on the next
    // request stands in for a gateway that forbids the user.
    let mock = mock(Eras::Both).await;
    mock.fail_next(1, 403);
    let client = client(&mock, ProtocolPreference::Auto);
    let err = client
        .connect(&Credential::new(DEMO))
        .await
        .expect_err("forbidden");
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    let records = mock.requests();
    assert_eq!(records.len(), 1, "exactly one request: {records:?}");
    assert_eq!(records[0].status, Some(403));
    assert_eq!(records[0].fault, Some("fail"));
    assert_all_authorised(&records);
    assert_eq!(client.negotiated_version(), None);
    // Nothing sticks: the next connection negotiates normally.
    let session = connect(&client, DEMO).await;
    assert_eq!(session.version(), ProtocolVersion::V2026_07_28);
}

#[tokio::test]
async fn stateless_requests_carry_method_and_name_headers_the_mock_checks() {
    let mock = mock(Eras::Both).await;
    let session = client(&mock, STATELESS)
        .connect(&Credential::new(DEMO))
        .await
        .expect("connect");
    session.list_tools().await.expect("tools/list");
    let arguments = json!({"incident_id": "Q1CHKOUT5XX01"});
    let incident = call(&session, "get_incident", arguments).await;
    assert!(incident.text().contains("Checkout API 5xx"), "{incident:?}");
    session
        .get_prompt(
            "incident_summary",
            [("incident_id".to_owned(), "Q1CHKOUT5XX01".to_owned())],
        )
        .await
        .expect("prompts/get");
    session
        .read_resource("pagerduty://users/me")
        .await
        .expect("resources/read");
    let target = CompletionTarget::Prompt("incident_summary".into());
    complete(&session, target, "incident_id", "Q1").await;
    // A name that is not visible ASCII travels base64-encoded; the mock decodes and compares it,
    // so the 200 proves the encoding (the unknown tool is a tool error, not a transport error).
    let unknown = call(&session, "café", json!({})).await;
    assert!(unknown.is_error());

    let records = mock.requests();
    assert_all_authorised(&records);
    for record in &records {
        // The mock answers 400 (-32602) without the `_meta` envelope and 400 (-32020) on any
        // header mismatch: every 200 proves both.
        assert_eq!(record.status, Some(200), "{record:?}");
        assert_eq!(record.http_method, "POST");
        assert_eq!(record.session_id, None);
        assert_eq!(record.protocol_version.as_deref(), Some("2026-07-28"));
        let method = record.jsonrpc_methods[0].as_str();
        assert_eq!(record.mcp_method.as_deref(), Some(method), "{record:?}");
        let name = match method {
            "tools/call" | "prompts/get" | "resources/read" => record.mcp_name.as_deref(),
            _ => {
                assert_eq!(record.mcp_name, None, "no Mcp-Name for {method}");
                continue;
            }
        };
        assert!(name.is_some(), "Mcp-Name missing: {record:?}");
    }
    let names: Vec<_> = records
        .iter()
        .filter_map(|r| r.mcp_name.as_deref())
        .collect();
    assert_eq!(
        names,
        [
            "get_incident",
            "incident_summary",
            "pagerduty://users/me",
            "=?base64?Y2Fmw6k=?="
        ]
    );
}

/// The typed operations, the same story in both eras.
#[tokio::test]
async fn typed_operations_work_in_both_eras_with_pagination() {
    for preference in [SESSION, STATELESS] {
        let mock = start(MockPagerDuty::builder().page_size(3)).await;
        let session = client(&mock, preference)
            .connect(&Credential::new(DEMO))
            .await
            .expect("connect");

        let tools = session.list_tools().await.expect("tools/list");
        assert_eq!(tools.len(), 19, "{preference:?}");
        let mut names: Vec<_> = tools.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 19, "no tool twice across pages");
        let list_incidents = tools.iter().find(|t| t.name == "list_incidents").unwrap();
        assert!(list_incidents.is_read_only());
        let create = tools.iter().find(|t| t.name == "create_incident").unwrap();
        assert!(!create.is_read_only());
        let pages = mock
            .requests()
            .iter()
            .filter(|r| r.jsonrpc_methods.first().map(String::as_str) == Some("tools/list"))
            .count();
        assert_eq!(pages, 7, "19 tools in pages of 3");

        let resources = session.list_resources().await.expect("resources/list");
        let mut uris: Vec<_> = resources.iter().map(|r| r.uri.as_str()).collect();
        uris.sort_unstable();
        assert_eq!(
            uris,
            [
                "pagerduty://incidents/open",
                "pagerduty://services",
                "pagerduty://users/me"
            ]
        );
        let templates = session
            .list_resource_templates()
            .await
            .expect("resources/templates/list");
        assert_eq!(templates.len(), 1);
        assert_eq!(
            templates[0].uri_template,
            "pagerduty://incidents/{incident_id}"
        );
        let prompts = session.list_prompts().await.expect("prompts/list");
        let mut prompt_names: Vec<_> = prompts.iter().map(|p| p.name.as_str()).collect();
        prompt_names.sort_unstable();
        assert_eq!(prompt_names, ["incident_summary", "oncall_handoff"]);

        let arguments = [("incident_id".to_owned(), "Q1SEARCHLAT02".to_owned())];
        let prompt = session.get_prompt("incident_summary", arguments).await;
        let prompt = prompt.expect("prompts/get");
        assert!(!prompt.messages.is_empty());
        let text = prompt.messages[0].content.text.clone().unwrap_or_default();
        assert!(text.contains("Search p99 latency"), "{text}");

        let target = CompletionTarget::Prompt("incident_summary".into());
        let completed = complete(&session, target, "incident_id", "q1").await;
        assert_eq!(completed.completion.values.len(), 4, "{completed:?}");
        let target =
            CompletionTarget::ResourceTemplate("pagerduty://incidents/{incident_id}".into());
        let completed = complete(&session, target, "incident_id", "Q1DISK").await;
        assert_eq!(completed.completion.values, ["Q1DISKFULL004"]);

        let me = session
            .read_resource("pagerduty://users/me")
            .await
            .expect("resources/read");
        assert_eq!(me.contents.len(), 1);
        assert!(
            me.contents[0]
                .text
                .as_deref()
                .unwrap_or("")
                .contains("demo@example.com")
        );
        let missing = session
            .read_resource("pagerduty://incidents/NOPE")
            .await
            .expect_err("unknown resource");
        assert!(
            matches!(
                missing,
                Error::Server {
                    code: -32002 | -32602,
                    ..
                }
            ),
            "{missing:?}"
        );

        session.ping().await.expect("ping");
        session
            .set_logging_level(LoggingLevel::Warning)
            .await
            .expect("logging level");
        let set_level_sent = mock
            .requests()
            .iter()
            .any(|r| r.jsonrpc_methods.first().map(String::as_str) == Some("logging/setLevel"));
        // The stateless era has no logging/setLevel: the level rides in each request's `_meta`.
        assert_eq!(set_level_sent, preference == SESSION, "{preference:?}");
        // The level is accepted by the server on the next request in both eras.
        session.ping().await.expect("ping after level");

        assert_all_authorised(&mock.requests());
        for record in mock.requests() {
            // The unknown resource is 400 (-32602) in the stateless era, 200 with -32002 before.
            let unknown_resource = record.mcp_name.as_deref() == Some("pagerduty://incidents/NOPE");
            assert!(
                matches!(record.status, Some(200 | 202)) || unknown_resource,
                "{preference:?}: {record:?}"
            );
        }
        session.close().await.expect("close");
    }
}

// ---------------------------------------------------------------------------------------------
// Odd and hostile servers nobody here would write on purpose: each tries to mislead `Auto`.
// ---------------------------------------------------------------------------------------------

mod odd {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::Router;
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::any;
    use pagerduty_mcp_connect::{
        AuthScheme, Credential, Error, GenericServer, McpClient, ProtocolPreference,
        ProtocolVersion, Session,
    };
    use serde_json::{Value, json};

    use crate::loopback::serve_mcp;

    #[derive(Clone, Copy, PartialEq, Debug)]
    pub enum Odd {
        /// A session-era server answering every unknown method (discover included) with `{}`.
        EmptyResultForUnknown,
        /// A stateless server refusing the first request with `-32022` yet listing 2026-07-28.
        RefusesFirstListingItself,
        /// Refuses 2026-07-28 with `-32022` listing only session-era versions.
        ListsOnlySessionVersions,
        /// A discover result listing only a future version.
        DiscoverListsAnotherVersion,
        /// Answers `initialize` with 2025-06-18 whatever is offered.
        Chooses2025_06_18,
        /// 401 with a JSON-RPC-looking body to everything.
        Unauthorized,
        /// 403 with an "unsupported version"-looking body to everything.
        Forbidden,
        /// A session-era server that takes 200 ms to refuse the stateless probe.
        SlowRefusal,
    }

    #[derive(Default)]
    pub struct Log {
        pub calls: Mutex<Vec<(String, Option<String>, Value)>>,
        refused: AtomicUsize,
    }

    impl Log {
        pub fn methods(&self) -> Vec<String> {
            self.calls
                .lock()
                .unwrap()
                .iter()
                .map(|c| c.0.clone())
                .collect()
        }
        pub fn count(&self, method: &str) -> usize {
            self.methods().iter().filter(|m| *m == method).count()
        }
        /// The body of the first `method` request.
        pub fn first_body(&self, method: &str) -> Value {
            let calls = self.calls.lock().unwrap();
            let call = calls.iter().find(|c| c.0 == method);
            call.expect("a request of that method").2.clone()
        }
    }

    fn reply(status: StatusCode, body: Value) -> Response {
        (
            status,
            [
                ("content-type", "application/json"),
                ("mcp-session-id", "odd"),
            ],
            body.to_string(),
        )
            .into_response()
    }

    pub async fn serve(odd: Odd) -> (String, Arc<Log>) {
        let log = Arc::new(Log::default());
        let state = log.clone();
        let handler = move |headers: HeaderMap, body: Bytes| {
            let log = state.clone();
            async move {
                let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let method = message["method"].as_str().unwrap_or("").to_owned();
                let version = headers
                    .get("mcp-protocol-version")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                log.calls
                    .lock()
                    .unwrap()
                    .push((method.clone(), version.clone(), message.clone()));
                let id = message["id"].clone();
                if id.is_null() {
                    return StatusCode::ACCEPTED.into_response();
                }
                let ok = |result: Value| {
                    reply(
                        StatusCode::OK,
                        json!({"jsonrpc":"2.0","id":id,"result":result}),
                    )
                };
                let error = |status: StatusCode, code: i64, data: Value| {
                    reply(
                        status,
                        json!({"jsonrpc":"2.0","id":id,"error":{
                        "code":code,"message":"refused","data":data}}),
                    )
                };
                let initialize = |chosen: &str| {
                    ok(json!({"protocolVersion":chosen,"capabilities":{"tools":{}},
                        "serverInfo":{"name":"odd","version":"0"}}))
                };
                let discover = json!({"supportedVersions":["2026-07-28"],
                    "capabilities":{"tools":{}},"serverInfo":{"name":"odd","version":"0"}});
                match (odd, method.as_str()) {
                    (Odd::Unauthorized, _) => reply(
                        StatusCode::UNAUTHORIZED,
                        json!({
                        "jsonrpc":"2.0","id":id,"error":{"code":-32600,"message":"Bad Request: Missing session ID"}}),
                    ),
                    (Odd::Forbidden, _) => reply(
                        StatusCode::FORBIDDEN,
                        json!({
                        "jsonrpc":"2.0","id":id,"error":{"code":-32022,"message":"unsupported",
                        "data":{"supported":["2025-11-25"]}}}),
                    ),
                    (Odd::EmptyResultForUnknown, "initialize") => initialize("2025-11-25"),
                    (Odd::EmptyResultForUnknown, "tools/list") => ok(json!({"tools":[]})),
                    (Odd::EmptyResultForUnknown, _) => ok(json!({})),
                    (Odd::RefusesFirstListingItself, _)
                        if log.refused.fetch_add(1, Ordering::SeqCst) == 0 =>
                    {
                        error(
                            StatusCode::BAD_REQUEST,
                            -32022,
                            json!({"supported":["2026-07-28"],"requested":"2026-07-28"}),
                        )
                    }
                    (Odd::RefusesFirstListingItself, "server/discover") => ok(discover),
                    (Odd::RefusesFirstListingItself, _) => ok(json!({"tools":[]})),
                    (Odd::SlowRefusal, "server/discover") => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        reply(
                            StatusCode::BAD_REQUEST,
                            json!({"jsonrpc":"2.0","id":id,
                            "error":{"code":-32600,"message":"Bad Request: Missing session ID"}}),
                        )
                    }
                    (Odd::SlowRefusal, "initialize") => initialize("2025-11-25"),
                    (Odd::SlowRefusal, _) => ok(json!({"tools":[]})),
                    (Odd::ListsOnlySessionVersions, "initialize") => {
                        initialize(message["params"]["protocolVersion"].as_str().unwrap_or(""))
                    }
                    (Odd::ListsOnlySessionVersions, _)
                        if version.as_deref() == Some("2026-07-28") =>
                    {
                        error(
                            StatusCode::BAD_REQUEST,
                            -32022,
                            json!({"supported":["2025-03-26","2025-06-18"]}),
                        )
                    }
                    (Odd::ListsOnlySessionVersions, _) => ok(json!({"tools":[]})),
                    (Odd::DiscoverListsAnotherVersion, "server/discover") => ok(json!({
                        "supportedVersions":["2099-01-01"],"capabilities":{}})),
                    (Odd::DiscoverListsAnotherVersion, "initialize") => initialize("2025-11-25"),
                    (Odd::DiscoverListsAnotherVersion, _) => ok(json!({"tools":[]})),
                    (Odd::Chooses2025_06_18, "server/discover") => {
                        error(StatusCode::NOT_FOUND, -32601, Value::Null)
                    }
                    (Odd::Chooses2025_06_18, "initialize") => initialize("2025-06-18"),
                    (Odd::Chooses2025_06_18, _) => ok(json!({"tools":[]})),
                }
            }
        };
        let url = serve_mcp(Router::new().route("/mcp", any(handler))).await;
        (url, log)
    }

    pub fn client(url: &str, preference: ProtocolPreference) -> McpClient {
        let server = GenericServer::new("odd", url, AuthScheme::token()).unwrap();
        McpClient::builder(server)
            .protocol(preference)
            .request_timeout(Duration::from_secs(5))
            .retry_base_delay(Duration::from_millis(10))
            .build()
            .unwrap()
    }

    pub fn credential() -> Credential {
        Credential::new("u+odd-server-token")
    }

    /// A server behaving as `odd` (its URL and log), and an `Auto` client with a session it
    /// opened there.
    pub async fn connect_auto(odd: Odd) -> (String, Arc<Log>, McpClient, Session) {
        let (url, log) = serve(odd).await;
        let client = client(&url, ProtocolPreference::Auto);
        let session = client.connect(&credential()).await.expect("connects");
        (url, log, client, session)
    }

    pub fn is_auth_error(err: &Error) -> bool {
        matches!(err, Error::Unauthorized { .. } | Error::Forbidden { .. })
    }

    pub const V2026: ProtocolVersion = ProtocolVersion::V2026_07_28;
    pub const V2025: ProtocolVersion = ProtocolVersion::V2025_11_25;
}

#[tokio::test]
async fn an_empty_discover_result_is_no_proof_of_the_new_era() {
    let (url, log, client, session) = odd::connect_auto(odd::Odd::EmptyResultForUnknown).await;
    assert_eq!(session.version(), ProtocolVersion::V2025_11_25);
    assert_eq!(client.negotiated_version(), Some(odd::V2025));
    assert_eq!(
        log.methods()[..3],
        ["server/discover", "initialize", "notifications/initialized"]
    );
    session.list_tools().await.expect("session era works");
    // Pinned to 2026-07-28, the same reply is a clear error.
    let pinned = odd::client(&url, STATELESS);
    let err = pinned.connect(&odd::credential()).await.unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
}

#[tokio::test]
async fn a_discover_result_listing_only_another_version_falls_back_to_the_handshake() {
    let (_, log, _, session) = odd::connect_auto(odd::Odd::DiscoverListsAnotherVersion).await;
    assert_eq!(session.version(), ProtocolVersion::V2025_11_25);
    assert_eq!(log.count("initialize"), 1);
}

#[tokio::test]
async fn minus_32022_listing_the_version_sent_is_retried_once_with_it() {
    for preference in [ProtocolPreference::Auto, STATELESS] {
        let (url, log) = odd::serve(odd::Odd::RefusesFirstListingItself).await;
        let client = odd::client(&url, preference);
        let session = client.connect(&odd::credential()).await.expect("connects");
        assert_eq!(session.version(), odd::V2026, "{preference:?}");
        let calls = log.calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 2, "one refusal, one retry: {calls:?}");
        for (method, header, body) in &calls {
            assert_eq!(method, "server/discover");
            assert_eq!(header.as_deref(), Some("2026-07-28"));
            assert_eq!(
                body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"],
                "2026-07-28"
            );
        }
        assert_ne!(calls[0].2["id"], calls[1].2["id"], "the retry has a new id");
        assert_eq!(log.count("initialize"), 0);
    }
}

#[tokio::test]
async fn minus_32022_listing_session_versions_picks_the_newest_listed() {
    let (_, log, _, session) = odd::connect_auto(odd::Odd::ListsOnlySessionVersions).await;
    assert_eq!(session.version(), ProtocolVersion::V2025_06_18);
    assert_eq!(
        log.count("server/discover"),
        1,
        "the refusal is not retried"
    );
    let initialize = log.first_body("initialize");
    assert_eq!(initialize["params"]["protocolVersion"], "2025-06-18");
}

#[tokio::test]
async fn the_lenient_handshake_preference_accepts_the_servers_choice() {
    let (url, log) = odd::serve(odd::Odd::Chooses2025_06_18).await;
    let lenient = odd::client(&url, ProtocolPreference::Handshake);
    let session = lenient.connect(&odd::credential()).await.expect("accepted");
    assert_eq!(session.version(), ProtocolVersion::V2025_06_18);
    assert_eq!(log.count("server/discover"), 0, "never probes the new era");
    let offered = log.calls.lock().unwrap()[0].2["params"]["protocolVersion"].clone();
    assert_eq!(offered, "2025-11-25");
    // Exact refuses the same server.
    let strict = odd::client(&url, SESSION);
    let err = strict.connect(&odd::credential()).await.unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
}

#[tokio::test]
async fn concurrent_first_connections_share_one_probe() {
    let (url, log) = odd::serve(odd::Odd::SlowRefusal).await;
    let client = odd::client(&url, ProtocolPreference::Auto);
    let connects = (0..8).map(|_| {
        let client = client.clone();
        async move { client.connect(&odd::credential()).await }
    });
    let sessions = futures_util::future::join_all(connects).await;
    for session in sessions {
        assert_eq!(
            session.expect("connects").version(),
            ProtocolVersion::V2025_11_25
        );
    }
    // One probe; the seven others waited for its outcome and went straight to the handshake.
    assert_eq!(log.count("server/discover"), 1);
    assert_eq!(log.count("initialize"), 8);
    assert_eq!(client.negotiated_version(), Some(odd::V2025));
}

#[tokio::test]
async fn auth_failures_with_era_looking_bodies_are_never_evidence() {
    for kind in [odd::Odd::Unauthorized, odd::Odd::Forbidden] {
        let (url, log) = odd::serve(kind).await;
        let client = odd::client(&url, ProtocolPreference::Auto);
        let err = client.connect(&odd::credential()).await.unwrap_err();
        assert!(odd::is_auth_error(&err), "{kind:?}: {err:?}");
        assert_eq!(log.methods(), ["server/discover"], "{kind:?}: no fallback");
        assert_eq!(client.negotiated_version(), None, "nothing remembered");
    }
}

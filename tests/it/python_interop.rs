//! The client against a peer nobody here wrote: the official Python MCP SDK (`mcp` 2.3.0) behind a
//! PagerDuty-style `Authorization: Token <token>` check, over loopback HTTP, in both protocol eras.
//!
//! The peer is installed by `scripts/install-python-peer.sh` (README's test command runs it). When
//! it is missing the tests fail with that command, unless the run opts out with
//! `PAGERDUTY_MCP_SKIP_PEERS=1` (then they print a loud `SKIPPED:` line and check nothing).

#[path = "../support/python_peer.rs"]
mod python_peer;

use std::time::Duration;

use super::common::{call, call_err, complete};
use futures_util::StreamExt;
use pagerduty_mcp_connect::{
    AuthScheme, CompletionTarget, Credential, Error, GenericServer, McpClient, McpClientBuilder,
    ProtocolPreference, ProtocolVersion, RequestOptions, Session,
};
use python_peer::PythonPeer;
use serde_json::{Value, json};

const ALICE: &str = "u+alice-peer-token-0001";
const BOB: &str = "u+bob-peer-token-0002";

/// A client builder for `peer` (the `Token` scheme), speaking `preference`, retrying after
/// 20 ms.
fn client_builder(peer: &PythonPeer, preference: ProtocolPreference) -> McpClientBuilder {
    let server =
        GenericServer::new("python peer", &peer.url, AuthScheme::token()).expect("loopback URL");
    McpClient::builder(server)
        .protocol(preference)
        .retry_base_delay(Duration::from_millis(20))
}

/// [`client_builder`], built.
fn client(peer: &PythonPeer, preference: ProtocolPreference) -> McpClient {
    client_builder(peer, preference).build().expect("client")
}

/// A session with `peer` in `preference`'s era, as the user of `token`.
async fn connect(peer: &PythonPeer, preference: ProtocolPreference, token: &str) -> Session {
    match client(peer, preference)
        .connect(&Credential::new(token))
        .await
    {
        Ok(session) => session,
        Err(err) => panic!("{preference:?}: connect: {err}"),
    }
}

/// Whether `peer` records a request matching `wanted` within `attempts` looks, 50 ms apart.
async fn peer_sees(peer: &PythonPeer, attempts: usize, wanted: impl Fn(&Value) -> bool) -> bool {
    for _ in 0..attempts {
        if peer.mcp_requests().await.iter().any(&wanted) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The first tools/call request among `records`.
fn first_tool_call(records: &[Value]) -> &Value {
    records
        .iter()
        .find(|r| r["jsonrpc_methods"][0] == "tools/call")
        .expect("a tools/call request")
}

const SESSION_ERA: ProtocolPreference = ProtocolPreference::Exact(ProtocolVersion::V2025_11_25);
const STATELESS_ERA: ProtocolPreference = ProtocolPreference::Exact(ProtocolVersion::V2026_07_28);

/// Every request the peer saw carried the right `Authorization: Token` header.
async fn assert_all_authorised(peer: &PythonPeer) -> Vec<Value> {
    let records = peer.mcp_requests().await;
    assert!(!records.is_empty(), "the peer saw no requests");
    for record in &records {
        assert_eq!(
            record["auth_matched"], true,
            "request without the token header: {record}"
        );
        let agent = record["user_agent"].as_str().unwrap_or("");
        assert!(agent.starts_with("pagerduty-mcp-connect/"), "{record}");
    }
    records
}

#[tokio::test]
async fn auto_negotiates_the_stateless_era_and_remembers_it() {
    let Some(peer) = PythonPeer::start(&[ALICE, BOB], &[]).await else {
        return;
    };
    let client = client(&peer, ProtocolPreference::Auto);
    let session = client
        .connect(&Credential::new(ALICE))
        .await
        .expect("connect");
    assert_eq!(session.version(), ProtocolVersion::V2026_07_28);
    assert_eq!(
        client.negotiated_version(),
        Some(ProtocolVersion::V2026_07_28)
    );
    assert!(!session.server_details().server_info.name.is_empty());

    let tools = session.list_tools().await.expect("tools/list");
    assert!(tools.iter().any(|t| t.name == "echo" && t.is_read_only()));
    let result = call(&session, "add", json!({"a": 2, "b": 40})).await;
    assert!(!result.is_error());
    assert_eq!(result.structured_content.as_ref().unwrap()["result"], 42);

    // A second user reuses the remembered era: no second discover probe before its requests.
    peer.reset().await;
    let bob = client.connect(&Credential::new(BOB)).await.expect("bob");
    let who = bob.call_tool("whoami", Value::Null).await.expect("whoami");
    assert_eq!(who.structured_content.unwrap()["token_index"], 1);

    let records = assert_all_authorised(&peer).await;
    for record in &records {
        assert_eq!(record["mcp_protocol_version"], "2026-07-28", "{record}");
        assert!(record["mcp_session_id"].is_null(), "{record}");
        let method = record["jsonrpc_methods"][0].as_str().unwrap();
        assert_eq!(record["mcp_method"], method, "{record}");
        assert_ne!(method, "initialize");
    }
    assert_eq!(first_tool_call(&records)["mcp_name"], "whoami");
}

#[tokio::test]
async fn stateless_era_base64_encodes_non_ascii_names() {
    let Some(peer) = PythonPeer::start(&[ALICE], &[]).await else {
        return;
    };
    let session = connect(&peer, STATELESS_ERA, ALICE).await;
    // The SDK checks the decoded Mcp-Name against the body: a wrong encoding would be -32020.
    let result = call(&session, "café", Value::Null).await;
    assert!(
        result.is_error(),
        "unknown tool is a tool error: {result:?}"
    );
    let records = peer.mcp_requests().await;
    let call = first_tool_call(&records);
    assert_eq!(call["mcp_name"], "=?base64?Y2Fmw6k=?=");
    assert_eq!(call["status"], 200);
}

#[tokio::test]
async fn session_era_full_surface() {
    let Some(peer) = PythonPeer::start(&[ALICE], &["--page-size", "2"]).await else {
        return;
    };
    let client = client(&peer, SESSION_ERA);
    let session = client
        .connect(&Credential::new(ALICE))
        .await
        .expect("connect");
    assert_eq!(session.version(), ProtocolVersion::V2025_11_25);

    // Pagination: page size 2, so these lists span several pages.
    let tools = session.list_tools().await.expect("tools");
    assert!(tools.len() >= 5, "{}", tools.len());
    let resources = session.list_resources().await.expect("resources");
    assert!(resources.len() >= 3);
    let templates = session.list_resource_templates().await.expect("templates");
    assert!(
        templates
            .iter()
            .any(|t| t.uri_template.contains("{incident_id}"))
    );
    let prompts = session.list_prompts().await.expect("prompts");
    assert!(prompts.len() >= 2);

    let text = session
        .read_resource("text://greeting")
        .await
        .expect("read");
    assert!(text.contents[0].text.as_deref().unwrap_or("").len() > 3);
    let templated = session
        .read_resource("text://incidents/P123")
        .await
        .expect("read template");
    assert!(
        templated.contents[0]
            .text
            .as_deref()
            .unwrap()
            .contains("P123")
    );

    let arguments = [("incident_id".to_owned(), "P9".to_owned())];
    let prompt = session.get_prompt("summarize_incident", arguments).await;
    let prompt = prompt.expect("prompt");
    assert!(!prompt.messages.is_empty());

    let target = CompletionTarget::Prompt("status_update".into());
    let completion = complete(&session, target, "audience", "e").await;
    assert!(!completion.completion.values.is_empty());

    session.ping().await.expect("ping");
    session
        .set_logging_level(pagerduty_mcp_connect::LoggingLevel::Info)
        .await
        .expect("setLevel");

    // A tool error is a result, not an `Err`.
    let failed = call(&session, "fail", Value::Null).await;
    assert!(failed.is_error());

    let raw = session
        .request("tools/list", Value::Null)
        .await
        .expect("raw");
    assert!(raw["tools"].is_array());

    session.close().await.expect("close");
    assert!(matches!(session.ping().await, Err(Error::Closed)));

    let records = assert_all_authorised(&peer).await;
    let methods: Vec<&str> = records
        .iter()
        .map(|r| r["method"].as_str().unwrap())
        .collect();
    assert!(methods.contains(&"DELETE"), "{methods:?}");
    let init = &records[0];
    assert_eq!(init["jsonrpc_methods"][0], "initialize");
    assert!(init["mcp_session_id"].is_null());
    let session_id = init["response_session_id"]
        .as_str()
        .expect("session id issued");
    for record in &records[1..] {
        assert_eq!(record["mcp_session_id"], session_id, "{record}");
        assert_eq!(record["mcp_protocol_version"], "2025-11-25", "{record}");
    }
}

#[tokio::test]
async fn progress_and_log_notifications_arrive_before_the_result() {
    for preference in [SESSION_ERA, ProtocolPreference::Auto] {
        let Some(peer) = PythonPeer::start(&[ALICE], &[]).await else {
            return;
        };
        let session = connect(&peer, preference, ALICE).await;
        session
            .set_logging_level(pagerduty_mcp_connect::LoggingLevel::Info)
            .await
            .unwrap();
        let mut notifications = session.notifications();
        let result = session
            .call_tool_with(
                "slow_progress",
                json!({"steps": 3, "delay_ms": 10}),
                RequestOptions::with_progress_token("tok-7"),
            )
            .await
            .expect("slow_progress");
        assert!(!result.is_error());
        let mut progress = Vec::new();
        while let Ok(Some(n)) =
            tokio::time::timeout(Duration::from_millis(300), notifications.next()).await
        {
            if n.progress_token() == Some(&json!("tok-7")) {
                progress.push(n.params["progress"].as_f64().unwrap());
            }
        }
        assert_eq!(progress, [1.0, 2.0, 3.0], "{preference:?}");
    }
}

#[tokio::test]
async fn expired_session_is_reinitialised_once_and_the_new_id_used() {
    let Some(peer) = PythonPeer::start(&[ALICE], &[]).await else {
        return;
    };
    let session = connect(&peer, SESSION_ERA, ALICE).await;
    session.list_tools().await.unwrap();
    assert!(peer.expire_sessions().await >= 1);
    peer.reset().await;
    let result = call(&session, "echo", json!({"text": "again"})).await;
    assert_eq!(result.text(), "again");
    call(&session, "echo", json!({"text": "later"})).await;

    let records = assert_all_authorised(&peer).await;
    let statuses: Vec<(String, u64)> = records
        .iter()
        .map(|r| {
            (
                r["jsonrpc_methods"][0]
                    .as_str()
                    .unwrap_or(r["method"].as_str().unwrap())
                    .to_owned(),
                r["status"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(statuses[0], ("tools/call".to_owned(), 404), "{statuses:?}");
    assert_eq!(statuses[1], ("initialize".to_owned(), 200), "{statuses:?}");
    let new_id = records[1]["response_session_id"].as_str().unwrap();
    assert_ne!(records[0]["mcp_session_id"], new_id);
    for record in &records[2..] {
        assert_eq!(record["mcp_session_id"], new_id, "{record}");
    }
    let inits = statuses.iter().filter(|(m, _)| m == "initialize").count();
    assert_eq!(inits, 1, "{statuses:?}");
}

#[tokio::test]
async fn wrong_token_is_unauthorized_without_a_retry_loop() {
    let Some(peer) = PythonPeer::start(&[ALICE], &[]).await else {
        return;
    };
    for preference in [ProtocolPreference::Auto, SESSION_ERA] {
        peer.reset().await;
        let err = client(&peer, preference)
            .connect(&Credential::new("u+wrong-token-SECRET"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
        let text = format!("{err} {err:?}");
        assert!(!text.contains("SECRET"), "{text}");
        assert!(
            text.contains("Authentication failed") || text.contains("2006"),
            "{text}"
        );
        let records = peer.mcp_requests().await;
        assert_eq!(records.len(), 1, "exactly one attempt: {records:?}");
        assert_eq!(records[0]["status"], 401);
        assert_eq!(records[0]["auth_matched"], false);
    }
}

#[tokio::test]
async fn dropped_stream_is_resumed_with_last_event_id() {
    let Some(peer) =
        PythonPeer::start(&[ALICE], &["--event-store", "--retry-interval", "100"]).await
    else {
        return;
    };
    let session = connect(&peer, SESSION_ERA, ALICE).await;
    let arguments = json!({"delay_ms": 200});
    let result = call(&session, "close_stream_then_finish", arguments).await;
    assert_eq!(result.text(), "finished after stream close");
    let records = assert_all_authorised(&peer).await;
    let resumption = records
        .iter()
        .find(|r| r["method"] == "GET" && !r["last_event_id"].is_null())
        .expect("a GET with Last-Event-ID");
    assert_eq!(resumption["status"], 200);
}

#[tokio::test]
async fn get_stream_and_delete_carry_the_header() {
    let Some(peer) = PythonPeer::start(&[ALICE], &[]).await else {
        return;
    };
    let session = connect(&peer, SESSION_ERA, ALICE).await;
    let _notifications = session.notifications(); // opens the GET stream
    let saw_get = peer_sees(&peer, 50, |r| r["method"] == "GET").await;
    assert!(saw_get, "the GET stream was not opened");
    session.close().await.unwrap();
    let records = assert_all_authorised(&peer).await;
    let get = records.iter().find(|r| r["method"] == "GET").unwrap();
    assert!(
        get["accept"]
            .as_str()
            .unwrap()
            .contains("text/event-stream")
    );
    assert!(
        records
            .iter()
            .any(|r| r["method"] == "DELETE" && r["status"] == 200)
    );
}

#[tokio::test]
async fn dropping_a_call_cancels_it_on_the_server() {
    let Some(peer) = PythonPeer::start(&[ALICE], &[]).await else {
        return;
    };
    let session = connect(&peer, SESSION_ERA, ALICE).await;
    let call = session.call_tool("sleep", json!({"ms": 5000}));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), call)
            .await
            .is_err()
    );
    let cancelled = peer_sees(&peer, 40, |r| {
        r["jsonrpc_methods"][0] == "notifications/cancelled"
    })
    .await;
    assert!(cancelled, "no notifications/cancelled reached the server");
    assert_all_authorised(&peer).await;
}

#[tokio::test]
async fn oversized_reply_is_too_large() {
    let Some(peer) = PythonPeer::start(&[ALICE], &["--json-response"]).await else {
        return;
    };
    let server = GenericServer::new("peer", &peer.url, AuthScheme::token()).unwrap();
    let client = McpClient::builder(server)
        .protocol(SESSION_ERA)
        .max_body_bytes(64 * 1024)
        .build()
        .unwrap();
    let session = client.connect(&Credential::new(ALICE)).await.unwrap();
    let err = call_err(&session, "big", json!({"kib": 256})).await;
    assert!(
        matches!(err, Error::TooLarge { limit: 65536, .. }),
        "{err:?}"
    );
    // The session still works afterwards.
    call(&session, "echo", json!({"text": "ok"})).await;
}

#[tokio::test]
async fn pinned_older_versions_work() {
    let Some(peer) = PythonPeer::start(&[ALICE], &["--json-response"]).await else {
        return;
    };
    for version in [
        ProtocolVersion::V2025_06_18,
        ProtocolVersion::V2025_03_26,
        ProtocolVersion::V2024_11_05,
    ] {
        peer.reset().await;
        let session = connect(&peer, ProtocolPreference::Exact(version), ALICE).await;
        assert_eq!(session.version(), version);
        call(&session, "echo", json!({"text": "v"})).await;
        let records = assert_all_authorised(&peer).await;
        let last = records.last().unwrap();
        if version >= ProtocolVersion::V2025_06_18 {
            assert_eq!(last["mcp_protocol_version"], version.as_str());
        } else {
            assert!(last["mcp_protocol_version"].is_null(), "{last}");
        }
    }
}

#[tokio::test]
async fn stateless_era_mirrors_x_mcp_header_arguments() {
    let Some(peer) = PythonPeer::start(&[ALICE], &[]).await else {
        return;
    };
    let session = connect(&peer, STATELESS_ERA, ALICE).await;
    // Without the tool list the client cannot know the header yet: the SDK refuses (-32020),
    // the client learns the tools and sends the call again with `Mcp-Param-Region`.
    let echo = |region, text| json!({"region": region, "text": text});
    let result = call(&session, "regional_echo", echo("eu-west", "hi")).await;
    assert_eq!(result.text(), "eu-west: hi");
    // Known now: non-ASCII values are base64-wrapped, and the SDK decodes and checks them.
    let result = call(&session, "regional_echo", echo("zürich", "grüezi")).await;
    assert_eq!(result.text(), "zürich: grüezi");
    let calls: Vec<u64> = peer
        .mcp_requests()
        .await
        .iter()
        .filter(|r| r["jsonrpc_methods"][0] == "tools/call")
        .map(|r| r["status"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(calls, [400, 200, 200], "{calls:?}");
}

#[tokio::test]
async fn list_changed_notifications_arrive_on_the_standing_stream_in_both_eras() {
    for (preference, name) in [
        (STATELESS_ERA, "dynamic_stateless"),
        (SESSION_ERA, "dynamic_session"),
    ] {
        let Some(peer) = PythonPeer::start(&[ALICE], &[]).await else {
            return;
        };
        let session = connect(&peer, preference, ALICE).await;
        let mut notifications = session.notifications();
        // Wait until the standing stream is open (GET, or POST subscriptions/listen).
        let open = peer_sees(&peer, 50, |r| {
            r["method"] == "GET" || r["jsonrpc_methods"][0] == "subscriptions/listen"
        })
        .await;
        assert!(
            open,
            "{preference:?}: no standing notification stream was opened"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        call(&session, "add_dynamic_tool", json!({"name": name})).await;
        let changed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let n = notifications.next().await.expect("stream open");
                if n.method == "notifications/tools/list_changed" {
                    return n;
                }
            }
        })
        .await;
        assert!(
            changed.is_ok(),
            "{preference:?}: no tools/list_changed arrived"
        );
        let tools = session.list_tools().await.unwrap();
        assert!(tools.iter().any(|t| t.name == name), "{preference:?}");
        let records = assert_all_authorised(&peer).await;
        if preference == SESSION_ERA {
            assert!(records.iter().any(|r| r["method"] == "GET"));
        } else {
            let listen = records
                .iter()
                .find(|r| r["jsonrpc_methods"][0] == "subscriptions/listen")
                .expect("a subscriptions/listen request");
            assert_eq!(listen["mcp_method"], "subscriptions/listen");
            assert_eq!(listen["mcp_protocol_version"], "2026-07-28");
        }
    }
}

/// A client answering elicitation, sampling and roots through handlers.
fn answering_client(peer: &PythonPeer, preference: ProtocolPreference) -> McpClient {
    use pagerduty_mcp_connect::{HandlerError, ServerRequest, server_request_fn};
    client_builder(peer, preference)
        .elicitation_handler(server_request_fn(|request: ServerRequest| async move {
            assert_eq!(
                request.params()["message"],
                "Which incident should be acknowledged?"
            );
            Ok::<_, HandlerError>(json!({
                "action": "accept",
                "content": {"incident_id": "PABC123", "acknowledge": true}
            }))
        }))
        .sampling_handler(server_request_fn(|request: ServerRequest| async move {
            let asked = request.params()["messages"][0]["content"]["text"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            Ok::<_, HandlerError>(json!({
                "role": "assistant",
                "model": "gateway-model",
                "content": {"type": "text", "text": format!("a summary of '{asked}'")},
                "stopReason": "endTurn"
            }))
        }))
        .roots_handler(server_request_fn(|_request: ServerRequest| async move {
            Ok::<_, HandlerError>(
                json!({"roots": [{"uri": "file:///srv/runbooks", "name": "runbooks"}]}),
            )
        }))
        .build()
        .expect("client")
}

#[tokio::test]
async fn tools_that_ask_mid_call_complete_through_the_handlers_in_both_eras() {
    let Some(peer) = PythonPeer::start(&[ALICE], &[]).await else {
        return;
    };
    for (preference, era) in [
        (SESSION_ERA, ProtocolVersion::V2025_11_25),
        (STATELESS_ERA, ProtocolVersion::V2026_07_28),
        (ProtocolPreference::Auto, ProtocolVersion::V2026_07_28),
    ] {
        let client = answering_client(&peer, preference);
        let session = client
            .connect(&Credential::new(ALICE))
            .await
            .expect("connects");
        assert_eq!(session.version(), era);

        let result = call(&session, "acknowledge_with_confirmation", json!({})).await;
        assert_ne!(result.is_error, Some(true), "{era}: {}", result.text());
        assert!(
            result.text().contains("incident PABC123 acknowledged"),
            "{era}: {}",
            result.text()
        );

        let arguments = json!({"topic": "P1 outage"});
        let result = call(&session, "summarise_with_model", arguments).await;
        assert!(
            result
                .text()
                .contains("gateway-model says: a summary of 'Summarise P1 outage'"),
            "{era}: {}",
            result.text()
        );

        let result = call(&session, "name_roots", json!({})).await;
        assert!(
            result.text().contains("file:///srv/runbooks"),
            "{era}: {}",
            result.text()
        );
        session.close().await.expect("closed");
    }
    let records = assert_all_authorised(&peer).await;
    // In the stateless era each question came back as an input_required result, answered on a
    // retry of the same call: more tools/call requests than tools called.
    let stateless_calls = records
        .iter()
        .filter(|r| {
            r["mcp_protocol_version"] == "2026-07-28"
                && r["jsonrpc_methods"] == json!(["tools/call"])
        })
        .count();
    assert!(
        stateless_calls >= 2 * 2 * 3,
        "{stateless_calls} stateless tools/call requests"
    );
}

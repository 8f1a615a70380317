//! What an agent (and the person setting it up) is told when something is wrong: a missing or
//! wrong gateway key, an OAuth-capable client looking for OAuth, the end of a session.

use std::time::{Duration, Instant};

use super::gateway_support::{ALICE_KEY, TestGateway};
use super::raw_http::{Raw, call, open_session, post};
use pagerduty_mcp_connect::Policy;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_key_says_what_to_send_and_invites_no_oauth() {
    let gw = TestGateway::start(Policy::new()).await;
    let http = reqwest::Client::new();
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "1"}},
    });
    for key in [None, Some("gk_wrong_0123456789abcdef")] {
        let reply = Raw::of(
            post(&http, &gw.url, key, None, &initialize)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, 401);
        assert!(
            !reply.headers.contains_key("www-authenticate"),
            "a Bearer challenge sends OAuth clients into discovery: {reply:?}"
        );
        assert_eq!(reply.headers["content-type"], "application/json");
        let message = reply.message();
        assert_eq!(message["jsonrpc"], "2.0");
        assert_eq!(message["error"]["code"], -32001);
        let text = message["error"]["message"].as_str().unwrap();
        for needle in ["Authorization: Bearer <gateway key>", "operator"] {
            assert!(text.contains(needle), "{needle} in {text}");
        }
    }
    // What OAuth-capable clients (the MCP SDKs' auth, MCP Inspector, mcp-remote) probe: 404
    // at once, no key needed.
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/mcp",
        "/.well-known/openid-configuration",
        "/mcp/.well-known/openid-configuration",
        "/register",
    ] {
        let started = Instant::now();
        let reply = http
            .get(format!("{}{path}", gw.base))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 404, "{path}");
        assert!(started.elapsed() < Duration::from_secs(1), "{path}");
        let posted = http
            .post(format!("{}{path}", gw.base))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 404, "POST {path}");
    }
    let reply = http
        .get(format!("{}/.well-known/oauth-protected-resource", gw.base))
        .send()
        .await
        .unwrap();
    let body = reply.text().await.unwrap();
    assert!(
        body.contains("Authorization: Bearer <gateway key>"),
        "{body}"
    );
    assert!(gw.mock.requests().is_empty(), "nothing went upstream");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_a_session_answers_200() {
    let gw = TestGateway::start(Policy::new()).await;
    let http = reqwest::Client::new();
    let session = open_session(&http, &gw.url, ALICE_KEY).await;
    // Used on both paths first (a direct-path call, an rmcp request).
    let used = post(
        &http,
        &gw.url,
        Some(ALICE_KEY),
        Some(&session),
        &call(1, "get_user_data"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(used.status(), 200);
    let _ = used.bytes().await;
    let listed = post(
        &http,
        &gw.url,
        Some(ALICE_KEY),
        Some(&session),
        &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(listed.status(), 200);
    let _ = listed.bytes().await;
    let ended = http
        .delete(&gw.url)
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 200, "not 202: {ended:?}");
    let again = post(
        &http,
        &gw.url,
        Some(ALICE_KEY),
        Some(&session),
        &call(3, "get_user_data"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(again.status(), 404, "the session is over");
    gw.shutdown().await;
}

//! The gateway end to end: agents on the official Python MCP SDK client, in both protocol eras,
//! talk to the gateway, which forwards to the embedded mock PagerDuty server with each user's own
//! token.

use super::gateway_support;
use super::shared::{gateway_for_python_agents, serve_on_loopback};

use gateway_support::{ALICE_KEY, DEMO_KEY, ERAS, TestGateway, agent, err, ok, python};
use pagerduty_mcp_connect::Policy;
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::{Value, json};

/// Whether `list` (an agent's step result, a JSON array) holds `item`.
fn lists(list: &Value, item: &str) -> bool {
    list.as_array().expect("a list").iter().any(|v| v == item)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_see_their_own_data_in_both_eras() {
    let Some(gw) = gateway_for_python_agents(Policy::new()).await else {
        return;
    };
    let steps = json!([
        {"op": "call", "tool": "get_user_data", "args": {}},
        {"op": "read_resource", "uri": "pagerduty://users/me"},
        {"op": "list_tools"},
        {"op": "list_resources"},
        {"op": "list_templates"},
        {"op": "list_prompts"},
        {"op": "get_prompt", "name": "incident_summary", "args": {"incident_id": "1001"}},
        {"op": "complete", "prompt": "incident_summary", "argument": "incident_id", "value": "Q1"},
    ]);
    for mode in ERAS {
        let (alice, demo) = tokio::join!(
            agent(&gw.url, ALICE_KEY, mode, steps.clone()),
            agent(&gw.url, DEMO_KEY, mode, steps.clone()),
        );
        let expected_version = if mode == "legacy" { "2025-11-25" } else { mode };
        for (out, email) in [(&alice, "alice@example.com"), (&demo, "demo@example.com")] {
            assert_eq!(out["protocol_version"], expected_version, "{out}");
            assert_eq!(ok(out, 0)["structured"]["email"], email, "{mode}: {out}");
            assert!(
                ok(out, 1)[0].as_str().unwrap().contains(email),
                "{mode}: resources/read as the user: {out}"
            );
            assert!(lists(ok(out, 2), "list_incidents"), "{out}");
            assert!(lists(ok(out, 3), "pagerduty://users/me"));
            assert_eq!(ok(out, 4)[0], "pagerduty://incidents/{incident_id}");
            assert!(lists(ok(out, 5), "incident_summary"));
            assert!(ok(out, 6)[0].as_str().unwrap().contains("1001"), "{out}");
            assert!(
                !ok(out, 7).as_array().unwrap().is_empty(),
                "completion: {out}"
            );
        }
    }
    // Upstream, every request carried its own user's token, and only the two users came.
    let requests = gw.mock.requests();
    assert!(!requests.is_empty());
    let unauthenticated: Vec<_> = requests.iter().filter(|r| !r.auth_matched).collect();
    assert!(
        unauthenticated.is_empty(),
        "every upstream request authenticated: {unauthenticated:?}"
    );
    let mut users: Vec<_> = requests
        .iter()
        .filter_map(|r| r.user_id.as_deref())
        .collect();
    users.sort_unstable();
    users.dedup();
    let mut expected = [MockPagerDuty::ALICE_USER_ID, MockPagerDuty::DEMO_USER_ID];
    expected.sort_unstable();
    assert_eq!(users, expected);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_or_missing_key_gets_401_before_anything_goes_upstream() {
    let gw = TestGateway::start(Policy::new()).await;
    let client_info = json!({"name": "t", "version": "1"});
    let params =
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": client_info});
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params});
    let http = reqwest::Client::new();
    for auth in [
        None,
        Some("Bearer gk_not_a_key_0123456789"),
        Some("Token u+MockAliceToken00002"),
        Some(&*format!("Basic {ALICE_KEY}")),
    ] {
        let mut request = http
            .post(&gw.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(initialize.to_string());
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{auth:?}");
        // No challenge: it would send OAuth-capable clients into a discovery they cannot finish.
        assert!(!response.headers().contains_key("www-authenticate"));
        let body = response.text().await.unwrap();
        assert!(body.contains("gateway key"), "{body}");
    }
    assert!(gw.mock.requests().is_empty(), "nothing went upstream");
    if python().is_some() {
        for mode in ERAS {
            // A pinned 2026-07-28 client sends nothing until its first request.
            let steps = json!([{"op": "list_tools"}]);
            let out = agent(&gw.url, "gk_not_a_key_0123456789", mode, steps).await;
            assert!(
                out.get("connect_error").is_some() || out["results"][0].get("error").is_some(),
                "{mode}: {out}"
            );
        }
        assert!(gw.mock.requests().is_empty(), "nothing went upstream");
    }
    let metrics = reqwest::get(format!("{}/metrics", gw.base)).await.unwrap();
    let metrics = metrics.text().await.unwrap();
    for reason in ["unknown_key", "missing_key"] {
        let counter = format!(r#"mcp_gateway_rejected_requests_total{{reason="{reason}"}}"#);
        assert!(metrics.contains(&counter), "{counter} in {metrics}");
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_gateway_refuses_a_write_tool_before_anything_is_sent_upstream() {
    let Some(gw) =
        gateway_for_python_agents(Policy::new().read_only(true).deny_tools(["list_teams"])).await
    else {
        return;
    };
    let steps = json!([
        {"op": "list_tools"},
        {"op": "call", "tool": "create_incident", "args": {"title": "x", "service_id": "PSVC001"}},
        {"op": "call", "tool": "list_teams", "args": {}},
        {"op": "call", "tool": "list_services", "args": {}},
    ]);
    for mode in ERAS {
        let before = gw.upstream_tool_calls();
        let out = agent(&gw.url, DEMO_KEY, mode, steps.clone()).await;
        let tools = ok(&out, 0).as_array().unwrap();
        // Listed, marked as refused (refused_tools.rs), so that a client that checks the list
        // before calling reaches the policy's refusal instead of "tool not found".
        assert!(
            tools.iter().any(|t| t == "create_incident"),
            "{mode}: refused write tools are listed as refused: {out}"
        );
        assert!(
            tools.iter().any(|t| t == "list_teams"),
            "{mode}: denied tools are listed as refused"
        );
        assert!(tools.iter().any(|t| t == "list_incidents"));
        let refused = err(&out, 1);
        assert_eq!(refused["code"], -32003, "{mode}: {out}");
        assert!(
            refused["message"].as_str().unwrap().contains("read-only"),
            "{refused}"
        );
        assert!(
            err(&out, 2)["message"]
                .as_str()
                .unwrap()
                .contains("deny list")
        );
        ok(&out, 3);
        assert_eq!(
            gw.upstream_tool_calls(),
            before + 1,
            "{mode}: only list_services reached upstream"
        );
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_upstream_token_is_a_clear_error_for_that_user_only() {
    if python().is_none() {
        return;
    }
    for mode in ERAS {
        let gw = TestGateway::start(Policy::new()).await;
        let me = json!([{"op": "call", "tool": "get_user_data", "args": {}}]);
        ok(&agent(&gw.url, ALICE_KEY, mode, me.clone()).await, 0);
        assert!(gw.mock.revoke_token(MockPagerDuty::ALICE_TOKEN));
        let steps = json!([
            {"op": "call", "tool": "get_user_data", "args": {}},
            {"op": "call", "tool": "get_user_data", "args": {}},
            {"op": "read_resource", "uri": "pagerduty://users/me"},
        ]);
        let out = agent(&gw.url, ALICE_KEY, mode, steps).await;
        let first = err(&out, 0);
        assert_eq!(first["code"], -32001, "{mode}: {out}");
        let message = first["message"].as_str().unwrap();
        assert!(message.contains("401"), "{message}");
        assert!(
            message.contains("Create API User Token"),
            "says how to get a new token: {message}"
        );
        assert!(!message.contains(MockPagerDuty::ALICE_TOKEN));
        let rejected_upstream = gw
            .mock
            .requests()
            .iter()
            .filter(|r| r.auth_present && !r.auth_matched)
            .count();
        assert!(rejected_upstream >= 1);
        // The credential is invalidated: later calls fail at once, without another try upstream.
        assert_eq!(err(&out, 1)["code"], -32001, "{out}");
        assert_eq!(err(&out, 2)["code"], -32001, "{out}");
        assert_eq!(
            gw.mock
                .requests()
                .iter()
                .filter(|r| r.auth_present && !r.auth_matched)
                .count(),
            rejected_upstream,
            "{mode}: the revoked token was not sent again"
        );
        // The other user is not affected.
        let demo = agent(&gw.url, DEMO_KEY, mode, me.clone()).await;
        assert_eq!(ok(&demo, 0)["structured"]["email"], "demo@example.com");
        // A new token (the admin rotates it) works from the next call on.
        assert!(
            gw.mock
                .add_token(MockPagerDuty::ALICE_USER_ID, "u+alice-new-token-42")
        );
        gw.credentials.rotate("alice", "u+alice-new-token-42");
        let again = agent(&gw.url, ALICE_KEY, mode, me).await;
        assert_eq!(ok(&again, 0)["structured"]["email"], "alice@example.com");
        gw.shutdown().await;
    }
}

/// One gateway, users in two regions: each user's calls go to the server of their credential's
/// route (here two mocks standing in for the US and EU hosted servers), in both eras.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gateway_serves_us_and_eu_users() {
    use pagerduty_mcp_connect::{
        Connector, Credential, InMemoryCredentialStore, PagerDuty, Region,
    };
    use pagerduty_mcp_connect_gateway::{Gateway, GatewayKeys};
    use pagerduty_mcp_connect_mock::MockUser;

    if python().is_none() {
        return;
    }
    let mock_of = |id: &'static str,
                   name: &'static str,
                   email: &'static str,
                   token: &'static str| async move {
        MockPagerDuty::builder()
            .without_default_users()
            .user(MockUser::new(id, name, email, "user", token))
            .start()
            .await
            .unwrap()
    };
    let us = mock_of("PADA001", "Ada", "ada@example.com", "u+AdaUsToken0000001").await;
    let eu = mock_of(
        "PGRACE1",
        "Grace",
        "grace@example.eu",
        "u+GraceEuToken00002",
    )
    .await;
    let regional = |region: Region, mock: &MockPagerDuty| {
        PagerDuty::builder()
            .region(region)
            .endpoint(mock.url().as_str())
            .build()
            .unwrap()
    };
    let tokens = InMemoryCredentialStore::new();
    tokens.insert_credential(
        "ada",
        Credential::new("u+AdaUsToken0000001").with_route(Region::Us),
    );
    tokens.insert_credential(
        "grace",
        Credential::new("u+GraceEuToken00002").with_route(Region::Eu),
    );
    let keys = GatewayKeys::new();
    keys.insert(ALICE_KEY, "ada").unwrap();
    keys.insert(DEMO_KEY, "grace").unwrap();
    let connector = Connector::builder()
        .route(Region::Us, regional(Region::Us, &us))
        .route(Region::Eu, regional(Region::Eu, &eu))
        .credentials(tokens);
    let gateway = Gateway::builder(connector, keys).build().unwrap();
    let url = serve_on_loopback(&gateway).await;

    let steps = json!([{"op": "call", "tool": "get_user_data", "args": {}}]);
    for mode in ERAS {
        let (ada, grace) = tokio::join!(
            agent(&url, ALICE_KEY, mode, steps.clone()),
            agent(&url, DEMO_KEY, mode, steps.clone()),
        );
        assert_eq!(
            ok(&ada, 0)["structured"]["email"],
            "ada@example.com",
            "{mode}: {ada}"
        );
        assert_eq!(
            ok(&grace, 0)["structured"]["email"],
            "grace@example.eu",
            "{mode}: {grace}"
        );
    }
    // Each region's server saw only its own user, always authenticated.
    for (mock, user) in [(&us, "PADA001"), (&eu, "PGRACE1")] {
        let requests = mock.requests();
        assert!(!requests.is_empty());
        assert!(
            requests
                .iter()
                .all(|r| r.auth_matched && r.user_id.as_deref() == Some(user))
        );
    }
    gateway.shutdown().await;
}

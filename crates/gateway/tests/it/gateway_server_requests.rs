//! What the upstream sends back during a call reaches the agent that made it: progress
//! notifications, and server requests (elicitation, sampling) whose answers complete the call.
//! Agents on the official Python MCP SDK client, in both protocol eras.

use super::asking_upstream;
use super::gateway_support;
use super::shared::{gateway_for_python_agents, serve_on_loopback};

use gateway_support::{ALICE_KEY, DEMO_KEY, ERAS, TestGateway, agent, agent_with, ok, python};
use pagerduty_mcp_connect::{InMemoryCredentialStore, PagerDuty, Policy};
use pagerduty_mcp_connect_gateway::{Gateway, GatewayKeys};
use pagerduty_mcp_connect_mock::{Eras, MockPagerDuty};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_reaches_the_agent_that_made_the_call() {
    let Some(gw) = gateway_for_python_agents(Policy::new()).await else {
        return;
    };
    for mode in ERAS {
        let with_progress = json!([{"op": "call", "tool": "list_incidents", "args": {"limit": 1}, "progress": true}]);
        let without = json!([{"op": "call", "tool": "list_incidents", "args": {"limit": 1}}]);
        let (alice, demo) = tokio::join!(
            agent(&gw.url, ALICE_KEY, mode, with_progress),
            agent(&gw.url, DEMO_KEY, mode, without),
        );
        let progress = ok(&alice, 0)["progress"].as_array().unwrap().clone();
        assert_eq!(
            progress,
            vec![
                json!([1.0, 3.0, "Authenticating"]),
                json!([2.0, 3.0, "Querying PagerDuty"]),
                json!([3.0, 3.0, "Done"]),
            ],
            "{mode}: {alice}"
        );
        assert!(
            ok(&demo, 0)["progress"].as_array().unwrap().is_empty(),
            "{mode}: {demo}"
        );
    }
    gw.shutdown().await;
}

/// A gateway in front of the asking upstream (users `alice` and `demo`) and its MCP URL;
/// `None` when the run opted out of the external peers (see [`python`]).
async fn gateway_to_asking_upstream() -> Option<(Gateway, String)> {
    python()?;
    let upstream =
        asking_upstream::start(&[("u+alice-upstream", "alice"), ("u+demo-upstream", "demo")]).await;
    let credentials = InMemoryCredentialStore::new();
    credentials.insert("alice", "u+alice-upstream");
    credentials.insert("demo", "u+demo-upstream");
    let keys = GatewayKeys::new();
    keys.insert(ALICE_KEY, "alice").unwrap();
    keys.insert(DEMO_KEY, "demo").unwrap();
    let connector = pagerduty_mcp_connect::Connector::builder()
        .server(
            PagerDuty::builder()
                .endpoint(upstream.as_str())
                .build()
                .unwrap(),
        )
        .credentials(credentials);
    let gateway = Gateway::builder(connector, keys).build().unwrap();
    let url = serve_on_loopback(&gateway).await;
    Some((gateway, url))
}

/// An agent's answer to an elicitation: accept, confirming.
const ACCEPT_CONFIRMED: &str = r#"{"action": "accept", "content": {"confirm": true}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_elicitation_reaches_the_right_agent_and_its_answer_completes_the_call() {
    let Some((_gateway, url)) = gateway_to_asking_upstream().await else {
        return;
    };
    for mode in ERAS {
        let confirm =
            |action| json!([{"op": "call", "tool": "confirm_action", "args": {"action": action}}]);
        let accept = ["--elicit-answer", ACCEPT_CONFIRMED];
        let decline = ["--elicit-answer", r#"{"action": "decline"}"#];
        let (alice, demo) = tokio::join!(
            agent_with(&url, ALICE_KEY, mode, confirm("deploy"), &accept),
            agent_with(&url, DEMO_KEY, mode, confirm("rollback"), &decline),
        );
        let result = &ok(&alice, 0)["structured"];
        assert_eq!(result["user"], "alice", "{mode}: {alice}");
        assert_eq!(result["answer"]["action"], "accept", "{mode}: {alice}");
        assert_eq!(
            result["answer"]["content"]["confirm"], true,
            "{mode}: {alice}"
        );
        let asked = alice["elicitations"].as_array().unwrap();
        assert_eq!(asked.len(), 1, "{mode}: {alice}");
        assert_eq!(asked[0]["message"], "Really deploy?");

        let result = &ok(&demo, 0)["structured"];
        assert_eq!(result["user"], "demo", "{mode}: {demo}");
        assert_eq!(result["answer"]["action"], "decline", "{mode}: {demo}");
        let asked = demo["elicitations"].as_array().unwrap();
        assert_eq!(asked.len(), 1, "{mode}: {demo}");
        assert_eq!(
            asked[0]["message"], "Really rollback?",
            "each agent gets only its own"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_elicitation_during_a_prompt_or_a_resource_read_reaches_the_agent() {
    let Some((_gateway, url)) = gateway_to_asking_upstream().await else {
        return;
    };
    let steps = json!([
        {"op": "get_prompt", "name": "confirmed_prompt", "args": {"topic": "the runbook"}},
        {"op": "read_resource", "uri": "asking://secret"},
    ]);
    for mode in ERAS {
        let accept = ["--elicit-answer", ACCEPT_CONFIRMED];
        let out = agent_with(&url, ALICE_KEY, mode, steps.clone(), &accept).await;
        let prompt: Value =
            serde_json::from_str(ok(&out, 0)[0].as_str().expect("one text message")).unwrap();
        assert_eq!(prompt["user"], "alice", "{mode}: {out}");
        assert_eq!(prompt["topic"], "the runbook", "{mode}: {out}");
        assert_eq!(prompt["answer"]["action"], "accept", "{mode}: {out}");
        let read: Value =
            serde_json::from_str(ok(&out, 1)[0].as_str().expect("one text content")).unwrap();
        assert_eq!(read["user"], "alice", "{mode}: {out}");
        assert_eq!(read["answer"]["content"]["confirm"], true, "{mode}: {out}");
        let asked: Vec<&str> = out["elicitations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap())
            .collect();
        assert_eq!(
            asked,
            ["Really show the runbook?", "Really show the secret?"],
            "{mode}: {out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sampling_request_reaches_the_agent_and_its_answer_completes_the_call() {
    let Some((_gateway, url)) = gateway_to_asking_upstream().await else {
        return;
    };
    let steps = json!([{"op": "call", "tool": "summarize", "args": {"text": "the outage"}}]);
    for mode in ERAS {
        let answer = ["--sampling-answer", "all good now"];
        let out = agent_with(&url, ALICE_KEY, mode, steps.clone(), &answer).await;
        let result = &ok(&out, 0)["structured"];
        assert_eq!(result["user"], "alice", "{mode}: {out}");
        assert_eq!(
            result["answer"]["content"]["text"], "all good now",
            "{mode}: {out}"
        );
        assert_eq!(
            out["samplings"].as_array().unwrap().len(),
            1,
            "{mode}: {out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_changed_notifications_reach_the_users_agents() {
    if python().is_none() {
        return;
    }
    // A session-era upstream, whose standing GET stream carries its list changes.
    let mock = MockPagerDuty::builder().eras(Eras::SessionOnly);
    let gw = TestGateway::start_with(mock.start().await.unwrap(), Policy::new(), |b| b).await;
    let steps = json!([{"op": "list_tools"}, {"op": "wait_list_changed", "seconds": 20}]);
    for mode in ERAS {
        let waiting = agent(&gw.url, ALICE_KEY, mode, steps.clone());
        // The upstream announces a change now and then until the agent has heard one.
        let announce = async {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                gw.mock
                    .notify("notifications/tools/list_changed", json!({}));
            }
        };
        let out = tokio::select! {
            out = waiting => out,
            () = announce => unreachable!(),
        };
        assert_eq!(ok(&out, 1), &json!(true), "{mode}: {out}");
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_of_the_upstreams_standing_stream_reaches_an_agent_of_that_user_or_is_refused() {
    let Some((_gateway, url)) = gateway_to_asking_upstream().await else {
        return;
    };
    // Alice's session-era agent is connected when the upstream asks, outside any call.
    let steps = json!([
        {"op": "call", "tool": "confirm_later", "args": {"action": "page the team"}},
        {"op": "call", "tool": "later_answer", "args": {}},
    ]);
    let alice = agent_with(
        &url,
        ALICE_KEY,
        "legacy",
        steps,
        &["--elicit-answer", ACCEPT_CONFIRMED],
    )
    .await;
    let later = &ok(&alice, 1)["structured"]["later"];
    assert_eq!(later["answer"]["action"], "accept", "{alice}");
    let asked = alice["elicitations"].as_array().unwrap();
    assert_eq!(asked.len(), 1, "{alice}");
    assert_eq!(asked[0]["message"], "Really page the team?");

    // No agent of the demo user is connected when the upstream asks (the one that called has
    // gone; a 2026-07-28 agent cannot be asked outside a call): the upstream hears so.
    let call = json!([{"op": "call", "tool": "confirm_later", "args": {"action": "restart", "after_ms": 2000}}]);
    ok(&agent(&url, DEMO_KEY, "legacy", call).await, 0);
    let out = agent(
        &url,
        DEMO_KEY,
        "2026-07-28",
        json!([{"op": "call", "tool": "later_answer", "args": {}}]),
    )
    .await;
    let later = &ok(&out, 0)["structured"]["later"];
    let error = later["error"].as_str().unwrap_or_default();
    assert!(error.contains("no agent of this user"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calls_log_messages_reach_the_agent_that_made_it_in_both_eras() {
    let Some(gw) = gateway_for_python_agents(Policy::new()).await else {
        return;
    };
    for mode in ERAS {
        // The mock logs (naming the caller) while it works on a call that asked for progress.
        let call = json!([{"op": "call", "tool": "list_incidents", "args": {"limit": 1}, "progress": true}]);
        let (alice, demo) = tokio::join!(
            agent_with(
                &gw.url,
                ALICE_KEY,
                mode,
                call.clone(),
                &["--log-level", "debug"]
            ),
            agent(&gw.url, DEMO_KEY, mode, call),
        );
        ok(&alice, 0);
        ok(&demo, 0);
        let logs = |out: &Value| -> Vec<String> {
            out["logs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|log| log["data"].to_string())
                .collect()
        };
        let (alice_logs, demo_logs) = (logs(&alice), logs(&demo));
        assert!(
            !alice_logs.is_empty(),
            "{mode}: no log message reached alice's agent: {alice}"
        );
        assert!(
            alice_logs.iter().all(|l| l.contains("PALICE1")),
            "{mode}: {alice_logs:?}"
        );
        assert!(
            demo_logs.iter().all(|l| !l.contains("PALICE1")),
            "{mode}: {demo_logs:?}"
        );
    }
    gw.shutdown().await;
}

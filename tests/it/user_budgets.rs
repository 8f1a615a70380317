//! Per-user budgets in the connector: calls beyond a user's budget fail with `RateLimited`
//! (the wait said) without a request, a server's long 429 pauses that user alone, and another
//! user is never slowed.

use std::time::Duration;

use pagerduty_mcp_connect::{
    Connector, ErrorKind, InMemoryCredentialStore, PagerDuty, Region, RemoteMcpServer, UserBudget,
    UserId,
};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::json;

/// A connector of Alice and Bob (their mock tokens) with `budget`.
fn connector(mock: &MockPagerDuty, budget: Option<UserBudget>) -> Connector {
    let store = InMemoryCredentialStore::new();
    store.insert("alice", MockPagerDuty::ALICE_TOKEN);
    store.insert("bob", MockPagerDuty::BOB_TOKEN);
    Connector::builder()
        .server(mock.pagerduty())
        .credentials(store)
        .user_budget(budget)
        .build()
        .expect("connector")
}

/// How many `tools/call` requests reached the mock.
fn tool_calls(mock: &MockPagerDuty) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.jsonrpc_methods.iter().any(|m| m == "tools/call"))
        .count()
}

#[tokio::test]
async fn past_its_budget_a_user_is_refused_without_a_request_and_others_go_on() {
    let mock = MockPagerDuty::start().await;
    let budget = UserBudget::new(3, Duration::from_secs(60)).max_wait(Duration::ZERO);
    let connector = connector(&mock, Some(budget));
    let (alice, bob) = (UserId::from("alice"), UserId::from("bob"));
    for _ in 0..3 {
        connector
            .call_tool(&alice, "get_user_data", json!({}))
            .await
            .unwrap();
    }
    let sent = tool_calls(&mock);
    let err = connector
        .call_tool(&alice, "get_user_data", json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    let wait = err.retry_after().expect("the wait is said");
    assert!(
        wait > Duration::from_secs(15) && wait <= Duration::from_secs(20),
        "{wait:?}"
    );
    assert!(err.to_string().contains("nothing was sent"), "{err}");
    assert_eq!(
        tool_calls(&mock),
        sent,
        "a request went out past the budget"
    );
    for _ in 0..3 {
        connector
            .call_tool(&bob, "get_user_data", json!({}))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_long_429_pauses_that_user_alone() {
    let mock = MockPagerDuty::start().await;
    let connector = connector(
        &mock,
        Some(UserBudget::pagerduty().max_wait(Duration::ZERO)),
    );
    let (alice, bob) = (UserId::from("alice"), UserId::from("bob"));
    connector
        .call_tool(&alice, "get_user_data", json!({}))
        .await
        .unwrap();
    connector
        .call_tool(&bob, "get_user_data", json!({}))
        .await
        .unwrap();

    mock.rate_limit_next(1, Duration::from_secs(120));
    let err = connector
        .call_tool(&alice, "get_user_data", json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)), "{err}");
    let sent = tool_calls(&mock);
    // Paused: refused at once, nothing sent, the wait left said.
    let again = connector
        .call_tool(&alice, "get_user_data", json!({}))
        .await
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::RateLimited, "{again}");
    assert!(
        again
            .retry_after()
            .is_some_and(|w| w > Duration::from_secs(100)),
        "{again}"
    );
    assert_eq!(tool_calls(&mock), sent);
    // Bob is not paused.
    connector
        .call_tool(&bob, "get_user_data", json!({}))
        .await
        .unwrap();
}

#[test]
fn the_pagerduty_preset_budgets_its_own_endpoints_only() {
    assert_eq!(
        PagerDuty::new(Region::Eu).user_budget(),
        Some(UserBudget::pagerduty())
    );
    let proxy = PagerDuty::builder()
        .endpoint("http://127.0.0.1:9/mcp")
        .build()
        .unwrap();
    assert_eq!(proxy.user_budget(), None);
    let budgeted = PagerDuty::builder()
        .endpoint("http://127.0.0.1:9/mcp")
        .user_budget(Some(UserBudget::pagerduty()))
        .build()
        .unwrap();
    assert_eq!(budgeted.user_budget(), Some(UserBudget::pagerduty()));
    let hosted = PagerDuty::builder()
        .endpoint(Region::Us.mcp_url_str())
        .build()
        .unwrap();
    assert_eq!(hosted.user_budget(), Some(UserBudget::pagerduty()));
}

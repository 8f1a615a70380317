//! What a gateway's policy allows: who may connect, read-only mode from annotations, tool
//! allow/deny lists. A denied call never reaches the server.

use super::common::{call_as, call_as_err, connector_builder, new_incident};
use pagerduty_mcp_connect::{Connector, Error, InMemoryCredentialStore, Policy, UserId};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::json;

fn setup(mock: &MockPagerDuty, policy: Policy) -> Connector {
    let store = InMemoryCredentialStore::new();
    store.insert("alice", MockPagerDuty::ALICE_TOKEN);
    store.insert("bob", MockPagerDuty::BOB_TOKEN);
    store.insert("demo", MockPagerDuty::DEMO_TOKEN);
    connector_builder(mock, store)
        .policy(policy)
        .build()
        .unwrap()
}

fn tool_calls(mock: &MockPagerDuty) -> Vec<String> {
    mock.requests()
        .iter()
        .filter(|r| r.jsonrpc_methods.iter().any(|m| m == "tools/call"))
        .map(|r| r.mcp_name.clone().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn only_allowed_users_connect() {
    let mock = MockPagerDuty::start().await;
    let connector = setup(
        &mock,
        Policy::new()
            .allow_users(["alice", "bob"])
            .allow_user_if(|user| user.as_str() != "bob"),
    );
    call_as(
        &connector,
        &UserId::from("alice"),
        "get_user_data",
        json!({}),
    )
    .await;
    for user in ["bob", "demo", "mallory"] {
        let err = call_as_err(&connector, &UserId::from(user), "get_user_data", json!({})).await;
        assert!(matches!(err, Error::PolicyDenied { .. }), "{user}: {err:?}");
        let err = connector.list_tools(&UserId::from(user)).await.unwrap_err();
        assert!(matches!(err, Error::PolicyDenied { .. }));
        assert!(connector.session(&UserId::from(user)).await.is_err());
    }
    let users: Vec<_> = mock
        .requests()
        .iter()
        .filter_map(|r| r.user_id.clone())
        .collect();
    assert!(
        users.iter().all(|u| u == MockPagerDuty::ALICE_USER_ID),
        "{users:?}"
    );
}

#[tokio::test]
async fn read_only_mode_offers_and_allows_only_read_only_tools() {
    let mock = MockPagerDuty::start().await;
    let connector = setup(&mock, Policy::new().read_only(true));
    let alice = UserId::from("alice");
    let tools = connector.list_tools(&alice).await.unwrap();
    assert!(!tools.is_empty());
    assert!(tools.iter().all(|t| t.is_read_only()), "{tools:?}");
    assert!(tools.iter().any(|t| t.name == "list_incidents"));
    assert!(!tools.iter().any(|t| t.name == "create_incident"));

    call_as(&connector, &alice, "list_incidents", json!({})).await;
    for write in [
        "create_incident",
        "manage_incidents",
        "add_note_to_incident",
        "no_such_tool",
    ] {
        let err = call_as_err(&connector, &alice, write, new_incident("x")).await;
        assert!(
            matches!(err, Error::PolicyDenied { .. }),
            "{write}: {err:?}"
        );
    }
    assert_eq!(
        tool_calls(&mock),
        ["list_incidents"],
        "a denied call reached the server"
    );
}

#[tokio::test]
async fn read_only_for_some_users_only() {
    let mock = MockPagerDuty::start().await;
    let connector = setup(&mock, Policy::new().read_only_users(["bob"]));
    let bob_tools = connector.list_tools(&UserId::from("bob")).await.unwrap();
    let alice_tools = connector.list_tools(&UserId::from("alice")).await.unwrap();
    assert!(bob_tools.len() < alice_tools.len());
    assert!(alice_tools.iter().any(|t| t.name == "create_incident"));
    let (alice, bob) = (UserId::from("alice"), UserId::from("bob"));
    let incident = new_incident("Disk full");
    let created = call_as(&connector, &alice, "create_incident", incident.clone()).await;
    assert!(!created.is_error(), "{created:?}");
    let err = call_as_err(&connector, &bob, "create_incident", incident).await;
    assert!(matches!(err, Error::PolicyDenied { .. }));
    assert_eq!(tool_calls(&mock), ["create_incident"]);
}

#[tokio::test]
async fn allow_and_deny_lists() {
    let mock = MockPagerDuty::start().await;
    let allowed = ["list_incidents", "get_incident", "create_incident"];
    let policy = Policy::new()
        .allow_tools(allowed)
        .deny_tools(["create_incident"]);
    let connector = setup(&mock, policy);
    let alice = UserId::from("alice");
    let names: Vec<String> = connector
        .list_tools(&alice)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"list_incidents".to_owned()));
    assert!(names.contains(&"get_incident".to_owned()));
    for denied in ["create_incident", "list_services"] {
        let err = call_as_err(&connector, &alice, denied, json!({})).await;
        let Error::PolicyDenied { reason, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(reason.contains(denied), "{reason}");
    }
    assert!(tool_calls(&mock).is_empty());
}

#[tokio::test]
async fn the_policy_can_be_swapped_while_the_connector_runs() {
    let mock = MockPagerDuty::start().await;
    let connector = setup(&mock, Policy::new());
    let alice = UserId::from("alice");
    let before = connector.policy();
    let writes = connector.list_tools(&alice).await.unwrap();
    assert!(writes.iter().any(|tool| !tool.is_read_only()));

    // An incident freeze: read-only for everyone, from the next call on, same sessions.
    connector.set_policy(Policy::new().read_only(true));
    assert!(
        !before.is_read_only_for(&alice),
        "a snapshot does not change"
    );
    let tools = connector.list_tools(&alice).await.unwrap();
    assert!(!tools.is_empty() && tools.iter().all(|tool| tool.is_read_only()));
    mock.clear_requests();
    let err = call_as_err(&connector, &alice, "create_incident", json!({})).await;
    assert!(matches!(err, Error::PolicyDenied { .. }), "{err:?}");
    assert!(tool_calls(&mock).is_empty(), "nothing was sent");

    // And back.
    connector.set_policy(Policy::new().deny_tools(["get_user_data"]));
    assert!(
        connector
            .call_tool(&alice, "get_user_data", json!({}))
            .await
            .is_err()
    );
    call_as(&connector, &alice, "list_incidents", json!({})).await;
}

#[tokio::test]
async fn a_raw_session_is_refused_to_users_the_policy_refuses() {
    let mock = MockPagerDuty::start().await;
    let connector = setup(&mock, Policy::new().allow_users(["alice"]));
    let err = connector
        .session(&UserId::from("bob"))
        .await
        .expect_err("bob may not connect");
    match err {
        Error::PolicyDenied { reason, .. } => assert!(reason.contains("bob"), "{reason}"),
        other => panic!("expected PolicyDenied, got {other:?}"),
    }
    assert!(mock.requests().is_empty(), "bob's token was never sent");
    let session = connector.session(&UserId::from("alice")).await.unwrap();
    assert!(!session.list_tools().await.unwrap().is_empty());
    // A user dropped from the list by a new policy loses raw access too.
    connector.set_policy(Policy::new().allow_users(["bob"]));
    assert!(connector.session(&UserId::from("alice")).await.is_err());
}

//! Many users, one connector, one pool: every answer belongs to the user who asked, under
//! concurrency, token rotation and session re-initialisation. The mock answers `get_user_data`
//! with the identity of the token it received, so a request carrying another user's token would
//! show up as a wrong identity.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::common::{call_as, connector_builder, eventually, store_with};
use futures_util::future::join_all;
use pagerduty_mcp_connect::{
    Connector, InMemoryCredentialStore, ManualClock, ProtocolPreference, ProtocolVersion, UserId,
};
use pagerduty_mcp_connect_mock::{MockPagerDuty, MockUser};
use serde_json::json;

const USERS: usize = 500;
const CALLS_PER_USER: usize = 4;

/// How many requests the mock received that carried an `initialize`.
fn initialize_count(mock: &MockPagerDuty) -> usize {
    let requests = mock.requests();
    let initializes = requests
        .iter()
        .filter(|r| r.jsonrpc_methods.iter().any(|m| m == "initialize"));
    initializes.count()
}

fn mock_user(index: usize) -> MockUser {
    MockUser::new(
        format!("PU{index:05}"),
        format!("User {index}"),
        format!("user{index}@example.com"),
        "user",
        format!("u+tok-{index:05}-first"),
    )
}

async fn setup(
    preference: ProtocolPreference,
) -> (MockPagerDuty, InMemoryCredentialStore, Connector) {
    let mut builder = MockPagerDuty::builder().without_default_users();
    for index in 0..USERS {
        builder = builder.user(mock_user(index));
    }
    let mock = builder.start().await.expect("mock");
    let store = InMemoryCredentialStore::new();
    for index in 0..USERS {
        store.insert(format!("user{index}"), format!("u+tok-{index:05}-first"));
    }
    let connector = connector_builder(&mock, store.clone())
        .configure_client(move |client| client.protocol(preference))
        .build()
        .unwrap();
    (mock, store, connector)
}

/// Every user calls `get_user_data` several times at once; returns user index → ids seen.
async fn round(
    connector: &Connector,
    users: std::ops::Range<usize>,
) -> HashMap<usize, Vec<String>> {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(100));
    let tasks = users.map(|index| {
        let connector = connector.clone();
        let semaphore = semaphore.clone();
        tokio::spawn(async move {
            let _permit = semaphore.acquire().await.unwrap();
            let user = UserId::from(format!("user{index}"));
            let calls =
                (0..CALLS_PER_USER).map(|_| connector.call_tool(&user, "get_user_data", json!({})));
            let seen: Vec<String> = join_all(calls)
                .await
                .into_iter()
                .map(|result| {
                    let result = result.unwrap_or_else(|e| panic!("user{index}: {e}"));
                    result.structured_content.unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                })
                .collect();
            (index, seen)
        })
    });
    join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect()
}

fn assert_identities(seen: &HashMap<usize, Vec<String>>) {
    for (index, ids) in seen {
        assert_eq!(ids.len(), CALLS_PER_USER);
        for id in ids {
            assert_eq!(
                id,
                &format!("PU{index:05}"),
                "user{index} got another user's answer"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_users_never_see_each_other_in_either_era() {
    for preference in [
        ProtocolPreference::Auto,
        ProtocolPreference::Exact(ProtocolVersion::V2025_11_25),
    ] {
        let (mock, store, connector) = setup(preference).await;
        let seen = round(&connector, 0..USERS).await;
        assert_eq!(seen.len(), USERS);
        assert_identities(&seen);

        // Rotate a third of the tokens: the server accepts only the new ones from now on.
        for index in (0..USERS).step_by(3) {
            let new_token = format!("u+tok-{index:05}-second");
            assert!(mock.add_token(&format!("PU{index:05}"), new_token.clone()));
            mock.revoke_token(&format!("u+tok-{index:05}-first"));
            store.rotate(format!("user{index}"), new_token);
        }
        // And, in the session era, make the server forget every session mid-way.
        if preference != ProtocolPreference::Auto {
            mock.expire_sessions();
        }
        mock.clear_requests();
        let seen = round(&connector, 0..USERS).await;
        assert_identities(&seen);
        // No call was rejected: rotated users used their new token at once. (The replaced
        // sessions are ended with a DELETE carrying their own, now revoked, token.)
        let requests = mock.requests();
        let rejected: Vec<_> = requests
            .iter()
            .filter(|r| !r.auth_matched && r.http_method != "DELETE")
            .collect();
        assert!(rejected.is_empty(), "{preference:?}: {rejected:?}");
        assert_eq!(connector.active_users(), USERS);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_calls_of_one_user_open_one_session() {
    let (mock, _store, connector) =
        setup(ProtocolPreference::Exact(ProtocolVersion::V2025_11_25)).await;
    let user = UserId::from("user7");
    let calls = (0..16).map(|_| connector.call_tool(&user, "get_user_data", json!({})));
    for result in join_all(calls).await {
        assert_eq!(result.unwrap().structured_content.unwrap()["id"], "PU00007");
    }
    let sessions: Vec<_> = mock
        .sessions()
        .into_iter()
        .filter(|s| s.user_id == "PU00007")
        .collect();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(initialize_count(&mock), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_are_evicted_and_reopened() {
    let mock = MockPagerDuty::start().await;
    let store = store_with("alice", MockPagerDuty::ALICE_TOKEN);
    let connector = connector_builder(&mock, store)
        .idle_timeout(Duration::from_millis(200))
        .configure_client(|c| c.protocol(ProtocolPreference::Exact(ProtocolVersion::V2025_11_25)))
        .build()
        .unwrap();
    let alice = UserId::from("alice");
    call_as(&connector, &alice, "get_user_data", json!({})).await;
    assert_eq!(connector.active_users(), 1);
    // The background sweeper runs every idle/2.
    let evicted = eventually(40, Duration::from_millis(50), || {
        connector.active_users() == 0
    })
    .await;
    assert!(evicted, "the idle session was not evicted");
    // The evicted session is ended on the server (DELETE once no call holds it).
    let deleted = eventually(40, Duration::from_millis(25), || {
        mock.requests().iter().any(|r| r.http_method == "DELETE")
    })
    .await;
    assert!(deleted, "no DELETE for the evicted session");
    let again = call_as(&connector, &alice, "get_user_data", json!({})).await;
    assert_eq!(
        again.structured_content.unwrap()["id"],
        MockPagerDuty::ALICE_USER_ID
    );
    assert_eq!(initialize_count(&mock), 2);
}

/// On a manual clock: a session is evicted exactly when it has been idle for the idle timeout,
/// not before, and the user's next call opens a new one; no sleep involved.
#[tokio::test]
async fn idle_eviction_follows_the_connectors_clock() {
    let mock = MockPagerDuty::start().await;
    let store = store_with("alice", MockPagerDuty::ALICE_TOKEN);
    let clock = ManualClock::new();
    let connector = connector_builder(&mock, store)
        .idle_timeout(Duration::from_secs(600))
        .clock(clock.clone())
        .build()
        .unwrap();
    let alice = UserId::from("alice");
    call_as(&connector, &alice, "get_user_data", json!({})).await;
    clock.advance(Duration::from_secs(599));
    assert_eq!(connector.evict_idle(), 0, "idle for less than the timeout");
    assert_eq!(connector.active_users(), 1);
    clock.advance(Duration::from_secs(1));
    assert_eq!(connector.evict_idle(), 1, "idle for the whole timeout");
    assert_eq!(connector.active_users(), 0);
    call_as(&connector, &alice, "get_user_data", json!({})).await;
    assert_eq!(connector.active_users(), 1);
}

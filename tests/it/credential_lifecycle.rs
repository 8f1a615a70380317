//! A user's credential over time: rejected (401) → invalidated, never retried in a loop; rotated →
//! used from the next call without a restart; a call in flight with the old token finishes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::common::{call_as, call_as_err, connector, start, store_with};
use async_trait::async_trait;
use pagerduty_mcp_connect::{
    CREDENTIAL_HELP, Credential, CredentialError, CredentialProvider, Error,
    InMemoryCredentialStore, UserId,
};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::json;

/// Counts calls and invalidations on top of a store.
#[derive(Debug, Clone)]
struct Counting {
    store: InMemoryCredentialStore,
    lookups: Arc<AtomicUsize>,
    invalidations: Arc<AtomicUsize>,
}

#[async_trait]
impl CredentialProvider for Counting {
    async fn credential(&self, user: &UserId) -> Result<Credential, CredentialError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.store.credential(user).await
    }
    async fn invalidate(&self, user: &UserId, credential: &Credential) {
        self.invalidations.fetch_add(1, Ordering::SeqCst);
        self.store.invalidate(user, credential).await
    }
}

#[tokio::test]
async fn a_revoked_token_is_invalidated_once_and_not_retried() {
    let mock = MockPagerDuty::start().await;
    let store = store_with("alice", MockPagerDuty::ALICE_TOKEN);
    let provider = Counting {
        store: store.clone(),
        lookups: Arc::default(),
        invalidations: Arc::default(),
    };
    let connector = connector(&mock, provider.clone());
    let alice = UserId::from("alice");
    call_as(&connector, &alice, "get_user_data", json!({})).await;

    // An admin revokes the token in PagerDuty.
    assert!(mock.revoke_token(MockPagerDuty::ALICE_TOKEN));
    mock.clear_requests();
    let err = call_as_err(&connector, &alice, "get_user_data", json!({})).await;
    let Error::Unauthorized { help, .. } = &err else {
        panic!("expected Unauthorized, got {err:?}");
    };
    assert_eq!(help, CREDENTIAL_HELP);
    assert!(err.to_string().contains("API Access"), "{err}");
    assert_eq!(provider.invalidations.load(Ordering::SeqCst), 1);
    assert!(store.is_revoked(&alice));
    assert_eq!(
        mock.requests().len(),
        1,
        "exactly one request with the dead token"
    );

    // Later calls fail at the store: the dead token is not sent again.
    for _ in 0..5 {
        let err = call_as_err(&connector, &alice, "get_user_data", json!({})).await;
        assert!(
            matches!(err, Error::Credential(CredentialError::Revoked { .. })),
            "{err:?}"
        );
    }
    assert_eq!(mock.requests().len(), 1);
    assert_eq!(provider.invalidations.load(Ordering::SeqCst), 1);

    // The user supplies a new token: it works at once.
    assert!(mock.add_token(MockPagerDuty::ALICE_USER_ID, "u+alice-new-token-01"));
    store.rotate("alice", "u+alice-new-token-01");
    let me = call_as(&connector, &alice, "get_user_data", json!({})).await;
    assert_eq!(
        me.structured_content.unwrap()["id"],
        MockPagerDuty::ALICE_USER_ID
    );
}

#[tokio::test]
async fn a_rotated_token_is_used_from_the_next_call() {
    let mock = MockPagerDuty::start().await;
    let store = store_with("alice", MockPagerDuty::ALICE_TOKEN);
    let connector = connector(&mock, store.clone());
    let alice = UserId::from("alice");
    call_as(&connector, &alice, "get_user_data", json!({})).await;

    mock.add_token(MockPagerDuty::ALICE_USER_ID, "u+alice-rotated-0002");
    store.rotate("alice", "u+alice-rotated-0002");
    mock.revoke_token(MockPagerDuty::ALICE_TOKEN);
    mock.clear_requests();
    let me = call_as(&connector, &alice, "get_user_data", json!({})).await;
    assert_eq!(
        me.structured_content.unwrap()["id"],
        MockPagerDuty::ALICE_USER_ID
    );
    let requests = mock.requests();
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|r| r.auth_matched), "{requests:?}");
}

#[tokio::test]
async fn a_call_in_flight_with_the_old_token_finishes() {
    // The old token stays valid on the server; the call started before the rotation completes.
    let mock = start(MockPagerDuty::builder().hang_duration(Duration::from_millis(300))).await;
    let store = store_with("alice", MockPagerDuty::ALICE_TOKEN);
    let connector = connector(&mock, store.clone());
    let alice = UserId::from("alice");
    call_as(&connector, &alice, "get_user_data", json!({})).await;

    mock.hang_next(1); // the next call takes a while (the mock answers 504 after the hang)
    let slow = {
        let connector = connector.clone();
        let alice = alice.clone();
        tokio::spawn(async move {
            connector
                .call_tool(&alice, "list_incidents", json!({}))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    mock.add_token(MockPagerDuty::ALICE_USER_ID, "u+alice-rotated-0003");
    store.rotate("alice", "u+alice-rotated-0003");
    let fast = call_as(&connector, &alice, "get_user_data", json!({})).await;
    assert_eq!(
        fast.structured_content.unwrap()["id"],
        MockPagerDuty::ALICE_USER_ID
    );
    // The in-flight call ends cleanly: an answer or a clear error, never a panic or a hang.
    let outcome = tokio::time::timeout(Duration::from_secs(10), slow)
        .await
        .expect("the in-flight call finished")
        .unwrap();
    match outcome {
        Ok(result) => assert!(!result.content.is_empty()),
        Err(err) => assert!(
            matches!(err, Error::HttpStatus { .. } | Error::Timeout { .. }),
            "{err:?}"
        ),
    }
}

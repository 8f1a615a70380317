//! A credential provider that hangs holds only its own user's call, and only until the
//! connector's time limit: then the call ends with `Error::CredentialTimeout`, nothing is sent
//! to the server, and other users are served meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::common::connector_builder;
use async_trait::async_trait;
use pagerduty_mcp_connect::{
    Connector, Credential, CredentialError, CredentialProvider, Error, ErrorKind, UserId,
};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::json;

/// Answers for `alice` at once; for anyone else never.
#[derive(Debug, Default)]
struct HangsForAllButAlice {
    calls: AtomicUsize,
}

#[async_trait]
impl CredentialProvider for HangsForAllButAlice {
    async fn credential(&self, user: &UserId) -> Result<Credential, CredentialError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if user.as_str() == "alice" {
            return Ok(Credential::new(MockPagerDuty::ALICE_TOKEN));
        }
        std::future::pending().await
    }
}

fn connector(
    mock: &MockPagerDuty,
    provider: Arc<HangsForAllButAlice>,
    limit: Option<Duration>,
) -> Connector {
    let mut builder = connector_builder(mock, SharedProvider(provider));
    if let Some(limit) = limit {
        builder = builder.credential_timeout(limit);
    }
    builder.build().unwrap()
}

/// Lets the test keep a handle on the provider.
#[derive(Debug)]
struct SharedProvider(Arc<HangsForAllButAlice>);

#[async_trait]
impl CredentialProvider for SharedProvider {
    async fn credential(&self, user: &UserId) -> Result<Credential, CredentialError> {
        self.0.credential(user).await
    }
}

#[tokio::test]
async fn a_hanging_provider_ends_in_a_typed_error_within_the_limit() {
    let mock = MockPagerDuty::start().await;
    let provider = Arc::new(HangsForAllButAlice::default());
    let connector = connector(&mock, provider.clone(), Some(Duration::from_millis(300)));
    let mallory = UserId::from("mallory");
    let alice = UserId::from("alice");

    let started = Instant::now();
    let (hung, served) = tokio::join!(
        connector.call_tool(&mallory, "list_incidents", json!({})),
        async {
            // Alice is served while Mallory's provider hangs.
            let result = connector
                .call_tool(&alice, "list_incidents", json!({}))
                .await;
            (result, started.elapsed())
        }
    );
    let elapsed = started.elapsed();
    let err = hung.expect_err("the provider never answers");
    assert!(
        matches!(&err, Error::CredentialTimeout { user, after, .. } if user.as_str() == "mallory" && *after == Duration::from_millis(300)),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::CredentialTimeout);
    assert!(err.is_timeout());
    assert!(err.is_retryable());
    assert!(!err.may_have_run());
    assert!(err.to_string().contains("mallory"), "{err}");
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");

    let (result, alice_done) = served;
    result.expect("alice is served meanwhile");
    assert!(alice_done < Duration::from_millis(300), "{alice_done:?}");

    // Nothing was sent for Mallory: every request the mock saw was Alice's.
    let requests = mock.requests();
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|r| r.user_id.as_deref() == Some(MockPagerDuty::ALICE_USER_ID))
    );
    assert_eq!(provider.calls.load(Ordering::SeqCst), 2);
}

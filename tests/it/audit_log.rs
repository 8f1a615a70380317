//! What the crate logs: every connector call is an audit span (user, tool, outcome, latency), old
//! tokens are warned about once per user, and no log line of any crate, at TRACE level, holds a
//! token.
//!
//! One global subscriber captures everything this test binary logs (a thread-local one would race
//! with tracing's per-callsite interest cache when tests run in parallel), and each test looks at
//! the lines of its own users.

use std::time::{Duration, SystemTime};

use super::common::{call_as, call_as_err, connector_builder};
use pagerduty_mcp_connect::{
    Clock, Connector, Credential, Error, InMemoryCredentialStore, ManualClock, Policy, UserId,
};
use pagerduty_mcp_connect_mock::{MockPagerDuty, MockUser};
use serde_json::json;

use super::log_capture::logs;

const SECRET: &str = "u+LEAKCHECKaudit77";
const TOKENS: [&str; 4] = [
    SECRET,
    MockPagerDuty::ALICE_TOKEN,
    MockPagerDuty::BOB_TOKEN,
    MockPagerDuty::DEMO_TOKEN,
];

fn assert_no_token(logs: &str) {
    for token in TOKENS {
        assert!(!logs.contains(token), "a token is in the logs");
    }
    assert!(!logs.contains("LEAKCHECK"), "a token is in the logs");
}

/// The lines of `logs` that contain `what` and any of `about`.
fn lines_with<'a>(logs: &'a str, what: &str, about: &[&str]) -> Vec<&'a str> {
    let about_any = |line: &str| about.iter().any(|a| line.contains(a));
    logs.lines()
        .filter(|l| l.contains(what) && about_any(l))
        .collect()
}

/// A store holding, for each `(user, token, created)`, that token created at that time.
fn store_of_tokens_created(tokens: &[(&str, &str, SystemTime)]) -> InMemoryCredentialStore {
    let store = InMemoryCredentialStore::new();
    for &(user, token, created) in tokens {
        let credential = Credential::new(token.to_owned()).with_created_at(created);
        store.insert_credential(user, credential);
    }
    store
}

fn connector(mock: &MockPagerDuty, store: InMemoryCredentialStore, policy: Policy) -> Connector {
    connector_builder(mock, store)
        .policy(policy)
        .build()
        .unwrap()
}

#[tokio::test]
async fn every_call_is_an_audit_span_with_user_tool_outcome_and_latency() {
    super::log_capture::start();
    let mock = MockPagerDuty::start().await;
    let store = InMemoryCredentialStore::new();
    store.insert("audit-alice", MockPagerDuty::ALICE_TOKEN);
    let connector = connector(&mock, store, Policy::new().deny_tools(["create_incident"]));
    let alice = UserId::from("audit-alice");
    call_as(&connector, &alice, "list_incidents", json!({})).await;
    let err = call_as_err(&connector, &alice, "create_incident", json!({})).await;
    assert!(matches!(err, Error::PolicyDenied { .. }));

    let logs = logs();
    let finished = lines_with(
        &logs,
        "user=audit-alice",
        &["mcp call finished", "mcp call failed"],
    );
    assert_eq!(finished.len(), 2, "{finished:#?}");
    assert!(finished[0].contains("list_incidents"), "{}", finished[0]);
    assert!(finished[0].contains("outcome=\"ok\""), "{}", finished[0]);
    assert!(finished[0].contains("latency_ms="), "{}", finished[0]);
    assert!(finished[1].contains("create_incident"), "{}", finished[1]);
    assert!(
        finished[1].contains("outcome=\"denied\""),
        "{}",
        finished[1]
    );
    assert_no_token(&logs);
}

#[tokio::test]
async fn old_tokens_are_warned_about_once() {
    super::log_capture::start();
    let mock = MockPagerDuty::start().await;
    let old = SystemTime::now() - Duration::from_secs(200 * 86_400);
    let store = store_of_tokens_created(&[
        ("aged-alice", MockPagerDuty::ALICE_TOKEN, old),
        ("fresh-bob", MockPagerDuty::BOB_TOKEN, SystemTime::now()),
    ]);
    let connector = connector(&mock, store, Policy::new());
    for _ in 0..3 {
        for user in ["aged-alice", "fresh-bob"] {
            call_as(&connector, &UserId::from(user), "get_user_data", json!({})).await;
        }
    }
    let logs = logs();
    let warnings = lines_with(&logs, "should be rotated", &["aged-alice", "fresh-bob"]);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(warnings[0].contains("aged-alice"));
    assert!(warnings[0].contains("age_days=200"), "{}", warnings[0]);
    assert_no_token(&logs);
}

/// On the connector's clock: a token turns "old" when the clock passes 90 days after its creation,
/// and the once-a-day warning comes again a day later; no sleep involved.
#[tokio::test]
async fn token_age_and_the_daily_warning_follow_the_connectors_clock() {
    super::log_capture::start();
    let mock = MockPagerDuty::start().await;
    let clock = ManualClock::new();
    let created = clock.system_now();
    let store = store_of_tokens_created(&[("clocked-alice", MockPagerDuty::ALICE_TOKEN, created)]);
    let connector = connector_builder(&mock, store)
        .clock(clock.clone())
        .build()
        .unwrap();
    let alice = UserId::from("clocked-alice");
    let warnings = || lines_with(&logs(), "should be rotated", &["clocked-alice"]).len();
    call_as(&connector, &alice, "get_user_data", json!({})).await;
    clock.advance(Duration::from_secs(90 * 86_400));
    call_as(&connector, &alice, "get_user_data", json!({})).await;
    assert_eq!(warnings(), 0, "90 days is not older than the limit");
    clock.advance(Duration::from_secs(1));
    call_as(&connector, &alice, "get_user_data", json!({})).await;
    call_as(&connector, &alice, "get_user_data", json!({})).await;
    assert_eq!(warnings(), 1, "warned once");
    clock.advance(Duration::from_secs(86_400));
    call_as(&connector, &alice, "get_user_data", json!({})).await;
    assert_eq!(warnings(), 2, "and again a day later");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_of_whole_sessions_hold_no_token() {
    super::log_capture::start();
    let mock = MockPagerDuty::builder()
        .user(MockUser::new(
            "PTRACE1",
            "Trace",
            "trace@example.com",
            "admin",
            SECRET,
        ))
        .start()
        .await
        .unwrap();
    let store = InMemoryCredentialStore::new();
    store.insert("trace-alice", SECRET);
    for preference in [
        pagerduty_mcp_connect::ProtocolPreference::Auto,
        pagerduty_mcp_connect::ProtocolPreference::Exact(
            pagerduty_mcp_connect::ProtocolVersion::V2025_11_25,
        ),
    ] {
        store.insert("trace-mallory", "u+LEAKCHECKwrong000");
        let connector = connector_builder(&mock, store.clone())
            .configure_client(move |c| c.protocol(preference))
            .build()
            .unwrap();
        let alice = UserId::from("trace-alice");
        connector.list_tools(&alice).await.unwrap();
        call_as(&connector, &alice, "list_incidents", json!({})).await;
        mock.expire_sessions();
        call_as(&connector, &alice, "get_user_data", json!({})).await;
        let err = call_as_err(
            &connector,
            &UserId::from("trace-mallory"),
            "list_incidents",
            json!({}),
        )
        .await;
        assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
        connector.disconnect(&alice).await.unwrap();
    }
    let logs = logs();
    assert!(
        logs.contains("user=trace-alice"),
        "the audit span was not logged"
    );
    assert!(
        logs.contains("hyper") || logs.contains("reqwest"),
        "the HTTP stack's own TRACE output was not captured"
    );
    assert_no_token(&logs);
}

//! A server that accepts one documented form of the auth header only: the first 401 to the
//! form in use is tried once more in another form (the one its challenge names, else the next),
//! the accepted form is kept for every user of the endpoint and logged once, a revoked token
//! still costs at most two requests, and the fallback can be turned off.

use pagerduty_mcp_connect::{
    AuthScheme, Connector, Credential, ErrorKind, GenericServer, InMemoryCredentialStore,
    McpClient, PagerDuty, ProtocolPreference, ProtocolVersion, UserId,
};
use pagerduty_mcp_connect_mock::{MockPagerDuty, RecordedRequest};
use serde_json::json;

use super::log_capture;

const ERAS: [ProtocolPreference; 2] = [
    ProtocolPreference::Exact(ProtocolVersion::V2025_11_25),
    ProtocolPreference::Exact(ProtocolVersion::V2026_07_28),
];

/// A mock that accepts `scheme` only.
async fn mock_accepting(scheme: AuthScheme) -> MockPagerDuty {
    MockPagerDuty::builder()
        .auth_scheme(scheme)
        .start()
        .await
        .expect("mock starts")
}

/// The PagerDuty preset (default `Token` form, the documented forms as fallbacks) for `mock`.
fn preset(mock: &MockPagerDuty) -> PagerDuty {
    PagerDuty::builder()
        .endpoint(mock.url().as_str())
        .build()
        .expect("loopback endpoint")
}

/// The requests the mock refused for want of a matching header.
fn refused(requests: &[RecordedRequest]) -> usize {
    requests.iter().filter(|r| !r.auth_matched).count()
}

#[tokio::test]
async fn the_preset_finds_the_form_a_one_form_server_accepts_and_keeps_it_for_everyone() {
    for (scheme, label) in [
        (AuthScheme::token_equals(), "Token token="),
        (AuthScheme::bearer(), "Bearer"),
    ] {
        for preference in ERAS {
            let mock = mock_accepting(scheme.clone()).await;
            let store = InMemoryCredentialStore::new();
            store.insert("alice", MockPagerDuty::ALICE_TOKEN);
            store.insert("bob", MockPagerDuty::BOB_TOKEN);
            store.insert("demo", MockPagerDuty::DEMO_TOKEN);
            let connector = Connector::builder()
                .server(preset(&mock))
                .credentials(store.clone())
                .configure_client(move |client| client.protocol(preference))
                .build()
                .unwrap();
            let alice = UserId::from("alice");
            let me = connector
                .call_tool(&alice, "get_user_data", json!({}))
                .await
                .unwrap_or_else(|err| panic!("{label} {preference:?}: {err}"));
            assert_eq!(me.structured_content.unwrap()["email"], "alice@example.com");
            assert_eq!(
                refused(&mock.requests()),
                1,
                "{label} {preference:?}: one refusal"
            );
            assert!(
                !store.is_revoked(&alice),
                "{label}: a valid token was revoked"
            );

            // Every later user goes straight to the accepted form.
            mock.clear_requests();
            for user in ["bob", "demo"] {
                connector
                    .call_tool(&UserId::from(user), "get_user_data", json!({}))
                    .await
                    .unwrap();
            }
            assert_eq!(refused(&mock.requests()), 0, "{label} {preference:?}");
        }
    }
}

/// Connects with `token` and calls `get_user_data`: the first error of the two, if any.
async fn connect_and_call(
    client: &McpClient,
    token: &str,
) -> Result<(), pagerduty_mcp_connect::Error> {
    let session = client.connect(&Credential::new(token)).await?;
    session
        .call_tool("get_user_data", json!({}))
        .await
        .map(drop)
}

#[tokio::test]
async fn a_revoked_token_costs_at_most_two_requests_and_never_loops() {
    for preference in ERAS {
        let mock = mock_accepting(AuthScheme::token_equals()).await;
        mock.revoke_token(MockPagerDuty::ALICE_TOKEN);
        let client = McpClient::builder(preset(&mock))
            .protocol(preference)
            .build()
            .unwrap();
        let err = connect_and_call(&client, MockPagerDuty::ALICE_TOKEN)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
        assert_eq!(
            refused(&mock.requests()),
            2,
            "{preference:?}: the form in use and one more"
        );

        // Once a form is accepted, a revoked token costs one request.
        connect_and_call(&client, MockPagerDuty::BOB_TOKEN)
            .await
            .unwrap();
        mock.clear_requests();
        let err = connect_and_call(&client, MockPagerDuty::ALICE_TOKEN)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
        assert_eq!(refused(&mock.requests()), 1, "{preference:?}");
    }
}

#[tokio::test]
async fn the_fallback_can_be_turned_off_and_is_logged_once() {
    log_capture::start();
    let mock = mock_accepting(AuthScheme::token_equals()).await;
    let strict = PagerDuty::builder()
        .endpoint(mock.url().as_str())
        .header_form_fallback(false)
        .build()
        .unwrap();
    let err = McpClient::new(strict)
        .unwrap()
        .connect(&Credential::new(MockPagerDuty::ALICE_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    assert_eq!(refused(&mock.requests()), 1);

    // A generic server with a fallback, under a name of its own for the log.
    let server = GenericServer::new(
        "header-forms-log-test",
        mock.url().as_str(),
        AuthScheme::token(),
    )
    .unwrap()
    .with_auth_fallbacks([AuthScheme::token_equals()]);
    let client = McpClient::new(server).unwrap();
    for token in [MockPagerDuty::ALICE_TOKEN, MockPagerDuty::BOB_TOKEN] {
        client.connect(&Credential::new(token)).await.unwrap();
    }
    let logs = log_capture::logs();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("header-forms-log-test") && l.contains("accepted another"))
        .collect();
    assert_eq!(lines.len(), 1, "logged once: {lines:#?}");
    assert!(lines[0].contains("INFO"), "{}", lines[0]);
    assert!(!logs.contains(MockPagerDuty::ALICE_TOKEN));
}

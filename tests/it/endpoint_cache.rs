//! What a client learns about its endpoint once: `server/discover` once per endpoint in the
//! 2026-07-28 protocol (reused only as `ttlMs`/`cacheScope` allow), and the era shared across
//! clients in the process with `share_negotiation`. Real client, real HTTP, the embedded mock.

use super::common::{call, client_builder, connect, methods, mock};
use pagerduty_mcp_connect::{Credential, McpClient, ProtocolPreference, ProtocolVersion};
use pagerduty_mcp_connect_mock::{Eras, MockPagerDuty};
use serde_json::json;

fn client(mock: &MockPagerDuty, preference: ProtocolPreference, share: bool) -> McpClient {
    client_builder(mock, preference)
        .share_negotiation(share)
        .build()
        .expect("client")
}

#[tokio::test]
async fn a_new_stateless_user_costs_one_round_trip_and_private_details_stay_private() {
    let mock = mock(Eras::Both).await;
    let client = client(
        &mock,
        ProtocolPreference::Exact(ProtocolVersion::V2026_07_28),
        false,
    );
    let demo = client
        .connect(&Credential::new(MockPagerDuty::DEMO_TOKEN))
        .await
        .expect("demo");
    assert_eq!(methods(&mock.requests()), ["POST server/discover"]);
    let full = demo.server_details();
    assert!(!full.capabilities.is_empty(), "{full:?}");
    assert!(full.instructions.is_some());

    // Alice: no discover of her own. The mock marks its discover result `private` with
    // `ttlMs: 0`, so she gets the server's identity and versions, not Demo's capabilities.
    mock.clear_requests();
    let alice = client
        .connect(&Credential::new(MockPagerDuty::ALICE_TOKEN))
        .await
        .expect("alice");
    let result = call(&alice, "get_user_data", json!({})).await;
    assert!(result.text().contains(MockPagerDuty::ALICE_USER_ID));
    assert_eq!(methods(&mock.requests()), ["POST tools/call"]);
    let facts = alice.server_details();
    assert_eq!(facts.server_info, full.server_info);
    assert_eq!(
        facts.extra.get("supportedVersions"),
        Some(&json!(["2026-07-28"]))
    );
    assert!(facts.capabilities.is_empty(), "{facts:?}");
    assert_eq!(facts.instructions, None);

    // Her own capabilities and instructions, on request, with her credential.
    mock.clear_requests();
    let own = alice.refresh_server_details().await.expect("discover");
    assert_eq!(own.capabilities, full.capabilities);
    assert_eq!(alice.server_details().instructions, full.instructions);
    let records = mock.requests();
    assert_eq!(methods(&mock.requests()), ["POST server/discover"]);
    assert_eq!(
        records[0].user_id.as_deref(),
        Some(MockPagerDuty::ALICE_USER_ID)
    );
    mock.shutdown().await;
}

#[tokio::test]
async fn shared_negotiation_spares_later_clients_the_probe() {
    let mock = mock(Eras::SessionOnly).await;
    let token = Credential::new(MockPagerDuty::DEMO_TOKEN);

    // Not shared: every new client probes the stateless era first.
    let alone = client(&mock, ProtocolPreference::Auto, false);
    let session = alone.connect(&token).await.expect("connect");
    assert_eq!(session.version(), ProtocolVersion::V2025_11_25);
    session.close().await.expect("close");
    mock.clear_requests();
    let session = client(&mock, ProtocolPreference::Auto, false)
        .connect(&token)
        .await
        .expect("connect");
    assert_eq!(
        methods(&mock.requests())[0],
        "POST server/discover",
        "a fresh client probes"
    );
    session.close().await.expect("close");

    // Shared: the first client finds the era, a second one goes straight to initialize.
    let first = client(&mock, ProtocolPreference::Auto, true);
    first
        .connect(&token)
        .await
        .expect("connect")
        .close()
        .await
        .expect("close");
    mock.clear_requests();
    let second = client(&mock, ProtocolPreference::Auto, true);
    assert_eq!(
        second.negotiated_version(),
        Some(ProtocolVersion::V2025_11_25)
    );
    let session = second.connect(&token).await.expect("connect");
    assert_eq!(
        methods(&mock.requests()),
        ["POST initialize", "POST notifications/initialized"]
    );
    session.close().await.expect("close");
    mock.shutdown().await;
}

#[tokio::test]
async fn shared_negotiation_spares_later_clients_the_discover_too() {
    let mock = mock(Eras::Both).await;
    let first = client(&mock, ProtocolPreference::Auto, true);
    let session = connect(&first, MockPagerDuty::DEMO_TOKEN).await;
    assert_eq!(session.version(), ProtocolVersion::V2026_07_28);
    mock.clear_requests();
    let second = client(&mock, ProtocolPreference::Auto, true);
    let session = connect(&second, MockPagerDuty::DEMO_TOKEN).await;
    assert_eq!(session.version(), ProtocolVersion::V2026_07_28);
    call(&session, "get_user_data", json!({})).await;
    assert_eq!(
        methods(&mock.requests()),
        ["POST tools/call"],
        "no probe, no discover"
    );
    assert_eq!(
        session.server_details().server_info.name,
        "pagerduty-mcp-mock"
    );
    mock.shutdown().await;
}

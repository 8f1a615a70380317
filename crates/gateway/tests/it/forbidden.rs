//! A 403 (PagerDuty's "Access Denied", code 2010: the user's role lacks a permission) is not a
//! 401: the token is fine and stays usable, and the person is told which permission is missing,
//! through the connector and through the gateway, in both protocol eras.

use pagerduty_mcp_connect::{
    Connector, ErrorKind, InMemoryCredentialStore, ProtocolPreference, UserId,
};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::json;

use crate::gateway_support::{ALICE_KEY, ERAS, TestGateway, agent, err, ok};

/// What the person must read in a 403's message: PagerDuty's words and the permission.
fn assert_names_the_permission(message: &str) {
    assert!(message.contains("Access Denied"), "{message}");
    assert!(message.contains("incidents.write"), "{message}");
    assert!(!message.contains(MockPagerDuty::ALICE_TOKEN), "{message}");
}

#[tokio::test]
async fn a_403_through_the_connector_names_the_permission_and_keeps_the_token() {
    for preference in [ProtocolPreference::Handshake, ProtocolPreference::Auto] {
        let mock = MockPagerDuty::start().await;
        let store = InMemoryCredentialStore::new();
        let alice = UserId::from("alice");
        store.insert(alice.clone(), MockPagerDuty::ALICE_TOKEN);
        let connector = Connector::builder()
            .server(mock.pagerduty())
            .credentials(store.clone())
            .configure_client(move |client| client.protocol(preference))
            .build()
            .unwrap();
        connector
            .call_tool(&alice, "get_user_data", json!({}))
            .await
            .unwrap();

        mock.fail_next(1, 403);
        let denied = connector
            .call_tool(&alice, "get_user_data", json!({}))
            .await
            .unwrap_err();
        assert_eq!(
            denied.kind(),
            ErrorKind::Forbidden,
            "{preference:?}: {denied}"
        );
        assert_names_the_permission(&denied.to_string());
        assert!(
            !store.is_revoked(&alice),
            "{preference:?}: a 403 revoked the token"
        );

        let me = connector
            .call_tool(&alice, "get_user_data", json!({}))
            .await
            .unwrap();
        assert_eq!(
            me.structured_content.unwrap()["email"],
            "alice@example.com",
            "{preference:?}"
        );
    }
}

#[tokio::test]
async fn a_403_through_the_gateway_reaches_the_agent_and_keeps_the_token() {
    for mode in ERAS {
        let gw = TestGateway::start(Default::default()).await;
        let me = json!([{"op": "call", "tool": "get_user_data", "args": {}}]);
        ok(&agent(&gw.url, ALICE_KEY, mode, me).await, 0);

        gw.mock.fail_next(1, 403);
        let out = agent(
            &gw.url,
            ALICE_KEY,
            mode,
            json!([
                {"op": "call", "tool": "get_user_data", "args": {}},
                {"op": "call", "tool": "get_user_data", "args": {}},
            ]),
        )
        .await;
        assert_names_the_permission(&err(&out, 0).to_string());
        assert_eq!(
            ok(&out, 1)["structured"]["email"],
            "alice@example.com",
            "{mode}: {out}"
        );
        assert!(
            !gw.credentials.is_revoked(&UserId::from("alice")),
            "{mode}: a 403 revoked the token"
        );
        gw.shutdown().await;
    }
}

/// A server that answers every request 403 with PagerDuty's envelope whose message echoes the
/// bare token (no `Token` label) far enough in that the error's excerpt cuts inside it.
async fn echoing_server() -> String {
    use axum::http::{HeaderMap, StatusCode};
    let app = axum::Router::new().route(
        "/mcp",
        axum::routing::any(|headers: HeaderMap| async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let bare = auth.strip_prefix("Token ").unwrap_or(auth);
            let message = format!("{} {bare} is not allowed here", "x".repeat(224));
            let body = json!({"error": {"message": message, "code": 2010}});
            (StatusCode::FORBIDDEN, axum::Json(body))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/mcp")
}

#[tokio::test]
async fn no_piece_of_a_bare_token_cut_by_the_excerpt_survives_in_the_error() {
    const TOKEN: &str = "u+PRBTKs07690eXyZq1w";
    let url = echoing_server().await;
    let server = pagerduty_mcp_connect::GenericServer::new(
        "echo",
        url.as_str(),
        pagerduty_mcp_connect::AuthScheme::token(),
    )
    .unwrap();
    let store = InMemoryCredentialStore::new();
    let alice = UserId::from("alice");
    store.insert(alice.clone(), TOKEN);
    let connector = Connector::builder()
        .server(server)
        .credentials(store)
        .build()
        .unwrap();
    let err = connector
        .call_tool(&alice, "get_user_data", json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(
            text.contains("[redacted]"),
            "the cut token was not seen: {text}"
        );
        for piece in TOKEN.as_bytes().windows(4) {
            let piece = std::str::from_utf8(piece).unwrap();
            assert!(!text.contains(piece), "{piece:?} of the token in: {text}");
        }
    }
}

//! A server that needs no credential, described as such: no credential header is ever sent, and
//! a connector for it needs no credential provider. And a generic server's scheme is always named.

use super::common::{call_as, start};
use pagerduty_mcp_connect::{
    AuthScheme, ConnectionType, Connector, Credential, Error, GenericServer, McpClient,
    RemoteMcpServer, UserId,
};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::json;

#[tokio::test]
async fn a_connector_for_an_open_server_needs_no_credentials() {
    let open = start(MockPagerDuty::builder().auth_scheme(AuthScheme::none())).await;
    let server = GenericServer::without_credential("open mock", open.url().as_str()).unwrap();
    assert_eq!(server.connection_type(), ConnectionType::NoCredential);
    let connector = Connector::builder().server(server).build().unwrap();
    let anyone = UserId::from("anyone");
    let tools = connector.list_tools(&anyone).await.unwrap();
    assert!(!tools.is_empty());
    let result = call_as(&connector, &anyone, "list_incidents", json!({})).await;
    assert!(!result.is_error(), "{result:?}");
}

#[tokio::test]
async fn no_credential_header_is_sent_even_when_one_is_given() {
    // A mock that does want a token records whether the header was there.
    let mock = MockPagerDuty::start().await;
    let server = GenericServer::without_credential("open", mock.url().as_str()).unwrap();
    let client = McpClient::new(server).unwrap();
    let err = client
        .connect(&Credential::new(MockPagerDuty::ALICE_TOKEN))
        .await
        .expect_err("the mock wants a token");
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    let requests = mock.requests();
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| !r.auth_present),
        "no request carried a credential header: {requests:?}"
    );
}

#[test]
fn a_generic_server_names_its_scheme() {
    let bearer =
        GenericServer::new("oauth", "https://mcp.example.com/mcp", AuthScheme::bearer()).unwrap();
    assert_eq!(bearer.auth_scheme().prefix(), "Bearer ");
    assert_eq!(bearer.connection_type(), ConnectionType::PerUser);
    let key = GenericServer::new(
        "keyed",
        "https://mcp.example.com/mcp",
        AuthScheme::custom("X-Api-Key", "").unwrap(),
    )
    .unwrap();
    assert_eq!(key.auth_scheme().header_name().as_str(), "x-api-key");
    // A connector for a server that wants credentials still insists on a provider.
    let err = Connector::builder().server(bearer).build().unwrap_err();
    assert!(err.to_string().contains("credentials"), "{err}");
}

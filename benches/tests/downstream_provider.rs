//! A downstream crate implements `CredentialProvider` with nothing but `pagerduty-mcp-connect`
//! in its Cargo.toml: this package has no `async-trait` dependency, so the attribute must come
//! from the crate's re-export. Then the provider serves a real connector against the mock.

use pagerduty_mcp_connect::{
    Connector, Credential, CredentialError, CredentialProvider, UserId, async_trait,
};
use pagerduty_mcp_connect_mock::MockPagerDuty;

#[derive(Debug)]
struct OurVault;

#[async_trait]
impl CredentialProvider for OurVault {
    async fn credential(&self, user: &UserId) -> Result<Credential, CredentialError> {
        match user.as_str() {
            "alice" => Ok(Credential::new(MockPagerDuty::ALICE_TOKEN)),
            _ => Err(CredentialError::NotFound { user: user.clone() }),
        }
    }
}

#[tokio::test]
async fn a_provider_written_with_the_reexported_macro_serves_a_connector() {
    let mock = MockPagerDuty::start().await;
    let connector = Connector::builder()
        .server(mock.pagerduty())
        .credentials(OurVault)
        .build()
        .unwrap();
    let tools = connector.list_tools(&UserId::from("alice")).await.unwrap();
    assert!(!tools.is_empty());
    let err = connector
        .list_tools(&UserId::from("mallory"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("mallory"), "{err}");
}

//! A gateway with users in a US and an EU PagerDuty account serves both with no routing code of
//! its own: the token check finds each user's region, the store records it, and the regional
//! connector sends each user's session to their region's hosted MCP server.
//!
//! The two regions' MCP servers are two embedded mock servers, and their REST APIs (for the
//! token check) two loopback fakes.
#![cfg(feature = "sqlite")]

#[path = "../../../../tests/support/fake_rest.rs"]
mod fake_rest;
use super::store;

use fake_rest::{FakeRest, user_json};
use pagerduty_mcp_connect::{
    Connector, CredentialProvider, Error, InMemoryCredentialStore, PagerDuty, Region,
    TokenVerifier, UserId,
};
use pagerduty_mcp_connect_mock::{MockPagerDuty, MockUser};
use pagerduty_mcp_connect_store::StoreError;
use serde_json::json;
use store::{TempDir, secret, sqlite};

const ADA_TOKEN: &str = "u+AdaUsRegionTok0001";
const GRACE_TOKEN: &str = "u+GraceEuRegionTok02";

/// The PagerDuty preset of `region`, pointed at `mock`.
fn regional(region: Region, mock: &MockPagerDuty) -> PagerDuty {
    PagerDuty::builder()
        .region(region)
        .endpoint(mock.url().as_str())
        .build()
        .unwrap()
}

async fn mock_with(id: &str, name: &str, email: &str, token: &str) -> MockPagerDuty {
    MockPagerDuty::builder()
        .without_default_users()
        .user(MockUser::new(id, name, email, "user", token))
        .start()
        .await
        .unwrap()
}

/// A connector with `credentials` that sends US users' calls to `us` and EU users' to `eu`.
fn routing_connector(
    credentials: impl CredentialProvider + 'static,
    us: &MockPagerDuty,
    eu: &MockPagerDuty,
) -> Connector {
    Connector::builder()
        .credentials(credentials)
        .route(Region::Us, regional(Region::Us, us))
        .route(Region::Eu, regional(Region::Eu, eu))
        .build()
        .unwrap()
}

/// A fake REST API knowing one user (role `user`) by `token`.
async fn rest_with(id: &str, name: &str, email: &str, token: &str) -> FakeRest {
    let user = user_json(id, name, email, "user");
    FakeRest::builder().user(token, user).start().await
}

#[tokio::test]
async fn two_users_of_two_regions_reach_two_different_endpoints() {
    // PagerDuty in two regions: MCP servers and REST APIs.
    let us_mcp = mock_with("PADA001", "Ada", "ada@example.com", ADA_TOKEN).await;
    let eu_mcp = mock_with("PGRACE1", "Grace", "grace@example.eu", GRACE_TOKEN).await;
    let us_rest = rest_with("PADA001", "Ada", "ada@example.com", ADA_TOKEN).await;
    let eu_rest = rest_with("PGRACE1", "Grace", "grace@example.eu", GRACE_TOKEN).await;
    let verifier = TokenVerifier::new()
        .unwrap()
        .with_api_url(Region::Us, us_rest.base())
        .unwrap()
        .with_api_url(Region::Eu, eu_rest.base())
        .unwrap();

    // Onboarding: each token is checked, and its identity and region recorded.
    let dir = TempDir::new("regions");
    let store = sqlite(&dir).open().await.unwrap();
    let ada = UserId::from("ada");
    let grace = UserId::from("grace");
    let record = store
        .put_verified(&ada, secret(ADA_TOKEN), &verifier)
        .await
        .unwrap();
    assert_eq!(record.route, Some(Region::Us.into()));
    let verification = record.verification.expect("verified");
    assert_eq!(verification.identity.id, "PADA001");
    assert_eq!(verification.identity.email, "ada@example.com");
    let record = store
        .put_verified(&grace, secret(GRACE_TOKEN), &verifier)
        .await
        .unwrap();
    assert_eq!(record.route, Some(Region::Eu.into()));
    assert_eq!(
        record.verification.unwrap().identity.route,
        Some(Region::Eu.into())
    );
    // A token neither region accepts is not stored.
    let err = store
        .put_verified(
            &UserId::from("mallory"),
            secret("u+NobodyKnowsMe0001"),
            &verifier,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Verification(Error::Unauthorized { .. })),
        "{err:?}"
    );
    assert_eq!(store.len().await.unwrap(), 2);

    let connector = routing_connector(store.clone(), &us_mcp, &eu_mcp);
    for _ in 0..2 {
        let me = connector
            .call_tool(&ada, "get_user_data", json!({}))
            .await
            .unwrap();
        assert_eq!(me.structured_content.unwrap()["id"], "PADA001");
        let me = connector
            .call_tool(&grace, "get_user_data", json!({}))
            .await
            .unwrap();
        assert_eq!(me.structured_content.unwrap()["id"], "PGRACE1");
    }
    assert!(!connector.list_tools(&grace).await.unwrap().is_empty());
    assert_eq!(connector.active_users(), 2);

    // Each region's server saw only its own user, and saw them authenticated.
    let us_seen = us_mcp.requests();
    let eu_seen = eu_mcp.requests();
    assert!(!us_seen.is_empty() && !eu_seen.is_empty());
    assert!(
        us_seen
            .iter()
            .all(|r| r.auth_matched && r.user_id.as_deref() == Some("PADA001"))
    );
    assert!(
        eu_seen
            .iter()
            .all(|r| r.auth_matched && r.user_id.as_deref() == Some("PGRACE1"))
    );
    assert_ne!(us_mcp.url(), eu_mcp.url());
    assert_eq!(
        Region::of(&store.credential(&grace).await.unwrap()),
        Some(Region::Eu)
    );
    connector.disconnect(&ada).await.unwrap();
    assert_eq!(connector.active_users(), 1);

    // verify() rechecks a stored token; a rejected one is marked revoked by the server.
    let record = store.verify(&ada, &verifier).await.unwrap();
    assert!(record.verification.is_some());
    store
        .put_with_route(&ada, secret("u+AdaDeadToken000001"), Region::Us)
        .await
        .unwrap();
    let err = store.verify(&ada, &verifier).await.unwrap_err();
    assert!(matches!(
        err,
        StoreError::Verification(Error::Unauthorized { .. })
    ));
    let err = connector
        .call_tool(&ada, "get_user_data", json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
}

#[tokio::test]
async fn a_credential_without_a_region_is_never_sent_anywhere_by_guess() {
    let us_mcp = mock_with("PADA001", "Ada", "ada@example.com", ADA_TOKEN).await;
    let store = InMemoryCredentialStore::new();
    store.insert("ada", ADA_TOKEN);
    let connector = routing_connector(store.clone(), &us_mcp, &us_mcp);
    let err = connector
        .call_tool(&UserId::from("ada"), "get_user_data", json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
    assert!(err.to_string().contains("names no route"));
    assert!(us_mcp.requests().is_empty());

    // With a default region, such users go there.
    let connector = Connector::builder()
        .credentials(store)
        .route(Region::Us, regional(Region::Us, &us_mcp))
        .server(regional(Region::Us, &us_mcp))
        .build()
        .unwrap();
    connector
        .call_tool(&UserId::from("ada"), "get_user_data", json!({}))
        .await
        .unwrap();
    assert!(connector.route_client(&Region::Eu.into()).is_none());
}

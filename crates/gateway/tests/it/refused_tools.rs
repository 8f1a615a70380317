//! A tool the gateway's policy refuses is listed to the agent marked as refused, with the
//! reason, so that every client shows the gateway's policy rather than "tool not found"; an
//! option hides such tools instead. Seen by an MCP client over HTTP (this workspace's own, in
//! both eras), the way any agent sees the list.

use pagerduty_mcp_connect::{
    AuthScheme, Credential, ErrorKind, GenericServer, McpClient, Policy, ProtocolPreference,
    ProtocolVersion, Tool,
};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::json;

use crate::gateway_support::{DEMO_KEY, TestGateway};

const ERAS: [ProtocolPreference; 2] = [
    ProtocolPreference::Exact(ProtocolVersion::V2025_11_25),
    ProtocolPreference::Exact(ProtocolVersion::V2026_07_28),
];

/// The tools the demo user's agent sees through `gw`, speaking `preference`, and the error of
/// calling `create_incident`.
async fn listing_and_refusal(
    gw: &TestGateway,
    preference: ProtocolPreference,
) -> (Vec<Tool>, pagerduty_mcp_connect::Error) {
    let server = GenericServer::new("gateway", gw.url.as_str(), AuthScheme::bearer()).unwrap();
    let client = McpClient::builder(server)
        .protocol(preference)
        .build()
        .unwrap();
    let session = client.connect(&Credential::new(DEMO_KEY)).await.unwrap();
    let tools = session.list_tools().await.unwrap();
    let refusal = session
        .call_tool(
            "create_incident",
            json!({"title": "x", "service_id": "PSVC001"}),
        )
        .await
        .unwrap_err();
    (tools, refusal)
}

#[tokio::test]
async fn refused_tools_are_listed_as_refused_with_the_reason() {
    let gw = TestGateway::start(Policy::new().read_only(true)).await;
    for preference in ERAS {
        let (tools, refusal) = listing_and_refusal(&gw, preference).await;
        let create = tools
            .iter()
            .find(|t| t.name == "create_incident")
            .unwrap_or_else(|| panic!("{preference:?}: create_incident not listed"));
        let description = create.description.as_deref().unwrap_or_default();
        assert!(
            description.starts_with("[Refused by this gateway's policy: read-only mode"),
            "{description}"
        );
        let title = create.extra["title"].as_str().unwrap_or_default();
        assert!(
            title.ends_with("(refused by this gateway's policy)"),
            "{title}"
        );
        // A tool the user may call is listed as the upstream lists it.
        let list = tools.iter().find(|t| t.name == "list_incidents").unwrap();
        assert!(
            !list
                .description
                .as_deref()
                .unwrap_or_default()
                .contains("Refused")
        );
        assert!(
            refusal
                .to_string()
                .contains("refused by the gateway's policy"),
            "{refusal}"
        );
        assert_eq!(refusal.kind(), ErrorKind::Server, "{refusal}");
    }
    assert_eq!(gw.upstream_tool_calls(), 0, "nothing refused went upstream");
    gw.shutdown().await;
}

#[tokio::test]
async fn refused_tools_can_be_hidden_instead() {
    let gw = TestGateway::start_with(
        MockPagerDuty::start().await,
        Policy::new().read_only(true),
        |builder| builder.list_refused_tools(false),
    )
    .await;
    for preference in ERAS {
        let (tools, refusal) = listing_and_refusal(&gw, preference).await;
        assert!(
            !tools.iter().any(|t| t.name == "create_incident"),
            "{preference:?}"
        );
        assert!(
            tools.iter().any(|t| t.name == "list_incidents"),
            "{preference:?}"
        );
        assert!(
            refusal
                .to_string()
                .contains("refused by the gateway's policy"),
            "{refusal}"
        );
    }
    gw.shutdown().await;
}

//! A client nobody here wrote, the official Rust SDK `rmcp`, against the embedded mock server.
//! It lives in the benches package so that the library's own dev-dependencies never pull in rmcp.

use pagerduty_mcp_connect_mock::{MockPagerDuty, ResponseMode};

const STATELESS: &str = "2026-07-28";

/// A client nobody here wrote, the official Rust SDK `rmcp`, works against the mock in both
/// eras, with JSON and SSE replies, across pages.
#[tokio::test]
async fn the_official_rmcp_client_works_against_the_mock() {
    use std::collections::HashMap;

    use rmcp::ServiceExt;
    use rmcp::model::{CallToolRequestParams, ProtocolVersion};
    use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    for (stateless, mode) in [
        (false, ResponseMode::Json),
        (false, ResponseMode::Sse),
        (true, ResponseMode::Json),
        (true, ResponseMode::Sse),
    ] {
        let mock = MockPagerDuty::builder()
            .response_mode(mode)
            .page_size(4)
            .start()
            .await
            .unwrap();
        let mut headers = HashMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_str(&format!("Token {}", MockPagerDuty::ALICE_TOKEN)).unwrap(),
        );
        let config = StreamableHttpClientTransportConfig::with_uri(mock.url().to_string())
            .custom_headers(headers);
        let transport = StreamableHttpClientTransport::from_config(config);
        let client = if stateless {
            let lifecycle = ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            };
            ().serve_with_lifecycle(transport, lifecycle).await.unwrap()
        } else {
            ().serve(transport).await.unwrap()
        };
        let tools = client.list_all_tools().await.unwrap();
        assert!(tools.len() >= 15);
        let result = client
            .call_tool(CallToolRequestParams::new("get_user_data"))
            .await
            .unwrap();
        let content = result.structured_content.expect("structuredContent");
        assert_eq!(content["id"], MockPagerDuty::ALICE_USER_ID);
        client.cancel().await.unwrap();
        let versions: Vec<Option<String>> = mock
            .requests()
            .iter()
            .filter(|r| r.jsonrpc_methods == ["tools/call"])
            .map(|r| r.protocol_version.clone())
            .collect();
        let expected = if stateless { STATELESS } else { "2025-11-25" };
        assert_eq!(versions, vec![Some(expected.to_owned())], "{mode:?}");
    }
}

//! Set-up the scenarios share: a mock serving some protocol eras, and a client of it that
//! authenticates as the mock's demo user's scheme (`Token`) and retries quickly.

use std::time::Duration;

use pagerduty_mcp_connect::{
    AuthScheme, GenericServer, McpClient, McpClientBuilder, ProtocolPreference,
};
use pagerduty_mcp_connect_mock::{Eras, MockPagerDuty, MockPagerDutyBuilder, RecordedRequest};

/// Starts the mock `builder` describes.
pub async fn start(builder: MockPagerDutyBuilder) -> MockPagerDuty {
    builder.start().await.expect("mock starts")
}

/// A mock serving `eras`.
pub async fn mock(eras: Eras) -> MockPagerDuty {
    start(MockPagerDuty::builder().eras(eras)).await
}

/// A client builder for `mock` (a generic server with the `Token` scheme), speaking
/// `preference`, retrying after 20 ms.
pub fn client_builder(mock: &MockPagerDuty, preference: ProtocolPreference) -> McpClientBuilder {
    let server =
        GenericServer::new("mock", mock.url().as_str(), AuthScheme::token()).expect("loopback URL");
    McpClient::builder(server)
        .protocol(preference)
        .retry_base_delay(Duration::from_millis(20))
}

/// [`client_builder`], built.
pub fn client(mock: &MockPagerDuty, preference: ProtocolPreference) -> McpClient {
    client_builder(mock, preference).build().expect("client")
}

/// The first JSON-RPC method of a recorded request (`-` for none).
pub fn first_method(record: &RecordedRequest) -> &str {
    record
        .jsonrpc_methods
        .first()
        .map(String::as_str)
        .unwrap_or("-")
}

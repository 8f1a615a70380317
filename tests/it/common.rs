//! Set-up the scenarios share: a mock serving some protocol eras, and a client of it that
//! authenticates as the mock's demo user's scheme (`Token`) and retries quickly.

use std::time::{Duration, Instant};

use pagerduty_mcp_connect::http::HeaderMap;
use pagerduty_mcp_connect::{
    AuthScheme, CallToolResult, CompleteResult, CompletionTarget, Connector, ConnectorBuilder,
    Credential, CredentialProvider, Error, GenericServer, InMemoryCredentialStore, McpClient,
    McpClientBuilder, ProtocolPreference, Session, UserId,
};
use pagerduty_mcp_connect_mock::{Eras, MockPagerDuty, MockPagerDutyBuilder, RecordedRequest};
use serde_json::{Value, json};

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

/// A connector builder for `mock`'s PagerDuty server, with credentials from `credentials`.
pub fn connector_builder(
    mock: &MockPagerDuty,
    credentials: impl CredentialProvider + 'static,
) -> ConnectorBuilder {
    Connector::builder()
        .server(mock.pagerduty())
        .credentials(credentials)
}

/// [`connector_builder`], built.
pub fn connector(
    mock: &MockPagerDuty,
    credentials: impl CredentialProvider + 'static,
) -> Connector {
    connector_builder(mock, credentials)
        .build()
        .expect("connector")
}

/// A store holding `token` for the user `user`.
pub fn store_with(user: &str, token: &str) -> InMemoryCredentialStore {
    let store = InMemoryCredentialStore::new();
    store.insert(user, token);
    store
}

/// Whether `check` holds within `attempts` looks, each after a pause of `pause`.
pub async fn eventually(attempts: usize, pause: Duration, mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..attempts {
        tokio::time::sleep(pause).await;
        if check() {
            return true;
        }
    }
    false
}

/// Asserts that `what` took less than `limit` since `started`.
pub fn assert_took_less_than(started: Instant, limit: Duration, what: &str) {
    let took = started.elapsed();
    assert!(
        took < limit,
        "{what}: took {took:?}, not less than {limit:?}"
    );
}

/// Asserts that `what` took at least `minimum` since `started`.
pub fn assert_took_at_least(started: Instant, minimum: Duration, what: &str) {
    let took = started.elapsed();
    assert!(
        took >= minimum,
        "{what}: took {took:?}, less than {minimum:?}"
    );
}

/// `session.complete(target, argument, value)`, which must succeed.
pub async fn complete(
    session: &Session,
    target: CompletionTarget,
    argument: &str,
    value: &str,
) -> CompleteResult {
    match session.complete(&target, argument, value).await {
        Ok(result) => result,
        Err(err) => panic!("completing {argument}={value:?} of {target:?}: {err:?}"),
    }
}

/// `session.call_tool(tool, arguments)`, which must succeed (a tool error is a result too).
pub async fn call(session: &Session, tool: &str, arguments: Value) -> CallToolResult {
    match session.call_tool(tool, arguments).await {
        Ok(result) => result,
        Err(err) => panic!("{tool}: {err:?}"),
    }
}

/// `session.call_tool(tool, arguments)`, which must fail; returns the error.
pub async fn call_err(session: &Session, tool: &str, arguments: Value) -> Error {
    match session.call_tool(tool, arguments).await {
        Ok(result) => panic!("{tool} succeeded: {result:?}"),
        Err(err) => err,
    }
}

/// `connector.call_tool(user, tool, arguments)`, which must succeed.
pub async fn call_as(
    connector: &Connector,
    user: &UserId,
    tool: &str,
    arguments: Value,
) -> CallToolResult {
    match connector.call_tool(user, tool, arguments).await {
        Ok(result) => result,
        Err(err) => panic!("{tool} as {user:?}: {err:?}"),
    }
}

/// `connector.call_tool(user, tool, arguments)`, which must fail; returns the error.
pub async fn call_as_err(
    connector: &Connector,
    user: &UserId,
    tool: &str,
    arguments: Value,
) -> Error {
    match connector.call_tool(user, tool, arguments).await {
        Ok(result) => panic!("{tool} as {user:?} succeeded: {result:?}"),
        Err(err) => err,
    }
}

/// The arguments of `create_incident` for an incident titled `title` on the mock's `PSVC001`.
pub fn new_incident(title: &str) -> Value {
    json!({"title": title, "service_id": "PSVC001"})
}

/// A request's `Authorization` header: empty when it has none or one that is not visible ASCII.
pub fn authorization(headers: &HeaderMap) -> String {
    let value = headers.get("authorization").and_then(|v| v.to_str().ok());
    value.unwrap_or("").to_owned()
}

/// Connects `client` as the user whose token is `token`; panics if that fails.
pub async fn connect(client: &McpClient, token: &str) -> Session {
    match client.connect(&Credential::new(token.to_owned())).await {
        Ok(session) => session,
        Err(err) => panic!("connect: {err:?}"),
    }
}

/// Each request as its HTTP method and first JSON-RPC method, e.g. `"POST tools/call"`.
pub fn methods(records: &[RecordedRequest]) -> Vec<String> {
    records
        .iter()
        .map(|r| format!("{} {}", r.http_method, first_method(r)))
        .collect()
}

/// The first JSON-RPC method of a recorded request (`-` for none).
pub fn first_method(record: &RecordedRequest) -> &str {
    record
        .jsonrpc_methods
        .first()
        .map(String::as_str)
        .unwrap_or("-")
}

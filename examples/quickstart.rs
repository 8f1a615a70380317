//! Quickstart: connect a user to PagerDuty's MCP server with their own token, list the tools and
//! the incidents.
//!
//! ```sh
//! cargo run --example quickstart                 # against the embedded mock server
//! PAGERDUTY_USER_API_TOKEN=u+… cargo run --example quickstart              # real, US
//! PAGERDUTY_USER_API_TOKEN=u+… PAGERDUTY_REGION=eu cargo run --example quickstart
//! ```
//!
//! The token is read into a `SecretString` and never printed.

#[path = "common/incident_table.rs"]
mod incident_table;

use std::process::ExitCode;

use pagerduty_mcp_connect::{
    AuthScheme, Connector, CredentialProvider, EnvCredential, InMemoryCredentialStore, PagerDuty,
    Region, RemoteMcpServer, SharedCredentialProvider, UserId,
};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::json;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let region: Region = match std::env::var("PAGERDUTY_REGION") {
        Ok(text) if !text.trim().is_empty() => text.parse()?,
        _ => Region::Us,
    };
    let user = UserId::from("you@example.com");
    let real_token = std::env::var(EnvCredential::DEFAULT_VARIABLE)
        .map(|t| !t.trim().is_empty())
        .unwrap_or(false);

    // Without a real token, start the embedded mock PagerDuty MCP server on loopback.
    let mut _mock = None;
    let (server, credentials): (PagerDuty, SharedCredentialProvider) = if real_token {
        println!(
            "Using the real PagerDuty MCP server ({region}) with the token in ${}.",
            EnvCredential::DEFAULT_VARIABLE
        );
        (
            PagerDuty::builder()
                .region(region)
                .auth_scheme(AuthScheme::token())
                .build()?,
            SharedCredentialProvider::new(EnvCredential::new()),
        )
    } else {
        let mock = MockPagerDuty::start().await;
        println!(
            "No ${} set: using the embedded mock PagerDuty MCP server at {}.",
            EnvCredential::DEFAULT_VARIABLE,
            mock.url()
        );
        let store = InMemoryCredentialStore::new();
        store.insert(user.clone(), MockPagerDuty::DEMO_TOKEN);
        let server = PagerDuty::builder()
            .region(region)
            .endpoint(mock.url().as_str())
            .auth_scheme(AuthScheme::token())
            .build()?;
        _mock = Some(mock);
        (server, SharedCredentialProvider::new(store))
    };
    println!(
        "Endpoint: {}  (header: {})\n",
        server.endpoint(),
        server.auth_scheme()
    );

    // Check the provider has a credential before connecting, for a clearer message.
    credentials.credential(&user).await?;

    let connector = Connector::builder()
        .server(server)
        .credentials(credentials)
        .build()?;

    let tools = connector.list_tools(&user).await?;
    let read_only = tools.iter().filter(|t| t.is_read_only()).count();
    println!(
        "{} tools ({} read-only, {} that can write):",
        tools.len(),
        read_only,
        tools.len() - read_only
    );
    for tool in &tools {
        let kind = if tool.is_read_only() {
            "read "
        } else {
            "write"
        };
        println!("  {kind}  {}", tool.name);
    }

    let result = connector
        .call_tool(&user, "list_incidents", json!({}))
        .await?;
    if result.is_error() {
        return Err(format!("list_incidents failed: {}", result.text()).into());
    }
    let incidents = incident_table::incidents(&result);
    println!("\n{} incidents:\n", incidents.len());
    print!("{}", incident_table::render(&incidents));
    connector.disconnect(&user).await?;
    Ok(())
}

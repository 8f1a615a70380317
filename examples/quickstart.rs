//! Quickstart: connect a user to PagerDuty's MCP server with their own token, list the tools and
//! the incidents.
//!
//! ```sh
//! cargo run --example quickstart                 # against the embedded mock server
//! PAGERDUTY_USER_API_TOKEN=u+… cargo run --example quickstart              # real, US
//! PAGERDUTY_USER_API_TOKEN=u+… PAGERDUTY_REGION=eu cargo run --example quickstart
//! PAGERDUTY_USER_API_TOKEN=u+… PAGERDUTY_MCP_URL=https://proxy.example/mcp cargo run --example quickstart
//! PAGERDUTY_MOCK_NAMING=hosted cargo run --example quickstart  # the mock with the hosted tool names
//! ```
//!
//! The incidents list tool is found by what it does ([`ToolRole::ListIncidents`]): the hosted
//! server calls it `browse_incidents`, the open-source server `list_incidents`.
//! The token is read into a `SecretString` and never printed.

#[path = "common/example_server.rs"]
mod example_server;
#[path = "common/incident_table.rs"]
mod incident_table;

use std::process::ExitCode;

use pagerduty_mcp_connect::{
    Connector, CredentialProvider, EnvCredential, InMemoryCredentialStore, RemoteMcpServer,
    SharedCredentialProvider, ToolCatalogue, ToolRole, UserId,
};
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
    let user = UserId::from("you@example.com");
    let example_server::ExampleServer { server, mock } = example_server::from_env().await?;
    let credentials = match &mock {
        None => {
            println!(
                "Using {} with the token in ${}.",
                server.name(),
                EnvCredential::DEFAULT_VARIABLE
            );
            SharedCredentialProvider::new(EnvCredential::new())
        }
        Some(mock) => {
            println!(
                "No ${} set: using the embedded mock PagerDuty MCP server at {}.",
                EnvCredential::DEFAULT_VARIABLE,
                mock.url()
            );
            let store = InMemoryCredentialStore::new();
            store.insert(
                user.clone(),
                pagerduty_mcp_connect_mock::MockPagerDuty::DEMO_TOKEN,
            );
            SharedCredentialProvider::new(store)
        }
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

    let catalogue = ToolCatalogue::new(tools);
    let list_incidents = catalogue.name_of(ToolRole::ListIncidents)?;
    let result = connector
        .call_tool(&user, list_incidents, json!({}))
        .await?;
    if result.is_error() {
        return Err(format!("{list_incidents} failed: {}", result.text()).into());
    }
    let incidents = incident_table::incidents(&result);
    println!("\n{} incidents:\n", incidents.len());
    print!("{}", incident_table::render(&incidents));
    connector.disconnect(&user).await?;
    Ok(())
}

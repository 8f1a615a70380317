//! Lists a user's PagerDuty incidents through the MCP server, one session, no connector.
//!
//! ```sh
//! cargo run --example list_incidents                       # embedded mock server
//! cargo run --example list_incidents -- triggered acknowledged
//! PAGERDUTY_USER_API_TOKEN=u+… [PAGERDUTY_REGION=eu] cargo run --example list_incidents
//! PAGERDUTY_USER_API_TOKEN=u+… PAGERDUTY_MCP_URL=http://127.0.0.1:8080/mcp cargo run --example list_incidents
//! PAGERDUTY_MOCK_NAMING=hosted cargo run --example list_incidents   # the mock with the hosted names
//! ```
//!
//! Arguments are the statuses to show (`triggered`, `acknowledged`, `resolved`); none means all.

#[path = "common/example_server.rs"]
mod example_server;
#[path = "common/incident_table.rs"]
mod incident_table;

use std::process::ExitCode;

use pagerduty_mcp_connect::{
    Credential, CredentialProvider, EnvCredential, McpClient, ToolCatalogue, ToolRole, UserId,
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
    let statuses: Vec<String> = std::env::args().skip(1).collect();
    for status in &statuses {
        if !["triggered", "acknowledged", "resolved"].contains(&status.as_str()) {
            return Err(format!(
                "unknown status {status:?}: use triggered, acknowledged or resolved"
            )
            .into());
        }
    }
    let example_server::ExampleServer { server, mock } = example_server::from_env().await?;
    let credential = match &mock {
        // from_env found a token in the environment.
        None => {
            EnvCredential::new()
                .credential(&UserId::from("you"))
                .await?
        }
        Some(_) => {
            eprintln!(
                "(no ${} set: using the embedded mock server)",
                EnvCredential::DEFAULT_VARIABLE
            );
            Credential::new(MockPagerDuty::DEMO_TOKEN)
        }
    };

    let client = McpClient::new(server)?;
    let session = client.connect(&credential).await?;
    eprintln!("connected with MCP protocol {}", session.version());
    let arguments = if statuses.is_empty() {
        json!({})
    } else {
        json!({ "statuses": statuses })
    };
    // The hosted server calls it `browse_incidents`, the open-source one `list_incidents`.
    let catalogue = ToolCatalogue::new(session.list_tools().await?);
    let list_incidents = catalogue.name_of(ToolRole::ListIncidents)?;
    let result = session.call_tool(list_incidents, arguments).await?;
    if result.is_error() {
        return Err(format!("{list_incidents} failed: {}", result.text()).into());
    }
    print!(
        "{}",
        incident_table::render(&incident_table::incidents(&result))
    );
    session.close().await?;
    Ok(())
}

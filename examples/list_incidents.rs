//! Lists a user's PagerDuty incidents through the MCP server, one session, no connector.
//!
//! ```sh
//! cargo run --example list_incidents                       # embedded mock server
//! cargo run --example list_incidents -- triggered acknowledged
//! PAGERDUTY_USER_API_TOKEN=u+… [PAGERDUTY_REGION=eu] cargo run --example list_incidents
//! ```
//!
//! Arguments are the statuses to show (`triggered`, `acknowledged`, `resolved`); none means all.

#[path = "common/incident_table.rs"]
mod incident_table;

use std::process::ExitCode;

use pagerduty_mcp_connect::{Credential, EnvCredential, McpClient, PagerDuty, Region};
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
    let region: Region = match std::env::var("PAGERDUTY_REGION") {
        Ok(text) if !text.trim().is_empty() => text.parse()?,
        _ => Region::Us,
    };
    let token = std::env::var(EnvCredential::DEFAULT_VARIABLE)
        .ok()
        .filter(|t| !t.trim().is_empty());

    let mut _mock = None;
    let (server, credential) = match token {
        Some(token) => (PagerDuty::new(region), Credential::new(token)),
        None => {
            let mock = MockPagerDuty::start().await;
            eprintln!(
                "(no ${} set: using the embedded mock server)",
                EnvCredential::DEFAULT_VARIABLE
            );
            let server = PagerDuty::builder()
                .region(region)
                .endpoint(mock.url().as_str())
                .build()?;
            _mock = Some(mock);
            (server, Credential::new(MockPagerDuty::DEMO_TOKEN))
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
    let result = session.call_tool("list_incidents", arguments).await?;
    if result.is_error() {
        return Err(format!("list_incidents failed: {}", result.text()).into());
    }
    print!(
        "{}",
        incident_table::render(&incident_table::incidents(&result))
    );
    session.close().await?;
    Ok(())
}

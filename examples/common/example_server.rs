//! Which server an example talks to, from the environment (shared by the examples):
//!
//! - `PAGERDUTY_MCP_URL`: another MCP endpoint (a proxy, a staging server, a test double), with
//!   the token in `PAGERDUTY_USER_API_TOKEN`;
//! - else, with `PAGERDUTY_USER_API_TOKEN` set: PagerDuty's hosted server of `PAGERDUTY_REGION`
//!   (`us`, the default, or `eu`);
//! - else the embedded mock server, started here; `PAGERDUTY_MOCK_NAMING=hosted` makes it list
//!   the hosted server's tool names (`browse_incidents` …) instead of the open-source package's.

use pagerduty_mcp_connect::{EnvCredential, PagerDuty, Region};
use pagerduty_mcp_connect_mock::{MockPagerDuty, ToolNaming};

/// The variable that points an example at another MCP endpoint.
pub const URL_VARIABLE: &str = "PAGERDUTY_MCP_URL";

/// The server an example connects to, and the mock behind it when there is no real token.
pub struct ExampleServer {
    /// The server: the hosted one, the one at `PAGERDUTY_MCP_URL`, or the mock.
    pub server: PagerDuty,
    /// The embedded mock, when the example runs on it (then its demo token is the credential);
    /// `None` when the token comes from `PAGERDUTY_USER_API_TOKEN`.
    pub mock: Option<MockPagerDuty>,
}

/// A non-empty environment variable.
fn variable(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// The mock's tool naming from `PAGERDUTY_MOCK_NAMING` (`hosted` or `open-source`).
pub fn mock_naming() -> Result<ToolNaming, String> {
    match variable("PAGERDUTY_MOCK_NAMING").as_deref().map(str::trim) {
        None | Some("open-source") => Ok(ToolNaming::OpenSource),
        Some("hosted") => Ok(ToolNaming::Hosted),
        Some(other) => Err(format!(
            "PAGERDUTY_MOCK_NAMING={other:?}: use `hosted` or `open-source`"
        )),
    }
}

/// Starts the embedded mock with the naming `PAGERDUTY_MOCK_NAMING` asks for.
pub async fn start_mock() -> Result<MockPagerDuty, Box<dyn std::error::Error>> {
    Ok(MockPagerDuty::builder()
        .tool_naming(mock_naming()?)
        .start()
        .await?)
}

/// The server the environment asks for (see the module's documentation).
pub async fn from_env() -> Result<ExampleServer, Box<dyn std::error::Error>> {
    let region: Region = match variable("PAGERDUTY_REGION") {
        Some(text) => text
            .parse()
            .map_err(|err| format!("PAGERDUTY_REGION: {err}"))?,
        None => Region::Us,
    };
    let has_token = variable(EnvCredential::DEFAULT_VARIABLE).is_some();
    let url = variable(URL_VARIABLE);
    if url.is_some() && !has_token {
        return Err(format!(
            "{URL_VARIABLE} is set: give the token for that server in ${}",
            EnvCredential::DEFAULT_VARIABLE
        )
        .into());
    }
    let mut builder = PagerDuty::builder().region(region);
    let mock = if has_token {
        None
    } else {
        Some(start_mock().await?)
    };
    if let Some(url) = url.as_deref() {
        builder = builder.endpoint(url.trim());
    } else if let Some(mock) = &mock {
        builder = builder.endpoint(mock.url().as_str());
    }
    let server = builder
        .build()
        .map_err(|err| format!("{URL_VARIABLE}: {err}"))?;
    Ok(ExampleServer { server, mock })
}

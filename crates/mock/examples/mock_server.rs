//! Runs the embedded mock PagerDuty MCP server until Ctrl-C.
//!
//! `cargo run -p pagerduty-mcp-connect-mock --example mock_server`
//! (`-- --hosted-names` lists the hosted server's tool names, `browse_incidents` …, instead of
//! the open-source package's)
//!
//! Then point any MCP client at the printed URL with `Authorization: Token <token>`, e.g.
//!
//! ```text
//! curl -s "$URL" -H "Authorization: Token $TOKEN" -H 'Content-Type: application/json' \
//!   -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2026-07-28' \
//!   -H 'Mcp-Method: server/discover' \
//!   -d '{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{
//!        "io.modelcontextprotocol/protocolVersion":"2026-07-28",
//!        "io.modelcontextprotocol/clientCapabilities":{}}}}'
//! ```
use pagerduty_mcp_connect_mock::{MockPagerDuty, ToolNaming};

#[tokio::main]
async fn main() {
    let mut naming = ToolNaming::OpenSource;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--hosted-names" => naming = ToolNaming::Hosted,
            other => {
                eprintln!("unknown argument {other:?}: the only option is --hosted-names");
                std::process::exit(2);
            }
        }
    }
    let mock = match MockPagerDuty::builder().tool_naming(naming).start().await {
        Ok(mock) => mock,
        Err(err) => {
            eprintln!("cannot start the mock: {err}");
            std::process::exit(1);
        }
    };
    println!("Mock PagerDuty MCP server");
    println!("  URL:    {}", mock.url());
    println!("  header: {}", mock.auth_scheme());
    println!("  tool names: {naming:?}");
    println!(
        "  demo token ({}): {}",
        MockPagerDuty::DEMO_USER_ID,
        MockPagerDuty::DEMO_TOKEN
    );
    println!(
        "  alice token ({}): {}",
        MockPagerDuty::ALICE_USER_ID,
        MockPagerDuty::ALICE_TOKEN
    );
    println!(
        "  bob token ({}, read-only): {}",
        MockPagerDuty::BOB_USER_ID,
        MockPagerDuty::BOB_TOKEN
    );
    println!("Press Ctrl-C to stop.");
    if let Err(err) = tokio::signal::ctrl_c().await {
        eprintln!("cannot wait for Ctrl-C: {err}");
    }
    let served = mock.requests().len();
    mock.shutdown().await;
    println!("Stopped after {served} requests.");
}

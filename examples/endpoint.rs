//! Prints the MCP endpoint and the auth header a PagerDuty region uses.
//!
//! `cargo run --example endpoint -- eu`
use pagerduty_mcp_connect::{PagerDuty, Region, RemoteMcpServer};

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "us".to_owned());
    let region: Region = match arg.parse() {
        Ok(region) => region,
        Err(err) => {
            eprintln!("{err}");
            std::process::exit(2);
        }
    };
    let server = PagerDuty::new(region);
    println!("server:   {}", server.name());
    println!("endpoint: {}", server.endpoint());
    println!("REST API: {}", server.api_url());
    println!("header:   {}", server.auth_scheme());
}

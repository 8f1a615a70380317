//! Checks a PagerDuty User API Token: prints whose it is and in which service region, never the
//! token itself.
//!
//! ```text
//! PAGERDUTY_USER_API_TOKEN=u+… cargo run --example verify_token
//! cargo run --example verify_token                        # asks for the token, input hidden
//! PAGERDUTY_REGION=eu cargo run --example verify_token    # ask the EU region only
//! ```
//!
//! Environment:
//! - `PAGERDUTY_USER_API_TOKEN`: the token; when unset, it is read from the terminal without echo
//!   (or as one line from a pipe).
//! - `PAGERDUTY_REGION`: `us` or `eu`; when unset, US is tried first, then EU.
//! - `PAGERDUTY_API_URL`: another REST API base URL (a proxy, a local fake), used for the region
//!   asked, or for both when detecting.
//!
//! Exits with 0 when PagerDuty accepted the token, 1 otherwise.

use std::process::ExitCode;

use pagerduty_mcp_connect::{Error, PagerDutyUser, Region, TokenVerifier};

#[path = "common/token_prompt.rs"]
mod token_prompt;
use token_prompt::read_token;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(user) => {
            print_user(&user);
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<PagerDutyUser, String> {
    let region = match std::env::var("PAGERDUTY_REGION") {
        Ok(value) if !value.trim().is_empty() => Some(
            value
                .parse::<Region>()
                .map_err(|err| format!("PAGERDUTY_REGION: {err}"))?,
        ),
        _ => None,
    };

    let mut verifier =
        TokenVerifier::new().map_err(|err| format!("cannot start the HTTP client: {err}"))?;
    if let Ok(api_url) = std::env::var("PAGERDUTY_API_URL") {
        let url = url::Url::parse(api_url.trim())
            .map_err(|err| format!("PAGERDUTY_API_URL is not a URL: {err}"))?;
        for r in region.map_or(Region::ALL.to_vec(), |r| vec![r]) {
            verifier = verifier
                .with_api_url(r, url.clone())
                .map_err(|err| format!("PAGERDUTY_API_URL: {err}"))?;
        }
    }

    let token = read_token()?;
    match region {
        Some(region) => eprintln!("Checking the token with PagerDuty ({region})…"),
        None => eprintln!("Checking the token with PagerDuty (us, then eu)…"),
    }
    verifier
        .verify(&token, region)
        .await
        .map_err(|err| explain(&err))
}

fn print_user(user: &PagerDutyUser) {
    println!("The token belongs to {} <{}>", user.name, user.email);
    println!("  role:         {}", user.role);
    println!("  user id:      {}", user.id);
    if let Some(time_zone) = &user.time_zone {
        println!("  time zone:    {time_zone}");
    }
    if let Some(html_url) = &user.html_url {
        println!("  profile:      {html_url}");
    }
    println!("  region:       {}", user.region);
    println!("  MCP endpoint: {}", user.region.mcp_url());
}

/// The error, with what to do about it.
fn explain(err: &Error) -> String {
    let hint = match err {
        Error::InvalidCredential { .. } => {
            "copy the token again: it must be one word of printable characters"
        }
        Error::Unauthorized { .. } => "",
        Error::Forbidden { .. } => "",
        Error::RateLimited { .. } => "",
        Error::Timeout { .. } | Error::Transport { .. } => {
            "check the network connection, any HTTPS proxy, and that the REST API URL is right"
        }
        Error::TooLarge { .. } | Error::Protocol { .. } => {
            "the answer did not come from PagerDuty's REST API: check the REST API URL and any proxy"
        }
        Error::HttpStatus { .. } => "PagerDuty may be having trouble: try again in a few minutes",
        _ => "",
    };
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        text.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    if !hint.is_empty() {
        text.push_str(&format!("\nhint: {hint}"));
    }
    text
}

//! Three gateway users against the embedded mock PagerDuty MCP server through one `Connector`:
//! Alice with full access, Bob read-only by policy, and Carol whose token an admin revoked.
//!
//! ```sh
//! cargo run --example multi_user
//! ```

use pagerduty_mcp_connect::{
    Connector, Error, InMemoryCredentialStore, PagerDuty, Policy, Region, UserId,
};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mock = MockPagerDuty::start().await;
    let store = InMemoryCredentialStore::new();
    store.insert("alice@example.com", MockPagerDuty::ALICE_TOKEN);
    store.insert("bob@example.com", MockPagerDuty::BOB_TOKEN);
    store.insert("carol@example.com", MockPagerDuty::DEMO_TOKEN);

    let connector = Connector::builder()
        .server(
            PagerDuty::builder()
                .region(Region::Us)
                .endpoint(mock.url().as_str())
                .build()?,
        )
        .credentials(store.clone())
        .policy(
            Policy::new()
                .allow_users(["alice@example.com", "bob@example.com", "carol@example.com"])
                .read_only_users(["bob@example.com"]),
        )
        .build()?;

    // An admin revokes Carol's token in PagerDuty.
    mock.revoke_token(MockPagerDuty::DEMO_TOKEN);

    for name in ["alice@example.com", "bob@example.com", "carol@example.com"] {
        let user = UserId::from(name);
        println!("== {user}");
        match connector.list_tools(&user).await {
            Ok(tools) => {
                let writes = tools.iter().filter(|t| !t.is_read_only()).count();
                println!("   sees {} tools ({writes} that can write)", tools.len());
            }
            Err(err) => println!("   cannot list tools: {err}"),
        }
        match connector.call_tool(&user, "get_user_data", json!({})).await {
            Ok(me) => {
                let me = me.structured_content.unwrap_or_default();
                println!(
                    "   PagerDuty says this is {} <{}> ({})",
                    me["name"].as_str().unwrap_or("?"),
                    me["email"].as_str().unwrap_or("?"),
                    me["role"].as_str().unwrap_or("?")
                );
            }
            Err(err) => println!("   get_user_data: {}", short(&err)),
        }
        let created = connector
            .call_tool(
                &user,
                "create_incident",
                json!({"title": format!("Test incident from {user}"), "service_id": "PSVC001"}),
            )
            .await;
        match created {
            Ok(result) if result.is_error() => {
                println!("   create_incident refused by PagerDuty: {}", result.text())
            }
            Ok(result) => {
                let id = result
                    .structured_content
                    .as_ref()
                    .and_then(|v| v.get("id").or_else(|| v.pointer("/incident/id")))
                    .and_then(|v| v.as_str())
                    .unwrap_or("?")
                    .to_owned();
                println!("   created incident {id}");
            }
            Err(err) => println!("   create_incident: {}", short(&err)),
        }
        if store.is_revoked(&user) {
            println!("   (the store now marks this user's token revoked: no retry loop)");
        }
    }
    let requests = mock.requests();
    println!(
        "\nThe mock saw {} requests, {} of them without a valid token.",
        requests.len(),
        requests.iter().filter(|r| !r.auth_matched).count()
    );
    Ok(())
}

/// The first sentence of an error, for a compact listing.
fn short(err: &Error) -> String {
    let text = err.to_string();
    match text.find(". ") {
        Some(end) => text[..end + 1].to_owned(),
        None => text,
    }
}

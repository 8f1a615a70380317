//! Three gateway users against the embedded mock PagerDuty MCP server through one `Connector`:
//! Alice with full access, Bob read-only by policy, and Carol whose token an admin revoked.
//!
//! ```sh
//! cargo run --example multi_user
//! PAGERDUTY_MOCK_NAMING=hosted cargo run --example multi_user   # the hosted server's tool names
//! ```
//!
//! Tools are called by what they do ([`ToolRole`]), whatever the server names them.

// Only `start_mock` of it: this example needs the mock's users and revocation.
#[allow(dead_code)]
#[path = "common/example_server.rs"]
mod example_server;

use pagerduty_mcp_connect::{
    Connector, Error, InMemoryCredentialStore, PagerDuty, Policy, Region, ToolCatalogue, ToolRole,
    UserId,
};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mock = example_server::start_mock().await?;
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

    // The server's names for the tools this example calls, from Alice's list.
    let catalogue = ToolCatalogue::new(
        connector
            .list_tools(&UserId::from("alice@example.com"))
            .await?,
    );
    let who_am_i = catalogue.name_of(ToolRole::CurrentUser)?.to_owned();
    let create_incident = catalogue.name_of(ToolRole::CreateIncident)?.to_owned();

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
        match connector.call_tool(&user, &who_am_i, json!({})).await {
            Ok(me) => {
                let me = me.structured_content.unwrap_or_default();
                println!(
                    "   PagerDuty says this is {} <{}> ({})",
                    me["name"].as_str().unwrap_or("?"),
                    me["email"].as_str().unwrap_or("?"),
                    me["role"].as_str().unwrap_or("?")
                );
            }
            Err(err) => println!("   {who_am_i}: {}", short(&err)),
        }
        let created = connector
            .call_tool(
                &user,
                &create_incident,
                json!({"title": format!("Test incident from {user}"), "service_id": "PSVC001"}),
            )
            .await;
        match created {
            Ok(result) if result.is_error() => {
                println!(
                    "   {create_incident} refused by PagerDuty: {}",
                    result.text()
                )
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
            Err(err) => println!("   {create_incident}: {}", short(&err)),
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

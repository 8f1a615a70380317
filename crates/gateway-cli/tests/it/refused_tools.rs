//! `--read-only` with and without `--hide-refused-tools`: by default a tool the policy refuses is
//! listed, marked as refused; with the flag it is left out of the list. Calling it is refused
//! either way.

use serde_json::{Value, json};

use crate::support::{GatewayProcess, TempDir, command, meta, rpc};

const USERS: &str = r#"
[[user]]
id = "alice@example.com"
key = "gk_alice_7f3c9a1e5b2d4c6a8e0f"
"#;
const KEY: &str = "gk_alice_7f3c9a1e5b2d4c6a8e0f";

/// The tools Alice's agent is listed, and the reply to calling `create_incident`, from a gateway
/// started with `--mock --read-only` and `extra`.
async fn listed_and_called(extra: &[&str]) -> (Vec<Value>, Value) {
    let dir = TempDir::new(&format!("refused-{}", extra.len()));
    let users = dir.join("users.toml");
    std::fs::write(&users, USERS).unwrap();
    let mut gateway = command();
    gateway
        .args([
            "--mock",
            "--read-only",
            "--listen",
            "127.0.0.1:0",
            "--users",
        ])
        .arg(&users)
        .args(extra);
    let gateway = GatewayProcess::start(gateway).await;
    let url = gateway.url.clone();
    let http = reqwest::Client::new();
    let list = rpc(
        &http,
        &url,
        KEY,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta()}}),
    )
    .await;
    let call = rpc(
        &http,
        &url,
        KEY,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "create_incident", "arguments": {"title": "x", "service_id": "PSVC001"},
            "_meta": meta()}}),
    )
    .await;
    gateway.stop().await;
    let tools = list["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{list}"))
        .clone();
    (tools, call)
}

fn refusal(call: &Value) -> String {
    let text = call["result"]["content"][0]["text"]
        .as_str()
        .or_else(|| call["error"]["message"].as_str())
        .unwrap_or_default();
    text.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_tools_are_listed_marked_unless_hidden() {
    let (listed, call) = listed_and_called(&[]).await;
    let create = listed
        .iter()
        .find(|t| t["name"] == "create_incident")
        .unwrap_or_else(|| panic!("create_incident is listed by default: {listed:?}"));
    let description = create["description"].as_str().unwrap_or_default();
    assert!(
        description.starts_with("[Refused by this gateway's policy"),
        "{description}"
    );
    assert!(
        refusal(&call).contains("refused by the gateway's policy"),
        "{call}"
    );

    let (hidden, call) = listed_and_called(&["--hide-refused-tools"]).await;
    assert!(
        hidden.iter().all(|t| t["name"] != "create_incident"),
        "--hide-refused-tools: {hidden:?}"
    );
    assert!(hidden.iter().any(|t| t["name"] == "list_incidents"));
    assert!(hidden.len() < listed.len(), "only refused tools are hidden");
    assert!(
        refusal(&call).contains("refused by the gateway's policy"),
        "refused either way: {call}"
    );
}

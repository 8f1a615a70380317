//! `--read-only` with and without `--hide-refused-tools`: by default a tool the policy refuses is
//! listed, marked as refused; with the flag it is left out of the list. Calling it is refused
//! either way.
#![cfg(feature = "mock")]

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

const USERS: &str = r#"
[[user]]
id = "alice@example.com"
key = "gk_alice_7f3c9a1e5b2d4c6a8e0f"
"#;
const KEY: &str = "gk_alice_7f3c9a1e5b2d4c6a8e0f";

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"},
    })
}

async fn rpc(http: &reqwest::Client, url: &str, body: Value) -> Value {
    let mut request = http.post(url);
    if let Some(name) = body["params"]["name"].as_str() {
        request = request.header("mcp-name", name);
    }
    let text = request
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", body["method"].as_str().unwrap())
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The tools Alice's agent is listed, and the reply to calling `create_incident`, from a gateway
/// started with `--mock --read-only` and `extra`.
async fn listed_and_called(extra: &[&str]) -> (Vec<Value>, Value) {
    let dir =
        std::env::temp_dir().join(format!("gw-refused-{}-{}", std::process::id(), extra.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let users = dir.join("users.toml");
    std::fs::write(&users, USERS).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pagerduty-mcp-gateway"))
        .args([
            "--mock",
            "--read-only",
            "--listen",
            "127.0.0.1:0",
            "--users",
        ])
        .arg(&users)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), stdout.next_line())
        .await
        .expect("the gateway starts")
        .unwrap()
        .unwrap_or_default();
    let url = line
        .strip_prefix("LISTENING ")
        .unwrap_or_else(|| panic!("no LISTENING line: {line}"))
        .to_owned();
    let http = reqwest::Client::new();
    let list = rpc(
        &http,
        &url,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta()}}),
    )
    .await;
    let call = rpc(
        &http,
        &url,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "create_incident", "arguments": {"title": "x", "service_id": "PSVC001"},
            "_meta": meta()}}),
    )
    .await;
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let _ = std::fs::remove_dir_all(&dir);
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

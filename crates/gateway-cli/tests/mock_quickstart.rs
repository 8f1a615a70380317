//! `--mock` with the README's own `users.toml`, nothing copied by hand: Alice's `token_env` is
//! unset (she gets the mock's Alice), Bob's `token` is not one of the mock's (he is added to the
//! mock with it); both agents are served as themselves, and the instructions name the mock.
#![cfg(feature = "mock")]

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

const USERS: &str = r#"
[[user]]
id = "alice@example.com"
key = "gk_alice_7f3c9a1e5b2d4c6a8e0f"   # the gateway key Alice's agent sends: Authorization: Bearer <key>
token_env = "ALICE_PAGERDUTY_TOKEN"      # the environment variable holding her User API Token

[[user]]
id = "bob@example.com"
key = "gk_bob_2a4c6e8f0b1d3f5a7c9e"
token = "u+..."                          # or the token itself (keep the file private)
"#;

async fn rpc(http: &reqwest::Client, url: &str, key: &str, body: Value) -> Value {
    let mut request = http.post(url);
    if let Some(name) = body["params"]["name"].as_str() {
        request = request.header("mcp-name", name);
    }
    let reply = request
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", body["method"].as_str().unwrap())
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let text = reply.text().await.unwrap();
    serde_json::from_str(&text)
        .ok()
        .or_else(|| {
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .filter_map(|d| serde_json::from_str(d.trim()).ok())
                .next_back()
        })
        .unwrap_or_else(|| panic!("no JSON-RPC reply: {text}"))
}

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_runs_with_the_readme_users_file_and_nothing_copied() {
    let dir = std::env::temp_dir().join(format!("gw-mock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let users = dir.join("users.toml");
    std::fs::write(&users, USERS).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pagerduty-mcp-gateway"))
        .args(["--mock", "--listen", "127.0.0.1:0", "--users"])
        .arg(&users)
        .env_remove("ALICE_PAGERDUTY_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), stdout.next_line())
        .await
        .expect("the gateway starts")
        .unwrap()
        .unwrap_or_default();
    let Some(url) = line.strip_prefix("LISTENING ") else {
        let status = child.wait().await.unwrap();
        let mut stderr = String::new();
        use tokio::io::AsyncReadExt;
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .await
            .unwrap();
        panic!("no LISTENING line ({status}): {line}\n{stderr}");
    };
    let http = reqwest::Client::new();
    for (key, email) in [
        ("gk_alice_7f3c9a1e5b2d4c6a8e0f", "alice@example.com"),
        ("gk_bob_2a4c6e8f0b1d3f5a7c9e", "bob@example.com"),
    ] {
        let discover = rpc(
            &http,
            url,
            key,
            json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": meta()}}),
        )
        .await;
        let instructions = discover["result"]["instructions"].as_str().unwrap_or("");
        assert!(instructions.contains("mock"), "{discover}");
        assert!(instructions.contains("http://127.0.0.1:"), "{discover}");
        let call = rpc(
            &http,
            url,
            key,
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                   "params": {"name": "get_user_data", "arguments": {}, "_meta": meta()}}),
        )
        .await;
        assert_eq!(
            call["result"]["structuredContent"]["email"], email,
            "{call}"
        );
    }
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let mut stderr = String::new();
    use tokio::io::AsyncReadExt;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(
        stderr.contains("--mock: user alice@example.com"),
        "{stderr}"
    );
    assert!(stderr.contains("--mock: user bob@example.com"), "{stderr}");
    assert!(!stderr.contains("u+"), "no token printed: {stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

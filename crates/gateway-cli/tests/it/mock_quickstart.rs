//! `--mock` with the README's own `users.toml`, nothing copied by hand: Alice's `token_env` is
//! unset (she gets the mock's Alice), Bob's `token` is not one of the mock's (he is added to the
//! mock with it); both agents are served as themselves, and the instructions name the mock.

use serde_json::json;

use crate::support::{GatewayProcess, TempDir, command, meta, rpc};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_runs_with_the_readme_users_file_and_nothing_copied() {
    let dir = TempDir::new("mock-quickstart");
    let users = dir.join("users.toml");
    std::fs::write(&users, USERS).unwrap();
    let mut gateway = command();
    gateway
        .args(["--mock", "--listen", "127.0.0.1:0", "--users"])
        .arg(&users)
        .env_remove("ALICE_PAGERDUTY_TOKEN");
    let gateway = GatewayProcess::start(gateway).await;
    let url = gateway.url.as_str();
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
    let stderr = gateway.stop().await;
    assert!(
        stderr.contains("--mock: user alice@example.com"),
        "{stderr}"
    );
    assert!(stderr.contains("--mock: user bob@example.com"), "{stderr}");
    assert!(!stderr.contains("u+"), "no token printed: {stderr}");
}

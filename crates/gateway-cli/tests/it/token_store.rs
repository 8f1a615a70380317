//! Tokens live only in the encrypted credential store (`--store`): a users file's token is
//! imported once (with a WARN to remove it), the store's token is used afterwards and wins over
//! a file's, nothing of it reaches the database file in clear or the output, and without the
//! store's key the gateway does not start. With `--oauth-issuer`, the gateway serves its
//! protected resource metadata and answers 401 with the challenge that starts a client's sign-in.

use pagerduty_mcp_connect_mock::MockPagerDuty;
use pagerduty_mcp_connect_store::KeySource;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::support::{GatewayProcess, TempDir, command, meta, rpc, run_to_end};

const KEY: &str = "gk_alice_7f3c9a1e5b2d4c6a8e0f";

fn users_file(token: Option<&str>) -> String {
    let mut text = format!("[[user]]\nid = \"alice@example.com\"\nkey = \"{KEY}\"\n");
    if let Some(token) = token {
        text.push_str(&format!("token = \"{token}\"\n"));
    }
    text
}

/// A store key in a file of mode 600.
fn key_file(dir: &TempDir) -> std::path::PathBuf {
    let path = dir.join("store.key");
    std::fs::write(&path, KeySource::generate().unwrap().expose_secret()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

/// Starts the gateway on the mock with the store in `dir` and `users`, asks who Alice's agent
/// is, stops it, and returns the email the mock saw and the gateway's standard error.
async fn whoami(dir: &TempDir, users: &str) -> (Value, String) {
    let users_path = dir.join("users.toml");
    std::fs::write(&users_path, users).unwrap();
    let mut gateway = command();
    gateway
        .args(["--mock", "--listen", "127.0.0.1:0", "--users"])
        .arg(&users_path)
        .arg("--store")
        .arg(format!("sqlite:{}", dir.join("store.db").display()))
        .arg("--store-key-file")
        .arg(dir.join("store.key"))
        .env_remove("PAGERDUTY_MCP_STORE_KEY");
    let gateway = GatewayProcess::start(gateway).await;
    let call = rpc(
        &reqwest::Client::new(),
        &gateway.url,
        KEY,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
               "params": {"name": "get_user_data", "arguments": {}, "_meta": meta()}}),
    )
    .await;
    let stderr = gateway.stop().await;
    (call["result"]["structuredContent"]["email"].clone(), stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_file_token_is_imported_once_then_the_store_serves_it() {
    let dir = TempDir::new("store-import");
    key_file(&dir);
    let alice = MockPagerDuty::ALICE_TOKEN;

    // First start: the file's token goes into the store, with a WARN to remove it.
    let (email, stderr) = whoami(&dir, &users_file(Some(alice))).await;
    assert_eq!(email, "alice@example.com", "{stderr}");
    assert!(
        stderr.contains("WARN user alice@example.com: its token from")
            && stderr.contains("was imported into the credential store"),
        "{stderr}"
    );
    assert!(stderr.contains("gateway stopped"), "{stderr}");
    // Sealed at rest: the database (every file of it) never holds the token.
    let store_files: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().contains("store.db"))
        .collect();
    assert!(!store_files.is_empty());
    for path in store_files {
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(alice.len()).any(|w| w == alice.as_bytes()),
            "{} holds the token in clear",
            path.display()
        );
    }
    assert!(!stderr.contains(alice), "the token was printed: {stderr}");

    // The file without the token: the store's is used, and nothing is said about the file.
    let (email, stderr) = whoami(&dir, &users_file(None)).await;
    assert_eq!(email, "alice@example.com", "{stderr}");
    assert!(!stderr.contains("WARN"), "{stderr}");

    // A different token in the file does not replace the stored one (rotating is the
    // credentials tool's job): the WARN says it is ignored, and Alice is still Alice.
    let (email, stderr) = whoami(&dir, &users_file(Some(MockPagerDuty::BOB_TOKEN))).await;
    assert_eq!(email, "alice@example.com", "{stderr}");
    assert!(
        stderr.contains("already holds a token for this user") && stderr.contains("ignored"),
        "{stderr}"
    );
    assert!(!stderr.contains(MockPagerDuty::BOB_TOKEN), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_store_key_or_with_an_unknown_store_it_does_not_start() {
    let dir = TempDir::new("store-refusals");
    let users_path = dir.join("users.toml");
    std::fs::write(&users_path, users_file(None)).unwrap();
    let base = || {
        let mut gateway = command();
        gateway
            .args([
                "--listen",
                "127.0.0.1:0",
                "--upstream",
                "http://127.0.0.1:9/mcp",
                "--users",
            ])
            .arg(&users_path)
            .env_remove("PAGERDUTY_MCP_STORE_KEY");
        gateway
    };

    let mut no_key = base();
    no_key
        .arg("--store")
        .arg(format!("sqlite:{}", dir.join("store.db").display()));
    let (code, stderr) = run_to_end(no_key).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("PAGERDUTY_MCP_STORE_KEY"), "{stderr}");

    let mut unknown = base();
    unknown.args(["--store", "mysql://admin:hunter2@db/gw"]);
    let (code, stderr) = run_to_end(unknown).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("use sqlite:PATH"), "{stderr}");
    assert!(
        !stderr.contains("hunter2"),
        "the URL's password was shown: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_issuer_makes_it_a_resource_server_without_a_users_file() {
    let dir = TempDir::new("oauth-flags");
    key_file(&dir);
    let mut gateway = command();
    gateway
        .args(["--mock", "--listen", "127.0.0.1:0"])
        .args(["--oauth-issuer", "http://127.0.0.1:9/realms/test"])
        .args(["--oauth-scope", "mcp"])
        .arg("--store")
        .arg(format!("sqlite:{}", dir.join("store.db").display()))
        .arg("--store-key-file")
        .arg(dir.join("store.key"));
    let gateway = GatewayProcess::start(gateway).await;
    let base = gateway.url.trim_end_matches("/mcp").to_owned();
    let http = reqwest::Client::new();

    let metadata = http
        .get(format!("{base}/.well-known/oauth-protected-resource/mcp"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let metadata: Value =
        serde_json::from_str(&metadata).unwrap_or_else(|e| panic!("{e}: {metadata}"));
    assert_eq!(metadata["resource"], gateway.url.as_str(), "{metadata}");
    assert_eq!(
        metadata["authorization_servers"],
        json!(["http://127.0.0.1:9/realms/test"]),
        "{metadata}"
    );

    let refused = http
        .post(&gateway.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let challenge = refused
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer ")
            && challenge.contains(&format!(
                "resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\""
            ))
            && challenge.contains("scope=\"mcp\""),
        "{challenge}"
    );
    let stderr = gateway.stop().await;
    assert!(stderr.contains("OAuth sign-in"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_serves_the_connect_page_beside_mcp() {
    let dir = TempDir::new("connect-flag");
    let users_path = dir.join("users.toml");
    std::fs::write(&users_path, users_file(None)).unwrap();
    let mut gateway = command();
    gateway
        .args(["--mock", "--connect", "--listen", "127.0.0.1:0", "--users"])
        .arg(&users_path);
    let gateway = GatewayProcess::start(gateway).await;
    let base = gateway.url.trim_end_matches("mcp").to_owned();
    let http = reqwest::Client::new();
    // A link the gateway never gave: gone, said on a page of the gateway's own, never cached.
    let unknown = http
        .get(format!(
            "{base}connect/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 410);
    assert_eq!(
        unknown
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert!(
        unknown
            .headers()
            .get("content-security-policy")
            .is_some_and(|v| v.to_str().unwrap_or("").contains("default-src 'none'"))
    );
    // The MCP endpoint beside it still asks for a key.
    let refused = http.post(&gateway.url).body("{}").send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let stderr = gateway.stop().await;
    assert!(
        stderr.contains(&format!("--connect: the connect page is at {base}connect/")),
        "{stderr}"
    );
}

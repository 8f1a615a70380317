//! Smoke test of the Python interop peer helper itself (raw reqwest, no crate code).

#[path = "support/python_peer.rs"]
mod python_peer;

use python_peer::PythonPeer;

const GOOD: &str = "peer-token-good";
const OTHER: &str = "peer-token-other";

fn initialize_body() -> String {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "python-peer-smoke", "version": "0"}
        }
    })
    .to_string()
}

async fn post_initialize(url: &str, token: &str) -> (reqwest::StatusCode, Option<String>, String) {
    let resp = reqwest::Client::new()
        .post(url)
        .header("Authorization", format!("Token {token}"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .body(initialize_body())
        .send()
        .await
        .expect("POST initialize");
    let status = resp.status();
    let sid = resp
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = resp.text().await.expect("body");
    (status, sid, body)
}

/// The JSON-RPC message of a JSON body or of the last `data:` line of an SSE body.
fn jsonrpc_message(body: &str) -> serde_json::Value {
    if let Ok(v) = serde_json::from_str(body) {
        return v;
    }
    let data = body
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .rfind(|d| !d.is_empty())
        .unwrap_or_else(|| panic!("no data line in {body:?}"));
    serde_json::from_str(data).expect("SSE data is JSON")
}

#[tokio::test]
async fn peer_accepts_the_right_token_and_rejects_a_wrong_one() {
    let Some(peer) = PythonPeer::start(&[GOOD, OTHER], &[]).await else {
        return;
    };
    assert!(
        peer.url.starts_with("http://127.0.0.1:") && peer.url.ends_with("/mcp"),
        "{}",
        peer.url
    );

    let (status, sid, body) = post_initialize(&peer.url, GOOD).await;
    assert_eq!(status, 200, "{body}");
    assert!(sid.is_some(), "initialize must answer with Mcp-Session-Id");
    let msg = jsonrpc_message(&body);
    assert_eq!(msg["id"], 1);
    assert_eq!(msg["result"]["protocolVersion"], "2025-11-25", "{msg}");
    assert!(msg["result"]["capabilities"]["tools"].is_object(), "{msg}");

    let (status, sid, body) = post_initialize(&peer.url, "not-a-configured-token").await;
    assert_eq!(status, 401);
    assert!(sid.is_none());
    let err: serde_json::Value = serde_json::from_str(&body).expect("401 body is JSON");
    assert_eq!(
        err,
        serde_json::json!({"error": {"message": "Authentication failed", "code": 2006}})
    );

    let records = peer.requests().await;
    assert_eq!(records.len(), 2, "{records:#?}");
    assert_eq!(records[0]["method"], "POST");
    assert_eq!(records[0]["path"], "/mcp");
    assert_eq!(records[0]["auth_matched"], true);
    assert_eq!(records[0]["token_index"], 0);
    assert_eq!(
        records[0]["jsonrpc_methods"],
        serde_json::json!(["initialize"])
    );
    assert_eq!(records[0]["status"], 200);
    assert_eq!(records[1]["auth_matched"], false);
    assert_eq!(records[1]["status"], 401);
    // Never the token itself.
    let dump = serde_json::to_string(&records).unwrap();
    assert!(!dump.contains(GOOD) && !dump.contains("not-a-configured-token"));

    peer.reset().await;
    assert!(peer.requests().await.is_empty());
}

#[tokio::test]
async fn expired_sessions_answer_404() {
    let Some(peer) = PythonPeer::start(&[GOOD], &["--json-response"]).await else {
        return;
    };
    let (status, sid, body) = post_initialize(&peer.url, GOOD).await;
    assert_eq!(status, 200, "{body}");
    let sid = sid.expect("session id");
    assert_eq!(
        jsonrpc_message(&body)["result"]["protocolVersion"],
        "2025-11-25"
    );

    assert_eq!(peer.expire_sessions().await, 1);
    let resp = reqwest::Client::new()
        .post(&peer.url)
        .header("Authorization", format!("Token {GOOD}"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("Mcp-Session-Id", &sid)
        .header("MCP-Protocol-Version", "2025-11-25")
        .body(r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let records = peer.requests().await;
    let last = records.last().unwrap();
    assert_eq!(last["mcp_session_id"], sid.as_str());
    assert_eq!(last["status"], 404);
}

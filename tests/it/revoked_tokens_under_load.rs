//! No request carries a credential after the server rejected it: under load (many users, each
//! calling in a loop), half of the tokens are revoked on the server; each user's connector sees
//! the 401, invalidates the token and gets a new one. The server counts, per token, every request
//! that arrives after it answered that token with 401, the DELETE of the replaced session
//! included: there must be none.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::common::authorization;
use super::loopback::serve_mcp;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use pagerduty_mcp_connect::{
    AuthScheme, Connector, Error, GenericServer, InMemoryCredentialStore, ProtocolPreference,
    ProtocolVersion, UserId,
};
use serde_json::{Value, json};

#[derive(Default)]
struct Tokens {
    revoked: HashSet<String>,
    /// Tokens answered with 401 at least once.
    rejected: HashSet<String>,
    /// Requests (HTTP method, JSON-RPC method) that carried a token after it was rejected.
    after_rejection: HashMap<String, Vec<String>>,
    requests: usize,
    deletes: usize,
}

async fn handle(
    State(tokens): State<Arc<Mutex<Tokens>>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let auth = authorization(&headers);
    let token = auth.strip_prefix("Token ").unwrap_or("").to_owned();
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let rpc = request["method"].as_str().unwrap_or("").to_owned();
    {
        let mut tokens = tokens.lock().unwrap();
        tokens.requests += 1;
        if method == Method::DELETE {
            tokens.deletes += 1;
        }
        if tokens.rejected.contains(&token) {
            tokens
                .after_rejection
                .entry(token.clone())
                .or_default()
                .push(format!("{method} {rpc}"));
        }
        if tokens.revoked.contains(&token) {
            tokens.rejected.insert(token);
            return (
                StatusCode::UNAUTHORIZED,
                [("content-type", "application/json")],
                r#"{"error":{"message":"Authentication failed","code":2006}}"#,
            )
                .into_response();
        }
    }
    match method {
        Method::DELETE => return StatusCode::OK.into_response(),
        Method::GET => return StatusCode::METHOD_NOT_ALLOWED.into_response(),
        _ => {}
    }
    let Some(id) = request.get("id").cloned() else {
        return StatusCode::ACCEPTED.into_response();
    };
    let result = match rpc.as_str() {
        "initialize" => json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "revoker", "version": "1"}
        }),
        "tools/list" => json!({"tools": [{"name": "work", "inputSchema": {"type": "object"}}]}),
        "tools/call" => json!({"content": [{"type": "text", "text": "ok"}]}),
        _ => json!({}),
    };
    let mut response = (
        StatusCode::OK,
        [("content-type", "application/json")],
        json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string(),
    )
        .into_response();
    if rpc == "initialize" {
        let session = format!("s-{}", token.len() + id.to_string().len());
        response
            .headers_mut()
            .insert("mcp-session-id", session.parse().unwrap());
    }
    response
}

const USERS: usize = 200;
const ROUNDS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_carries_a_token_after_it_was_rejected_under_load() {
    let tokens = Arc::new(Mutex::new(Tokens::default()));
    let app = Router::new()
        .route("/mcp", any(handle))
        .with_state(tokens.clone());
    let url = serve_mcp(app).await;

    let store = InMemoryCredentialStore::new();
    for user in 0..USERS {
        store.insert(format!("user{user}"), format!("u+token-{user}-gen0"));
    }
    let connector = Connector::builder()
        .server(GenericServer::new("revoker", &url, AuthScheme::token()).unwrap())
        .credentials(store.clone())
        .configure_client(|b| b.protocol(ProtocolPreference::Exact(ProtocolVersion::V2025_11_25)))
        .build()
        .unwrap();

    let mut tasks = Vec::new();
    for user in 0..USERS {
        let connector = connector.clone();
        let store = store.clone();
        let tokens = tokens.clone();
        tasks.push(tokio::spawn(async move {
            let id = UserId::from(format!("user{user}"));
            let mut generation = 0;
            let mut unauthorized = 0;
            for round in 0..ROUNDS {
                if round == ROUNDS / 2 && user % 2 == 0 {
                    // An admin revokes this user's token.
                    tokens
                        .lock()
                        .unwrap()
                        .revoked
                        .insert(format!("u+token-{user}-gen{generation}"));
                }
                match connector.call_tool(&id, "work", json!({})).await {
                    Ok(_) => {}
                    Err(Error::Unauthorized { .. }) => {
                        unauthorized += 1;
                        // The connector invalidated it: the store says so until the user brings
                        // a new one, which they do.
                        assert!(store.is_revoked(&id));
                        generation += 1;
                        store.insert(id.clone(), format!("u+token-{user}-gen{generation}"));
                    }
                    Err(other) => panic!("user{user}: {other}"),
                }
            }
            unauthorized
        }));
    }
    let mut rejected_users = 0;
    for task in tasks {
        rejected_users += task.await.unwrap();
    }
    // Drop every session (each ends with a DELETE) and let the background DELETEs arrive.
    drop(connector);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let tokens = tokens.lock().unwrap();
    assert_eq!(rejected_users, USERS / 2, "each revoked user saw one 401");
    assert_eq!(tokens.rejected.len(), USERS / 2);
    assert!(tokens.requests > USERS * ROUNDS, "{}", tokens.requests);
    let offending: usize = tokens.after_rejection.values().map(Vec::len).sum();
    let sample: Vec<_> = tokens.after_rejection.iter().take(3).collect();
    assert_eq!(
        offending,
        0,
        "{offending} requests carried a rejected token (of {} tokens), e.g. {sample:?}",
        tokens.after_rejection.len()
    );
    // Sessions of valid tokens were still ended properly.
    assert!(tokens.deletes >= USERS / 2, "{} DELETEs", tokens.deletes);
}

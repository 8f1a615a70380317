//! A stand-in for PagerDuty's REST API `GET /users/me` on loopback (one per service region),
//! for the connect page's token check: it answers the mock MCP server's users' tokens with
//! their profiles (so that a token connected here then works at the mock), 401 with
//! PagerDuty's body otherwise. The mock MCP server (`crates/mock`) serves `/mcp` only, not the
//! REST API, hence this.
//!
//! It insists on `Authorization: Token token=<token>` and PagerDuty's `Accept` header, and
//! records each request's path and query (never a header value), so that tests can check that
//! no token travelled in a URL.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One PagerDuty user the fake knows.
#[derive(Debug, Clone)]
pub struct RestUser {
    pub token: String,
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: String,
}

impl RestUser {
    pub fn new(token: &str, id: &str, name: &str, email: &str) -> RestUser {
        RestUser {
            token: token.to_owned(),
            id: id.to_owned(),
            name: name.to_owned(),
            email: email.to_owned(),
            role: "user".to_owned(),
        }
    }
}

#[derive(Default)]
struct Shared {
    users: Mutex<HashMap<String, RestUser>>,
    seen: Mutex<Vec<String>>,
}

/// A running fake of one region's REST API.
pub struct FakeRest {
    pub url: url::Url,
    shared: Arc<Shared>,
    _task: tokio::task::JoinHandle<()>,
}

impl FakeRest {
    pub async fn start(users: Vec<RestUser>) -> FakeRest {
        let shared = Arc::new(Shared::default());
        for user in users {
            shared
                .users
                .lock()
                .unwrap()
                .insert(user.token.clone(), user);
        }
        let router = Router::new()
            .route("/users/me", axum::routing::get(users_me))
            .fallback(other)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeRest {
            url,
            shared,
            _task: task,
        }
    }

    /// Adds a user.
    pub fn add(&self, user: RestUser) {
        self.shared
            .users
            .lock()
            .unwrap()
            .insert(user.token.clone(), user);
    }

    /// The path and query of every request so far.
    pub fn seen(&self) -> Vec<String> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// How many `/users/me` checks it answered.
    pub fn checks(&self) -> usize {
        self.seen()
            .iter()
            .filter(|p| p.starts_with("/users/me"))
            .count()
    }
}

async fn users_me(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    shared.seen.lock().unwrap().push(uri.to_string());
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept != "application/vnd.pagerduty+json;version=2" {
        return (StatusCode::NOT_ACCEPTABLE, "wrong Accept").into_response();
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Token token="));
    let user = token.and_then(|t| shared.users.lock().unwrap().get(t).cloned());
    match user {
        Some(user) => axum::Json(json!({
            "user": {
                "id": user.id,
                "type": "user",
                "name": user.name,
                "email": user.email,
                "role": user.role,
                "time_zone": "Europe/Paris",
            }
        }))
        .into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": {"message": "Unauthorized", "code": 2006}})),
        )
            .into_response(),
    }
}

async fn other(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    shared.seen.lock().unwrap().push(uri.to_string());
    (StatusCode::NOT_FOUND, axum::Json(Value::Null)).into_response()
}

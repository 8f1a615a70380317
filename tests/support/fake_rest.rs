//! A fake of PagerDuty's REST API `GET /users/me` on 127.0.0.1 (random port), for the token check.
//!
//! It insists on `Authorization: Token token=<token>` and
//! `Accept: application/vnd.pagerduty+json;version=2`, answers per token, and records every request
//! it gets (method, path, whether an `Authorization` header came, `Accept`, `User-Agent`).
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Tokens with a fixed behaviour in every fake.
pub mod tokens {
    /// 401 with PagerDuty's body, code 2006.
    pub const REVOKED: &str = "u+RvK9qZ1xWp4mT7sLd2";
    /// 403 with PagerDuty's body, code 2010.
    pub const FORBIDDEN: &str = "u+Fb8NcX3vQe6YhJ0aKu";
    /// 429 with `ratelimit-reset: 17` and PagerDuty's body, code 2020.
    pub const RATE_LIMITED: &str = "u+Rl5GtB7mWz2PdQ9fHs";
    /// 200 with a 2 MiB body and a `Content-Length`.
    pub const HUGE: &str = "u+Hg4VyM1kSx8RnC3eLo";
    /// 200 with a 2 MiB body streamed without a `Content-Length`.
    pub const HUGE_STREAMED: &str = "u+Hs6TpD2jFw9QaZ5bNi";
    /// 302 to the fake's `redirect_to` origin.
    pub const REDIRECT: &str = "u+Rd3KuE8hGy1VmX7cPq";
    /// 401 whose body echoes the request's `Authorization` header and the token.
    pub const ECHO: &str = "u+Ec7LsA4nHv2BxR9dTw";
    /// 200 with a body that is not a user.
    pub const MALFORMED: &str = "u+Mf1QwE5rTy8UiO3pAs";
    /// Answers after 5 s.
    pub const SLOW: &str = "u+Sw2DfG6hJk9LzX4cVb";
    /// 503 with `Retry-After: 30`.
    pub const UNAVAILABLE: &str = "u+Un5BgT1yHn7MjU3kIo";
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Whether an `Authorization` header came with the request at all.
    pub had_authorization: bool,
    pub accept: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Default)]
struct Shared {
    users: HashMap<String, Value>,
    redirect_to: Option<String>,
    requests: Mutex<Vec<Recorded>>,
}

/// A running fake; stops when dropped.
pub struct FakeRest {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

/// Configures a [`FakeRest`].
#[derive(Default)]
pub struct FakeRestBuilder {
    users: HashMap<String, Value>,
    redirect_to: Option<String>,
}

impl FakeRestBuilder {
    /// `token` belongs to `user` (the `user` object of `/users/me`) on this fake.
    pub fn user(mut self, token: &str, user: Value) -> Self {
        self.users.insert(token.to_owned(), user);
        self
    }

    /// Where [`tokens::REDIRECT`] is sent (a base URL; `/users/me` is appended).
    pub fn redirect_to(mut self, base: &str) -> Self {
        self.redirect_to = Some(base.trim_end_matches('/').to_owned());
        self
    }

    pub async fn start(self) -> FakeRest {
        let shared = Arc::new(Shared {
            users: self.users,
            redirect_to: self.redirect_to,
            requests: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake REST server");
        });
        FakeRest { addr, shared, task }
    }
}

impl FakeRest {
    pub fn builder() -> FakeRestBuilder {
        FakeRestBuilder::default()
    }

    /// The base URL, like `https://api.pagerduty.com` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base URL as a [`url::Url`].
    pub fn base(&self) -> url::Url {
        url::Url::parse(&self.url()).expect("fake URL")
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }
}

impl Drop for FakeRest {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A realistic `user` object of PagerDuty's `/users/me`.
pub fn user_json(id: &str, name: &str, email: &str, role: &str) -> Value {
    json!({
        "name": name,
        "email": email,
        "time_zone": "Europe/Berlin",
        "color": "green",
        "avatar_url": "https://secure.gravatar.com/avatar/1.png?d=mm&r=PG",
        "billed": true,
        "role": role,
        "description": null,
        "invitation_sent": false,
        "job_title": "SRE",
        "teams": [],
        "contact_methods": [{"id": "PTDVERC", "type": "email_contact_method_reference"}],
        "notification_rules": [],
        "coordinated_incidents": [],
        "id": id,
        "type": "user",
        "summary": name,
        "self": format!("https://api.pagerduty.com/users/{id}"),
        "html_url": format!("https://acme.pagerduty.com/users/{id}"),
    })
}

fn pagerduty_error(status: StatusCode, code: u32, message: &str, errors: &[&str]) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": {"message": message, "code": code, "errors": errors}}).to_string(),
    )
        .into_response()
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let headers = request.headers().clone();
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    shared.requests.lock().unwrap().push(Recorded {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        had_authorization: headers.contains_key(header::AUTHORIZATION),
        accept: text(header::ACCEPT),
        user_agent: text(header::USER_AGENT),
    });

    if request.method() != axum::http::Method::GET || request.uri().path() != "/users/me" {
        return pagerduty_error(StatusCode::NOT_FOUND, 2100, "Not Found", &[]);
    }
    if text(header::ACCEPT).as_deref() != Some("application/vnd.pagerduty+json;version=2") {
        return (
            StatusCode::NOT_ACCEPTABLE,
            "this fake wants Accept: application/vnd.pagerduty+json;version=2",
        )
            .into_response();
    }
    let token = match text(header::AUTHORIZATION)
        .as_deref()
        .and_then(|value| value.strip_prefix("Token token="))
    {
        Some(token) => token.to_owned(),
        None => {
            return pagerduty_error(
                StatusCode::UNAUTHORIZED,
                2006,
                "Authentication failed",
                &["this fake wants Authorization: Token token=<token>"],
            );
        }
    };
    respond(&shared, &token, &headers).await
}

async fn respond(shared: &Shared, token: &str, headers: &HeaderMap) -> Response {
    if let Some(user) = shared.users.get(token) {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            json!({ "user": user }).to_string(),
        )
            .into_response();
    }
    match token {
        tokens::FORBIDDEN => pagerduty_error(
            StatusCode::FORBIDDEN,
            2010,
            "Access Denied",
            &["The access level does not allow this action"],
        ),
        tokens::RATE_LIMITED => {
            let mut response = pagerduty_error(
                StatusCode::TOO_MANY_REQUESTS,
                2020,
                "Rate Limit Exceeded",
                &[],
            );
            let h = response.headers_mut();
            h.insert("ratelimit-limit", HeaderValue::from_static("960"));
            h.insert("ratelimit-remaining", HeaderValue::from_static("0"));
            h.insert("ratelimit-reset", HeaderValue::from_static("17"));
            response
        }
        tokens::HUGE => {
            let padding = "x".repeat(2 * 1024 * 1024);
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                json!({"user": {"id": "PHUGE01", "name": "Huge", "padding": padding}}).to_string(),
            )
                .into_response()
        }
        tokens::HUGE_STREAMED => {
            let chunks = (0..64).map(|i| {
                let chunk = if i == 0 {
                    "{\"user\":{\"id\":\"PHUGE02\",\"name\":\"Huge\",\"padding\":\"".to_owned()
                } else {
                    "y".repeat(32 * 1024)
                };
                Ok::<_, std::io::Error>(chunk)
            });
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from_stream(futures_util::stream::iter(chunks)))
                .expect("streamed response")
        }
        tokens::REDIRECT => {
            let target = shared
                .redirect_to
                .clone()
                .unwrap_or_else(|| "http://127.0.0.1:9".to_owned());
            Response::builder()
                .status(StatusCode::FOUND)
                .header(header::LOCATION, format!("{target}/users/me"))
                .body(Body::empty())
                .expect("redirect response")
        }
        tokens::ECHO => {
            let authorization = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            pagerduty_error(
                StatusCode::UNAUTHORIZED,
                2006,
                &format!("Authentication failed for token {token}"),
                &[&format!("you sent: {authorization}")],
            )
        }
        tokens::MALFORMED => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"users":[]}"#,
        )
            .into_response(),
        tokens::SLOW => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            pagerduty_error(StatusCode::UNAUTHORIZED, 2006, "Authentication failed", &[])
        }
        tokens::UNAVAILABLE => {
            let mut response = (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><head><title>503 Service Temporarily Unavailable</title></head><body>down</body></html>",
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
            response
        }
        // Unknown tokens, including tokens::REVOKED.
        _ => pagerduty_error(
            StatusCode::UNAUTHORIZED,
            2006,
            "Authentication failed",
            &["The API key is invalid or was revoked"],
        ),
    }
}

//! A recognisable token goes through every public type and error path; its text must never show
//! up in `Debug`, `Display` or an error, or reach another origin through a redirect. (Log lines
//! are checked in `audit_log.rs`.)

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::common::{authorization, connector, store_with};
use super::loopback::serve_mcp;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::any;
use pagerduty_mcp_connect::{
    AuthScheme, CachedCredentials, Credential, CredentialChain, CredentialProvider, EnvCredential,
    Error, GenericServer, InMemoryCredentialStore, McpClient, PagerDuty, ProtocolPreference,
    ProtocolVersion, SharedCredentialProvider, StaticCredential, UserId, credential_fn,
};
use secrecy::SecretString;
use serde_json::json;

const TOKEN: &str = "u+LEAKCHECK7q3Zk9";
const NEEDLE: &str = "LEAKCHECK";

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(NEEDLE), "{what} leaks the token: {text}");
}

fn assert_error_clean(err: &Error) {
    assert_clean("error Display", &err.to_string());
    assert_clean("error Debug", &format!("{err:?}"));
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        assert_clean("error source", &format!("{inner} {inner:?}"));
        source = inner.source();
    }
}

#[tokio::test]
async fn public_types_never_format_the_token() {
    let credential = Credential::new(TOKEN)
        .with_created_at(SystemTime::UNIX_EPOCH)
        .with_expires_at(SystemTime::now() + Duration::from_secs(60));
    assert_clean("Credential", &format!("{credential:?}"));

    let store = InMemoryCredentialStore::new();
    store.insert("alice", TOKEN);
    let cached = CachedCredentials::new(store.clone());
    cached.credential(&UserId::from("alice")).await.unwrap();
    let chain = CredentialChain::first(store.clone()).or_else(StaticCredential::new(TOKEN));
    let shared = SharedCredentialProvider::new(chain.clone());
    let function = credential_fn(|_user: UserId| async { Ok(Credential::new(TOKEN)) });
    let env = EnvCredential::from_variable("PDMC_TEST_UNSET_VARIABLE");
    for (what, text) in [
        ("store", format!("{store:?}")),
        ("cache", format!("{cached:?}")),
        ("chain", format!("{chain:?}")),
        ("shared", format!("{shared:?}")),
        ("fn", format!("{function:?}")),
        ("env", format!("{env:?}")),
        ("static", format!("{:?}", StaticCredential::new(TOKEN))),
    ] {
        assert_clean(what, &text);
    }

    let value = AuthScheme::token()
        .header_value(&SecretString::from(TOKEN))
        .unwrap();
    assert!(value.is_sensitive());
    assert_clean("HeaderValue", &format!("{value:?}"));
    assert_clean(
        "AuthScheme",
        &format!("{} {:?}", AuthScheme::token(), AuthScheme::token()),
    );

    // Bad tokens are rejected without being echoed.
    for bad in [
        format!("{TOKEN}\r\nX-Injected: 1"),
        format!("{TOKEN}\n"),
        format!("{TOKEN}\0"),
        format!("{TOKEN} more"),
        format!("{TOKEN}é"),
    ] {
        let err = AuthScheme::token()
            .header_value(&SecretString::from(bad))
            .unwrap_err();
        assert!(matches!(err, Error::InvalidCredential { .. }));
        assert_error_clean(&err);
    }
    // Through the client too: nothing is sent.
    let client = McpClient::new(PagerDuty::new(pagerduty_mcp_connect::Region::Us)).unwrap();
    let err = client
        .connect(&Credential::new(format!("{TOKEN}\r\n")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCredential { .. }));
    assert_error_clean(&err);
    assert_clean("McpClient", &format!("{client:?}"));

    // A live session, its connector and the mock that served them.
    let mock = pagerduty_mcp_connect_mock::MockPagerDuty::builder()
        .user(pagerduty_mcp_connect_mock::MockUser::new(
            "PLEAK01",
            "Leak Check",
            "leak@example.com",
            "admin",
            TOKEN,
        ))
        .start()
        .await
        .unwrap();
    let connector = connector(&mock, store_with("leak", TOKEN));
    let session = connector.session(&UserId::from("leak")).await.unwrap();
    session.list_tools().await.unwrap();
    assert_clean("Session", &format!("{session:?}"));
    assert_clean("Session credential", &format!("{:?}", session.credential()));
    assert_clean("Connector", &format!("{connector:?}"));
    assert_clean("MockPagerDuty", &format!("{mock:?}"));
    for record in mock.requests() {
        assert_clean("recorded request", &format!("{record:?}"));
    }
}

/// A hostile server: echoes the Authorization header back in every error it can.
async fn echo_server(mode: &'static str) -> String {
    async fn handler(State(mode): State<&'static str>, headers: HeaderMap) -> impl IntoResponse {
        let auth = authorization(&headers);
        match mode {
            "401" => (
                StatusCode::UNAUTHORIZED,
                [("content-type", "application/json")],
                json!({"error": {"message": format!("bad credential {auth}"), "code": 2006}})
                    .to_string(),
            ),
            "403" => (
                StatusCode::FORBIDDEN,
                [("content-type", "text/plain")],
                format!("no access for {auth}"),
            ),
            "500" => (
                StatusCode::INTERNAL_SERVER_ERROR,
                [("content-type", "text/plain")],
                format!("crash while handling {auth}"),
            ),
            _ => (
                StatusCode::OK,
                [("content-type", "application/json")],
                json!({"jsonrpc": "2.0", "id": 1, "error": {
                    "code": -32000, "message": format!("rejected {auth}"), "data": {"header": auth}
                }})
                .to_string(),
            ),
        }
    }
    serve_mcp(Router::new().route("/mcp", any(handler)).with_state(mode)).await
}

#[tokio::test]
async fn errors_built_from_a_hostile_server_are_scrubbed() {
    for mode in ["401", "403", "500", "jsonrpc"] {
        let url = echo_server(mode).await;
        let server = GenericServer::new("hostile", &url, AuthScheme::token()).unwrap();
        let client = McpClient::builder(server)
            .protocol(ProtocolPreference::Exact(ProtocolVersion::V2026_07_28))
            .max_retries(0)
            .build()
            .unwrap();
        let err = client.connect(&Credential::new(TOKEN)).await.unwrap_err();
        assert_error_clean(&err);
        match mode {
            "401" => assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}"),
            "403" => assert!(matches!(err, Error::Forbidden { .. }), "{err:?}"),
            "500" => assert!(
                matches!(err, Error::HttpStatus { status: 500, .. }),
                "{err:?}"
            ),
            _ => assert!(matches!(err, Error::Server { code: -32000, .. }), "{err:?}"),
        }
    }
}

#[tokio::test]
async fn redirects_to_another_origin_are_not_followed() {
    // Origin B records whether anything reached it.
    let reached = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = reached.clone();
    let app_b = Router::new().route(
        "/mcp",
        any(move |headers: HeaderMap| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(authorization(&headers));
                StatusCode::OK
            }
        }),
    );
    let target = serve_mcp(app_b).await;
    // Origin A redirects every request to B.
    let app_a = Router::new().route(
        "/mcp",
        any(move || {
            let target = target.clone();
            async move { (StatusCode::TEMPORARY_REDIRECT, [("location", target)]) }
        }),
    );
    let url_a = serve_mcp(app_a).await;

    let server = GenericServer::new("redirecting", &url_a, AuthScheme::token()).unwrap();
    let client = McpClient::new(server).unwrap();
    let err = client.connect(&Credential::new(TOKEN)).await.unwrap_err();
    assert!(
        matches!(err, Error::HttpStatus { status: 307, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("another origin"), "{err}");
    assert_error_clean(&err);
    assert!(
        reached.lock().unwrap().is_empty(),
        "a request reached the other origin: {:?}",
        reached.lock().unwrap()
    );

    // A caller-supplied client with reqwest's default policy does follow the redirect (reqwest
    // strips `Authorization` on the way); the reply from the other origin is still refused.
    let server = GenericServer::new("redirecting", &url_a, AuthScheme::token()).unwrap();
    let client = McpClient::builder(server)
        .http_client(reqwest::Client::new())
        .max_retries(0)
        .build()
        .unwrap();
    let err = client.connect(&Credential::new(TOKEN)).await.unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
    assert!(err.to_string().contains("another origin"), "{err}");
    assert!(!err.is_retryable());
    assert_error_clean(&err);
    assert!(
        reached.lock().unwrap().iter().all(|auth| auth.is_empty()),
        "the credential reached the other origin"
    );
}

#[test]
fn plain_http_is_refused_except_to_loopback() {
    // (URL, whether it is accepted)
    for (url, loopback) in [
        ("http://mcp.example.com/mcp", false),
        ("http://10.0.0.1/mcp", false),
        ("ftp://x/mcp", false),
        ("http://127.0.0.1:9/mcp", true),
        ("http://[::1]:9/mcp", true),
        ("http://localhost:9/mcp", true),
    ] {
        let generic = GenericServer::new("x", url, AuthScheme::token());
        assert_eq!(generic.is_ok(), loopback, "{url}");
        if !loopback {
            assert!(PagerDuty::builder().endpoint(url).build().is_err(), "{url}");
        }
    }
    let err = GenericServer::new(
        "x",
        &format!("https://user:{TOKEN}@example.com/"),
        AuthScheme::token(),
    )
    .unwrap_err();
    assert_error_clean(&err);
}

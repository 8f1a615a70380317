//! What an OAuth client finds when it starts discovery at the gateway: the `401` challenge,
//! the protected resource metadata (RFC 9728) at both well-known paths, and on every other
//! discovery path a `404` naming the authorization server; without OAuth, today's answers.

use pagerduty_mcp_connect::Policy;
use pagerduty_mcp_connect_gateway::OAuthResourceServer;
use serde_json::{Value, json};

use crate::gateway_support::TestGateway;
use crate::oauth_gateway::OAuthGateway;
use crate::oauth_support::{JwksMode, TestIssuer};
use crate::raw_http::{Raw, call, post};

#[tokio::test]
async fn the_protected_resource_metadata_names_the_gateway_and_its_issuers() {
    let first = TestIssuer::start(JwksMode::Normal).await;
    let second = TestIssuer::start(JwksMode::Normal).await;
    let issuers = [first.issuer.clone(), second.issuer.clone()];
    let gw = OAuthGateway::start(
        move |url| {
            OAuthResourceServer::builder(url)
                .issuers(issuers)
                .required_scope("mcp:tools")
        },
        |b| b,
    )
    .await;
    let http = reqwest::Client::new();
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let reply = http.get(format!("{}{path}", gw.base)).send().await.unwrap();
        assert_eq!(reply.status(), 200, "{path}");
        assert_eq!(
            reply.headers()["content-type"],
            "application/json",
            "{path}"
        );
        assert_eq!(
            reply.headers()["access-control-allow-origin"],
            "*",
            "{path}"
        );
        let document: Value = serde_json::from_slice(&reply.bytes().await.unwrap()).unwrap();
        assert_eq!(
            document,
            json!({
                "resource": gw.url,
                "authorization_servers": [first.issuer, second.issuer],
                "scopes_supported": ["mcp:tools"],
                "bearer_methods_supported": ["header"],
            }),
            "{path}"
        );
    }
    // A browser's preflight for it.
    let preflight = http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/.well-known/oauth-protected-resource/mcp", gw.base),
        )
        .header("origin", "http://localhost:6274")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "mcp-protocol-version")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn a_request_without_a_credential_gets_the_challenge() {
    let issuer = TestIssuer::start(JwksMode::Normal).await;
    let iss = issuer.issuer.clone();
    let gw = OAuthGateway::start(
        move |url| OAuthResourceServer::builder(url).issuer(iss),
        |b| b,
    )
    .await;
    let http = reqwest::Client::new();
    let reply = Raw::of(
        post(&http, &gw.url, None, None, &call(1, "get_user_data"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.headers["www-authenticate"],
        format!(
            "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
            gw.base
        )
        .as_str()
    );
    let message = reply.message();
    assert_eq!(message["jsonrpc"], "2.0");
    assert_eq!(message["error"]["code"], -32001);
    let text = message["error"]["message"].as_str().unwrap();
    assert!(
        text.contains("sign in") && text.contains(&issuer.issuer),
        "{text}"
    );
    // A non-Bearer Authorization header counts as none.
    let reply = http
        .post(&gw.url)
        .header("authorization", "Basic YWxpY2U6cGFzc3dvcmQ=")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(call(1, "x").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 401);
    assert!(
        !reply.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=")
    );
    assert!(
        gw.gateway
            .metrics()
            .render()
            .contains("reason=\"missing_credential\"")
    );
}

#[tokio::test]
async fn the_other_discovery_paths_point_at_the_authorization_server() {
    let issuer = TestIssuer::start(JwksMode::Normal).await;
    let iss = issuer.issuer.clone();
    let gw = OAuthGateway::start(
        move |url| OAuthResourceServer::builder(url).issuer(iss),
        |b| b,
    )
    .await;
    let http = reqwest::Client::new();
    for (method, path) in [
        ("GET", "/.well-known/oauth-authorization-server"),
        ("GET", "/.well-known/openid-configuration"),
        ("GET", "/.well-known/oauth-authorization-server/mcp"),
        ("POST", "/register"),
        ("GET", "/authorize"),
        ("POST", "/token"),
    ] {
        let reply = http
            .request(method.parse().unwrap(), format!("{}{path}", gw.base))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 404, "{path}");
        let body: Value = serde_json::from_slice(&reply.bytes().await.unwrap()).unwrap();
        let text = body["error"]["message"].as_str().unwrap();
        assert!(text.contains(&issuer.issuer), "{path}: {text}");
        assert!(
            text.contains("not an authorization server"),
            "{path}: {text}"
        );
        assert!(!text.contains("offers no OAuth"), "{path}: {text}");
    }
}

#[tokio::test]
async fn without_oauth_the_gateway_answers_as_before() {
    let gw = TestGateway::start(Policy::new()).await;
    let http = reqwest::Client::new();
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-authorization-server",
        "/register",
    ] {
        let reply = http.get(format!("{}{path}", gw.base)).send().await.unwrap();
        assert_eq!(reply.status(), 404, "{path}");
        let body: Value = serde_json::from_slice(&reply.bytes().await.unwrap()).unwrap();
        let text = body["error"]["message"].as_str().unwrap();
        assert!(text.contains("offers no OAuth"), "{path}: {text}");
    }
    let reply = Raw::of(
        post(&http, &gw.url, None, None, &call(1, "x"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 401);
    assert!(reply.headers.get("www-authenticate").is_none());
}

//! OAuth users' sessions and secrets: a session opened with Alice's token is Alice's alone; the
//! access token never reaches the upstream, and never appears in the gateway's log (captured
//! at TRACE) or in its replies.

use std::io::Write;
use std::sync::{Arc, Mutex};

use pagerduty_mcp_connect_gateway::OAuthResourceServer;
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::json;

use crate::oauth_gateway::OAuthGateway;
use crate::oauth_support::{JwksMode, TestIssuer, hmac_with_public_key, sign_ec, sign_rsa};
use crate::raw_http::{Raw, call, open_session, post};

#[tokio::test]
async fn a_session_opened_with_alices_token_is_refused_to_bob() {
    let issuer = TestIssuer::start(JwksMode::Normal).await;
    let iss = issuer.issuer.clone();
    let gw = OAuthGateway::start(
        move |url| OAuthResourceServer::builder(url).issuer(iss),
        |b| b,
    )
    .await;
    let http = reqwest::Client::new();
    let alice = sign_rsa(&issuer.claims("alice", &gw.url));
    let bob = sign_ec(&issuer.claims("bob", &gw.url));
    let session = open_session(&http, &gw.url, &alice).await;
    let reply = Raw::of(
        post(
            &http,
            &gw.url,
            Some(&bob),
            Some(&session),
            &call(1, "get_user_data"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 404, "{reply:?}");
    assert!(
        gw.gateway
            .metrics()
            .render()
            .contains("reason=\"foreign_session\"")
    );
    // Alice's own next token (a new one, as after a refresh) still opens it: the session is
    // bound to the user, not to one token.
    let mut claims = issuer.claims("alice", &gw.url);
    claims["jti"] = json!("refreshed");
    let alice_again = sign_ec(&claims);
    let reply = Raw::of(
        post(
            &http,
            &gw.url,
            Some(&alice_again),
            Some(&session),
            &call(2, "get_user_data"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.message()["result"]
            .to_string()
            .contains(MockPagerDuty::ALICE_USER_ID)
    );
    assert_eq!(
        gw.upstream_calls(),
        [Some(MockPagerDuty::ALICE_USER_ID.to_owned())]
    );
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_token_is_in_no_log_line_no_reply_and_never_upstream() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // This test's runtime is single-threaded: the gateway's tasks log on this thread.
    let _guard = tracing::subscriber::set_default(subscriber);
    let issuer = TestIssuer::start(JwksMode::Normal).await;
    let iss = issuer.issuer.clone();
    let gw = OAuthGateway::start(
        move |url| OAuthResourceServer::builder(url).issuer(iss),
        |b| b,
    )
    .await;
    let http = reqwest::Client::new();
    let good = sign_rsa(&issuer.claims("alice", &gw.url));
    let mut expired_claims = issuer.claims("alice", &gw.url);
    expired_claims["exp"] = json!(1);
    let expired = sign_rsa(&expired_claims);
    let forged = hmac_with_public_key(&issuer.claims("alice", &gw.url));
    let mut replies = Vec::new();
    let session = open_session(&http, &gw.url, &good).await;
    for token in [&good, &expired, &forged] {
        let reply = Raw::of(
            post(
                &http,
                &gw.url,
                Some(token),
                Some(&session),
                &call(1, "get_user_data"),
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        replies.push(reply);
    }
    assert_eq!(replies[0].status, 200);
    assert_eq!(replies[1].status, 401);
    assert_eq!(replies[2].status, 401);
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("refused an agent's access token"), "{log}");
    for token in [&good, &expired, &forged] {
        // Neither the whole token nor its signature part.
        let signature = token.rsplit_once('.').unwrap().1;
        assert!(!log.contains(signature), "a token in the log");
        for reply in &replies {
            let text = String::from_utf8_lossy(&reply.body);
            assert!(!text.contains(signature), "a token in a reply");
            for (_, value) in reply.headers.iter() {
                assert!(!String::from_utf8_lossy(value.as_bytes()).contains(signature));
            }
        }
    }
    // Upstream: the one call, with Alice's PagerDuty token (which the mock recognised).
    assert_eq!(
        gw.upstream_calls(),
        [Some(MockPagerDuty::ALICE_USER_ID.to_owned())]
    );
    assert!(gw.mock.requests().iter().all(|r| r.auth_matched));
    // Debug of the configuration shows no secret.
    let debug = format!("{:?}", gw.gateway);
    assert!(debug.contains("OAuthResourceServer"), "{debug}");
}

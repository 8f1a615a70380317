//! OAuth access tokens at the gateway's door, over real HTTP on loopback: tokens signed with the
//! test keys of `tests/fixtures/` and checked against the JWKS of a test authorization server
//! (`support/oauth.rs`). A valid token reaches the tool with the user's own PagerDuty token
//! (never the JWT); every hostile token gets `401` with the `WWW-Authenticate` challenge; a
//! missing scope `403`; the JWKS is refetched at most once per interval; a hanging or flooding
//! JWKS endpoint gives a clear error in time and stalls nobody else.

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey};
use pagerduty_mcp_connect_gateway::{Introspection, OAuthResourceServer};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::{Value, json};

use crate::oauth_gateway::{CAROL_KEY, OAuthGateway};
use crate::oauth_support::{
    EC_PRIVATE, INTROSPECTION_CLIENT, JwksMode, OPAQUE_ALICE, RSA_KID, TestIssuer,
    hmac_with_public_key, now, sign, sign_ec, sign_rsa, unsigned,
};
use crate::raw_http::{Raw, SESSION_ERA, call, open_session, post};

/// `initialize` with `bearer`: the raw reply.
async fn initialize(http: &reqwest::Client, url: &str, bearer: &str) -> Raw {
    let init = json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": SESSION_ERA, "capabilities": {},
                   "clientInfo": {"name": "oauth-test", "version": "0"}},
    });
    Raw::of(
        post(http, url, Some(bearer), None, &init)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// `get_user_data` on a new session opened with `bearer`: the result's text.
async fn user_data(http: &reqwest::Client, url: &str, bearer: &str) -> String {
    let session = open_session(http, url, bearer).await;
    let reply = Raw::of(
        post(
            http,
            url,
            Some(bearer),
            Some(&session),
            &call(1, "get_user_data"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.message()["result"].to_string()
}

/// The `WWW-Authenticate` value of a reply.
fn challenge(reply: &Raw) -> String {
    reply
        .headers
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("no WWW-Authenticate on {reply:?}"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The standard OAuth gateway: one issuer, resource = the gateway's URL.
async fn gateway_for(issuer: &TestIssuer) -> OAuthGateway {
    let iss = issuer.issuer.clone();
    OAuthGateway::start(
        move |url| OAuthResourceServer::builder(url).issuer(iss),
        |b| b,
    )
    .await
}

#[tokio::test]
async fn a_valid_token_calls_a_tool_with_the_users_own_credential() {
    let issuer = TestIssuer::start(JwksMode::Normal).await;
    let gw = gateway_for(&issuer).await;
    let http = reqwest::Client::new();
    // RS256 for Alice, ES256 for Bob: each call runs upstream with that user's PagerDuty token.
    let alice = sign_rsa(&issuer.claims("alice", &gw.url));
    let bob = sign_ec(&issuer.claims("bob", &gw.url));
    let alice_data = user_data(&http, &gw.url, &alice).await;
    assert!(
        alice_data.contains(MockPagerDuty::ALICE_USER_ID),
        "{alice_data}"
    );
    let bob_data = user_data(&http, &gw.url, &bob).await;
    assert!(bob_data.contains(MockPagerDuty::BOB_USER_ID), "{bob_data}");
    // A static key works beside OAuth.
    let carol_data = user_data(&http, &gw.url, CAROL_KEY).await;
    assert!(
        carol_data.contains(MockPagerDuty::DEMO_USER_ID),
        "{carol_data}"
    );
    // The upstream saw exactly the users' own PagerDuty tokens, never a JWT (which matches no
    // user of the mock).
    assert_eq!(
        gw.upstream_calls(),
        [
            Some(MockPagerDuty::ALICE_USER_ID.to_owned()),
            Some(MockPagerDuty::BOB_USER_ID.to_owned()),
            Some(MockPagerDuty::DEMO_USER_ID.to_owned()),
        ]
    );
    assert!(gw.mock.requests().iter().all(|r| r.auth_matched));
    // The keys were fetched once for all of it.
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn the_user_claim_can_be_the_email() {
    let issuer = TestIssuer::start(JwksMode::Normal).await;
    let iss = issuer.issuer.clone();
    let gw = OAuthGateway::start(
        move |url| {
            OAuthResourceServer::builder(url)
                .issuer(iss)
                .user_claim("email")
        },
        |b| b,
    )
    .await;
    gw.credentials
        .insert("alice@example.com", MockPagerDuty::ALICE_TOKEN);
    let http = reqwest::Client::new();
    let token = sign_rsa(&issuer.claims("someone-else", &gw.url).tap(|c| {
        c["email"] = json!("alice@example.com");
    }));
    let data = user_data(&http, &gw.url, &token).await;
    assert!(data.contains(MockPagerDuty::ALICE_USER_ID), "{data}");
    // No email claim: refused, naming the claim.
    let mut claims = issuer.claims("alice", &gw.url);
    claims.as_object_mut().unwrap().remove("email");
    let reply = initialize(&http, &gw.url, &sign_rsa(&claims)).await;
    assert_eq!(reply.status, 401);
    assert!(challenge(&reply).contains("\\\"email\\\"") || challenge(&reply).contains("'email'"));
}

/// Small helper to edit a JSON value in an expression.
trait Tap {
    fn tap(self, f: impl FnOnce(&mut Self)) -> Self;
}

impl Tap for Value {
    fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}

#[tokio::test]
async fn hostile_tokens_get_401_with_the_challenge_and_reach_nothing() {
    let issuer = TestIssuer::start(JwksMode::Normal).await;
    let gw = gateway_for(&issuer).await;
    let http = reqwest::Client::new();
    let valid = issuer.claims("alice", &gw.url);
    let now = now();
    let other_key = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            sign_rsa(&valid.clone().tap(|c| c["exp"] = json!(now - 3600))),
            "token_expired",
        ),
        (
            "expired beyond the leeway",
            sign_rsa(&valid.clone().tap(|c| c["exp"] = json!(now - 90))),
            "token_expired",
        ),
        (
            "not yet valid",
            sign_rsa(&valid.clone().tap(|c| c["nbf"] = json!(now + 3600))),
            "token_not_yet_valid",
        ),
        (
            "issued in the future",
            sign_rsa(&valid.clone().tap(|c| c["iat"] = json!(now + 3600))),
            "token_not_yet_valid",
        ),
        (
            "without exp",
            sign_rsa(&valid.clone().tap(|c| {
                c.as_object_mut().unwrap().remove("exp");
            })),
            "token_missing_claim",
        ),
        (
            "wrong audience",
            sign_rsa(
                &valid
                    .clone()
                    .tap(|c| c["aud"] = json!("https://other.example.com/mcp")),
            ),
            "token_wrong_audience",
        ),
        (
            "no audience",
            sign_rsa(&valid.clone().tap(|c| {
                c.as_object_mut().unwrap().remove("aud");
            })),
            "token_missing_claim",
        ),
        (
            "wrong issuer",
            sign_rsa(
                &valid
                    .clone()
                    .tap(|c| c["iss"] = json!("http://127.0.0.1:1/evil")),
            ),
            "token_wrong_issuer",
        ),
        ("alg none", unsigned(&valid), "token_algorithm"),
        (
            "HS256 with the public key as secret",
            hmac_with_public_key(&valid),
            "token_algorithm",
        ),
        (
            "a kid the JWKS lacks",
            sign(
                &valid,
                Algorithm::RS256,
                Some("no-such-kid"),
                &crate::oauth_support::rsa_key(),
            ),
            "token_unknown_key",
        ),
        (
            "the EC key under the RSA key's kid",
            sign(&valid, Algorithm::ES256, Some(RSA_KID), &other_key),
            "token_unknown_key",
        ),
        (
            "a forged signature",
            {
                let good = sign_rsa(&valid);
                let (rest, _) = good.rsplit_once('.').unwrap();
                let forged = sign_rsa(&valid.clone().tap(|c| c["sub"] = json!("bob")));
                format!("{rest}.{}", forged.rsplit_once('.').unwrap().1)
            },
            "token_bad_signature",
        ),
        (
            "garbage",
            "this-is-not-a-token-at-all".to_owned(),
            "token_malformed",
        ),
        ("garbage with dots", "a.b.c".to_owned(), "token_malformed"),
    ];
    let metadata = format!("{}/.well-known/oauth-protected-resource/mcp", gw.base);
    for (name, token, reason) in &cases {
        let reply = initialize(&http, &gw.url, token).await;
        assert_eq!(reply.status, 401, "{name}: {reply:?}");
        let value = challenge(&reply);
        assert!(
            value.starts_with(&format!("Bearer resource_metadata=\"{metadata}\"")),
            "{name}: {value}"
        );
        assert!(value.contains("error=\"invalid_token\""), "{name}: {value}");
        assert!(
            !value.contains(token.as_str()),
            "{name}: the token in the header"
        );
        let message = reply.message();
        assert_eq!(message["error"]["code"], -32001, "{name}");
        let text = message["error"]["message"].as_str().unwrap();
        assert!(text.starts_with("Unauthorized: "), "{name}: {text}");
        assert!(
            !text.contains(token.as_str()),
            "{name}: the token in the body"
        );
        let metrics = gw.gateway.metrics().render();
        assert!(
            metrics.contains(&format!("reason=\"{reason}\"")),
            "{name}: no {reason} in {metrics}"
        );
    }
    // Nothing went upstream.
    assert!(gw.upstream_calls().is_empty());
    assert!(gw.mock.requests().is_empty(), "{:?}", gw.mock.requests());
}

#[tokio::test]
async fn unknown_key_ids_refetch_the_jwks_at_most_once_per_interval() {
    let issuer = TestIssuer::start(JwksMode::Normal).await;
    let iss = issuer.issuer.clone();
    let gw = OAuthGateway::start(
        move |url| {
            OAuthResourceServer::builder(url)
                .issuer(iss)
                .jwks_refetch_interval(Duration::from_secs(2))
        },
        |b| b,
    )
    .await;
    let http = reqwest::Client::new();
    let claims = issuer.claims("alice", &gw.url);
    let rsa = crate::oauth_support::rsa_key();
    let unknown = |n: usize| {
        sign(
            &claims,
            Algorithm::RS256,
            Some(&format!("rotated-{n}")),
            &rsa,
        )
    };
    let started = std::time::Instant::now();
    assert_eq!(
        initialize(&http, &gw.url, &sign_rsa(&claims)).await.status,
        200
    );
    assert_eq!(issuer.jwks_fetches(), 1);
    // At most one fetch per 2 s interval since the first, however long the floods below take
    // on a busy machine.
    let at_most = || 1 + (started.elapsed().as_secs_f64() / 2.0).floor() as usize;
    // A flood of made-up key ids right after: no refetch within the interval.
    for n in 0..20 {
        assert_eq!(initialize(&http, &gw.url, &unknown(n)).await.status, 401);
    }
    let allowed = at_most();
    assert!(
        issuer.jwks_fetches() <= allowed,
        "{} fetches, at most {allowed} within the interval",
        issuer.jwks_fetches()
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let before = issuer.jwks_fetches();
    for n in 20..40 {
        assert_eq!(initialize(&http, &gw.url, &unknown(n)).await.status, 401);
    }
    // The next interval: the unknown ids refetch (once), and the total keeps to the rate.
    assert!(
        issuer.jwks_fetches() > before,
        "no fetch for the next interval"
    );
    let allowed = at_most();
    assert!(
        issuer.jwks_fetches() <= allowed,
        "{} fetches, at most {allowed} in {:?}",
        issuer.jwks_fetches(),
        started.elapsed()
    );
    // Known keys kept working all along.
    assert_eq!(
        initialize(&http, &gw.url, &sign_ec(&claims)).await.status,
        200
    );
}

#[tokio::test]
async fn a_hanging_jwks_endpoint_fails_in_time_and_stalls_nobody_else() {
    let good = TestIssuer::start(JwksMode::Normal).await;
    let hanging = TestIssuer::start(JwksMode::Hang).await;
    let issuers = [good.issuer.clone(), hanging.issuer.clone()];
    let gw = OAuthGateway::start(
        move |url| {
            OAuthResourceServer::builder(url)
                .issuers(issuers)
                .fetch_timeout(Duration::from_secs(2))
        },
        |b| b,
    )
    .await;
    let http = reqwest::Client::new();
    let alice = sign_rsa(&good.claims("alice", &gw.url));
    assert_eq!(initialize(&http, &gw.url, &alice).await.status, 200);
    let stuck = sign_rsa(&hanging.claims("bob", &gw.url));
    let started = Instant::now();
    let (stuck_reply, others) = tokio::join!(initialize(&http, &gw.url, &stuck), async {
        // Meanwhile, Alice's requests go through at once.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut slowest = Duration::ZERO;
        for _ in 0..5 {
            let at = Instant::now();
            assert_eq!(initialize(&http, &gw.url, &alice).await.status, 200);
            slowest = slowest.max(at.elapsed());
        }
        slowest
    });
    let took = started.elapsed();
    assert_eq!(stuck_reply.status, 401);
    assert!(
        took < Duration::from_secs(4),
        "the hanging fetch took {took:?}"
    );
    assert!(
        others < Duration::from_millis(500),
        "others waited {others:?}"
    );
    let text = stuck_reply.message()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.contains("did not answer within 2s"), "{text}");
    assert!(challenge(&stuck_reply).contains("error=\"invalid_token\""));
    // Right after, the same issuer's tokens are refused at once (the failure is remembered
    // for a few seconds), not after another timeout.
    let at = Instant::now();
    assert_eq!(initialize(&http, &gw.url, &stuck).await.status, 401);
    assert!(
        at.elapsed() < Duration::from_millis(500),
        "{:?}",
        at.elapsed()
    );
    assert!(
        gw.gateway
            .metrics()
            .render()
            .contains("reason=\"issuer_unavailable\"")
    );
}

#[tokio::test]
async fn a_ten_megabyte_jwks_is_refused_with_a_clear_error() {
    let issuer = TestIssuer::start(JwksMode::Huge).await;
    let gw = gateway_for(&issuer).await;
    let http = reqwest::Client::new();
    let token = sign_rsa(&issuer.claims("alice", &gw.url));
    let reply = initialize(&http, &gw.url, &token).await;
    assert_eq!(reply.status, 401);
    let text = reply.message()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.contains("more than 1048576 bytes"), "{text}");
    assert!(text.contains("/jwks"), "{text}");
}

#[tokio::test]
async fn a_token_without_the_required_scope_gets_403() {
    let issuer = TestIssuer::start(JwksMode::Normal).await;
    let iss = issuer.issuer.clone();
    let gw = OAuthGateway::start(
        move |url| {
            OAuthResourceServer::builder(url)
                .issuer(iss)
                .required_scope("mcp:admin")
        },
        |b| b,
    )
    .await;
    let http = reqwest::Client::new();
    let metadata = format!("{}/.well-known/oauth-protected-resource/mcp", gw.base);
    // No credential: 401 naming the scope, no error.
    let reply = Raw::of(
        post(&http, &gw.url, None, None, &call(1, "x"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        challenge(&reply),
        format!("Bearer resource_metadata=\"{metadata}\", scope=\"mcp:admin\"")
    );
    // A valid token with other scopes: 403 insufficient_scope.
    let token = sign_rsa(&issuer.claims("alice", &gw.url));
    let reply = initialize(&http, &gw.url, &token).await;
    assert_eq!(reply.status, 403);
    let value = challenge(&reply);
    assert!(
        value.starts_with(&format!(
            "Bearer resource_metadata=\"{metadata}\", scope=\"mcp:admin\", error=\"insufficient_scope\""
        )),
        "{value}"
    );
    let text = reply.message()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.starts_with("Forbidden: ") && text.contains("mcp:admin"),
        "{text}"
    );
    // With the scope (`scp` as a list here): in.
    let token = sign_rsa(&issuer.claims("alice", &gw.url).tap(|c| {
        c["scp"] = json!(["mcp:admin"]);
    }));
    assert_eq!(initialize(&http, &gw.url, &token).await.status, 200);
    assert!(
        gw.gateway
            .metrics()
            .render()
            .contains("reason=\"insufficient_scope\"")
    );
}

#[tokio::test]
async fn opaque_tokens_are_introspected() {
    let issuer = TestIssuer::start(JwksMode::Normal).await;
    let iss = issuer.issuer.clone();
    let endpoint = issuer.introspection_endpoint();
    let gw = OAuthGateway::start(
        move |url| {
            OAuthResourceServer::builder(url)
                .issuer(iss)
                .introspection(Introspection::new(
                    endpoint,
                    INTROSPECTION_CLIENT.0,
                    INTROSPECTION_CLIENT.1,
                ))
        },
        |b| b,
    )
    .await;
    let http = reqwest::Client::new();
    // For another resource: refused.
    issuer.set_introspection_audience("https://other.example.com/mcp");
    let reply = initialize(&http, &gw.url, OPAQUE_ALICE).await;
    assert_eq!(reply.status, 401);
    assert!(challenge(&reply).contains("error=\"invalid_token\""));
    // For this gateway: Alice.
    issuer.set_introspection_audience(&gw.url);
    let data = user_data(&http, &gw.url, OPAQUE_ALICE).await;
    assert!(data.contains(MockPagerDuty::ALICE_USER_ID), "{data}");
    // Another opaque token: inactive.
    let reply = initialize(&http, &gw.url, "opaque-unknown-0123456789").await;
    assert_eq!(reply.status, 401);
    assert!(
        gw.gateway
            .metrics()
            .render()
            .contains("reason=\"token_inactive\"")
    );
    assert_eq!(
        gw.upstream_calls(),
        [Some(MockPagerDuty::ALICE_USER_ID.to_owned())]
    );
}

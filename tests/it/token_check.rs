//! A gateway checks the PagerDuty User API Token a user submits: whose it is, in which region,
//! and a clear error when it is wrong, forbidden or rate limited — without ever leaking it.
//!
//! Both regions' REST APIs are played by loopback fakes (`support/fake_rest.rs`).

#[path = "../support/fake_rest.rs"]
mod fake_rest;

use std::time::Duration;

use fake_rest::{FakeRest, tokens, user_json};
use pagerduty_mcp_connect::{Error, PagerDuty, Region, TokenVerifier};
use secrecy::SecretString;

const US_TOKEN: &str = "u+Us4aZ8wQ2nX6vB1mK9";
const EU_TOKEN: &str = "u+Eu7cR3tY5uI9oP2lJ6";

/// A US fake and an EU fake, and a verifier pointed at them.
struct Regions {
    us: FakeRest,
    eu: FakeRest,
    verifier: TokenVerifier,
}

async fn regions() -> Regions {
    regions_with_redirect_to(None).await
}

async fn regions_with_redirect_to(redirect_to: Option<&str>) -> Regions {
    let mut us = FakeRest::builder().user(
        US_TOKEN,
        user_json("PUS0001", "Ada Lovelace", "ada@example.com", "admin"),
    );
    if let Some(target) = redirect_to {
        us = us.redirect_to(target);
    }
    let us = us.start().await;
    let eu = FakeRest::builder()
        .user(
            EU_TOKEN,
            user_json("PEU0001", "Grace Hopper", "grace@example.eu", "user"),
        )
        .start()
        .await;
    let verifier = TokenVerifier::new()
        .unwrap()
        .with_api_url(Region::Us, us.base())
        .unwrap()
        .with_api_url(Region::Eu, eu.base())
        .unwrap();
    Regions { us, eu, verifier }
}

impl Regions {
    /// The error verifying `token` (in `region`, or searching both) ends in.
    async fn refusal(&self, token: &str, region: Option<Region>) -> Error {
        match self.verifier.verify(&secret(token), region).await {
            Ok(identity) => panic!("{token} verified: {identity:?}"),
            Err(err) => err,
        }
    }
}

/// Asserts that `message` contains each of `parts`.
fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{part:?} not in {message:?}");
    }
}

fn secret(token: &str) -> SecretString {
    SecretString::from(token)
}

/// The token must appear in no rendering of the error, nor in its source chain.
fn assert_no_token(err: &Error, token: &str) {
    let mut text = format!("{err} | {err:?} | {err:#?}");
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        text.push_str(&format!(" | {inner} | {inner:?}"));
        source = inner.source();
    }
    assert!(!text.contains(token), "token leaked into: {text}");
    let bare = token.trim_start_matches("u+");
    assert!(!text.contains(bare), "token leaked into: {text}");
}

#[tokio::test]
async fn a_valid_token_says_who_it_belongs_to() {
    let r = regions().await;
    let user = r
        .verifier
        .verify(&secret(US_TOKEN), Some(Region::Us))
        .await
        .unwrap();
    assert_eq!(user.id, "PUS0001");
    assert_eq!(user.name, "Ada Lovelace");
    assert_eq!(user.email, "ada@example.com");
    assert_eq!(user.role, "admin");
    assert_eq!(user.time_zone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(
        user.html_url.as_deref(),
        Some("https://acme.pagerduty.com/users/PUS0001")
    );
    assert_eq!(user.region, Region::Us);
    // The user is safe to print.
    assert!(!format!("{user:?}").contains(US_TOKEN));

    let seen = r.us.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path, "/users/me");
    assert!(seen[0].had_authorization);
    assert_eq!(
        seen[0].accept.as_deref(),
        Some("application/vnd.pagerduty+json;version=2")
    );
    let agent = seen[0].user_agent.as_deref().unwrap_or_default();
    assert!(
        agent.starts_with("pagerduty-mcp-connect/"),
        "User-Agent {agent:?}"
    );
    assert!(r.eu.requests().is_empty());
}

#[tokio::test]
async fn a_token_pasted_with_its_prefix_still_works() {
    let r = regions().await;
    let pasted = format!("  Token token={US_TOKEN} ");
    let user = r
        .verifier
        .verify(&secret(&pasted), Some(Region::Us))
        .await
        .unwrap();
    assert_eq!(user.id, "PUS0001");
}

#[tokio::test]
async fn the_region_is_detected_us_first_then_eu() {
    let r = regions().await;

    let user = r.verifier.verify(&secret(US_TOKEN), None).await.unwrap();
    assert_eq!(user.region, Region::Us);
    assert_eq!(r.us.requests().len(), 1);
    assert!(r.eu.requests().is_empty(), "EU asked although US accepted");

    let user = r.verifier.verify(&secret(EU_TOKEN), None).await.unwrap();
    assert_eq!(user.region, Region::Eu);
    assert_eq!(user.name, "Grace Hopper");
    assert_eq!(r.us.requests().len(), 2, "US is asked first");
    assert_eq!(r.eu.requests().len(), 1);

    // Asking one region only does not search.
    let err = r.refusal(EU_TOKEN, Some(Region::Us)).await;
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert_eq!(r.eu.requests().len(), 1);
    assert_no_token(&err, EU_TOKEN);
}

#[tokio::test]
async fn a_token_no_region_knows_is_unauthorized() {
    let r = regions().await;
    let err = r.refusal(tokens::REVOKED, None).await;
    let Error::Unauthorized { message, help, .. } = &err else {
        panic!("{err:?}")
    };
    assert_mentions(message, &["tried us, eu", "Authentication failed"]);
    assert!(help.contains("API Access"), "{help}");
    assert!(err.is_credential_problem());
    assert!(!err.is_retryable());
    assert_eq!(r.us.requests().len(), 1);
    assert_eq!(r.eu.requests().len(), 1);
    assert_no_token(&err, tokens::REVOKED);

    // One region only: PagerDuty's own message, code and the region hint.
    let err = r.refusal(tokens::REVOKED, Some(Region::Eu)).await;
    let Error::Unauthorized { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert_mentions(
        message,
        &[
            "Authentication failed: The API key is invalid or was revoked",
            "(error 2006)",
            "other PagerDuty service region",
        ],
    );
    assert_no_token(&err, tokens::REVOKED);
}

#[tokio::test]
async fn forbidden_stops_the_search_and_says_whom_to_ask() {
    let r = regions().await;
    let err = r.refusal(tokens::FORBIDDEN, None).await;
    let Error::Forbidden { message, .. } = &err else {
        panic!("{err:?}")
    };
    let expected = [
        "Access Denied",
        "(error 2010)",
        "PagerDuty admin",
        "Advanced Permissions",
    ];
    assert_mentions(message, &expected);
    assert!(r.eu.requests().is_empty(), "a 403 must not move on to EU");
    assert_no_token(&err, tokens::FORBIDDEN);
}

#[tokio::test]
async fn rate_limited_carries_the_wait_and_stops_the_search() {
    let r = regions().await;
    let err = r.refusal(tokens::RATE_LIMITED, None).await;
    assert!(r.eu.requests().is_empty(), "a 429 must not move on to EU");
    assert_no_token(&err, tokens::RATE_LIMITED);
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(17)));
    assert!(err.to_string().contains("retry in 17 s"), "{err}");
    let Error::RateLimited { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("960"), "{message}");
}

#[tokio::test]
async fn server_trouble_is_an_http_status_with_retry_after() {
    let r = regions().await;
    let err = r.refusal(tokens::UNAVAILABLE, None).await;
    assert!(r.eu.requests().is_empty());
    assert!(err.is_retryable());
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    let Error::HttpStatus { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(message, "503 Service Temporarily Unavailable");
}

#[tokio::test]
async fn an_echoed_token_is_scrubbed_from_the_error() {
    let r = regions().await;
    let err = r.refusal(tokens::ECHO, Some(Region::Us)).await;
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("[redacted]"), "{err}");
    assert_no_token(&err, tokens::ECHO);
}

#[tokio::test]
async fn oversized_replies_are_refused() {
    let r = regions().await;
    for token in [tokens::HUGE, tokens::HUGE_STREAMED] {
        let err = r.refusal(token, Some(Region::Us)).await;
        assert!(
            matches!(err, Error::TooLarge { limit, .. } if limit == TokenVerifier::DEFAULT_BODY_LIMIT),
            "{token}: {err:?}"
        );
        assert_no_token(&err, token);
    }
    // A smaller limit applies to an ordinary reply too.
    let err = r
        .verifier
        .clone()
        .with_body_limit(100)
        .verify(&secret(US_TOKEN), Some(Region::Us))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: 100, .. }), "{err:?}");
}

#[tokio::test]
async fn a_reply_that_is_not_a_user_is_a_protocol_error() {
    let r = regions().await;
    let err = r.refusal(tokens::MALFORMED, Some(Region::Us)).await;
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert_no_token(&err, tokens::MALFORMED);
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let r = regions().await;
    let started = std::time::Instant::now();
    let err = r
        .verifier
        .clone()
        .with_timeout(Duration::from_millis(300))
        .verify(&secret(tokens::SLOW), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(
        r.eu.requests().is_empty(),
        "a time-out must not move on to EU"
    );
    assert_no_token(&err, tokens::SLOW);
}

/// A REST API on another origin that would accept the redirected token (so that reaching it
/// would show).
async fn another_origin() -> FakeRest {
    FakeRest::builder()
        .user(
            tokens::REDIRECT,
            user_json("PEVIL01", "Mallory", "mallory@example.com", "owner"),
        )
        .start()
        .await
}

#[tokio::test]
async fn a_cross_origin_redirect_is_not_followed() {
    let elsewhere = another_origin().await;
    let r = regions_with_redirect_to(Some(&elsewhere.url())).await;

    let err = r.refusal(tokens::REDIRECT, None).await;
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert!(err.to_string().contains("redirect"), "{err}");
    assert!(err.to_string().contains(&elsewhere.url()), "{err}");
    assert!(
        elsewhere.requests().is_empty(),
        "the other origin was contacted: {:?}",
        elsewhere.requests()
    );
    assert!(
        r.eu.requests().is_empty(),
        "a redirect must not move on to EU"
    );
    assert_no_token(&err, tokens::REDIRECT);
}

#[tokio::test]
async fn a_gateway_client_that_follows_redirects_never_carries_the_token_elsewhere() {
    let elsewhere = another_origin().await;
    let r = regions_with_redirect_to(Some(&elsewhere.url())).await;
    // reqwest's default policy follows redirects (dropping Authorization across origins).
    let verifier = TokenVerifier::with_client(reqwest::Client::new())
        .with_api_url(Region::Us, r.us.base())
        .unwrap()
        .with_api_url(Region::Eu, r.eu.base())
        .unwrap();
    let err = verifier
        .verify(&secret(tokens::REDIRECT), Some(Region::Us))
        .await
        .unwrap_err();
    // The other origin was reached, but without the Authorization header, and its answer was
    // not taken as the user.
    assert_eq!(elsewhere.requests().len(), 1);
    assert!(
        elsewhere
            .requests()
            .iter()
            .all(|req| !req.had_authorization),
        "{:?}",
        elsewhere.requests()
    );
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert_no_token(&err, tokens::REDIRECT);
}

#[tokio::test]
async fn bad_tokens_are_refused_before_anything_is_sent() {
    let r = regions().await;
    for bad in ["", "   ", "u+abc\r\nX-Evil: 1", "u+abc def", "u+äbc"] {
        let err = r.verifier.verify(&secret(bad), None).await.unwrap_err();
        assert!(matches!(err, Error::InvalidCredential { .. }), "{err:?}");
    }
    assert!(r.us.requests().is_empty());
    assert!(r.eu.requests().is_empty());
}

#[tokio::test]
async fn plain_http_is_refused_except_on_loopback() {
    let remote = url::Url::parse("http://api.pagerduty.com").unwrap();
    let err = TokenVerifier::new()
        .unwrap()
        .with_api_url(Region::Us, remote)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
    assert!(
        TokenVerifier::new()
            .unwrap()
            .with_api_url(Region::Us, url::Url::parse("http://localhost:1").unwrap())
            .is_ok()
    );
}

#[tokio::test]
async fn the_pagerduty_preset_checks_against_its_own_rest_api() {
    let r = regions().await;
    let pagerduty = PagerDuty::builder()
        .region(Region::Eu)
        .api_url(r.eu.url())
        .build()
        .unwrap();
    let user = pagerduty.verify_token(&secret(EU_TOKEN)).await.unwrap();
    assert_eq!(user.id, "PEU0001");
    assert_eq!(user.region, Region::Eu);

    let err = pagerduty.verify_token(&secret(US_TOKEN)).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert!(
        r.us.requests().is_empty(),
        "the preset asks its own region only"
    );
    assert_no_token(&err, US_TOKEN);
}

/// The embedded mock answers `GET /users/me` for its own users (PagerDuty's REST form), so a
/// token check (and a gateway's connect page) works against it as against PagerDuty.
#[tokio::test]
async fn the_mock_answers_the_token_check_for_its_users() {
    let mock = pagerduty_mcp_connect_mock::MockPagerDuty::builder()
        .start()
        .await
        .unwrap();
    let api = mock.url().join("/").unwrap();
    let verifier = TokenVerifier::new()
        .unwrap()
        .with_api_url(Region::Us, api)
        .unwrap();
    let alice = verifier
        .verify(
            &secret(pagerduty_mcp_connect_mock::MockPagerDuty::ALICE_TOKEN),
            Some(Region::Us),
        )
        .await
        .unwrap();
    assert_eq!(alice.email, "alice@example.com");
    assert_eq!(
        alice.id,
        pagerduty_mcp_connect_mock::MockPagerDuty::ALICE_USER_ID
    );
    assert_eq!(alice.region, Region::Us);
    let err = verifier
        .verify(&secret("u+NotAMockToken000000"), Some(Region::Us))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    // Recorded like every request to the mock, with whose token it was.
    let checks: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path == "/users/me")
        .collect();
    assert_eq!(checks.len(), 2);
    assert_eq!(
        checks[0].user_id.as_deref(),
        Some(pagerduty_mcp_connect_mock::MockPagerDuty::ALICE_USER_ID)
    );
    assert!(!checks[1].auth_matched);
    mock.shutdown().await;
}

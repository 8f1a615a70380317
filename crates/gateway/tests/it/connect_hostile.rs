//! The connect page against people and pages that try to misuse it: another user with Alice's
//! link, replayed and expired links, forms without their CSRF token or from another site,
//! tokens with line breaks or 10 KB long, someone else's PagerDuty token; and no token in any
//! log line, page, URL, redirect or error.

use std::time::Duration;

use pagerduty_mcp_connect::UserId;
use pagerduty_mcp_connect_gateway::{ConnectionStatus, RegistryLimits};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use reqwest::StatusCode;

use crate::connect_support::{
    ALICE, ALICE_KEY, BOB, BOB_KEY, Browser, Captured, ConnectHarness, FormBody, Options, csrf,
};

#[tokio::test]
async fn another_signed_in_user_cannot_use_alices_link() {
    let h = ConnectHarness::start(Options::default()).await.unwrap();
    let alice_link = h.link(ALICE);
    let bob_link = h.link(BOB);
    let bob = Browser::new();
    // Bob signs in on his own link, then opens Alice's (sent to him by Alice, or phished).
    let bobs_form = bob
        .sign_in_with_key(&h.base, bob_link.url.as_str(), BOB_KEY)
        .await;
    assert_eq!(bobs_form.status, StatusCode::OK);
    let refused = bob.get(alice_link.url.as_str()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("made for another user"));
    assert!(!refused.body.contains("name=\"token\""), "no token form");
    // Posting a token to it anyway (with his own valid CSRF token) stores nothing.
    let posted = bob
        .post(
            alice_link.url.as_str(),
            &[
                ("csrf", &csrf(&bobs_form.body)),
                ("token", MockPagerDuty::BOB_TOKEN),
            ],
        )
        .await;
    assert_eq!(posted.status, StatusCode::FORBIDDEN, "{}", posted.body);
    assert!(!h.stored(ALICE).await && !h.stored(BOB).await);
    assert_eq!(h.us.checks(), 0, "nothing was even checked");
    // Bob signing in on Alice's link (the key form of her page) is Bob, and refused too.
    let other = Browser::new();
    let as_bob = other
        .sign_in_with_key(&h.base, alice_link.url.as_str(), BOB_KEY)
        .await;
    assert_eq!(as_bob.status, StatusCode::FORBIDDEN);
    // The link is still Alice's, and works for her.
    assert_eq!(alice_link.status(), ConnectionStatus::Pending);
    let alice = Browser::new();
    alice
        .sign_in_with_key(&h.base, alice_link.url.as_str(), ALICE_KEY)
        .await;
    let done = alice
        .paste(alice_link.url.as_str(), MockPagerDuty::ALICE_TOKEN)
        .await;
    assert!(
        done.body.contains("Connected as Alice Example"),
        "{}",
        done.body
    );
    assert!(!h.stored(BOB).await);
}

#[tokio::test]
async fn another_user_signed_in_at_the_authorization_server_cannot_use_alices_link() {
    let Some(h) = ConnectHarness::start(Options {
        oauth: true,
        ..Options::default()
    })
    .await
    else {
        return;
    };
    let alice_link = h.link(ALICE);
    let bob = Browser::new();
    let refused = bob
        .sign_in_with_oauth(&h.base, alice_link.url.as_str(), BOB)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("Signed in as <strong id=\"signed-in-as\">bob@example.com")
    );
    assert!(refused.body.contains("made for another user"));
    assert!(!h.stored(ALICE).await && !h.stored(BOB).await);
    assert_eq!(alice_link.status(), ConnectionStatus::Pending);
}

#[tokio::test]
async fn used_expired_unknown_and_malformed_links_are_gone() {
    let h = ConnectHarness::start(Options {
        limits: RegistryLimits::default().with_ttl(Duration::from_millis(300)),
        ..Options::default()
    })
    .await
    .unwrap();
    let expiring = h.link(ALICE);
    let browser = Browser::new();
    browser
        .sign_in_with_key(&h.base, expiring.url.as_str(), ALICE_KEY)
        .await;
    let form = browser.get(expiring.url.as_str()).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Expired while the form was open: the POST stores nothing.
    let late = browser
        .post(
            expiring.url.as_str(),
            &[
                ("csrf", &csrf(&form.body)),
                ("token", MockPagerDuty::ALICE_TOKEN),
            ],
        )
        .await;
    assert_eq!(late.status, StatusCode::GONE, "{}", late.body);
    assert!(!h.stored(ALICE).await);
    assert_eq!(expiring.status(), ConnectionStatus::Expired);
    for path in [
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
        "not-an-id".to_owned(),
        "%0d%0aSet-Cookie:%20x=1".to_owned(),
        "x".repeat(5000),
    ] {
        let seen = browser.get(&format!("{}/connect/{path}", h.base)).await;
        assert_eq!(seen.status, StatusCode::GONE, "{path}");
    }
    // A used link (replayed) is gone too, with the same page.
    let used = h.link(ALICE);
    let done = browser
        .paste(used.url.as_str(), MockPagerDuty::ALICE_TOKEN)
        .await;
    assert!(done.body.contains("Connected as"), "{}", done.body);
    let replay = browser.get(used.url.as_str()).await;
    assert_eq!(replay.status, StatusCode::GONE);
    let replay_post = browser
        .post(
            used.url.as_str(),
            &[
                ("csrf", &csrf(&done.body)),
                ("token", MockPagerDuty::BOB_TOKEN),
            ],
        )
        .await;
    assert_eq!(replay_post.status, StatusCode::GONE);
    assert_eq!(h.us.checks(), 1, "only the one real connection was checked");
}

#[tokio::test]
async fn a_post_without_its_csrf_token_or_from_another_site_is_refused() {
    let h = ConnectHarness::start(Options::default()).await.unwrap();
    let link = h.link(ALICE);
    let browser = Browser::new();
    browser
        .sign_in_with_key(&h.base, link.url.as_str(), ALICE_KEY)
        .await;
    let token = MockPagerDuty::ALICE_TOKEN;
    for fields in [
        vec![("token", token)],
        vec![("csrf", ""), ("token", token)],
        vec![
            ("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            ("token", token),
        ],
    ] {
        let seen = browser.post(link.url.as_str(), &fields).await;
        assert_eq!(seen.status, StatusCode::FORBIDDEN, "{fields:?}");
        assert!(seen.body.contains("nothing was done"));
    }
    // A signed-in session's cookie and CSRF token, posted from another site's page (its
    // Origin): refused; the same from the page itself: accepted (the control case).
    let (cookie, token_csrf) = signed_in_by_hand(&h.base, link.url.as_str()).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = |origin: &str| {
        http.post(link.url.as_str())
            .header("origin", origin.to_owned())
            .header("cookie", format!("pdmcp_connect={cookie}"))
            .form_pairs(&[("csrf", token_csrf.as_str()), ("token", token)])
            .send()
    };
    assert_eq!(
        post("https://evil.example").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    // Without the session cookie, the CSRF token alone is worth nothing.
    let no_cookie = http
        .post(link.url.as_str())
        .form_pairs(&[("csrf", token_csrf.as_str()), ("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(no_cookie.status(), StatusCode::FORBIDDEN);
    for path in [
        "/connect/account/token",
        "/connect/account/disconnect",
        "/connect/sign-out",
        "/connect/key",
    ] {
        let seen = browser
            .post(
                &format!("{}{path}", h.base),
                &[("token", token), ("key", ALICE_KEY)],
            )
            .await;
        assert_eq!(seen.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert!(!h.stored(ALICE).await);
    assert_eq!(h.us.checks(), 0);
    assert_eq!(link.status(), ConnectionStatus::Pending);
    // The control case: the same session, CSRF token and form from the page itself (whose
    // `Referrer-Policy: no-referrer` makes browsers send `Origin: null`).
    let accepted = post("null").await.unwrap();
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    assert!(h.stored(ALICE).await);
}

/// Signs Alice in by hand (no cookie jar): the session cookie's value and the CSRF token of
/// the token form of `link`.
async fn signed_in_by_hand(base: &str, link: &str) -> (String, String) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie_of = |response: &reqwest::Response| {
        let header = response.headers()["set-cookie"].to_str().unwrap();
        header
            .strip_prefix("pdmcp_connect=")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    };
    let page = http.get(link).send().await.unwrap();
    let anonymous = cookie_of(&page);
    let body = page.text().await.unwrap();
    let to = link.rsplit('/').next().unwrap();
    let signed = http
        .post(format!("{base}/connect/key"))
        .header("cookie", format!("pdmcp_connect={anonymous}"))
        .form_pairs(&[
            ("csrf", csrf(&body).as_str()),
            ("key", ALICE_KEY),
            ("to", to),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    assert_eq!(signed.headers()["location"], format!("/connect/{to}"));
    let session = cookie_of(&signed);
    assert_ne!(session, anonymous, "a new session id at sign-in");
    let form = http
        .get(link)
        .header("cookie", format!("pdmcp_connect={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (session, csrf(&form))
}

#[tokio::test]
async fn tokens_with_line_breaks_or_10_kb_long_are_refused_before_anything_is_sent() {
    let h = ConnectHarness::start(Options::default()).await.unwrap();
    let link = h.link(ALICE);
    let browser = Browser::new();
    browser
        .sign_in_with_key(&h.base, link.url.as_str(), ALICE_KEY)
        .await;
    let crlf = format!("{}\r\nX-Injected: 1", MockPagerDuty::ALICE_TOKEN);
    let long = format!("u+{}", "Q".repeat(10 * 1024));
    let cases = [
        (crlf.as_str(), "line break"),
        ("u+abc\ndef", "line break"),
        (long.as_str(), "too long"),
        ("   ", "no token was pasted"),
        ("u+tab\u{7}bell", "characters a PagerDuty token never has"),
    ];
    for (token, says) in cases {
        let seen = browser.paste(link.url.as_str(), token).await;
        assert_eq!(seen.status, StatusCode::UNPROCESSABLE_ENTITY, "{says}");
        assert!(seen.body.contains(says), "{says}: {}", seen.body);
        assert!(!seen.body.contains("Q".repeat(64).as_str()), "never echoed");
        assert!(!seen.body.contains("X-Injected"), "never echoed");
    }
    // A form larger than the page reads at all: 413 before anything is parsed.
    let huge = format!("u+{}", "Q".repeat(64 * 1024));
    let seen = browser.paste(link.url.as_str(), &huge).await;
    assert_eq!(seen.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        h.us.checks() + h.eu.checks(),
        0,
        "nothing was sent to PagerDuty"
    );
    // A well-formed token PagerDuty does not know: rejected by the check, nothing stored.
    let wrong = browser
        .paste(link.url.as_str(), "u+NotAKnownToken00000")
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("PagerDuty does not accept this token"));
    assert!(!wrong.body.contains("u+NotAKnownToken00000"));
    assert!(!h.stored(ALICE).await);
    assert_eq!(
        link.status(),
        ConnectionStatus::Pending,
        "the link still works"
    );
}

#[tokio::test]
async fn a_token_of_another_pagerduty_user_is_refused_when_emails_must_match() {
    let h = ConnectHarness::start(Options {
        require_email: true,
        ..Options::default()
    })
    .await
    .unwrap();
    let link = h.link(ALICE);
    let browser = Browser::new();
    let form = browser
        .sign_in_with_key(&h.base, link.url.as_str(), ALICE_KEY)
        .await;
    assert!(
        form.body
            .contains("It must be a token of your own PagerDuty user")
    );
    let seen = browser
        .paste(link.url.as_str(), MockPagerDuty::BOB_TOKEN)
        .await;
    assert_eq!(
        seen.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        seen.body
    );
    assert!(
        seen.body
            .contains("this token belongs to the PagerDuty user bob@example.com, not to you (alice@example.com)"),
        "{}",
        seen.body
    );
    assert!(!h.stored(ALICE).await);
    assert_eq!(link.status(), ConnectionStatus::Pending);
    // Her own token goes through.
    let done = browser
        .paste(link.url.as_str(), MockPagerDuty::ALICE_TOKEN)
        .await;
    assert!(done.body.contains("Connected as Alice Example"));
    let record = h.store.record(&UserId::from(ALICE)).await.unwrap().unwrap();
    assert_eq!(record.verification.unwrap().identity.email, ALICE);
}

#[tokio::test]
async fn without_the_email_check_a_service_users_token_is_accepted() {
    let h = ConnectHarness::start(Options::default()).await.unwrap();
    let link = h.link(ALICE);
    let browser = Browser::new();
    browser
        .sign_in_with_key(&h.base, link.url.as_str(), ALICE_KEY)
        .await;
    let done = browser
        .paste(link.url.as_str(), MockPagerDuty::BOB_TOKEN)
        .await;
    assert!(
        done.body
            .contains("Connected as Bob Example (bob@example.com)"),
        "{}",
        done.body
    );
}

/// Runs on one thread, so that every log line of the page, the store's callers and the token
/// check is captured.
#[tokio::test(flavor = "current_thread")]
async fn no_token_or_key_in_any_log_line_page_url_redirect_or_error() {
    let captured = Captured::default();
    let _guard = captured.install();
    let Some(h) = ConnectHarness::start(Options {
        oauth: true,
        require_email: true,
        ..Options::default()
    })
    .await
    else {
        return;
    };
    let browser = Browser::new();
    // Wrong key, then the right one; wrong tokens of each kind; someone else's token; the
    // right one; replace; disconnect.
    let link = h.link(ALICE);
    let wrong_key = "gk_wrong_key_0123456789abcdef";
    let page = browser.get(link.url.as_str()).await;
    let refused = browser
        .post(
            &format!("{}/connect/key", h.base),
            &[
                ("csrf", &csrf(&page.body)),
                ("key", wrong_key),
                ("to", &link.elicitation_id),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.body.contains("That gateway key is not valid."));
    browser
        .sign_in_with_key(&h.base, link.url.as_str(), ALICE_KEY)
        .await;
    let unknown = "u+UnknownSecret00000X";
    let crlf = "u+CrlfSecret000000\r\nX";
    for token in [unknown, crlf, MockPagerDuty::BOB_TOKEN] {
        let seen = browser.paste(link.url.as_str(), token).await;
        assert_eq!(seen.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let done = browser
        .paste(link.url.as_str(), MockPagerDuty::ALICE_TOKEN)
        .await;
    assert!(done.body.contains("Connected as"));
    // And the OAuth way, for Bob (his own token, his own link).
    let bob_link = h.link(BOB);
    let bob = Browser::new();
    bob.sign_in_with_oauth(&h.base, bob_link.url.as_str(), BOB)
        .await;
    let bob_done = bob
        .paste(bob_link.url.as_str(), MockPagerDuty::BOB_TOKEN)
        .await;
    assert!(
        bob_done.body.contains("Connected as Bob Example"),
        "{}",
        bob_done.body
    );

    let logs = captured.text();
    assert!(
        logs.contains("connect: PagerDuty account connected"),
        "{logs}"
    );
    assert!(logs.contains("connect: a wrong gateway key was entered"));
    let seen = format!("{}\n{}", browser.everything(), bob.everything());
    let rest = format!("{:?} {:?}", h.us.seen(), h.eu.seen());
    for secret in [
        MockPagerDuty::ALICE_TOKEN,
        MockPagerDuty::BOB_TOKEN,
        unknown,
        "u+CrlfSecret000000",
        ALICE_KEY,
        wrong_key,
    ] {
        assert!(!logs.contains(secret), "{secret} in a log line");
        assert!(
            !seen.contains(secret),
            "{secret} in a page, URL or redirect"
        );
        assert!(
            !rest.contains(secret),
            "{secret} in a URL sent to PagerDuty"
        );
    }
    // Nor a session cookie.
    assert!(!logs.contains("pdmcp_connect="));
}

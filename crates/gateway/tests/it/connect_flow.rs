//! "Connect your PagerDuty account", the whole flow over plain HTTP with a cookie jar: an agent's
//! user without a token gets a link; the person opens it, proves who they are (their gateway
//! key, or the real authorization server), pastes their User API Token; the gateway checks it
//! with `/users/me` (the region found), seals and stores it, says "Connected as …", and the
//! user's next call through a connector reading the store works.

use pagerduty_mcp_connect::UserId;
use pagerduty_mcp_connect_gateway::{
    CONNECT_CSP, ConnectionStatus, RequestStateKey, elicitation_complete_notification,
};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use reqwest::StatusCode;
use serde_json::json;

use crate::connect_support::{
    ALICE, ALICE_KEY, Browser, ConnectHarness, GRACE, GRACE_TOKEN, Options, csrf,
};

#[tokio::test]
async fn a_person_connects_with_their_gateway_key_and_the_retried_call_works() {
    let h = ConnectHarness::start(Options::default()).await.unwrap();
    let mock = MockPagerDuty::start().await;
    let connector = h.connector(&mock);
    let alice = UserId::from(ALICE);

    // The agent's call finds no token: the handler makes a link and waits for it.
    assert!(
        connector
            .call_tool(&alice, "list_incidents", json!({}))
            .await
            .is_err()
    );
    let pending = h.link(ALICE);
    let waiter = tokio::spawn(pending.completion().wait());
    assert!(
        pending
            .url
            .as_str()
            .starts_with(&format!("{}/connect/", h.base))
    );

    let browser = Browser::new();
    let form = browser
        .sign_in_with_key(&h.base, pending.url.as_str(), ALICE_KEY)
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert_eq!(
        form.url,
        pending.url.as_str(),
        "back at the link after signing in"
    );
    assert!(
        form.body
            .contains("Signed in as <strong id=\"signed-in-as\">alice@example.com")
    );
    assert!(
        form.body
            .contains("<label for=\"token\">PagerDuty User API Token</label>")
    );

    let done = browser
        .post(
            pending.url.as_str(),
            &[
                ("csrf", &csrf(&form.body)),
                ("token", MockPagerDuty::ALICE_TOKEN),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.url, format!("{}/connect/account?connected=1", h.base));
    assert!(
        done.body
            .contains("Connected as Alice Example (alice@example.com), US service region"),
        "{}",
        done.body
    );
    assert!(done.body.contains("Token stored today"));
    assert!(done.body.contains("every 90 days"));

    // The handler learns it: a 2025-11-25 agent gets notifications/elicitation/complete.
    assert_eq!(waiter.await.unwrap(), ConnectionStatus::Connected);
    assert_eq!(
        elicitation_complete_notification(&pending.elicitation_id)["params"]["elicitationId"],
        pending.elicitation_id.as_str()
    );
    // Sealed in the store, with the identity and region PagerDuty gave.
    let record = h.store.record(&alice).await.unwrap().unwrap();
    assert_eq!(record.route.as_ref().map(|r| r.as_str()), Some("us"));
    let identity = &record.verification.as_ref().unwrap().identity;
    assert_eq!(identity.email, ALICE);
    assert_eq!(h.us.checks(), 1, "one /users/me check");
    // The retried call works, with the token the person pasted.
    let result = connector
        .call_tool(&alice, "list_incidents", json!({}))
        .await
        .expect("the retried call works");
    assert!(!result.is_error());

    // The link works once.
    let again = browser.get(pending.url.as_str()).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(!browser.everything().contains(MockPagerDuty::ALICE_TOKEN));
}

#[tokio::test]
async fn every_connect_response_carries_the_security_headers() {
    let h = ConnectHarness::start(Options::default()).await.unwrap();
    let pending = h.link(ALICE);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(pending.url.as_str()).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    let body = page.text().await.unwrap();
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["content-security-policy"], CONNECT_CSP);
    assert!(CONNECT_CSP.contains("default-src 'none'"));
    assert!(CONNECT_CSP.contains("style-src 'self'"));
    assert!(CONNECT_CSP.contains("form-action 'self'"));
    assert!(CONNECT_CSP.contains("frame-ancestors 'none'"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("pdmcp_connect="), "{cookie}");
    assert!(cookie.contains("; HttpOnly; SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Path=/connect"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http on loopback: {cookie}"
    );
    // Tidy and accessible: a language, a title, one h1, labels for every field, no script,
    // no third-party asset.
    assert!(body.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    assert!(body.contains("<title>Connect your PagerDuty account"));
    assert_eq!(body.matches("<h1>").count(), 1);
    assert!(body.contains("<label for=\"key\">Gateway key</label>"));
    assert!(!body.contains("<script"));
    assert!(!body.contains("http://") && !body.contains("https://"));
    let css = http
        .get(format!("{}/connect/style.css", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(css.headers()["x-content-type-options"], "nosniff");
    assert!(
        !css.text().await.unwrap().contains("url("),
        "no external assets"
    );
}

#[tokio::test]
async fn a_person_signs_in_at_the_authorization_server_and_connects_an_eu_account() {
    let Some(h) = ConnectHarness::start(Options {
        oauth: true,
        require_email: true,
        ..Options::default()
    })
    .await
    else {
        return;
    };
    let grace = UserId::from(GRACE);
    let pending = h.link(GRACE);
    // A 2026-07-28 agent got `input_required` with a requestState sealed by the registry's key.
    let key = h.registry.state_key().clone();
    let input = pending.input_required(&key).unwrap();
    assert!(RequestStateKey::is_connect_state(
        input["requestState"].as_str().unwrap()
    ));
    let state = input["requestState"].as_str().unwrap().to_owned();

    let browser = Browser::new();
    let form = browser
        .sign_in_with_oauth(&h.base, pending.url.as_str(), GRACE)
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert_eq!(form.url, pending.url.as_str(), "{}", browser.everything());
    assert!(
        form.body
            .contains("Signed in as <strong id=\"signed-in-as\">grace@example.eu")
    );
    // The browser went to the authorization server with PKCE and a resource indicator.
    let trail = browser.everything();
    let authorize = trail
        .lines()
        .find(|line| line.contains("code_challenge="))
        .expect("an authorization request");
    assert!(authorize.contains("code_challenge_method=S256"));
    assert!(authorize.contains("resource="));
    assert!(authorize.contains("nonce="));

    let done = browser.paste(pending.url.as_str(), GRACE_TOKEN).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(
        done.body
            .contains("Connected as Grace Hopper (grace@example.eu), EU service region"),
        "{}",
        done.body
    );
    // Found in the EU region after the US one said no.
    assert_eq!((h.us.checks(), h.eu.checks()), (1, 1));
    let record = h.store.record(&grace).await.unwrap().unwrap();
    assert_eq!(record.route.as_ref().map(|r| r.as_str()), Some("eu"));
    // The agent's retry carries the state back: it opens for Grace, and the link completed.
    let opened = key.open(&state, &grace).unwrap();
    assert_eq!(
        h.registry.status(&opened.elicitation_id),
        Some(ConnectionStatus::Connected)
    );

    // The callback of that sign-in is single-use: replayed (in another browser, or this one)
    // it signs nobody in.
    let callback = trail
        .lines()
        .find(|line| line.contains("/connect/callback?"))
        .expect("the callback")
        .to_owned();
    for replay in [Browser::new(), browser.clone()] {
        let seen = replay.get(&callback).await;
        assert_eq!(seen.status, StatusCode::BAD_REQUEST, "{}", seen.body);
        assert!(
            seen.body.contains("expired or was already used"),
            "{}",
            seen.body
        );
    }
    assert!(!browser.everything().contains(GRACE_TOKEN));
}

#[tokio::test]
async fn the_account_page_shows_replaces_and_disconnects_the_token() {
    let h = ConnectHarness::start(Options::default()).await.unwrap();
    let alice = UserId::from(ALICE);
    let browser = Browser::new();
    let account_url = format!("{}/connect/account", h.base);
    let signed_in = browser
        .sign_in_with_key(&h.base, &account_url, ALICE_KEY)
        .await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    assert!(
        signed_in
            .body
            .contains("No PagerDuty account is connected yet.")
    );
    // Connect here, without any link (and any waiting link of Alice's completes).
    let pending = h.link(ALICE);
    let connected = browser
        .post(
            &format!("{}/connect/account/token", h.base),
            &[
                ("csrf", &csrf(&signed_in.body)),
                ("token", MockPagerDuty::ALICE_TOKEN),
            ],
        )
        .await;
    assert!(
        connected.body.contains("Connected as Alice Example"),
        "{}",
        connected.body
    );
    assert_eq!(pending.status(), ConnectionStatus::Connected);
    let first = h.store.record(&alice).await.unwrap().unwrap();
    assert!(connected.body.contains("Check and replace"));
    // Replace it (a rotation of the stored row).
    let replaced = browser
        .post(
            &format!("{}/connect/account/token", h.base),
            &[
                ("csrf", &csrf(&connected.body)),
                ("token", MockPagerDuty::ALICE_TOKEN),
            ],
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK);
    let second = h.store.record(&alice).await.unwrap().unwrap();
    assert!(second.revision > first.revision);
    assert!(second.rotated_at.is_some());
    // Disconnect.
    let disconnected = browser
        .post(
            &format!("{}/connect/account/disconnect", h.base),
            &[("csrf", &csrf(&replaced.body))],
        )
        .await;
    assert!(
        disconnected
            .body
            .contains("Your PagerDuty account was disconnected."),
        "{}",
        disconnected.body
    );
    assert!(!h.stored(ALICE).await);
    // Sign out: the page asks to sign in again.
    let out = browser
        .post(
            &format!("{}/connect/sign-out", h.base),
            &[("csrf", &csrf(&disconnected.body))],
        )
        .await;
    assert!(
        out.body.contains("<label for=\"key\">Gateway key</label>"),
        "{}",
        out.body
    );
    assert!(!out.body.contains("Signed in as"));
}

#[tokio::test]
async fn the_gateway_serves_the_connect_page_beside_mcp() {
    let h = ConnectHarness::start(Options::default()).await.unwrap();
    let mock = MockPagerDuty::start().await;
    let gateway = pagerduty_mcp_connect_gateway::Gateway::builder(
        pagerduty_mcp_connect::Connector::builder()
            .route(pagerduty_mcp_connect::Region::Us, mock.pagerduty())
            .credentials(h.store.clone()),
        h.keys.clone(),
    )
    .connect(h.page.clone())
    .build()
    .unwrap();
    assert!(gateway.connect_page().is_some());
    let mcp = crate::shared::serve_on_loopback(&gateway).await;
    let base = mcp.strip_suffix("/mcp").unwrap().to_owned();
    let pending = h.link(ALICE);
    let browser = Browser::new();
    let link = format!("{base}/connect/{}", pending.elicitation_id);
    let form = browser.sign_in_with_key(&base, &link, ALICE_KEY).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let done = browser.paste(&link, MockPagerDuty::ALICE_TOKEN).await;
    assert!(
        done.body.contains("Connected as Alice Example"),
        "{}",
        done.body
    );
    // /mcp is still the agents' door: no key, 401.
    let refused = reqwest::Client::new()
        .post(&mcp)
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

/// A sign-in server on another site: the browser comes back to `/connect/callback` without the
/// `SameSite=Strict` session cookie; the page bounces it once through itself (a `Refresh` to
/// the same callback), and the second request, same-site, carries the cookie and finishes. A
/// callback that reaches another browser (login CSRF: an attacker's sign-in planted in a
/// victim's browser) is refused.
#[tokio::test]
async fn a_callback_without_the_strict_cookie_is_bounced_once_and_another_browsers_is_refused() {
    let Some(h) = ConnectHarness::start(Options {
        oauth: true,
        ..Options::default()
    })
    .await
    else {
        return;
    };
    let sign_in_up_to_the_callback = |browser: Browser, link: String| {
        let base = h.base.clone();
        async move {
            let stopped = browser.sign_in_with_oauth(&base, &link, ALICE).await;
            assert_eq!(stopped.status, StatusCode::SEE_OTHER, "{}", stopped.body);
            let callback = stopped.location.expect("the redirect to the callback");
            assert!(callback.starts_with(&format!("{base}/connect/callback?")));
            callback
        }
    };

    // Alice's browser comes back without its cookie (cross-site): bounced, not refused.
    let pending = h.link(ALICE);
    let alice = Browser::stopping_at_callback();
    let callback = sign_in_up_to_the_callback(alice.clone(), pending.url.to_string()).await;
    let cookieless = Browser::new().get(&callback).await;
    assert_eq!(cookieless.status, StatusCode::OK, "{}", cookieless.body);
    let refresh = cookieless.refresh.expect("a Refresh to the same callback");
    assert!(refresh.starts_with("0;url=/connect/callback?"), "{refresh}");
    assert!(refresh.ends_with("&bounced=1"), "{refresh}");
    assert!(cookieless.body.contains("Finishing your sign-in"));
    // The bounce, in Alice's browser (same-site now: the cookie comes along): signed in.
    let bounced = alice
        .get(&format!(
            "{}{}",
            h.base,
            refresh.trim_start_matches("0;url=")
        ))
        .await;
    assert_eq!(bounced.status, StatusCode::OK, "{}", bounced.body);
    assert_eq!(bounced.url, pending.url.as_str());
    assert!(
        bounced
            .body
            .contains("Signed in as <strong id=\"signed-in-as\">alice@example.com")
    );

    // An attacker signs in as themselves and sends the callback to a victim whose browser
    // has a session of the page: refused, the victim is not signed in as the attacker.
    let attacker_link = h.link(ALICE);
    let attacker = Browser::stopping_at_callback();
    let planted = sign_in_up_to_the_callback(attacker, attacker_link.url.to_string()).await;
    let victim = Browser::new();
    let account = victim.get(&format!("{}/connect/account", h.base)).await;
    assert_eq!(account.status, StatusCode::OK);
    let refused = victim.get(&planted).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.body.contains("begun in another browser"),
        "{}",
        refused.body
    );
    let after = victim.get(&format!("{}/connect/account", h.base)).await;
    assert!(!after.body.contains("Signed in as"), "{}", after.body);
}

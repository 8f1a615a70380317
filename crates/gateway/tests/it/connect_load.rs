//! 1,000 people connecting their PagerDuty accounts at once, twice (gateway keys, hand-kept
//! cookies, one HTTP client): every onboarding completes, each user gets their own token, and
//! the page's state stays within its bounds (links, one session per signed-in person, no
//! sign-in left over). The time and resident memory of each wave are printed.

use std::time::{Duration, Instant};

use pagerduty_mcp_connect::UserId;
use pagerduty_mcp_connect_gateway::ConnectionStatus;
use reqwest::StatusCode;

use crate::connect_rest::RestUser;
use crate::connect_support::{ConnectHarness, FormBody, Options, csrf};

const USERS: usize = 1000;

fn user(wave: usize, i: usize) -> String {
    format!("load{wave}-{i:04}@example.com")
}

fn key(wave: usize, i: usize) -> String {
    format!("gk_load{wave}_{i:04}_0123456789abcdef")
}

fn token(wave: usize, i: usize) -> String {
    format!("u+Load{wave}Token{i:04}xyzw")
}

/// The resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn cookie_of(response: &reqwest::Response) -> String {
    let header = response.headers()["set-cookie"].to_str().unwrap();
    header
        .strip_prefix("pdmcp_connect=")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// One person's whole onboarding by hand: open the link, sign in with the key, paste the token.
async fn onboard(http: reqwest::Client, base: String, link: String, key: String, token: String) {
    let id = link.rsplit('/').next().unwrap().to_owned();
    let page = http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let anonymous = cookie_of(&page);
    let body = page.text().await.unwrap();
    let signed = http
        .post(format!("{base}/connect/key"))
        .header("cookie", format!("pdmcp_connect={anonymous}"))
        .form_pairs(&[
            ("csrf", csrf(&body).as_str()),
            ("key", key.as_str()),
            ("to", id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    let session = format!("pdmcp_connect={}", cookie_of(&signed));
    let form = http
        .get(&link)
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let done = http
        .post(&link)
        .header("cookie", &session)
        .form_pairs(&[("csrf", csrf(&form).as_str()), ("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(done.headers()["location"], "/connect/account?connected=1");
}

async fn wave(h: &ConnectHarness, http: &reqwest::Client, wave: usize) -> Duration {
    for i in 0..USERS {
        h.us.add(RestUser::new(
            &token(wave, i),
            &format!("PL{wave}{i:04}"),
            &format!("Load User {i}"),
            &user(wave, i),
        ));
        h.keys.insert(key(wave, i), user(wave, i)).unwrap();
    }
    let links: Vec<_> = (0..USERS).map(|i| h.link(&user(wave, i))).collect();
    let started = Instant::now();
    let tasks: Vec<_> = links
        .iter()
        .enumerate()
        .map(|(i, pending)| {
            tokio::spawn(onboard(
                http.clone(),
                h.base.clone(),
                pending.url.to_string(),
                key(wave, i),
                token(wave, i),
            ))
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let took = started.elapsed();
    for pending in &links {
        assert_eq!(pending.status(), ConnectionStatus::Connected);
    }
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_onboardings_at_once_all_complete_within_bounds() {
    let h = ConnectHarness::start(Options::default()).await.unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let before = rss_kib();
    let first = wave(&h, &http, 1).await;
    let after_first = rss_kib();
    let second = wave(&h, &http, 2).await;
    let after_second = rss_kib();
    eprintln!(
        "connect_load: {USERS} onboardings at once: {:.1} s, then {:.1} s; RSS {} MiB -> {} MiB -> {} MiB; links kept {}, sessions {}",
        first.as_secs_f64(),
        second.as_secs_f64(),
        before / 1024,
        after_first / 1024,
        after_second / 1024,
        h.registry.len(),
        h.page.session_count(),
    );
    // Every user has their own token, checked once.
    assert_eq!(h.store.len().await.unwrap(), 2 * USERS as u64);
    assert_eq!(h.us.checks(), 2 * USERS);
    for i in [0, 499, 999] {
        let record = h
            .store
            .record(&UserId::from(user(2, i)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            record.verification.unwrap().identity.email,
            user(2, i),
            "each user got their own PagerDuty user"
        );
    }
    // Within bounds: links at most the registry's total, one live session per signed-in
    // person (the anonymous ones ended at sign-in), no sign-in left over.
    assert!(h.registry.len() <= h.registry.limits().total);
    assert_eq!(h.page.session_count(), 2 * USERS);
    assert_eq!(h.page.sign_ins_under_way(), 0);
    // Memory: what the page keeps per person is bounded by the structures above; the
    // process's resident size (printed above) is shared with the tests running beside this
    // one, so it is only checked against a generous ceiling.
    assert!(
        after_second.saturating_sub(before) < 1024 * 1024,
        "resident memory grew by {} KiB",
        after_second.saturating_sub(before)
    );
}

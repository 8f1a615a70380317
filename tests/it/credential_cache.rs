//! `CachedCredentials` in front of a slow store, as a gateway with many users uses it: one user
//! forgotten after a rotation, one load per user under concurrency, a bounded size; and
//! `credential_fn`'s invalidate hook telling a closure-backed store about a revoked token.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::common::connector;
use futures_util::future::join_all;
use pagerduty_mcp_connect::{
    CachedCredentials, Credential, CredentialError, CredentialProvider, Error, UserId,
    credential_fn,
};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use secrecy::ExposeSecret;

/// A store that takes `delay` per lookup, counting lookups per user; tokens are `u+<user>-<n>`.
fn slow_store(
    delay: Duration,
) -> (
    impl CredentialProvider + 'static,
    Arc<Mutex<HashMap<String, usize>>>,
) {
    let loads: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let counter = loads.clone();
    let provider = credential_fn(move |user: UserId| {
        let counter = counter.clone();
        async move {
            let n = {
                let mut loads = counter.lock().unwrap();
                let n = loads.entry(user.to_string()).or_default();
                *n += 1;
                *n
            };
            tokio::time::sleep(delay).await;
            Ok(Credential::new(format!("u+{user}-{n}")))
        }
    });
    (provider, loads)
}

fn loads_of(loads: &Mutex<HashMap<String, usize>>, user: &str) -> usize {
    loads.lock().unwrap().get(user).copied().unwrap_or(0)
}

#[tokio::test]
async fn forgetting_one_user_after_a_rotation_keeps_the_others_cached() {
    let (store, loads) = slow_store(Duration::ZERO);
    let cached = CachedCredentials::new(store);
    let (alice, bob) = (UserId::from("alice"), UserId::from("bob"));
    let old = cached.credential(&alice).await.unwrap();
    cached.credential(&bob).await.unwrap();

    cached.forget(&alice);
    let new = cached.credential(&alice).await.unwrap();
    assert!(!new.same_secret(&old), "alice's rotated token is loaded");
    cached.credential(&bob).await.unwrap();
    assert_eq!(loads_of(&loads, "alice"), 2);
    assert_eq!(loads_of(&loads, "bob"), 1, "bob stays cached");
}

#[tokio::test]
async fn concurrent_misses_of_one_user_load_once() {
    let (store, loads) = slow_store(Duration::from_millis(100));
    let cached = CachedCredentials::new(store);
    let users = ["alice", "bob", "carol"];
    let calls = (0..60).map(|i| {
        let cached = cached.clone();
        let user = UserId::from(users[i % users.len()]);
        async move { (user.clone(), cached.credential(&user).await.unwrap()) }
    });
    let results = join_all(calls).await;
    for user in users {
        assert_eq!(loads_of(&loads, user), 1, "{user} loaded once");
    }
    // Everyone got their own user's token, and the same one.
    for (user, credential) in results {
        assert_eq!(
            credential.secret().expose_secret(),
            format!("u+{user}-1").as_str()
        );
    }
}

#[tokio::test]
async fn a_cancelled_load_leaves_no_stuck_lock() {
    let (store, loads) = slow_store(Duration::from_millis(300));
    let cached = CachedCredentials::new(store);
    let alice = UserId::from("alice");
    let cancelled =
        tokio::time::timeout(Duration::from_millis(50), cached.credential(&alice)).await;
    assert!(cancelled.is_err(), "the first load was cut short");
    let credential = tokio::time::timeout(Duration::from_secs(5), cached.credential(&alice))
        .await
        .expect("the next caller is not blocked by the cancelled one")
        .unwrap();
    assert_eq!(credential.secret().expose_secret(), "u+alice-2");
    assert_eq!(loads_of(&loads, "alice"), 2);
}

#[tokio::test]
async fn failed_loads_are_not_cached_and_waiters_do_not_hang() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    let broken = credential_fn(move |_user: UserId| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err::<Credential, _>(CredentialError::unavailable("vault is down"))
        }
    });
    let cached = CachedCredentials::new(broken);
    let alice = UserId::from("alice");
    let results = tokio::time::timeout(
        Duration::from_secs(5),
        join_all((0..5).map(|_| cached.credential(&alice))),
    )
    .await
    .expect("no waiter hangs");
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_err_and(|e| e.is_retryable()))
    );
    // Waiters try in turn, never all at once, and nothing is cached.
    assert_eq!(attempts.load(Ordering::SeqCst), 5);
    assert!(cached.is_empty());
}

#[tokio::test]
async fn the_cache_keeps_at_most_max_entries_users() {
    let (store, loads) = slow_store(Duration::ZERO);
    let cached = CachedCredentials::new(store).with_max_entries(2);
    for user in ["alice", "bob", "carol"] {
        cached.credential(&UserId::from(user)).await.unwrap();
    }
    assert_eq!(cached.len(), 2);
    // Someone was evicted: asking all three again loads exactly one of them a second time.
    for user in ["alice", "bob", "carol"] {
        cached.credential(&UserId::from(user)).await.unwrap();
    }
    let reloaded: usize = ["alice", "bob", "carol"]
        .iter()
        .map(|user| loads_of(&loads, user) - 1)
        .sum();
    assert!(reloaded >= 1, "an evicted user is loaded again");
    assert_eq!(cached.len(), 2);
}

#[tokio::test]
async fn credential_fn_tells_its_store_when_the_server_rejects_a_token() {
    let mock = MockPagerDuty::start().await;
    // A store behind a closure: alice's token is one the server no longer accepts.
    let tokens: Arc<Mutex<HashMap<UserId, String>>> = Arc::default();
    tokens
        .lock()
        .unwrap()
        .insert(UserId::from("alice"), "u+RevokedByAnAdmin0001".to_owned());
    let (read, write) = (tokens.clone(), tokens.clone());
    let rejected: Arc<Mutex<Vec<(UserId, String)>>> = Arc::default();
    let seen = rejected.clone();
    let provider = credential_fn(move |user: UserId| {
        let token = read.lock().unwrap().get(&user).cloned();
        async move {
            token
                .map(Credential::new)
                .ok_or(CredentialError::Revoked { user })
        }
    })
    .on_invalidate(move |user: UserId, credential: Credential| {
        let (write, seen) = (write.clone(), seen.clone());
        async move {
            let token = credential.secret().expose_secret().to_owned();
            write.lock().unwrap().remove(&user);
            seen.lock().unwrap().push((user, token));
        }
    });
    let connector = connector(&mock, provider);
    let alice = UserId::from("alice");

    let first = connector.list_tools(&alice).await;
    assert!(
        matches!(first, Err(Error::Unauthorized { .. })),
        "{first:?}"
    );
    assert_eq!(
        *rejected.lock().unwrap(),
        vec![(alice.clone(), "u+RevokedByAnAdmin0001".to_owned())]
    );
    let sent_before = mock.requests().len();
    // The store dropped the token: the next call fails without sending it again.
    let second = connector.list_tools(&alice).await;
    assert!(
        matches!(
            second,
            Err(Error::Credential(CredentialError::Revoked { .. }))
        ),
        "{second:?}"
    );
    assert_eq!(mock.requests().len(), sent_before, "nothing was sent");
}

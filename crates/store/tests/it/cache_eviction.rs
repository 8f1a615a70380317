//! The store's cache holds tokens only as long as it may serve them: a rotated or revoked token
//! leaves it at once, expired entries are dropped, and it never grows past its capacity.
#![cfg(feature = "sqlite")]

use super::store;

use std::time::Duration;

use pagerduty_mcp_connect::{CredentialProvider, UserId};
use store::{TempDir, secret, sqlite, token_of};

fn user(i: usize) -> UserId {
    UserId::from(format!("user{i:03}@example.com"))
}

fn token(i: usize) -> String {
    format!("u+EvictionToken{i:05}")
}

#[tokio::test]
async fn rotated_revoked_and_expired_tokens_leave_the_cache() {
    let dir = TempDir::new("eviction");
    let ttl = Duration::from_secs(2);
    let store = sqlite(&dir).cache_ttl(ttl).open().await.unwrap();
    store
        .put_all((0..50).map(|i| (user(i), secret(&token(i)))))
        .await
        .unwrap();
    for i in 0..50 {
        store.credential(&user(i)).await.unwrap();
    }
    assert_eq!(store.cache_len(), 50);

    // A rotation, a revocation and a deletion through this store drop the entry at once.
    store
        .rotate(&user(0), secret("u+RotatedToken0"))
        .await
        .unwrap();
    store.revoke(&user(1), "offboarded").await.unwrap();
    store.delete(&user(2)).await.unwrap();
    assert_eq!(store.cache_len(), 47);

    // Expired entries go: after the cache time, one lookup leaves one entry.
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    assert_eq!(token_of(&store, &user(10)).await, token(10));
    assert_eq!(store.cache_len(), 1);
}

#[tokio::test]
async fn the_cache_never_grows_past_its_capacity() {
    let dir = TempDir::new("capacity");
    let store = sqlite(&dir)
        .cache_ttl(Duration::from_secs(60))
        .cache_capacity(100)
        .open()
        .await
        .unwrap();
    store
        .put_all((0..400).map(|i| (user(i), secret(&token(i)))))
        .await
        .unwrap();
    for round in 0..2 {
        for i in 0..400 {
            assert_eq!(token_of(&store, &user(i)).await, token(i), "round {round}");
            assert!(store.cache_len() <= 100, "{} entries", store.cache_len());
        }
    }
    // The most recent lookups are the ones kept.
    assert!(store.cache_len() >= 50, "{} entries", store.cache_len());
}

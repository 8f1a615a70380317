//! A revocation reaches a replica within its cache time even when that replica's database answers
//! slowly: a lookup read before the revocation and delivered half a second later is cached from
//! the moment it was asked, not from the moment its answer arrived, so the revoked token is never
//! handed out later than `cache_ttl` after the revocation committed.
//!
//! The replica reaches the real Postgres server through a loopback proxy that holds the server's
//! replies back (`support/proxy.rs`). Needs `DATABASE_URL`, as the other Postgres tests.
#![cfg(feature = "postgres")]

use super::postgres;
use super::proxy;
use super::store;

use std::time::{Duration, Instant};

use pagerduty_mcp_connect::{CredentialError, CredentialProvider, UserId};
use pagerduty_mcp_connect_store::{SqlCredentialStore, SqlCredentialStoreBuilder, sqlx};
use proxy::Proxy;
use store::{key, secret};

const TOKEN: &str = "u+SlowReplicaToken001";

fn postgres(url: &str) -> SqlCredentialStoreBuilder {
    SqlCredentialStore::builder()
        .database_url(url)
        .key(key(1))
        .cache_ttl(Duration::ZERO)
        .last_used_resolution(None)
}

fn alice() -> UserId {
    UserId::from("alice@example.com")
}

/// Waits until the Postgres server has run the slow replica's lookup of a user (a query on the
/// credentials table that started after `after`, a server timestamp) and finished it.
async fn lookup_ran_on_the_server(admin: &sqlx::PgPool, database: &str, after: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (ran,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = $1 \
             AND query LIKE 'SELECT user_id, key_id%' AND query_start > $2::timestamptz \
             AND state LIKE 'idle%')",
        )
        .bind(database)
        .bind(after)
        .fetch_one(admin)
        .await
        .unwrap();
        if ran {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the lookup never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_is_honoured_within_the_cache_time_even_when_replies_arrive_late() {
    let Some(url) = postgres::fresh_database().await else {
        return;
    };
    const TTL: Duration = Duration::from_secs(1);
    const REPLY_DELAY: Duration = Duration::from_millis(500);
    let database = url::Url::parse(&url).unwrap().path()[1..].to_owned();

    // The admin replica talks to Postgres directly; the slow one through the proxy.
    let admin = postgres(&url).open().await.unwrap();
    admin.put(&alice(), secret(TOKEN)).await.unwrap();
    let proxy = Proxy::to_database(&url).await;
    let slow = postgres(&proxy.url_through(&url))
        .cache_ttl(TTL)
        .max_connections(1)
        .open()
        .await
        .unwrap();
    // One lookup at full speed, so that the connection and its prepared statement exist.
    slow.credential(&alice()).await.unwrap();
    slow.clear_cache();
    let watcher = sqlx::PgPool::connect(&url).await.unwrap();
    let (server_now,): (String,) = sqlx::query_as("SELECT clock_timestamp()::text")
        .fetch_one(&watcher)
        .await
        .unwrap();

    // The slow replica asks; the server answers at once (the token, not yet revoked), and the
    // answer reaches the replica half a second later. The revocation commits in between.
    proxy.set_reply_delay(REPLY_DELAY);
    let asked = {
        let slow = slow.clone();
        tokio::spawn(async move { slow.credential(&alice()).await })
    };
    lookup_ran_on_the_server(&watcher, &database, &server_now).await;
    admin.revoke(&alice(), "offboarded").await.unwrap();
    let revoked = Instant::now();
    let answer = asked.await.unwrap();
    assert!(
        answer.is_ok(),
        "the lookup was read before the revocation: {answer:?}"
    );
    assert!(
        revoked.elapsed() > REPLY_DELAY / 4,
        "the answer really arrived late"
    );
    proxy.set_reply_delay(Duration::ZERO);

    // From cache_ttl after the revocation committed on, the token is never handed out again.
    let mut calls = Vec::new();
    while revoked.elapsed() < TTL + Duration::from_millis(800) {
        let started = revoked.elapsed();
        let outcome = slow.credential(&alice()).await;
        calls.push((started, outcome.is_ok()));
        if started >= TTL {
            assert!(
                matches!(outcome, Err(CredentialError::Revoked { .. })),
                "the revoked token was handed out {started:?} after the revocation \
                 (cache time {TTL:?}): {outcome:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(calls.iter().any(|(at, ok)| *at >= TTL && !ok), "{calls:?}");
    watcher.close().await;
    slow.close().await;
    admin.close().await;
}

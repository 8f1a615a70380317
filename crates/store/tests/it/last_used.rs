//! Recording when each token was last used costs no write per lookup: a burst of first lookups
//! (a gateway restarting with 10,000 users) is remembered in memory and written in one batch per
//! `last_used_resolution`, and on close.
#![cfg(feature = "sqlite")]

use super::store;

use std::time::{Duration, Instant, SystemTime};

use pagerduty_mcp_connect::{CredentialProvider, UserId};
use pagerduty_mcp_connect_store::{SqlCredentialStore, sqlx};
use store::{TempDir, secret, sqlite};

const USERS: usize = 10_000;

fn user(i: usize) -> UserId {
    UserId::from(format!("user{i:05}@example.com"))
}

async fn used_rows(store: &SqlCredentialStore) -> i64 {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM mcp_credentials WHERE last_used_at IS NOT NULL")
            .fetch_one(store.sqlite_pool().unwrap())
            .await
            .unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_first_lookups_writes_last_use_in_one_batch() {
    let dir = TempDir::new("lastusedburst");
    let filler = sqlite(&dir).open().await.unwrap();
    filler
        .put_all((0..USERS).map(|i| (user(i), secret(&format!("u+LastUsed{i:06}")))))
        .await
        .unwrap();
    filler.close().await;

    let store = sqlite(&dir)
        .cache_ttl(Duration::from_secs(60))
        .last_used_resolution(Some(Duration::from_secs(60)))
        .open()
        .await
        .unwrap();
    let before = SystemTime::now() - Duration::from_secs(1);
    let started = Instant::now();
    for i in 0..USERS {
        store.credential(&user(i)).await.unwrap();
    }
    eprintln!(
        "{USERS} first lookups: {:?} ({} lookups/s)",
        started.elapsed(),
        (USERS as f64 / started.elapsed().as_secs_f64()) as u64
    );
    // No write per lookup: nothing is written before the batch is due.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(used_rows(&store).await, 0, "last use written per lookup");

    // Closing writes the batch: every user's last use is in the file.
    store.close().await;
    let reopened = sqlite(&dir).open().await.unwrap();
    assert_eq!(used_rows(&reopened).await, USERS as i64);
    let record = reopened.record(&user(USERS - 1)).await.unwrap().unwrap();
    assert!(record.last_used_at.unwrap() >= before);
}

#[tokio::test]
async fn last_use_is_written_once_per_resolution_in_the_background() {
    let dir = TempDir::new("lastusedtick");
    let store = sqlite(&dir)
        .last_used_resolution(Some(Duration::from_millis(200)))
        .open()
        .await
        .unwrap();
    store
        .put_all((0..20).map(|i| (user(i), secret(&format!("u+LastUsed{i:06}")))))
        .await
        .unwrap();
    for i in 0..20 {
        store.credential(&user(i)).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while used_rows(&store).await < 20 {
        assert!(Instant::now() < deadline, "the batch was never written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The measurement behind the batching (run by hand, in release:
/// `cargo test --release -p pagerduty-mcp-connect-store --test it measure_ -- --ignored --nocapture`):
/// 10,000 users' first lookups from 8 tasks, while an admin puts a token every 10 ms; how long the
/// burst takes, how long until every last use is in the database, and the admin's put latency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand"]
async fn measure_first_lookups_of_10000_users() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = TempDir::new("lastusedmeasure");
    let filler = sqlite(&dir).open().await.unwrap();
    filler
        .put_all((0..USERS).map(|i| (user(i), secret(&format!("u+LastUsed{i:06}")))))
        .await
        .unwrap();
    filler.close().await;
    let store = sqlite(&dir)
        .cache_ttl(Duration::from_secs(60))
        .last_used_resolution(Some(Duration::from_secs(1)))
        .open()
        .await
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let admin = {
        let store = store.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0;
            while !done.load(Ordering::SeqCst) {
                let started = Instant::now();
                store
                    .put(
                        &UserId::from("admin-target"),
                        secret(&format!("u+Admin{n:06}")),
                    )
                    .await
                    .unwrap();
                latencies.push(started.elapsed());
                n += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            latencies
        })
    };
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in (t..USERS).step_by(8) {
                store.credential(&user(i)).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let burst = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(120);
    while used_rows(&store).await < USERS as i64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let written = started.elapsed();
    done.store(true, Ordering::SeqCst);
    let mut latencies = admin.await.unwrap();
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    eprintln!(
        "MEASURE burst of {USERS} first lookups: {burst:?}; all last uses written after {written:?} \
         ({} rows); admin puts: {} (p50 {:?}, p99 {:?}, max {:?})",
        used_rows(&store).await,
        latencies.len(),
        p(0.5),
        p(0.99),
        latencies.last().unwrap()
    );
    store.close().await;
}

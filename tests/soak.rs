//! A bounded soak on loopback: many users call through one connector while faults are injected
//! one at a time (5xx bursts, 429s, hangs, malformed and oversized replies, dropped SSE streams,
//! session expiry, revoked and rotated tokens). It stops itself after `PDMC_SOAK_SECS` seconds
//! (default 5, at most 180; CI runs it for 60) and prints its figures: calls, faults injected,
//! recovered, typed errors by kind, panics, and the process's sockets and the runtime's tasks
//! before and after.
//!
//! What must hold: no panic, no call beyond its time limit, every failure a typed error of an
//! expected kind, every call without a fault succeeds, and the sockets and tasks return to where
//! they were once the connector is dropped.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pagerduty_mcp_connect::{
    Connector, ErrorKind, InMemoryCredentialStore, ProtocolPreference, ProtocolVersion, UserId,
};
use pagerduty_mcp_connect_mock::{MockPagerDuty, MockUser, ResponseMode};
use serde_json::json;

const USERS: usize = 40;
const LOAD: usize = 24;

fn soak_duration() -> Duration {
    let secs = std::env::var("PDMC_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(5);
    Duration::from_secs(secs.clamp(1, 180))
}

/// Open sockets of this process.
fn sockets() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|entry| {
                    std::fs::read_link(entry.path())
                        .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
                })
                .count()
        })
        .unwrap_or(0)
}

fn tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// A cheap pseudo-random sequence (no dependency needed for a soak's choices).
struct Dice(u64);

impl Dice {
    fn roll(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn token(user: usize, generation: u64) -> String {
    format!("u+soak-{user}-g{generation}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_with_random_faults_stays_bounded_and_typed() {
    let duration = soak_duration();
    let mut builder = MockPagerDuty::builder()
        .without_default_users()
        .response_mode(ResponseMode::Sse)
        .sse_retry(Duration::from_millis(10))
        .hang_duration(Duration::from_secs(2))
        .max_recorded_requests(1000);
    for user in 0..USERS {
        builder = builder.user(MockUser::new(
            format!("P{user:05}"),
            format!("User {user}"),
            format!("user{user}@example.com"),
            "user",
            token(user, 0),
        ));
    }
    let mock = builder.start().await.unwrap();
    let store = InMemoryCredentialStore::new();
    let generations: Vec<AtomicU64> = (0..USERS).map(|_| AtomicU64::new(0)).collect();
    for user in 0..USERS {
        store.insert(format!("user{user}"), token(user, 0));
    }
    let connector = Connector::builder()
        .server(mock.pagerduty())
        .credentials(store.clone())
        .idle_timeout(Duration::from_secs(1))
        .configure_client(|b| {
            b.protocol(ProtocolPreference::Exact(ProtocolVersion::V2025_11_25))
                .request_timeout(Duration::from_millis(800))
                .retry_base_delay(Duration::from_millis(5))
                .max_retry_wait(Duration::from_millis(200))
                .max_body_bytes(256 * 1024)
        })
        .build()
        .unwrap();

    let sockets_before = sockets();
    let tasks_before = tasks();
    let started = Instant::now();
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
    let (mut calls, mut faults, mut recovered, mut panics) = (0u64, 0u64, 0u64, 0u64);
    let mut typed: BTreeMap<&'static str, u64> = BTreeMap::new();

    while started.elapsed() < duration {
        // Load: many users at once, no fault armed: every call succeeds.
        let mut load = Vec::new();
        for _ in 0..LOAD {
            let connector = connector.clone();
            let user = dice.roll(USERS);
            let read = dice.roll(2) == 0;
            load.push(tokio::spawn(async move {
                let id = UserId::from(format!("user{user}"));
                if read {
                    connector.list_tools(&id).await.map(drop)
                } else {
                    connector
                        .call_tool(&id, "list_incidents", json!({}))
                        .await
                        .map(drop)
                }
            }));
        }
        for task in load {
            calls += 1;
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => panic!("a call without a fault failed: {err}"),
                Err(join) if join.is_panic() => panics += 1,
                Err(join) => panic!("{join}"),
            }
        }

        // One fault, then one call that meets it.
        let user = dice.roll(USERS);
        let id = UserId::from(format!("user{user}"));
        let fault = dice.roll(9);
        match fault {
            0 => mock.fail_next(1 + dice.roll(2), 503),
            1 => mock.fail_next(1, 500),
            2 => mock.rate_limit_next(1, Duration::from_millis(50)),
            3 => mock.hang_next(1),
            4 => mock.malformed_next(1),
            5 => mock.oversized_next(1, 512 * 1024),
            6 => mock.drop_sse_next(1),
            7 => {
                mock.expire_sessions();
            }
            _ => {
                // An admin revokes the user's token.
                let generation = generations[user].load(Ordering::SeqCst);
                mock.revoke_token(&token(user, generation));
            }
        }
        faults += 1;
        calls += 1;
        let call_started = Instant::now();
        let outcome = connector.call_tool(&id, "list_incidents", json!({})).await;
        assert!(
            call_started.elapsed() < Duration::from_secs(5),
            "a call took {:?}",
            call_started.elapsed()
        );
        mock.clear_faults();
        match outcome {
            Ok(_) => recovered += 1,
            Err(err) => {
                let kind = err.kind();
                assert!(
                    matches!(
                        kind,
                        ErrorKind::HttpStatus
                            | ErrorKind::RateLimited
                            | ErrorKind::Timeout
                            | ErrorKind::Protocol
                            | ErrorKind::TooLarge
                            | ErrorKind::Transport
                            | ErrorKind::SessionExpired
                            | ErrorKind::Unauthorized
                    ),
                    "unexpected {kind}: {err}"
                );
                assert!(!err.to_string().is_empty());
                *typed.entry(kind.as_str()).or_default() += 1;
                if kind == ErrorKind::Unauthorized {
                    // The user brings a new token.
                    let generation = generations[user].fetch_add(1, Ordering::SeqCst) + 1;
                    mock.add_token(&format!("P{user:05}"), token(user, generation));
                    store.insert(id.clone(), token(user, generation));
                }
            }
        }
    }

    drop(connector);
    // Let hung requests end, idle pooled connections close and background tasks finish.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sockets_after = sockets();
    let tasks_after = tasks();
    let typed_total: u64 = typed.values().sum();
    println!(
        "soak: {:.0} s, {calls} calls, {faults} faults injected, {recovered} recovered, {typed_total} typed errors {typed:?}, {panics} panics, sockets {sockets_before} → {sockets_after}, tasks {tasks_before} → {tasks_after}",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(panics, 0);
    assert_eq!(recovered + typed_total, faults);
    assert!(faults > 0 && calls > faults);
    assert!(
        sockets_after <= sockets_before + 2,
        "sockets {sockets_before} → {sockets_after}"
    );
    assert!(
        tasks_after <= tasks_before + 2,
        "tasks {tasks_before} → {tasks_after}"
    );
}

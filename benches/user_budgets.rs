//! One user's flood never slows another: per-user budgets in the connector, measured as ratios
//! in one run.
//!
//! One connector, the embedded mock upstream, a budget of `BUDGET` requests per second per user
//! (`UserBudget`, at most 4 calls in flight, no wait beyond the budget). User B calls
//! `get_user_data` at a steady half of the budget; user A tries ten times the budget from four
//! tasks. B runs alone and beside A's flood, interleaved, `ROUNDS` times; the figures are B's
//! calls per second and B's p99 latency beside the flood, as ratios to B alone (goal: within
//! 5 %), and how many of A's calls went upstream (at most the budget) or were refused without
//! a request.
//!
//! ```sh
//! cargo bench -p pagerduty-mcp-connect-benches --bench user_budgets            # the figures
//! cargo bench -p pagerduty-mcp-connect-benches --bench user_budgets -- --test  # once, quickly
//! ```

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pagerduty_mcp_connect::{Connector, ErrorKind, InMemoryCredentialStore, UserBudget, UserId};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::json;

/// Requests per second per user.
const BUDGET: u32 = 100;

/// What B saw in one window.
struct Window {
    calls_per_second: f64,
    p99: Duration,
}

/// A's outcome over one window.
#[derive(Default)]
struct Flood {
    sent: AtomicUsize,
    refused: AtomicUsize,
}

/// B's steady calls for `length`, one every `2 / BUDGET` seconds.
async fn user_b(connector: &Connector, length: Duration) -> Window {
    let b = UserId::from("bob");
    let mut latencies = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(2) / BUDGET);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let started = Instant::now();
    while started.elapsed() < length {
        tick.tick().await;
        let call = Instant::now();
        let result = connector.call_tool(&b, "get_user_data", json!({})).await;
        assert!(result.is_ok(), "B's call failed: {:?}", result.err());
        latencies.push(call.elapsed());
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let p99 = latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)];
    Window {
        calls_per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p99,
    }
}

/// A's flood until `stop`: four tasks, together ten times the budget in attempts.
fn user_a(
    connector: &Connector,
    stop: Arc<AtomicBool>,
    flood: Arc<Flood>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..4)
        .map(|_| {
            let connector = connector.clone();
            let (stop, flood) = (stop.clone(), flood.clone());
            tokio::spawn(async move {
                let a = UserId::from("alice");
                let mut tick = tokio::time::interval(Duration::from_secs(4) / (BUDGET * 10));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                while !stop.load(Ordering::Relaxed) {
                    tick.tick().await;
                    match connector.call_tool(&a, "get_user_data", json!({})).await {
                        Ok(_) => flood.sent.fetch_add(1, Ordering::Relaxed),
                        Err(err) if err.kind() == ErrorKind::RateLimited => {
                            flood.refused.fetch_add(1, Ordering::Relaxed)
                        }
                        Err(err) => panic!("A's call failed otherwise: {err}"),
                    };
                }
            })
        })
        .collect()
}

fn main() {
    let test = common::test_mode();
    let (rounds, length) = if test {
        (1, Duration::from_millis(1500))
    } else {
        (3, Duration::from_secs(10))
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mock = MockPagerDuty::start().await;
        let store = InMemoryCredentialStore::new();
        store.insert("alice", MockPagerDuty::ALICE_TOKEN);
        store.insert("bob", MockPagerDuty::BOB_TOKEN);
        let budget = UserBudget::new(BUDGET, Duration::from_secs(1))
            .in_flight(4)
            .max_wait(Duration::ZERO);
        let connector = Connector::builder()
            .server(mock.pagerduty())
            .credentials(store)
            .user_budget(Some(budget))
            .build()
            .expect("connector");
        // Warm both users' sessions.
        user_b(&connector, Duration::from_millis(200)).await;
        connector
            .call_tool(&UserId::from("alice"), "get_user_data", json!({}))
            .await
            .expect("A's first call");

        println!(
            "budget {BUDGET}/s per user; B at {}/s, A tries {}/s; {rounds} round(s) of {length:?}",
            BUDGET / 2,
            BUDGET * 10
        );
        println!("| round | B alone calls/s | B beside A calls/s | ratio | B alone p99 | B beside A p99 | ratio | A upstream/s | A refused/s |");
        println!("|---|---|---|---|---|---|---|---|---|");
        let mut worst_p99 = 0.0f64;
        for round in 1..=rounds {
            // The budget refills in a second: let A's earlier flood drain first.
            tokio::time::sleep(Duration::from_millis(1100)).await;
            let alone = user_b(&connector, length).await;
            tokio::time::sleep(Duration::from_millis(1100)).await;
            let stop = Arc::new(AtomicBool::new(false));
            let flood = Arc::new(Flood::default());
            let flooding = user_a(&connector, stop.clone(), flood.clone());
            let beside = user_b(&connector, length).await;
            stop.store(true, Ordering::Relaxed);
            for task in flooding {
                task.await.expect("A's task");
            }
            let seconds = length.as_secs_f64();
            let sent = flood.sent.load(Ordering::Relaxed) as f64 / seconds;
            let refused = flood.refused.load(Ordering::Relaxed) as f64 / seconds;
            let rate_ratio = beside.calls_per_second / alone.calls_per_second;
            let p99_ratio = beside.p99.as_secs_f64() / alone.p99.as_secs_f64();
            worst_p99 = worst_p99.max(p99_ratio);
            println!(
                "| {round} | {:.1} | {:.1} | {rate_ratio:.3} | {:?} | {:?} | {p99_ratio:.2} | {sent:.0} | {refused:.0} |",
                alone.calls_per_second, beside.calls_per_second, alone.p99, beside.p99
            );
            // The budget holds: A never sends more than its budget (plus the first burst).
            assert!(
                sent <= f64::from(BUDGET) * 1.1 + f64::from(BUDGET) / seconds,
                "A sent {sent:.0}/s, over its budget of {BUDGET}/s"
            );
            assert!(refused > 0.0, "A's flood was never refused");
            // B keeps its pace; latency ratios are reported (noisy on a shared 2-core machine).
            assert!(rate_ratio > 0.9, "B slowed to {rate_ratio:.2} of its pace beside A");
        }
        println!("worst p99 ratio (B beside A ÷ B alone): {worst_p99:.2}");
        mock.shutdown().await;
    });
}

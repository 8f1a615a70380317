//! Live heap per idle session, and TCP connections open, at 10,000 users through one
//! [`Connector`], vs a hand-made `reqwest` client holding just each user's session.
//!
//! A counting global allocator tracks the live heap of this process; the embedded mock runs in
//! a child process (this same binary, started with `--serve-mock`), so its sessions are not
//! counted. Each scenario warms the shared pool first (64 calls at once, by users that are not
//! counted), takes the live heap, brings `N` users one call each (at most 64 in flight), lets
//! them go idle, and takes it again: the difference divided by `N` is the heap one idle session
//! holds beyond the shared pool. The TCP sockets the process holds then are read from
//! `/proc/self/fd`: they are bounded by the pool (and the calls that were in flight), not by the
//! number of users.
//!
//! This is its own binary because a global allocator is process-wide.
//!
//! `cargo bench -p pagerduty-mcp-connect-benches --bench idle_heap` (10,000 users);
//! `-- --test` runs it with 200.

#[path = "common/mod.rs"]
mod common;
#[path = "common/counting_allocator.rs"]
mod counting_allocator;
#[path = "common/mock_process.rs"]
mod mock_process;
#[path = "common/upstream_process.rs"]
mod upstream_process;

use std::sync::Arc;
use std::time::Duration;

use common::Raw;
use counting_allocator::{Counting, live};
use mock_process::MockProcess;
use pagerduty_mcp_connect::{Connector, ProtocolVersion, UserId};
use serde_json::Value;
use tokio::sync::Semaphore;
use upstream_process::{Replies, UpstreamProcess};
use url::Url;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Users warming the pool (not counted).
const WARM: usize = 64;
/// Calls in flight at once while users arrive.
const IN_FLIGHT: usize = 64;

/// Calls for `users`, at most `IN_FLIGHT` at once.
async fn connector_calls(connector: &Connector, users: &[UserId]) {
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    for user in users {
        let permit = gate.clone().acquire_owned().await.expect("semaphore");
        let (connector, user) = (connector.clone(), user.clone());
        tasks.spawn(async move {
            let result = connector
                .call_tool(&user, common::TOOL, Value::Object(common::arguments()))
                .await
                .expect("call_tool");
            assert_ne!(result.is_error, Some(true));
            drop(permit);
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("caller task");
    }
}

struct Figures {
    server: &'static str,
    /// Whether the pool's idle connections were closed before each reading.
    emptied: bool,
    name: &'static str,
    per_session: f64,
    sockets: Option<usize>,
}

/// How long the pools keep an idle connection when they are emptied before each reading.
const POOL_IDLE: Duration = Duration::from_millis(100);

/// Lets spawned clean-ups finish and freed buffers go back (and, with `emptied`, the pool's
/// idle connections close).
async fn settle(emptied: bool) {
    let wait = if emptied {
        4 * POOL_IDLE
    } else {
        Duration::ZERO
    };
    tokio::time::sleep(Duration::from_millis(300) + wait).await;
}

async fn measure_connector(
    server: &'static str,
    url: &Url,
    n: usize,
    version: ProtocolVersion,
    emptied: bool,
) -> Figures {
    let (connector, ids) = common::connector_with(url, WARM + n, 6, version, move |client| {
        if emptied {
            client.pool_idle_timeout(POOL_IDLE)
        } else {
            client
        }
    });
    let (warm, users) = ids.split_at(WARM);
    connector_calls(&connector, warm).await;
    for user in warm {
        connector.disconnect(user).await.expect("disconnect");
    }
    settle(emptied).await;
    let before = live();
    connector_calls(&connector, users).await;
    settle(emptied).await;
    let after = live();
    let sockets = common::open_sockets();
    assert_eq!(connector.active_users(), n);
    for user in users {
        let _ = connector.disconnect(user).await;
    }
    Figures {
        server,
        emptied,
        name: if version.is_stateless() {
            "connector, stateless 2026-07-28"
        } else {
            "connector, session 2025-11-25"
        },
        per_session: (after as f64 - before as f64) / n as f64,
        sockets,
    }
}

async fn measure_raw(server: &'static str, url: &Url, n: usize, emptied: bool) -> Figures {
    let mut http = reqwest::Client::builder();
    if emptied {
        http = http.pool_idle_timeout(POOL_IDLE);
    }
    let http = http.build().expect("reqwest client");
    let open = |range: std::ops::Range<usize>| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let gate = Arc::new(Semaphore::new(IN_FLIGHT));
            let mut tasks = tokio::task::JoinSet::new();
            for i in range {
                let permit = gate.clone().acquire_owned().await.expect("semaphore");
                let (http, url) = (http.clone(), url.clone());
                tasks.spawn(async move {
                    let raw = Raw::session(&http, &url, &common::token_of(i)).await;
                    raw.call_tool().await;
                    drop(permit);
                    raw
                });
            }
            let mut raws = Vec::new();
            while let Some(raw) = tasks.join_next().await {
                raws.push(raw.expect("caller task"));
            }
            raws
        }
    };
    for raw in open(0..WARM).await {
        raw.delete().await;
    }
    settle(emptied).await;
    let before = live();
    let raws = open(WARM..WARM + n).await;
    settle(emptied).await;
    let after = live();
    let sockets = common::open_sockets();
    for raw in &raws {
        raw.delete().await;
    }
    Figures {
        server,
        emptied,
        name: "raw_reqwest, session 2025-11-25",
        per_session: (after as f64 - before as f64) / n as f64,
        sockets,
    }
}

fn main() {
    if mock_process::serve_if_asked() {
        return;
    }
    if upstream_process::serve_if_asked() {
        return;
    }
    let test = common::test_mode();
    let n = if test { 200 } else { 10_000 };
    let mock = MockProcess::start(WARM + n);
    // A server shaped like a production one (SSE replies, UUID session ids, a real server's
    // initialize result): see common/upstream_process.rs.
    let upstream = UpstreamProcess::start(Replies::Sse, Duration::from_millis(5));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let figures = runtime.block_on(async {
        let sockets_at_start = common::open_sockets();
        let mut figures = Vec::new();
        for emptied in [false, true] {
            for (server, url) in [("mock", &mock.url), ("upstream", &upstream.url)] {
                figures.push(measure_raw(server, url, n, emptied).await);
                for version in [ProtocolVersion::V2025_11_25, ProtocolVersion::V2026_07_28] {
                    figures.push(measure_connector(server, url, n, version, emptied).await);
                }
            }
        }
        (sockets_at_start, figures)
    });
    let (sockets_at_start, figures) = figures;
    println!(
        "\nidle_heap: {n} idle sessions, live heap beyond the warmed shared pool{}",
        if test {
            " (test mode: counts too small to read)"
        } else {
            ""
        }
    );
    println!(
        "{:<10} {:<6} {:<34} {:>16} {:>12} {:>14}",
        "server", "pool", "client", "bytes/session", "÷ raw", "TCP sockets"
    );
    for f in &figures {
        let raw = figures
            .iter()
            .find(|r| r.server == f.server && r.emptied == f.emptied && r.name.starts_with("raw"))
            .map_or(f64::NAN, |r| r.per_session);
        let sockets = match (f.sockets, sockets_at_start) {
            (Some(now), Some(start)) => format!("{}", now.saturating_sub(start)),
            _ => "n/a".to_owned(),
        };
        println!(
            "{:<10} {:<6} {:<34} {:>16.0} {:>12.2} {:>14}",
            f.server,
            if f.emptied { "empty" } else { "kept" },
            f.name,
            f.per_session,
            f.per_session / raw,
            sockets
        );
    }
    println!(
        "  budget: 1024 bytes per idle session; sockets bounded by the pool and the {IN_FLIGHT} calls in flight"
    );
    for f in &figures {
        if let (Some(now), Some(start)) = (f.sockets, sockets_at_start) {
            // The pool (this crate's and the raw one) plus the calls in flight, never the users.
            assert!(
                now.saturating_sub(start) <= 2 * IN_FLIGHT + 8,
                "{} ({}): {now} sockets open for {n} users",
                f.name,
                f.server
            );
        }
        if !test && f.name.starts_with("connector") {
            assert!(
                f.per_session <= 1024.0,
                "{} ({}): {:.0} bytes per idle session",
                f.name,
                f.server,
                f.per_session
            );
        }
    }
    drop(mock);
    drop(upstream);
}

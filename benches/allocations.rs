//! Heap allocations per `tools/call`, in both eras: this crate's `Connector` (and a `Session`
//! held directly) vs a hand-written pooled `reqwest` POST (the floor) and `rmcp` over the same
//! kind of pool.
//!
//! A counting global allocator counts every allocation this process makes (the client, its
//! runtime, `reqwest` and `hyper`); the embedded mock runs in a child process (this same binary,
//! started with `--serve-mock`), so its allocations are not counted. Each client makes its calls
//! one at a time, cycling over 16 users (one for the `Session`), after warm-up calls that open
//! every session and connection; printed are allocations and bytes allocated per call, and
//! their ratio to raw `reqwest`. Allocation counts do not move with the machine's load, so
//! unlike times they can be compared across runs.
//!
//! This is its own binary because a global allocator is process-wide.
//!
//! `cargo bench -p pagerduty-mcp-connect-benches --bench allocations` (2,000 calls per client);
//! `-- --test` runs 50.

#[path = "common/mod.rs"]
mod common;
#[path = "common/counting_allocator.rs"]
mod counting_allocator;
#[path = "common/mock_process.rs"]
mod mock_process;

use std::future::Future;

use common::{Raw, RmcpClient};
use counting_allocator::{Counting, allocations};
use mock_process::MockProcess;
use pagerduty_mcp_connect::ProtocolVersion;
use serde_json::Value;
use url::Url;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Users each client cycles over.
const USERS: usize = 16;

struct Figures {
    name: &'static str,
    allocations: f64,
    bytes: f64,
}

/// Calls `call(i)` for `i` in `0..calls` after `warm` uncounted calls; allocations per call.
async fn count<F, Fut>(name: &'static str, warm: usize, calls: usize, call: F) -> Figures
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    for i in 0..warm {
        call(i).await;
    }
    let (allocations_before, bytes_before) = allocations();
    for i in 0..calls {
        call(i).await;
    }
    let (allocations_after, bytes_after) = allocations();
    Figures {
        name,
        allocations: (allocations_after - allocations_before) as f64 / calls as f64,
        bytes: (bytes_after - bytes_before) as f64 / calls as f64,
    }
}

async fn era(url: &Url, stateless: bool, calls: usize) -> Vec<Figures> {
    let http = reqwest::Client::new();
    let mut raws = Vec::new();
    let mut rmcps: Vec<RmcpClient> = Vec::new();
    for i in 0..USERS {
        let token = common::token_of(i);
        if stateless {
            raws.push(Raw::stateless(&http, url, &token));
            rmcps.push(common::rmcp_stateless(Some(&http), url, &token).await);
        } else {
            raws.push(Raw::session(&http, url, &token).await);
            rmcps.push(common::rmcp_session(Some(&http), url, &token).await);
        }
    }
    let version = if stateless {
        ProtocolVersion::V2026_07_28
    } else {
        ProtocolVersion::V2025_11_25
    };
    let (ours, ids) = common::connector(url, USERS, 0, version);
    let session = ours.session(&ids[0]).await.expect("session");
    let warm = 2 * USERS;
    let figures = vec![
        count("raw_reqwest", warm, calls, |i| {
            let raw = &raws[i % USERS];
            async move {
                raw.call_tool().await;
            }
        })
        .await,
        count("connector", warm, calls, |i| {
            let (ours, user) = (&ours, &ids[i % USERS]);
            async move {
                let result = ours
                    .call_tool(user, common::TOOL, Value::Object(common::arguments()))
                    .await
                    .expect("connector call_tool");
                assert_ne!(result.is_error, Some(true));
            }
        })
        .await,
        count("session (one user)", warm, calls, |_| {
            let session = &session;
            async move {
                let result = session
                    .call_tool(common::TOOL, Value::Object(common::arguments()))
                    .await
                    .expect("session call_tool");
                assert_ne!(result.is_error, Some(true));
            }
        })
        .await,
        count("rmcp_shared_pool", warm, calls, |i| {
            let client = &rmcps[i % USERS];
            async move { common::rmcp_call_tool(client).await }
        })
        .await,
    ];
    for raw in &raws {
        raw.delete().await;
    }
    for id in &ids {
        let _ = ours.disconnect(id).await;
    }
    for client in rmcps {
        let _ = client.cancel().await;
    }
    figures
}

fn main() {
    if mock_process::serve_if_asked() {
        return;
    }
    let test = common::test_mode();
    let calls = if test { 50 } else { 2_000 };
    let mock = MockProcess::start(USERS);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for (stateless, title) in [
        (false, "session 2025-11-25"),
        (true, "stateless 2026-07-28"),
    ] {
        let figures = runtime.block_on(era(&mock.url, stateless, calls));
        println!(
            "\nallocations: tools/call, {title}, {calls} calls one at a time{}",
            if test { " (test mode)" } else { "" }
        );
        println!(
            "{:<20} {:>12} {:>8} {:>12} {:>8}",
            "client", "allocs/call", "÷ raw", "bytes/call", "÷ raw"
        );
        let raw = &figures[0];
        for f in &figures {
            println!(
                "{:<20} {:>12.1} {:>8.2} {:>12.0} {:>8.2}",
                f.name,
                f.allocations,
                f.allocations / raw.allocations,
                f.bytes,
                f.bytes / raw.bytes
            );
        }
        for f in &figures {
            // Every client allocates per call (a request, a parsed reply): a zero means the
            // counter is not in place.
            assert!(f.allocations >= 1.0, "{}: no allocations counted", f.name);
        }
    }
    drop(mock);
}

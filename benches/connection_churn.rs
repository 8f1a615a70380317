//! New TCP connections per second to an outside server, many users through one [`Connector`]
//! vs raw `reqwest`, measured in the same run against the same server.
//!
//! The server is `common/upstream_process.rs`: an MCP server shaped like a production one, in a
//! process of its own, that counts the connections it accepts. Its SSE replies end a few
//! milliseconds after their response event (`--end-delay-ms=N`, default 5), as a loaded server
//! closes its streams. Each client has one pool for all its users; every session is opened and
//! the pool warmed (a round of the same load, not counted) before counting. Then `users`
//! callers call `tools/call list_incidents` in a loop, and the connections the server accepted
//! meanwhile are divided by the wall time. In production
//! each new connection is a TCP and TLS handshake: a client that cannot keep its connections
//! pays them on the hot path. A new connection while another one closed is one a client gave up
//! and opened again ("replaced"): the bench asserts that the connector replaces no more
//! connections than raw `reqwest` in every scenario, and opens no more beyond what a pool may
//! still grow under load (2 + one per 2 users).
//!
//! `cargo bench -p pagerduty-mcp-connect-benches --bench connection_churn` (64 and 512 users,
//! SSE and JSON replies, both eras); `-- --test` (and `cargo test`) runs it with 16 users.
//! `--rounds=N` (default 3), `--calls-per-user=N` (default 6400 ÷ users), `--each-round`
//! (each client's round as it ends: new connections, those open at the server, this process's
//! sockets); other arguments filter the scenarios (`512/session/sse`, `64/stateless/json` …).

#[path = "common/mod.rs"]
mod common;
#[path = "common/upstream_process.rs"]
mod upstream_process;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Raw;
use pagerduty_mcp_connect::{Connector, ProtocolVersion, UserId};
use serde_json::Value;
use upstream_process::{Replies, UpstreamProcess};

/// How long the server's SSE replies stay open after their response event, by default: a
/// loaded server's event loop gets to closing the stream a few milliseconds later.
const DEFAULT_END_DELAY_MS: u64 = 5;

/// One client's way of making user `i`'s call.
#[derive(Clone)]
enum Client {
    Raw(Arc<Vec<Raw>>),
    Connector(Connector, Arc<Vec<UserId>>),
}

impl Client {
    fn name(&self) -> &'static str {
        match self {
            Client::Raw(_) => "raw_reqwest",
            Client::Connector(..) => "connector",
        }
    }

    async fn call(&self, i: usize) {
        match self {
            Client::Raw(raws) => {
                raws[i].call_tool().await;
            }
            Client::Connector(connector, ids) => {
                let result = connector
                    .call_tool(&ids[i], common::TOOL, Value::Object(common::arguments()))
                    .await
                    .expect("connector call_tool");
                assert_ne!(result.is_error, Some(true));
            }
        }
    }
}

/// `callers` tasks, caller `i` calling `per_caller` times; the wall time.
async fn drive(client: &Client, callers: usize, per_caller: usize) -> Duration {
    let start = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                for _ in 0..per_caller {
                    client.call(i).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("caller task");
    }
    start.elapsed()
}

#[derive(Default)]
struct Tally {
    calls: usize,
    wall: Duration,
    connections: u64,
    replaced: u64,
}

impl Tally {
    fn per_s(&self, n: f64) -> f64 {
        n / self.wall.as_secs_f64()
    }
}

async fn scenario(
    upstream: &mut UpstreamProcess,
    replies: Replies,
    users: usize,
    version: ProtocolVersion,
    per_caller: usize,
    rounds: usize,
) {
    let url = upstream.url.clone();
    let http = reqwest::Client::new();
    let mut raws = Vec::with_capacity(users);
    for i in 0..users {
        let token = common::token_of(i);
        raws.push(if version.is_stateless() {
            Raw::stateless(&http, &url, &token)
        } else {
            Raw::session(&http, &url, &token).await
        });
    }
    let (connector, ids) = common::connector(&url, users, 0, version);
    let clients = [
        Client::Raw(Arc::new(raws)),
        Client::Connector(connector.clone(), Arc::new(ids.clone())),
    ];
    // Open every session, then warm every pool with a round of the same load, not counted: a
    // pool grows past one connection per caller under load (a request that finds no idle
    // connection starts a new one even if another comes back meanwhile), then stays.
    for client in &clients {
        drive(client, users, 1).await;
        drive(client, users, per_caller).await;
    }
    let mut tallies: Vec<Tally> = clients.iter().map(|_| Tally::default()).collect();
    for round in 0..rounds {
        for k in 0..clients.len() {
            let i = (round + k) % clients.len();
            let (before, open_before) = upstream.connections();
            let wall = drive(&clients[i], users, per_caller).await;
            let (after, open) = upstream.connections();
            // Connections that ended meanwhile (a client gave them up, or an earlier
            // scenario's pool is being torn down).
            let closed = (open_before + (after - before)).saturating_sub(open);
            // New connections that replaced closed ones: churn. A new one while none closed
            // is the pool growing; a closed one while none opened is not this client's.
            let replaced = closed.min(after - before);
            if std::env::args().any(|a| a == "--each-round") {
                println!(
                    "  round {round} {:<12} {:>4} new connections, {closed} closed, {replaced} replaced, {open} open at the server, {} sockets here",
                    clients[i].name(),
                    after - before,
                    common::open_sockets().unwrap_or(0)
                );
            }
            let tally = &mut tallies[i];
            tally.calls += users * per_caller;
            tally.wall += wall;
            tally.connections += after - before;
            tally.replaced += replaced;
        }
    }
    println!(
        "\nconnection_churn: {users} users, {} replies, {version} ({rounds} rounds of {users} x {per_caller} calls)",
        match replies {
            Replies::Sse => "SSE",
            Replies::Json => "JSON",
        }
    );
    println!(
        "{:<14} {:>10} {:>16} {:>18} {:>9} {:>10}",
        "client", "calls/s", "new connections", "new connections/s", "replaced", "replaced/s"
    );
    for (client, tally) in clients.iter().zip(&tallies) {
        println!(
            "{:<14} {:>10.0} {:>16} {:>18.1} {:>9} {:>10.1}",
            client.name(),
            tally.per_s(tally.calls as f64),
            tally.connections,
            tally.per_s(tally.connections as f64),
            tally.replaced,
            tally.per_s(tally.replaced as f64)
        );
    }
    // A pool may still grow under load (a request that finds no idle connection starts one
    // even if another comes back meanwhile) and keeps what it opened: a new connection is churn
    // when it replaces one that closed. So the connector replaces no more connections than raw,
    // and opens no more beyond that growth: a few per cent of the callers in a round on an idle
    // machine, up to one per caller when the CPU is shared (a caller reading a reply's end
    // holds its connection meanwhile; the test-mode run of CI has other builds beside it).
    let (raw, ours) = (&tallies[0], &tallies[1]);
    assert!(
        ours.replaced <= raw.replaced + 2,
        "{users} users, {replies:?}, {version}: the connector replaced {} closed connections (opened {}), raw reqwest {} (opened {})",
        ours.replaced,
        ours.connections,
        raw.replaced,
        raw.connections
    );
    let growth = 2 + users as u64;
    assert!(
        ours.connections <= raw.connections + growth,
        "{users} users, {replies:?}, {version}: the connector opened {} new connections, raw reqwest {}",
        ours.connections,
        raw.connections
    );
    if let Client::Raw(raws) = &clients[0] {
        for raw in raws.iter() {
            raw.delete().await;
        }
    }
    for id in &ids {
        let _ = connector.disconnect(id).await;
    }
}

fn main() {
    if upstream_process::serve_if_asked() {
        return;
    }
    let test = common::test_mode();
    let user_counts: &[usize] = if test { &[16] } else { &[64, 512] };
    let rounds = std::env::args()
        .find_map(|arg| arg.strip_prefix("--rounds=")?.parse().ok())
        .unwrap_or(if test { 1 } else { 3 });
    let per_caller_override: Option<usize> =
        std::env::args().find_map(|arg| arg.strip_prefix("--calls-per-user=")?.parse().ok());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let end_delay = Duration::from_millis(
        std::env::args()
            .find_map(|arg| arg.strip_prefix("--end-delay-ms=")?.parse().ok())
            .unwrap_or(DEFAULT_END_DELAY_MS),
    );
    println!(
        "connection_churn: {} cores, SSE replies end {} ms after their response event{}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        end_delay.as_millis(),
        if test {
            ", test mode (counts too small to read)"
        } else {
            ""
        }
    );
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f));
    for replies in [Replies::Sse, Replies::Json] {
        let mut upstream = UpstreamProcess::start(replies, end_delay);
        runtime.block_on(async {
            for version in [ProtocolVersion::V2025_11_25, ProtocolVersion::V2026_07_28] {
                for &users in user_counts {
                    let era = if version.is_stateless() {
                        "stateless"
                    } else {
                        "session"
                    };
                    let kind = if replies == Replies::Sse {
                        "sse"
                    } else {
                        "json"
                    };
                    if !wanted(&format!("{users}/{era}/{kind}")) {
                        continue;
                    }
                    let per_caller = per_caller_override.unwrap_or(if test {
                        4
                    } else {
                        (6400 / users).max(10)
                    });
                    scenario(&mut upstream, replies, users, version, per_caller, rounds).await;
                }
            }
        });
    }
}

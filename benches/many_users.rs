//! Many users through one client, and many callers on one session, against raw `reqwest` and
//! `rmcp` measured in the same run on the same embedded mock.
//!
//! * `many_users`: 64 and 512 concurrent users, one caller each with its own token, each making
//!   `tools/call list_incidents` in a loop, in both eras:
//!   - `raw_reqwest`: one `reqwest` pool, a hand-made session per user (the floor);
//!   - `connector`: one [`Connector`] for all users (this crate);
//!   - `rmcp_shared_pool`: one `rmcp` client per user over one shared `reqwest` pool;
//!   - `rmcp_default`: one `rmcp` client per user with its default HTTP client (no idle pooling).
//! * `shared_session`: 64 callers on one session (`Session`, and `Connector` with one user) vs
//!   64 callers on one raw session and one rmcp client.
//!
//! Sessions are opened and every connection warmed before timing; each round runs the clients
//! one after the other, each round starting one client later, so that a slow patch of the
//! machine, or what one client leaves behind (rmcp_default's closed connections being torn
//! down), does not always fall on the same client. Printed: calls/s, p50/p99 latency, and
//! ratios to `raw_reqwest` (and rmcp).
//!
//! `cargo bench -p pagerduty-mcp-connect-benches --bench many_users` (about 2 minutes on 2 cores);
//! `-- --test` runs it once with a handful of users. Other arguments filter the scenarios by
//! name (`many_users/512/session`, `many_users/64/stateless`, `shared_session`): only those
//! containing one of them run, e.g. `-- 512/session`; `--rounds=N` sets the number of rounds
//! (default 3); `--clients=raw_reqwest,connector` runs only the clients named (to profile one);
//! `--calls-per-user=N` sets each many-users caller's calls per round (default 6400 ÷ users);
//! `--each-round` prints every client's round as it ends (calls/s, CPU per call, the sockets
//! open and those left in `TIME_WAIT`).
//!
//! The mock runs in this process on a runtime and threads of its own. "CPU µs/call" is the
//! process's CPU time over a client's run, the mock's threads left out, divided by its calls:
//! what one call costs the client side (clients, runtime, kernel work done on their threads).
//! Calls/s also depends on the mock and on how the two share the cores.

#[path = "common/mod.rs"]
mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Percentiles, Raw, RmcpClient};
use pagerduty_mcp_connect::{Connector, ProtocolVersion, UserId};
use pagerduty_mcp_connect_mock::{MockPagerDuty, ResponseMode};
use serde_json::Value;

type Call = Arc<dyn Fn(usize) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

struct Outcome {
    calls: usize,
    wall: Duration,
    latency: Percentiles,
    /// CPU time of the process, the mock's threads left out, during the run.
    cpu: Option<Duration>,
}

/// The client side's CPU time so far: the whole process's but the mock runtime's threads.
fn client_cpu() -> Option<Duration> {
    common::process_cpu()?.checked_sub(common::threads_cpu(MOCK_THREADS)?)
}

/// The name of the mock runtime's threads.
const MOCK_THREADS: &str = "mock-";

impl Outcome {
    fn calls_per_s(&self) -> f64 {
        self.calls as f64 / self.wall.as_secs_f64()
    }

    /// Client CPU microseconds per call (NaN off Linux).
    fn cpu_us_per_call(&self) -> f64 {
        self.cpu
            .map_or(f64::NAN, |cpu| cpu.as_secs_f64() * 1e6 / self.calls as f64)
    }
}

/// `callers` tasks, caller `i` calling `call(i)` `per_caller` times.
async fn drive(call: &Call, callers: usize, per_caller: usize) -> Outcome {
    let cpu_before = client_cpu();
    let start = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|i| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_caller);
                for _ in 0..per_caller {
                    let began = Instant::now();
                    call(i).await;
                    latencies.push(began.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(callers * per_caller);
    for task in tasks {
        latencies.extend(task.await.expect("caller task"));
    }
    let wall = start.elapsed();
    // Readings in 10 ms ticks, the mock's threads read a moment after the process: over a
    // short run the difference may come out below zero.
    let cpu = client_cpu()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    Outcome {
        calls: latencies.len(),
        wall,
        latency: common::percentiles(&mut latencies),
        cpu,
    }
}

fn connector_call(connector: Connector, ids: Arc<Vec<UserId>>) -> Call {
    Arc::new(move |i| {
        let (connector, ids) = (connector.clone(), ids.clone());
        Box::pin(async move {
            let result = connector
                .call_tool(&ids[i], common::TOOL, Value::Object(common::arguments()))
                .await
                .expect("connector call_tool");
            assert_ne!(result.is_error, Some(true));
        })
    })
}

fn raw_call(raws: Arc<Vec<Raw>>) -> Call {
    Arc::new(move |i| {
        let raws = raws.clone();
        Box::pin(async move {
            raws[i].call_tool().await;
        })
    })
}

fn rmcp_call(clients: Arc<Vec<RmcpClient>>) -> Call {
    Arc::new(move |i| {
        let clients = clients.clone();
        Box::pin(async move { common::rmcp_call_tool(&clients[i]).await })
    })
}

/// Checks that one call of `call` is one HTTP request (nobody caches or adds requests).
async fn one_request_per_call(mock: &MockPagerDuty, name: &str, call: &Call) {
    mock.clear_requests();
    call(0).await;
    let sent = mock.requests().len();
    assert_eq!(sent, 1, "{name}: one call sent {sent} HTTP requests");
}

struct Row {
    name: &'static str,
    calls_per_s: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    cpu_us: Vec<f64>,
}

impl Row {
    fn new(name: &'static str) -> Self {
        Row {
            name,
            calls_per_s: Vec::new(),
            p50: Vec::new(),
            p99: Vec::new(),
            cpu_us: Vec::new(),
        }
    }

    fn push(&mut self, outcome: &Outcome) {
        self.calls_per_s.push(outcome.calls_per_s());
        self.p50.push(common::ms(outcome.latency.p50));
        self.p99.push(common::ms(outcome.latency.p99));
        self.cpu_us.push(outcome.cpu_us_per_call());
    }

    fn medians(&self) -> (f64, f64, f64, f64) {
        (
            common::median(&mut self.calls_per_s.clone()),
            common::median(&mut self.p50.clone()),
            common::median(&mut self.p99.clone()),
            common::median(&mut self.cpu_us.clone()),
        )
    }
}

/// Runs `clients` for `rounds` rounds and prints the table, ratios to the first one.
async fn compare(
    title: &str,
    clients: &[(&'static str, Call)],
    callers: usize,
    per_caller: usize,
    rounds: usize,
) {
    let only: Option<Vec<String>> = std::env::args().find_map(|arg| {
        let names = arg.strip_prefix("--clients=")?;
        Some(names.split(',').map(str::to_owned).collect())
    });
    let clients: Vec<&(&'static str, Call)> = clients
        .iter()
        .filter(|(name, _)| {
            only.as_ref()
                .is_none_or(|only| only.iter().any(|o| o == name))
        })
        .collect();
    let mut rows: Vec<Row> = clients.iter().map(|(name, _)| Row::new(name)).collect();
    let each_round = std::env::args().any(|arg| arg == "--each-round");
    for round in 0..rounds {
        // Each round starts one client later, so that no client always follows the same one.
        for k in 0..clients.len() {
            let i = (round + k) % clients.len();
            let outcome = drive(&clients[i].1, callers, per_caller).await;
            if each_round {
                println!(
                    "  round {round} {:<18} {:>8.0} calls/s {:>7.1} µs CPU/call, after: {} sockets open, {} in TIME_WAIT",
                    clients[i].0,
                    outcome.calls_per_s(),
                    outcome.cpu_us_per_call(),
                    common::open_sockets().map_or("?".into(), |n| n.to_string()),
                    common::sockets_in_time_wait().map_or("?".into(), |n| n.to_string()),
                );
            }
            rows[i].push(&outcome);
        }
    }
    println!("\n{title} ({callers} callers x {per_caller} calls, median of {rounds} rounds)");
    println!(
        "{:<20} {:>10} {:>9} {:>9} {:>13} {:>11} {:>13}",
        "client", "calls/s", "p50 ms", "p99 ms", "calls/s ÷ 1st", "p99 ÷ 1st", "CPU µs/call"
    );
    let (base_rate, _, base_p99, _) = rows[0].medians();
    for row in &rows {
        let (rate, p50, p99, cpu_us) = row.medians();
        println!(
            "{:<20} {:>10.0} {:>9.2} {:>9.2} {:>13.2} {:>11.2} {:>13.1}",
            row.name,
            rate,
            p50,
            p99,
            rate / base_rate,
            p99 / base_p99,
            cpu_us
        );
    }
    let rate_of = |name: &str| {
        rows.iter()
            .find(|row| row.name == name)
            .map(|row| row.medians().0)
    };
    let (Some(ours), Some(raw)) = (
        rate_of("connector").or(rate_of("session")),
        rate_of("raw_reqwest"),
    ) else {
        return;
    };
    let mut summary = format!("  ours ÷ raw calls/s {:.2}", ours / raw);
    for other in ["rmcp_shared_pool", "rmcp_default", "rmcp"] {
        if let Some(rate) = rate_of(other) {
            summary += &format!(", ours ÷ {other} {:.2}", ours / rate);
        }
    }
    println!("{summary}");
    // The spread of the ratio between rounds: how much to trust the medians above.
    let row_of = |name: &str| rows.iter().find(|row| row.name == name);
    if let (Some(ours), Some(raw)) = (
        row_of("connector").or(row_of("session")),
        row_of("raw_reqwest"),
    ) {
        let mut per_round: Vec<f64> = ours
            .calls_per_s
            .iter()
            .zip(&raw.calls_per_s)
            .map(|(ours, raw)| ours / raw)
            .collect();
        let listed: Vec<String> = per_round.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "  ours ÷ raw calls/s per round: {} (median {:.2})",
            listed.join(" "),
            common::median(&mut per_round)
        );
    }
}

async fn many_users(
    mock: &MockPagerDuty,
    http: &reqwest::Client,
    users: usize,
    stateless: bool,
    per_caller: usize,
    rounds: usize,
) {
    let url = mock.url();
    let version = if stateless {
        ProtocolVersion::V2026_07_28
    } else {
        ProtocolVersion::V2025_11_25
    };
    let mut raws = Vec::with_capacity(users);
    let mut rmcp_shared = Vec::with_capacity(users);
    let mut rmcp_default = Vec::with_capacity(users);
    for i in 0..users {
        let token = common::token_of(i);
        if stateless {
            raws.push(Raw::stateless(http, &url, &token));
            rmcp_shared.push(common::rmcp_stateless(Some(http), &url, &token).await);
            rmcp_default.push(common::rmcp_stateless(None, &url, &token).await);
        } else {
            raws.push(Raw::session(http, &url, &token).await);
            rmcp_shared.push(common::rmcp_session(Some(http), &url, &token).await);
            rmcp_default.push(common::rmcp_session(None, &url, &token).await);
        }
    }
    let (ours, ids) = common::connector(&url, users, 0, version);
    let ids = Arc::new(ids);
    let (raws, rmcp_shared, rmcp_default) = (
        Arc::new(raws),
        Arc::new(rmcp_shared),
        Arc::new(rmcp_default),
    );
    let clients: Vec<(&'static str, Call)> = vec![
        ("raw_reqwest", raw_call(raws.clone())),
        ("connector", connector_call(ours.clone(), ids.clone())),
        ("rmcp_shared_pool", rmcp_call(rmcp_shared.clone())),
        ("rmcp_default", rmcp_call(rmcp_default.clone())),
    ];
    // Open every session and warm every pool; then check one call = one request.
    for (_, call) in &clients {
        drive(call, users, 1).await;
    }
    for (name, call) in &clients {
        one_request_per_call(mock, name, call).await;
    }
    let era = if stateless {
        "stateless 2026-07-28"
    } else {
        "session 2025-11-25"
    };
    compare(
        &format!("many_users: {users} users, {era}"),
        &clients,
        users,
        per_caller,
        rounds,
    )
    .await;
    drop(clients);
    for raw in raws.iter() {
        raw.delete().await;
    }
    for id in ids.iter() {
        let _ = ours.disconnect(id).await;
    }
    for clients in [rmcp_shared, rmcp_default] {
        if let Ok(clients) = Arc::try_unwrap(clients) {
            for client in clients {
                let _ = client.cancel().await;
            }
        }
    }
}

async fn shared_session(
    mock: &MockPagerDuty,
    http: &reqwest::Client,
    callers: usize,
    per_caller: usize,
    rounds: usize,
) {
    let url = mock.url();
    let token = common::token_of(0);
    let raw = Arc::new(Raw::session(http, &url, &token).await);
    let rmcp_client = Arc::new(common::rmcp_session(Some(http), &url, &token).await);
    let (ours, _) = common::connector(&url, 1, 0, ProtocolVersion::V2025_11_25);
    let alice = UserId::from("user-0");
    let session = ours.session(&alice).await.expect("session");
    let raw_one: Call = {
        let raw = raw.clone();
        Arc::new(move |_| {
            let raw = raw.clone();
            Box::pin(async move {
                raw.call_tool().await;
            })
        })
    };
    let session_one: Call = {
        let session = session.clone();
        Arc::new(move |_| {
            let session = session.clone();
            Box::pin(async move {
                let result = session
                    .call_tool(common::TOOL, Value::Object(common::arguments()))
                    .await
                    .expect("call_tool");
                assert_ne!(result.is_error, Some(true));
            })
        })
    };
    let ids = Arc::new(vec![alice.clone(); callers]);
    let rmcp_one: Call = {
        let client = rmcp_client.clone();
        Arc::new(move |_| {
            let client = client.clone();
            Box::pin(async move { common::rmcp_call_tool(&client).await })
        })
    };
    let clients: Vec<(&'static str, Call)> = vec![
        ("raw_reqwest", raw_one),
        ("session", session_one),
        ("connector", connector_call(ours.clone(), ids)),
        ("rmcp", rmcp_one),
    ];
    for (_, call) in &clients {
        drive(call, callers, 1).await;
    }
    for (name, call) in &clients {
        one_request_per_call(mock, name, call).await;
    }
    compare(
        &format!("shared_session: {callers} callers on one session, session 2025-11-25"),
        &clients,
        callers,
        per_caller,
        rounds,
    )
    .await;
    drop(clients);
    raw.delete().await;
    let _ = ours.disconnect(&alice).await;
    if let Ok(client) = Arc::try_unwrap(rmcp_client) {
        let _ = client.cancel().await;
    }
}

fn main() {
    let test = common::test_mode();
    let user_counts: &[usize] = if test { &[4, 16] } else { &[64, 512] };
    let max_users = *user_counts.iter().max().expect("counts");
    // The mock runs on threads of its own, as a remote server would, so that the clients'
    // CPU time can be told from its own and its tasks never queue behind a client's.
    let mock_runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name(format!("{MOCK_THREADS}worker"))
        .enable_all()
        .build()
        .expect("mock runtime");
    let mock = mock_runtime
        .block_on(
            MockPagerDuty::builder()
                .response_mode(ResponseMode::Json)
                .max_recorded_requests(16)
                .start(),
        )
        .expect("mock");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("client-worker")
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for i in 0..max_users {
            assert!(mock.add_token(MockPagerDuty::DEMO_USER_ID, common::token_of(i)));
        }
        let http = reqwest::Client::builder().build().expect("reqwest client");
        println!(
            "many_users: {} cores, {}",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            if test {
                "test mode (counts too small to read)"
            } else {
                "full run"
            }
        );
        let rounds = std::env::args()
            .find_map(|arg| arg.strip_prefix("--rounds=")?.parse().ok())
            .unwrap_or(if test { 1 } else { 3 });
        let per_caller_override: Option<usize> =
            std::env::args().find_map(|arg| arg.strip_prefix("--calls-per-user=")?.parse().ok());
        let filters: Vec<String> = std::env::args()
            .skip(1)
            .filter(|arg| !arg.starts_with("--"))
            .collect();
        let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f));
        for &stateless in &[false, true] {
            for &users in user_counts {
                let era = if stateless { "stateless" } else { "session" };
                if !wanted(&format!("many_users/{users}/{era}")) {
                    continue;
                }
                // About the same number of calls per run whatever the user count.
                let per_caller =
                    per_caller_override.unwrap_or(if test { 2 } else { (6400 / users).max(10) });
                many_users(&mock, &http, users, stateless, per_caller, rounds).await;
            }
        }
        let (callers, per_caller) = if test { (8, 2) } else { (64, 100) };
        if wanted("shared_session") {
            shared_session(&mock, &http, callers, per_caller, rounds).await;
        }
    });
    mock_runtime.block_on(mock.shutdown());
}

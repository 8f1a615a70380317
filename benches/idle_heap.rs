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

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::Raw;
use pagerduty_mcp_connect::testing::{MockPagerDuty, ResponseMode};
use pagerduty_mcp_connect::{
    AuthScheme, Connector, GenericServer, InMemoryCredentialStore, ProtocolPreference,
    ProtocolVersion, UserId,
};
use serde_json::Value;
use tokio::sync::Semaphore;
use url::Url;

/// The system allocator, counting the bytes live at any time.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Users warming the pool (not counted).
const WARM: usize = 64;
/// Calls in flight at once while users arrive.
const IN_FLIGHT: usize = 64;

/// The child process: a mock accepting `tokens` bench tokens; prints its URL, serves until its
/// standard input closes.
fn serve_mock(tokens: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mock = MockPagerDuty::builder()
            .response_mode(ResponseMode::Json)
            .max_recorded_requests(0)
            .start()
            .await
            .expect("mock");
        for i in 0..tokens {
            assert!(mock.add_token(MockPagerDuty::DEMO_USER_ID, common::token_of(i)));
        }
        println!("{}", mock.url());
        std::io::stdout().flush().expect("stdout");
        tokio::task::spawn_blocking(|| {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        })
        .await
        .expect("stdin");
        mock.shutdown().await;
    });
}

struct MockProcess {
    child: Child,
    url: Url,
}

impl MockProcess {
    fn start(tokens: usize) -> MockProcess {
        let mut child = Command::new(std::env::current_exe().expect("own path"))
            .args(["--serve-mock", &tokens.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the mock process");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the mock's URL");
        let url = Url::parse(line.trim()).expect("a URL");
        MockProcess { child, url }
    }
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        drop(self.child.stdin.take()); // the child stops when its stdin closes
        let _ = self.child.wait();
    }
}

fn connector(url: &Url, users: usize, version: ProtocolVersion) -> (Connector, Vec<UserId>) {
    let store = InMemoryCredentialStore::new();
    let ids: Vec<UserId> = (0..users)
        .map(|i| UserId::from(format!("user-{i:06}")))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        store.insert(id.clone(), common::token_of(i));
    }
    let server =
        GenericServer::new("mock", url.as_str(), AuthScheme::token()).expect("loopback endpoint");
    let connector = Connector::builder()
        .server(server)
        .credentials(store)
        .configure_client(move |client| client.protocol(ProtocolPreference::Exact(version)))
        .build()
        .expect("connector");
    (connector, ids)
}

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
    name: &'static str,
    per_session: f64,
    sockets: Option<usize>,
}

/// Lets spawned clean-ups finish and freed buffers go back.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

async fn measure_connector(url: &Url, n: usize, version: ProtocolVersion) -> Figures {
    let (connector, ids) = connector(url, WARM + n, version);
    let (warm, users) = ids.split_at(WARM);
    connector_calls(&connector, warm).await;
    for user in warm {
        connector.disconnect(user).await.expect("disconnect");
    }
    settle().await;
    let before = live();
    connector_calls(&connector, users).await;
    settle().await;
    let after = live();
    let sockets = common::open_sockets();
    assert_eq!(connector.active_users(), n);
    for user in users {
        let _ = connector.disconnect(user).await;
    }
    Figures {
        name: if version.is_stateless() {
            "connector, stateless 2026-07-28"
        } else {
            "connector, session 2025-11-25"
        },
        per_session: (after as f64 - before as f64) / n as f64,
        sockets,
    }
}

async fn measure_raw(url: &Url, n: usize) -> Figures {
    let http = reqwest::Client::new();
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
    settle().await;
    let before = live();
    let raws = open(WARM..WARM + n).await;
    settle().await;
    let after = live();
    let sockets = common::open_sockets();
    for raw in &raws {
        raw.delete().await;
    }
    Figures {
        name: "raw_reqwest, session 2025-11-25",
        per_session: (after as f64 - before as f64) / n as f64,
        sockets,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--serve-mock") {
        let tokens = args[at + 1].parse().expect("a token count");
        return serve_mock(tokens);
    }
    let test = common::test_mode();
    let n = if test { 200 } else { 10_000 };
    let mock = MockProcess::start(WARM + n);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let figures = runtime.block_on(async {
        let sockets_at_start = common::open_sockets();
        let figures = vec![
            measure_raw(&mock.url, n).await,
            measure_connector(&mock.url, n, ProtocolVersion::V2025_11_25).await,
            measure_connector(&mock.url, n, ProtocolVersion::V2026_07_28).await,
        ];
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
        "{:<34} {:>16} {:>12} {:>14}",
        "client", "bytes/session", "÷ raw", "TCP sockets"
    );
    let raw = figures[0].per_session;
    for f in &figures {
        let sockets = match (f.sockets, sockets_at_start) {
            (Some(now), Some(start)) => format!("{}", now.saturating_sub(start)),
            _ => "n/a".to_owned(),
        };
        println!(
            "{:<34} {:>16.0} {:>12.2} {:>14}",
            f.name,
            f.per_session,
            f.per_session / raw,
            sockets
        );
    }
    println!("  budget: 1024 bytes per idle session; sockets bounded by the pool and the {IN_FLIGHT} calls in flight");
    for f in &figures {
        if let (Some(now), Some(start)) = (f.sockets, sockets_at_start) {
            // The pool (this crate's and the raw one) plus the calls in flight, never the users.
            assert!(
                now.saturating_sub(start) <= 2 * IN_FLIGHT + 8,
                "{}: {now} sockets open for {n} users",
                f.name
            );
        }
        if !test && f.name.starts_with("connector") {
            assert!(
                f.per_session <= 1024.0,
                "{}: {:.0} bytes per idle session",
                f.name,
                f.per_session
            );
        }
    }
    drop(mock);
}

//! What a new user costs: HTTP round trips, counted by the embedded mock's own request log, and
//! time, for this crate's [`Connector`] vs a hand-made `reqwest` client and `rmcp`, per era.
//!
//! Each scenario brings `N` new users one after the other (each with their own token); a new
//! user's cost is everything until their first `tools/call list_incidents` has its answer:
//! opening the session (if any) and the call. Round trips are the POSTs the mock received for
//! that user (an rmcp client's background GET stream is not on the user's path and not counted).
//!
//! Scenarios:
//! * `stateless, era known`: the connector already served a user on this endpoint.
//! * `session, era known`: the same in the session era.
//! * `auto, new connector`: every user comes through a *new* connector with
//!   `ProtocolPreference::Auto` (a new process, or another connector on the same endpoint); with
//!   `share_negotiation`, later connectors reuse the era that an earlier one found.
//!
//! `cargo bench -p pagerduty-mcp-connect-benches --bench new_user`; `-- --test` runs it once.

#[path = "common/mod.rs"]
mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use common::Raw;
use pagerduty_mcp_connect::{
    AuthScheme, Connector, GenericServer, InMemoryCredentialStore, McpClientBuilder,
    ProtocolPreference, ProtocolVersion, UserId,
};
use pagerduty_mcp_connect_mock::{Eras, MockPagerDuty, ResponseMode};
use serde_json::Value;
use url::Url;

/// Tokens handed out so far (each new user gets the next one).
struct Tokens {
    next: usize,
}

impl Tokens {
    fn take(&mut self) -> (UserId, String) {
        let i = self.next;
        self.next += 1;
        (UserId::from(format!("user-{i}")), common::token_of(i))
    }
}

/// Mean time and POSTs per new user.
struct Cost {
    time: Duration,
    posts: f64,
}

/// Runs `new_user` `n` times and measures each: the time it takes, and the POSTs `mock` saw.
async fn measure<F, Fut, K>(mock: &MockPagerDuty, n: usize, mut new_user: F) -> (Cost, Vec<K>)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = K>,
{
    let mut total = Duration::ZERO;
    let mut posts = 0usize;
    let mut keep = Vec::with_capacity(n);
    for _ in 0..n {
        mock.clear_requests();
        let start = Instant::now();
        keep.push(new_user().await);
        total += start.elapsed();
        posts += mock
            .requests()
            .iter()
            .filter(|r| r.http_method == "POST")
            .count();
    }
    (
        Cost {
            time: total / n as u32,
            posts: posts as f64 / n as f64,
        },
        keep,
    )
}

fn server(url: &Url) -> GenericServer {
    GenericServer::new("mock", url.as_str(), AuthScheme::token()).expect("loopback endpoint")
}

fn connector(
    url: &Url,
    store: &InMemoryCredentialStore,
    configure: impl FnOnce(McpClientBuilder) -> McpClientBuilder + Send + 'static,
) -> Connector {
    Connector::builder()
        .server(server(url))
        .credentials(store.clone())
        .configure_client(configure)
        .build()
        .expect("connector")
}

async fn first_call(connector: &Connector, user: &UserId) {
    let result = connector
        .call_tool(user, common::TOOL, Value::Object(common::arguments()))
        .await
        .expect("call_tool");
    assert_ne!(result.is_error, Some(true));
}

fn print_header(title: &str, n: usize) {
    println!("\n{title} (mean over {n} new users)");
    println!(
        "{:<34} {:>12} {:>10} {:>10}",
        "client", "round trips", "time ms", "time ÷ raw"
    );
}

fn print_row(name: &str, cost: &Cost, raw: &Cost) {
    println!(
        "{:<34} {:>12.2} {:>10.3} {:>10.2}",
        name,
        cost.posts,
        common::ms(cost.time),
        cost.time.as_secs_f64() / raw.time.as_secs_f64()
    );
}

/// A new user on an endpoint whose era the connector already knows.
async fn era_known(
    mock: &MockPagerDuty,
    http: &reqwest::Client,
    tokens: &mut Tokens,
    n: usize,
    stateless: bool,
) {
    let url = mock.url();
    let version = if stateless {
        ProtocolVersion::V2026_07_28
    } else {
        ProtocolVersion::V2025_11_25
    };
    let store = InMemoryCredentialStore::new();
    let ours = connector(&url, &store, move |c| {
        c.protocol(ProtocolPreference::Exact(version))
    });
    // Warm the pools and let the connector learn the endpoint with a first user.
    let (first, token) = tokens.take();
    store.insert(first.clone(), token.clone());
    first_call(&ours, &first).await;
    let warm = Raw::stateless(http, &url, &token);
    warm.call_tool().await;
    let _ = common::rmcp_call_tool(&common::rmcp_session(Some(http), &url, &token).await).await;

    let (raw, raws) = measure(mock, n, || {
        let (_, token) = tokens.take();
        let url = url.clone();
        async move {
            let raw = if stateless {
                Raw::stateless(http, &url, &token)
            } else {
                Raw::session(http, &url, &token).await
            };
            raw.call_tool().await;
            raw
        }
    })
    .await;
    let (rmcp, rmcps) = measure(mock, n, || {
        let (_, token) = tokens.take();
        let url = url.clone();
        async move {
            let client = if stateless {
                common::rmcp_stateless(Some(http), &url, &token).await
            } else {
                common::rmcp_session(Some(http), &url, &token).await
            };
            common::rmcp_call_tool(&client).await;
            client
        }
    })
    .await;
    let (connector_cost, users) = measure(mock, n, || {
        let (user, token) = tokens.take();
        store.insert(user.clone(), token);
        let ours = &ours;
        async move {
            first_call(ours, &user).await;
            user
        }
    })
    .await;
    let era = if stateless {
        "stateless 2026-07-28"
    } else {
        "session 2025-11-25"
    };
    print_header(&format!("new_user: {era}, era known"), n);
    print_row("raw_reqwest", &raw, &raw);
    print_row("rmcp (shared pool)", &rmcp, &raw);
    print_row("connector", &connector_cost, &raw);
    // The protocol minimum: the call alone, or initialize + initialized + the call.
    let minimum = if stateless { 1.0 } else { 3.0 };
    assert_eq!(
        connector_cost.posts, minimum,
        "a new user costs more than the protocol minimum"
    );
    for raw in raws {
        raw.delete().await;
    }
    for client in rmcps {
        let _ = client.cancel().await;
    }
    for user in users.iter().chain([&first]) {
        let _ = ours.disconnect(user).await;
    }
}

/// Every user through a new `Auto` connector (`share` = `share_negotiation(true)`).
async fn new_connector(mock: &MockPagerDuty, tokens: &mut Tokens, n: usize, share: bool) -> Cost {
    let url = mock.url();
    let (cost, kept) = measure(mock, n, || {
        let (user, token) = tokens.take();
        let store = InMemoryCredentialStore::new();
        store.insert(user.clone(), token);
        let ours = connector(&url, &store, move |c| {
            c.protocol(ProtocolPreference::Auto)
                .share_negotiation(share)
        });
        async move {
            first_call(&ours, &user).await;
            (ours, user)
        }
    })
    .await;
    for (ours, user) in kept {
        let _ = ours.disconnect(&user).await;
    }
    cost
}

async fn auto_new_connector(
    mock: &MockPagerDuty,
    http: &reqwest::Client,
    tokens: &mut Tokens,
    n: usize,
    label: &str,
    raw_stateless: bool,
) {
    let url = mock.url();
    let (raw, raws) = measure(mock, n, || {
        let (_, token) = tokens.take();
        let url = url.clone();
        async move {
            let raw = if raw_stateless {
                Raw::stateless(http, &url, &token)
            } else {
                Raw::session(http, &url, &token).await
            };
            raw.call_tool().await;
            raw
        }
    })
    .await;
    for raw in raws {
        raw.delete().await;
    }
    let alone = new_connector(mock, tokens, n, false).await;
    // The first connector that shares finds the era; those after it do not probe.
    new_connector(mock, tokens, 1, true).await;
    let shared = new_connector(mock, tokens, n, true).await;
    print_header(
        &format!("new_user: auto, a new connector per user, {label}"),
        n,
    );
    print_row("raw_reqwest (knows the era)", &raw, &raw);
    print_row("connector", &alone, &raw);
    print_row("connector, share_negotiation", &shared, &raw);
    // No probe (and no discover) once another connector in the process found the era.
    let minimum = if raw_stateless { 1.0 } else { 3.0 };
    assert_eq!(shared.posts, minimum, "share_negotiation still probes");
}

fn main() {
    let test = common::test_mode();
    let n = if test { 3 } else { 200 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let both = start(Eras::Both).await;
        let session_only = start(Eras::SessionOnly).await;
        let mut tokens = Tokens { next: 0 };
        let needed = 16 * n + 16;
        for i in 0..needed {
            for mock in [&both, &session_only] {
                assert!(mock.add_token(MockPagerDuty::DEMO_USER_ID, common::token_of(i)));
            }
        }
        let http = reqwest::Client::builder().build().expect("reqwest client");
        println!(
            "new_user: {}",
            if test {
                "test mode (counts too small to read)"
            } else {
                "full run"
            }
        );
        era_known(&both, &http, &mut tokens, n, true).await;
        era_known(&both, &http, &mut tokens, n, false).await;
        auto_new_connector(&both, &http, &mut tokens, n, "dual-era endpoint", true).await;
        auto_new_connector(
            &session_only,
            &http,
            &mut tokens,
            n,
            "session-era-only endpoint",
            false,
        )
        .await;
        assert!(tokens.next <= needed);
        both.shutdown().await;
        session_only.shutdown().await;
    });
}

async fn start(eras: Eras) -> MockPagerDuty {
    MockPagerDuty::builder()
        .eras(eras)
        .response_mode(ResponseMode::Json)
        .max_recorded_requests(64)
        .start()
        .await
        .expect("mock")
}

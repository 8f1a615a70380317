//! The cost of the gateway's extra hop, as ratios measured in one run, and 512 concurrent users
//! through one gateway.
//!
//! Three paths to the same upstream (the embedded mock PagerDuty MCP server), each driven by the
//! same agent (this crate's MCP client, one session, `tools/call get_user_data` in a loop):
//!
//! * `direct`: agent → upstream (the agent holds the PagerDuty token);
//! * `proxy`: agent → a minimal hand-written pass-through proxy → upstream. It swaps
//!   `Authorization: Bearer <key>` for `Token <token>` and copies the rest byte for byte: the floor
//!   for one extra hop;
//! * `gateway`: agent → [`Gateway`] (key check, policy, a `Connector` session per user,
//!   metrics, log line; a plain `tools/call` answered on the gateway's direct path) → upstream;
//! * `gateway, all through rmcp`: the same with `direct_path(false)`, every request served by
//!   rmcp's Streamable HTTP server.
//!
//! It prints the mean latency of each and the ratios `gateway / direct` and `gateway / proxy`
//! (goal: within 1.2× of the pass-through), in both protocol eras. Then 512 users, each with
//! their own key and token, call concurrently through one gateway; it prints the process's
//! resident memory before and after, and the TCP connections open to the gateway and to the
//! upstream. Every call's answer is checked to be its own user's.
//!
//! ```sh
//! cargo bench -p pagerduty-mcp-connect-benches --bench gateway_hop            # the figures
//! cargo bench -p pagerduty-mcp-connect-benches --bench gateway_hop -- --test  # once, quickly (CI)
//! ```

#[path = "common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::serve::ListenerExt;
use pagerduty_mcp_connect::{
    AuthScheme, Credential, GenericServer, InMemoryCredentialStore, McpClient, ProtocolPreference,
    ProtocolVersion, Session,
};
use pagerduty_mcp_connect_gateway::{Gateway, GatewayKeys};
use pagerduty_mcp_connect_mock::{MockPagerDuty, MockUser};
use serde_json::json;

const USERS: usize = 512;
const CALLS_PER_USER: usize = 4;
const WAVES: usize = 3;

fn key_of(i: usize) -> String {
    format!("gk_bench_user_{i:04}_0123456789")
}

fn token_of(i: usize) -> String {
    format!("u+BenchToken{i:04}")
}

fn user_id(i: usize) -> String {
    format!("PBENCH{i:04}")
}

/// The minimal pass-through proxy: one reqwest pool, headers copied, the credential swapped.
#[derive(Clone)]
struct Proxy {
    http: reqwest::Client,
    upstream: String,
    tokens: Arc<HashMap<String, String>>,
}

async fn proxy(State(proxy): State<Proxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let key = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Some(token) = proxy.tokens.get(key) else {
        return Response::builder().status(401).body(Body::empty()).unwrap();
    };
    let body = axum::body::to_bytes(body, 8 << 20)
        .await
        .unwrap_or_default();
    let mut upstream = proxy.http.request(parts.method, &proxy.upstream);
    for (name, value) in &parts.headers {
        if !matches!(
            name.as_str(),
            "host" | "authorization" | "content-length" | "connection"
        ) {
            upstream = upstream.header(name, value);
        }
    }
    let reply = match upstream
        .header("authorization", format!("Token {token}"))
        .body(body)
        .send()
        .await
    {
        Ok(reply) => reply,
        Err(_) => return Response::builder().status(502).body(Body::empty()).unwrap(),
    };
    let mut response = Response::builder().status(reply.status());
    for (name, value) in reply.headers() {
        if !matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            response = response.header(name, value);
        }
    }
    response
        .body(Body::from_stream(reply.bytes_stream()))
        .unwrap()
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // As `Gateway::serve` does: replies written in pieces must not wait for a delayed ACK.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}/mcp")
}

/// An agent session to `url` with `credential` sent under `scheme`.
async fn agent(
    url: &str,
    scheme: AuthScheme,
    credential: &str,
    version: ProtocolVersion,
) -> Session {
    let server = GenericServer::new("hop", url, scheme).unwrap();
    McpClient::builder(server)
        .protocol(ProtocolPreference::Exact(version))
        .build()
        .unwrap()
        .connect(&Credential::new(credential.to_owned()))
        .await
        .unwrap()
}

async fn mean_latency(session: &Session, calls: usize, email: &str) -> Duration {
    let started = Instant::now();
    for _ in 0..calls {
        let result = session.call_tool("get_user_data", json!({})).await.unwrap();
        assert_eq!(result.structured_content.as_ref().unwrap()["email"], email);
    }
    started.elapsed() / calls as u32
}

/// Resident memory of this process, in KiB (Linux).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Established TCP connections whose remote end is `port` on loopback (client sides).
fn connections_to(port: u16) -> usize {
    let mut count = 0;
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(table) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in table.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 4 || fields[3] != "01" {
                continue;
            }
            let remote_port = fields[2]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if remote_port == Some(port) {
                count += 1;
            }
        }
    }
    count
}

fn port_of(url: &str) -> u16 {
    url::Url::parse(url).unwrap().port().unwrap()
}

fn main() {
    let quick = common::test_mode();
    let calls = if quick { 30 } else { 2_000 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let mut mock = MockPagerDuty::builder().max_recorded_requests(0);
        for i in 0..USERS {
            mock = mock.user(MockUser::new(user_id(i), format!("Bench {i}"), format!("bench{i}@example.com"), "user", token_of(i)));
        }
        let mock = mock.start().await.unwrap();
        let credentials = InMemoryCredentialStore::new();
        let keys = GatewayKeys::new();
        let mut tokens = HashMap::new();
        for i in 0..USERS {
            credentials.insert(format!("user{i}"), token_of(i));
            keys.insert(key_of(i), format!("user{i}")).unwrap();
            tokens.insert(key_of(i), token_of(i));
        }
        let build = |direct_path: bool| {
            let connector = pagerduty_mcp_connect::Connector::builder()
                .server(mock.pagerduty())
                .credentials(credentials.clone());
            Gateway::builder(connector, keys.clone())
                .direct_path(direct_path)
                .build()
                .unwrap()
        };
        let gateway = build(true);
        // The same gateway with every request served by rmcp (no direct path).
        let rmcp_only = build(false);
        // Served as a gateway operator would: `Gateway::serve` (which sets TCP_NODELAY).
        let serve_gateway = |gateway: Gateway| async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/mcp", listener.local_addr().unwrap());
            tokio::spawn(async move { gateway.serve(listener, std::future::pending()).await });
            url
        };
        let gateway_url = serve_gateway(gateway.clone()).await;
        let rmcp_only_url = serve_gateway(rmcp_only.clone()).await;
        let proxy_url = serve(
            axum::Router::new()
                .route("/mcp", axum::routing::any(proxy))
                .with_state(Proxy {
                    http: reqwest::Client::new(),
                    upstream: mock.url().to_string(),
                    tokens: Arc::new(tokens),
                }),
        )
        .await;

        println!("gateway_hop: tools/call get_user_data, {calls} sequential calls per path (means)");
        for version in [ProtocolVersion::V2025_11_25, ProtocolVersion::V2026_07_28] {
            let email = "bench0@example.com";
            let direct = agent(mock.url().as_str(), AuthScheme::token(), &token_of(0), version).await;
            let via_proxy = agent(&proxy_url, AuthScheme::bearer(), &key_of(0), version).await;
            let via_gateway = agent(&gateway_url, AuthScheme::bearer(), &key_of(0), version).await;
            let via_rmcp = agent(&rmcp_only_url, AuthScheme::bearer(), &key_of(0), version).await;
            let paths = [&direct, &via_proxy, &via_gateway, &via_rmcp];
            // Warm up every path (connections, the gateway's upstream session).
            for session in paths {
                mean_latency(session, 5, email).await;
            }
            // Interleave the paths so that drift hits all alike.
            let mut totals = [Duration::ZERO; 4];
            let rounds = 5;
            for _ in 0..rounds {
                for (i, session) in paths.into_iter().enumerate() {
                    totals[i] += mean_latency(session, calls / rounds, email).await;
                }
            }
            let [d, p, g, r] = totals.map(|t| t / rounds as u32);
            let us = |t: Duration| t.as_secs_f64() * 1e6;
            let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
            println!(
                "  {version}: direct {:>6.1} µs | proxy {:>6.1} µs | gateway {:>6.1} µs | gateway, all through rmcp {:>6.1} µs | gateway/proxy {:.2}x (goal <= 1.20x) | all-rmcp/proxy {:.2}x | gateway/direct {:.2}x | proxy/direct {:.2}x",
                us(d),
                us(p),
                us(g),
                us(r),
                ratio(g, p),
                ratio(r, p),
                ratio(g, d),
                ratio(p, d),
            );
            // Not a timing goal (that is the table): a sanity bound that catches a reply
            // waiting for a delayed ACK or a timer (tens of milliseconds per call).
            assert!(
                g.as_secs_f64() < 10.0 * p.as_secs_f64(),
                "{version}: a call through the gateway takes {g:?}, the pass-through {p:?}"
            );
        }

        // 512 users at once through one gateway.
        let rss_before = rss_kib();
        let agents = McpClient::builder(
            GenericServer::new("gateway", &gateway_url, AuthScheme::bearer()).unwrap(),
        )
        .build()
        .unwrap();
        let mut sessions = Vec::with_capacity(USERS);
        let mut waves = Vec::new();
        for wave in 0..WAVES {
            let started = Instant::now();
            let mut tasks = Vec::with_capacity(USERS);
            for i in 0..USERS {
                let agents = agents.clone();
                let session = sessions.get(i).cloned();
                tasks.push(tokio::spawn(async move {
                    let session = match session {
                        Some(session) => session,
                        None => agents.connect(&Credential::new(key_of(i))).await.unwrap(),
                    };
                    for _ in 0..CALLS_PER_USER {
                        let result = session.call_tool("get_user_data", json!({})).await.unwrap();
                        assert_eq!(
                            result.structured_content.as_ref().unwrap()["email"],
                            format!("bench{i}@example.com"),
                            "every user gets their own data"
                        );
                    }
                    session
                }));
            }
            let mut done = Vec::with_capacity(USERS);
            for task in tasks {
                done.push(task.await.unwrap());
            }
            sessions = done;
            let elapsed = started.elapsed();
            let to_gateway = connections_to(port_of(&gateway_url));
            let to_upstream = connections_to(mock.addr().port());
            let rss = rss_kib().unwrap_or(0);
            println!(
                "  wave {}: {USERS} users x {CALLS_PER_USER} calls at once through one gateway: {:.2} s ({:.0} calls/s); upstream sessions {}; TCP connections agent->gateway {to_gateway}, gateway->upstream {to_upstream}; RSS {rss} KiB ({:+.1} KiB per user since before the users came)",
                wave + 1,
                elapsed.as_secs_f64(),
                (USERS * CALLS_PER_USER) as f64 / elapsed.as_secs_f64(),
                gateway.connector().active_users(),
                (rss as f64 - rss_before.unwrap_or(0) as f64) / USERS as f64,
            );
            waves.push((to_upstream, rss));
        }
        assert_eq!(gateway.connector().active_users(), USERS, "one upstream session per user");
        for (wave, &(to_upstream, _)) in waves.iter().enumerate() {
            // Bounded by the calls in flight (one per user here, a reply's connection released
            // a moment after its response), never growing with the waves.
            assert!(
                to_upstream <= 2 * USERS + 64,
                "wave {}: {to_upstream} connections to the upstream for {USERS} calls in flight",
                wave + 1
            );
        }
        let steady = waves[1].1.max(waves[0].1);
        let last = waves[WAVES - 1].1;
        assert!(
            last <= steady + steady / 5,
            "the same users again do not grow memory much ({steady} KiB, then {last} KiB)"
        );
        drop(sessions);
    });
}

//! Agents and pages that try to abuse the gateway: a browser page of another origin (DNS
//! rebinding), a tool name built to inject lines into `/metrics`, idle connections that never
//! send a request, one user's flood, and a session id of another user's.

use std::time::{Duration, Instant};

use super::gateway_support::{ALICE_KEY, DEMO_KEY, TestGateway};
use super::raw_http::{Raw, call, open_session, post};
use pagerduty_mcp_connect::Policy;
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn metrics_text(gw: &TestGateway) -> String {
    reqwest::get(format!("{}/metrics", gw.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_another_origin_gets_403_on_every_path_before_anything_goes_upstream() {
    let gw = TestGateway::start(Policy::new()).await;
    let http = reqwest::Client::new();
    let session = open_session(&http, &gw.url, ALICE_KEY).await;
    // Alice's upstream session is open (a first call), so that anything later is a request.
    let warm = post(
        &http,
        &gw.url,
        Some(ALICE_KEY),
        Some(&session),
        &call(1, "get_user_data"),
    )
    .send()
    .await
    .unwrap();
    let _ = warm.bytes().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let upstream_before = gw.mock.requests().len();
    let direct_before = gw.gateway.metrics().direct_requests();
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "page", "version": "0"}},
    });
    // rmcp's path (initialize, tools/list), the direct path's request (a plain tools/call on an
    // initialized session), a GET stream and a DELETE: all refused, with or without a key.
    for origin in [
        "http://evil.example",
        "https://evil.example:8080",
        "null",
        "http://localhost.evil.example",
    ] {
        let requests = [
            post(&http, &gw.url, Some(ALICE_KEY), None, &initialize),
            post(&http, &gw.url, None, None, &initialize),
            post(
                &http,
                &gw.url,
                Some(ALICE_KEY),
                Some(&session),
                &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
            ),
            post(
                &http,
                &gw.url,
                Some(ALICE_KEY),
                Some(&session),
                &call(3, "get_user_data"),
            ),
            http.get(&gw.url)
                .header("authorization", format!("Bearer {ALICE_KEY}"))
                .header("accept", "text/event-stream")
                .header("mcp-session-id", &session),
            http.delete(&gw.url)
                .header("authorization", format!("Bearer {ALICE_KEY}"))
                .header("mcp-session-id", &session),
        ];
        for request in requests {
            let reply = Raw::of(request.header("origin", origin).send().await.unwrap()).await;
            assert_eq!(reply.status, 403, "{origin}: {reply:?}");
            assert_eq!(reply.headers["content-type"], "application/json");
            let message = reply.message();
            assert_eq!(message["jsonrpc"], "2.0");
            assert_eq!(message["error"]["code"], -32003, "{message}");
            assert!(
                message["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("Origin"),
                "{message}"
            );
        }
    }
    // A DNS-rebinding page reaches the loopback gateway under its own host name.
    let rebound = Raw::of(
        post(
            &http,
            &gw.url,
            Some(ALICE_KEY),
            Some(&session),
            &call(4, "get_user_data"),
        )
        .header("host", "evil.example:8080")
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(rebound.status, 403);
    assert!(
        rebound.message()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Host"),
        "{rebound:?}"
    );
    assert_eq!(
        gw.mock.requests().len(),
        upstream_before,
        "nothing went upstream"
    );
    assert_eq!(gw.gateway.metrics().direct_requests(), direct_before);
    // The session survived (the refused DELETE did nothing), and a loopback page (such as the
    // MCP Inspector's) or no Origin at all is served.
    for origin in [
        Some("http://localhost:6274"),
        Some("http://127.0.0.1:3000"),
        None,
    ] {
        let mut request = post(
            &http,
            &gw.url,
            Some(ALICE_KEY),
            Some(&session),
            &call(5, "get_user_data"),
        );
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let reply = Raw::of(request.send().await.unwrap()).await;
        assert_eq!(reply.status, 200, "{origin:?}");
        assert_eq!(
            reply.message()["result"]["structuredContent"]["email"],
            "alice@example.com"
        );
    }
    let metrics = metrics_text(&gw).await;
    assert!(
        metrics.contains(r#"mcp_gateway_rejected_requests_total{reason="origin_not_allowed"}"#),
        "{metrics}"
    );
    gw.shutdown().await;

    // Allowed origins are the operator's to set.
    let gw = TestGateway::start_with(MockPagerDuty::start().await, Policy::new(), |b| {
        b.allowed_origins(["https://console.example.com"])
    })
    .await;
    for (origin, status) in [
        ("https://console.example.com", 200),
        ("https://console.example.com:443", 200),
        ("http://console.example.com", 403),
        ("http://localhost:6274", 403),
    ] {
        let reply = post(&http, &gw.url, Some(ALICE_KEY), None, &initialize)
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), status, "{origin}");
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_name_cannot_inject_lines_into_metrics_nor_grow_them() {
    let gw = TestGateway::start(Policy::new()).await;
    let http = reqwest::Client::new();
    let session = open_session(&http, &gw.url, ALICE_KEY).await;
    let reply = post(
        &http,
        &gw.url,
        Some(ALICE_KEY),
        Some(&session),
        &call(999, "get_user_data"),
    )
    .send()
    .await
    .unwrap();
    let _ = reply.bytes().await;
    let injection = "x\",outcome=\"ok\"} 1\nmcp_gateway_active_users 4242";
    let reply = post(
        &http,
        &gw.url,
        Some(ALICE_KEY),
        Some(&session),
        &call(1, injection),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(reply.status(), 200);
    let _ = reply.bytes().await;
    let huge = "n".repeat(256 * 1024);
    for id in 0..16 {
        let reply = post(
            &http,
            &gw.url,
            Some(ALICE_KEY),
            Some(&session),
            &call(10 + id, &format!("{huge}{id}")),
        )
        .send()
        .await
        .unwrap();
        let _ = reply.bytes().await;
    }
    // Made-up names, one after another: a bounded number of series.
    for id in 0..300 {
        let reply = post(
            &http,
            &gw.url,
            Some(ALICE_KEY),
            Some(&session),
            &call(100 + id, &format!("made_up_{id}")),
        )
        .send()
        .await
        .unwrap();
        let _ = reply.bytes().await;
    }
    let metrics = metrics_text(&gw).await;
    assert!(
        !metrics
            .lines()
            .any(|line| line.starts_with("mcp_gateway_active_users 4242")),
        "an injected line:\n{metrics}"
    );
    assert!(!metrics.contains("4242"), "{metrics}");
    assert!(!metrics.contains(&huge[..1024]), "a huge label");
    assert!(
        metrics.len() < 2 * 1024 * 1024,
        "/metrics is {} bytes",
        metrics.len()
    );
    let series = metrics
        .lines()
        .filter(|l| l.starts_with("mcp_gateway_calls_total{"))
        .count();
    assert!(series <= 2 * 257, "{series} series");
    assert!(metrics.contains(r#"tool="other""#), "{metrics}");
    assert!(
        metrics.contains(r#"tool="get_user_data",outcome="ok"}"#),
        "{metrics}"
    );
    // Every sample line is well-formed: one name, one value.
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.starts_with("mcp_gateway_"), "{line}");
        assert_eq!(line.matches("} ").count().max(1), 1, "{line}");
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_after_the_header_timeout_and_capped() {
    let gw = TestGateway::start_with(MockPagerDuty::start().await, Policy::new(), |b| {
        b.header_read_timeout(Duration::from_millis(400))
    })
    .await;
    let addr = gw.base.trim_start_matches("http://").to_owned();
    // A connection that sends nothing, and one that sends half a request's headers.
    for sent in [&b""[..], b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"] {
        let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
        idle.write_all(sent).await.unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 1024];
        let read = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match idle.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(read.is_ok(), "the idle connection was not closed");
        assert!(started.elapsed() >= Duration::from_millis(300));
    }
    gw.shutdown().await;

    // At the cap, a new connection waits until one closes.
    let gw = TestGateway::start_with(MockPagerDuty::start().await, Policy::new(), |b| {
        b.max_connections(2)
            .header_read_timeout(Duration::from_secs(30))
    })
    .await;
    let addr = gw.base.trim_start_matches("http://").to_owned();
    let first = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let _second = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let health = format!("{}/healthz", gw.base);
    let fresh = || {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    };
    let waiting = fresh()
        .get(&health)
        .timeout(Duration::from_millis(700))
        .send()
        .await;
    assert!(
        waiting.is_err(),
        "a third connection was served: {waiting:?}"
    );
    drop(first);
    let served = fresh()
        .get(&health)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_users_flood_gets_429_and_does_not_stop_another_user() {
    let gw = TestGateway::start_with(MockPagerDuty::start().await, Policy::new(), |b| {
        b.rate_per_user(20, 20)
    })
    .await;
    let http = reqwest::Client::new();
    let alice = open_session(&http, &gw.url, ALICE_KEY).await;
    let demo = open_session(&http, &gw.url, DEMO_KEY).await;
    let flood = {
        let (http, url, alice) = (http.clone(), gw.url.clone(), alice.clone());
        tokio::spawn(async move {
            let mut workers = Vec::new();
            for worker in 0..8u64 {
                let (http, url, alice) = (http.clone(), url.clone(), alice.clone());
                workers.push(tokio::spawn(async move {
                    let mut refused = Vec::new();
                    for i in 0..40u64 {
                        let ping =
                            json!({"jsonrpc": "2.0", "id": worker * 1000 + i, "method": "ping"});
                        let reply = Raw::of(
                            post(&http, &url, Some(ALICE_KEY), Some(&alice), &ping)
                                .send()
                                .await
                                .unwrap(),
                        )
                        .await;
                        if reply.status == 429 {
                            refused.push(reply);
                        } else {
                            assert_eq!(reply.status, 200);
                        }
                    }
                    refused
                }));
            }
            let mut refused = Vec::new();
            for worker in workers {
                refused.extend(worker.await.unwrap());
            }
            refused
        })
    };
    // Meanwhile the other user calls a tool ten times: every call is served.
    for id in 0..10 {
        let reply = Raw::of(
            post(
                &http,
                &gw.url,
                Some(DEMO_KEY),
                Some(&demo),
                &call(id, "get_user_data"),
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(
            reply.message()["result"]["structuredContent"]["email"],
            "demo@example.com"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = flood.await.unwrap();
    assert!(refused.len() > 100, "{} of 320 refused", refused.len());
    let one = &refused[0];
    let retry: u64 = one.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let message = one.message();
    assert_eq!(message["error"]["code"], -32029, "{message}");
    assert!(
        message["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Too many requests")
    );
    gw.shutdown().await;

    // Calls in flight: Alice's second call while her first hangs is refused; the demo user's
    // call goes through.
    let mock = TestGateway::hanging_session_mock().await;
    let gw = TestGateway::start_with(mock, Policy::new(), |b| b.max_in_flight_per_user(1)).await;
    let alice = open_session(&http, &gw.url, ALICE_KEY).await;
    let demo = open_session(&http, &gw.url, DEMO_KEY).await;
    let warm = post(
        &http,
        &gw.url,
        Some(ALICE_KEY),
        Some(&alice),
        &call(1, "get_user_data"),
    )
    .send()
    .await
    .unwrap();
    let _ = warm.bytes().await;
    gw.mock.hang_next(1);
    let hanging = tokio::spawn(
        post(
            &http,
            &gw.url,
            Some(ALICE_KEY),
            Some(&alice),
            &call(2, "list_incidents"),
        )
        .send(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while gw.gateway.in_flight() == 0 {
        assert!(Instant::now() < deadline, "the hanging call never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = Raw::of(
        post(
            &http,
            &gw.url,
            Some(ALICE_KEY),
            Some(&alice),
            &call(3, "get_user_data"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(second.status, 429, "{second:?}");
    assert!(second.headers.contains_key("retry-after"));
    let other = Raw::of(
        post(
            &http,
            &gw.url,
            Some(DEMO_KEY),
            Some(&demo),
            &call(4, "get_user_data"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(other.status, 200, "{other:?}");
    hanging.abort();
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_session_looks_exactly_like_no_session() {
    let gw = TestGateway::start(Policy::new()).await;
    let http = reqwest::Client::new();
    let alices = open_session(&http, &gw.url, ALICE_KEY).await;
    let list = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list"});
    let ask = |session: String, body: serde_json::Value| {
        let http = http.clone();
        let url = gw.url.clone();
        async move {
            Raw::of(
                post(&http, &url, Some(DEMO_KEY), Some(&session), &body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let foreign = ask(alices.clone(), list.clone()).await;
    let unknown = ask("3f1c2b9a-made-up-session".into(), list.clone()).await;
    let foreign_call = ask(alices.clone(), call(8, "get_user_data")).await;
    let unknown_call = ask("another-made-up-one".into(), call(8, "get_user_data")).await;
    assert_eq!(foreign.status, 404, "{foreign:?}");
    for other in [&unknown, &foreign_call, &unknown_call] {
        assert_eq!(foreign.status, other.status);
        assert_eq!(foreign.headers_but_date(), other.headers_but_date());
        assert_eq!(
            foreign.body,
            other.body,
            "{} vs {}",
            String::from_utf8_lossy(&foreign.body),
            String::from_utf8_lossy(&other.body)
        );
    }
    // GET and DELETE too.
    for session in [alices.as_str(), "made-up"] {
        let get = Raw::of(
            http.get(&gw.url)
                .header("authorization", format!("Bearer {DEMO_KEY}"))
                .header("accept", "text/event-stream")
                .header("mcp-session-id", session)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let delete = Raw::of(
            http.delete(&gw.url)
                .header("authorization", format!("Bearer {DEMO_KEY}"))
                .header("mcp-session-id", session)
                .send()
                .await
                .unwrap(),
        )
        .await;
        for reply in [get, delete] {
            assert_eq!(reply.status, 404);
            assert_eq!(reply.body, foreign.body);
        }
    }
    assert!(
        !gw.mock
            .requests()
            .iter()
            .any(|r| r.user_id.as_deref() == Some(MockPagerDuty::DEMO_USER_ID)),
        "nothing went upstream for the other user"
    );
    // Alice's session is untouched, and once she ends it, her own reply is the same 404.
    let own = ask_as(
        &http,
        &gw.url,
        ALICE_KEY,
        &alices,
        &call(9, "get_user_data"),
    )
    .await;
    assert_eq!(own.status, 200);
    let ended = http
        .delete(&gw.url)
        .header("authorization", format!("Bearer {ALICE_KEY}"))
        .header("mcp-session-id", &alices)
        .send()
        .await
        .unwrap();
    assert!(ended.status().is_success());
    let gone = ask_as(&http, &gw.url, ALICE_KEY, &alices, &list).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.body, foreign.body);
    gw.shutdown().await;
}

async fn ask_as(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    session: &str,
    body: &serde_json::Value,
) -> Raw {
    Raw::of(
        post(http, url, Some(key), Some(session), body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

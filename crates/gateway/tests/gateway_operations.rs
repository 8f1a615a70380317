//! Running a gateway: one log line per call (never a token), `/metrics`, `/healthz`, graceful
//! shutdown that lets calls in flight finish, and sessions that only their own user may use.

#[path = "support/gateway.rs"]
mod gateway_support;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use gateway_support::{ALICE_KEY, DEMO_KEY, TestGateway};
use pagerduty_mcp_connect::{
    AuthScheme, Credential, GenericServer, InMemoryCredentialStore, McpClient, PagerDuty, Policy,
    ProtocolPreference, ProtocolVersion, Session,
};
use pagerduty_mcp_connect_gateway::{Gateway, GatewayKeys};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::json;

use gateway_support::python_peer;

/// Everything logged in this test binary.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_ansi(false)
            .with_writer(move || SharedWriter(writer.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        buffer
    })
    .clone()
}

struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn agent(url: &str, key: &str, version: ProtocolVersion) -> Session {
    let server = GenericServer::new("gateway", url, AuthScheme::bearer()).unwrap();
    McpClient::builder(server)
        .protocol(ProtocolPreference::Exact(version))
        .build()
        .unwrap()
        .connect(&Credential::new(key.to_owned()))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_log_line_per_call_metrics_and_health() {
    let logs = logs();
    let gw = TestGateway::start(Policy::new().read_only(true)).await;
    let alice = agent(&gw.url, ALICE_KEY, ProtocolVersion::V2026_07_28).await;
    let me = alice.call_tool("get_user_data", json!({})).await.unwrap();
    assert_eq!(me.structured_content.unwrap()["email"], "alice@example.com");
    let denied = alice
        .call_tool("create_incident", json!({}))
        .await
        .unwrap_err();
    assert!(denied.to_string().contains("read-only"), "{denied}");

    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("mcp_gateway::call") && l.contains("user=alice"))
        .collect();
    let ok_lines: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("tool=\"get_user_data\"") || l.contains("tool=get_user_data"))
        .collect();
    assert_eq!(ok_lines.len(), 1, "one line for the call: {lines:#?}");
    for field in ["outcome=\"ok\"", "latency_ms=", "method=\"tools/call\""] {
        assert!(
            ok_lines[0].contains(field) || ok_lines[0].contains(&field.replace('"', "")),
            "{field} in {}",
            ok_lines[0]
        );
    }
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("create_incident") && l.contains("denied"))
            .count(),
        1,
        "{lines:#?}"
    );
    for secret in [
        MockPagerDuty::ALICE_TOKEN,
        MockPagerDuty::DEMO_TOKEN,
        ALICE_KEY,
        DEMO_KEY,
    ] {
        assert!(!text.contains(secret), "a secret in the logs");
    }

    let metrics = reqwest::get(format!("{}/metrics", gw.base)).await.unwrap();
    assert_eq!(metrics.status(), 200);
    let metrics = metrics.text().await.unwrap();
    for needle in [
        r#"mcp_gateway_calls_total{method="tools/call",tool="get_user_data",outcome="ok"} 1"#,
        r#"mcp_gateway_errors_total{method="tools/call",tool="create_incident",outcome="denied"} 1"#,
        r#"mcp_gateway_call_duration_seconds_count{method="tools/call",tool="get_user_data",outcome="ok"} 1"#,
        "mcp_gateway_active_users 1",
    ] {
        assert!(metrics.contains(needle), "{needle} in\n{metrics}");
    }
    let health = reqwest::get(format!("{}/healthz", gw.base)).await.unwrap();
    assert_eq!(health.status(), 200);
    let health: serde_json::Value = serde_json::from_str(&health.text().await.unwrap()).unwrap();
    assert_eq!(health["status"], "ok");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_cannot_be_used_with_another_users_key() {
    let gw = TestGateway::start(Policy::new()).await;
    let http = reqwest::Client::new();
    let post = async |key: &str, session: Option<&str>, body: serde_json::Value| {
        let mut request = http
            .post(&gw.url)
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .body(body.to_string());
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request.send().await.unwrap()
    };
    let tools_list = |id: u32| json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"});
    let params = json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}});
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params});
    let init = post(ALICE_KEY, None, initialize).await;
    assert_eq!(init.status(), 200);
    let session = init.headers()["mcp-session-id"].to_str().unwrap();
    let before = gw.mock.requests().len();
    let stolen = post(DEMO_KEY, Some(session), tools_list(2)).await;
    assert_eq!(stolen.status(), 404, "another user's session is not found");
    assert_eq!(gw.mock.requests().len(), before, "nothing went upstream");
    let own = post(ALICE_KEY, Some(session), tools_list(3)).await;
    assert_eq!(own.status(), 200);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_lets_calls_in_flight_finish() {
    // The upstream is the official Python SDK server peer, which has a `sleep` tool.
    let Some(peer) = python_peer::PythonPeer::start(&["u+peer-token-alice"], &[]).await else {
        return;
    };
    let credentials = InMemoryCredentialStore::new();
    credentials.insert("alice", "u+peer-token-alice");
    let keys = GatewayKeys::new();
    keys.insert(ALICE_KEY, "alice").unwrap();
    let connector = pagerduty_mcp_connect::Connector::builder()
        .server(
            PagerDuty::builder()
                .endpoint(peer.url.as_str())
                .build()
                .unwrap(),
        )
        .credentials(credentials);
    let gateway = Gateway::builder(connector, keys)
        .shutdown_grace(Duration::from_secs(20))
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stop_requested = async move { stopped.await.unwrap_or_default() };
    let serving = gateway.clone();
    let server = tokio::spawn(async move { serving.serve(listener, stop_requested).await });
    {
        let version = ProtocolVersion::V2026_07_28;
        let alice = agent(&url, ALICE_KEY, version).await;
        let call = tokio::spawn(async move { alice.call_tool("sleep", json!({"ms": 1500})).await });
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(gateway.in_flight(), 1);
        stop.send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        // New requests are refused while the call finishes.
        let refused = reqwest::Client::new()
            .post(&url)
            .header("authorization", format!("Bearer {ALICE_KEY}"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 503);
        let health = reqwest::get(url.replace("/mcp", "/healthz")).await.unwrap();
        assert_eq!(health.status(), 503);
        let result = call.await.unwrap().expect("the call in flight finishes");
        assert_eq!(result.text(), "slept 1500 ms");
    }
    tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .expect("the gateway stops after the call")
        .unwrap()
        .unwrap();
    drop(peer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_cancelling_a_call_cancels_it_upstream() {
    let mock = TestGateway::hanging_session_mock().await;
    let gw = TestGateway::start_with(mock, Policy::new(), |b| b).await;
    for version in [ProtocolVersion::V2025_11_25, ProtocolVersion::V2026_07_28] {
        let alice = agent(&gw.url, ALICE_KEY, version).await;
        // Open the upstream session first, so that the hang hits the call itself.
        alice.call_tool("get_user_data", json!({})).await.unwrap();
        let cancelled_before = gw.upstream_cancels();
        gw.mock.hang_next(1);
        let options =
            pagerduty_mcp_connect::RequestOptions::default().timeout(Duration::from_millis(700));
        let err = alice
            .call_tool_with("list_incidents", json!({}), options)
            .await
            .unwrap_err();
        assert!(
            matches!(err, pagerduty_mcp_connect::Error::Timeout { .. }),
            "{err}"
        );
        // The gateway drops its upstream call, which tells the upstream.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while gw.upstream_cancels() == cancelled_before {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{version}: no cancellation reached upstream"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(gw.gateway.in_flight(), 0);
    }
    let metrics = reqwest::get(format!("{}/metrics", gw.base)).await.unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains(r#"mcp_gateway_calls_total{method="tools/call",tool="list_incidents",outcome="cancelled"} 2"#),
        "{metrics}"
    );
    gw.shutdown().await;
}

//! Test support for the gateway: a gateway in front of the embedded mock server on loopback, and
//! agents on the official Python MCP SDK client (`scripts/python-peer/gateway_agent.py`).
//!
//! Include it with `#[path = "support/gateway.rs"] mod gateway_support;` (it includes the
//! Python peer's interpreter lookup itself).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use pagerduty_mcp_connect::{InMemoryCredentialStore, Policy};
use pagerduty_mcp_connect_gateway::{Gateway, GatewayKeys};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::Value;
use tokio::io::AsyncReadExt;

#[path = "../../../../tests/support/python_peer.rs"]
pub mod python_peer;
pub use python_peer::{SKIP_PEERS_VAR, python_peer_interpreter, skipping_peers};

/// Alice's gateway key (mock user Alice, role `user`).
pub const ALICE_KEY: &str = "gk_alice_0123456789abcdef";
/// The demo user's gateway key (mock user Demo, role `admin`).
pub const DEMO_KEY: &str = "gk_demo_0123456789abcdef0";

/// The protocol eras an agent can speak, as `gateway_agent.py --mode` values.
pub const ERAS: [&str; 2] = ["legacy", "2026-07-28"];

/// A running gateway in front of a running mock.
pub struct TestGateway {
    pub mock: MockPagerDuty,
    pub gateway: Gateway,
    pub credentials: InMemoryCredentialStore,
    pub url: String,
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestGateway {
    /// Users `alice` (Alice's token) and `demo` (the demo user's token), with `policy`.
    pub async fn start(policy: Policy) -> TestGateway {
        let mock = MockPagerDuty::start().await;
        Self::start_with(mock, policy, |b| b).await
    }

    /// Like [`start`](Self::start), in front of `mock`, with the gateway builder adjusted.
    pub async fn start_with(
        mock: MockPagerDuty,
        policy: Policy,
        configure: impl FnOnce(
            pagerduty_mcp_connect_gateway::GatewayBuilder,
        ) -> pagerduty_mcp_connect_gateway::GatewayBuilder,
    ) -> TestGateway {
        let credentials = InMemoryCredentialStore::new();
        credentials.insert("alice", MockPagerDuty::ALICE_TOKEN);
        credentials.insert("demo", MockPagerDuty::DEMO_TOKEN);
        let keys = GatewayKeys::new();
        keys.insert(ALICE_KEY, "alice").unwrap();
        keys.insert(DEMO_KEY, "demo").unwrap();
        let server = mock.pagerduty();
        let connector = pagerduty_mcp_connect::Connector::builder()
            .server(server)
            .credentials(credentials.clone())
            .policy(policy);
        let builder = Gateway::builder(connector, keys).shutdown_grace(Duration::from_secs(10));
        let gateway = configure(builder).build().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = gateway.clone();
        let task = tokio::spawn(async move {
            serving
                .serve(listener, async move {
                    let _ = stopped.await;
                })
                .await
        });
        TestGateway {
            mock,
            gateway,
            credentials,
            url: format!("http://{addr}/mcp"),
            base: format!("http://{addr}"),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Starts graceful shutdown and waits for the server to return.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("the gateway stops")
                .expect("the gateway task")
                .expect("the gateway serves");
        }
    }

    /// The number of `notifications/cancelled` the mock received.
    pub fn upstream_cancels(&self) -> usize {
        self.mock
            .requests()
            .iter()
            .filter(|r| {
                r.jsonrpc_methods
                    .iter()
                    .any(|m| m == "notifications/cancelled")
            })
            .count()
    }

    /// A mock that speaks only the session era (which is told of a cancelled request with
    /// `notifications/cancelled`) and hangs a request for 30 s when told to.
    pub async fn hanging_session_mock() -> MockPagerDuty {
        MockPagerDuty::builder()
            .eras(pagerduty_mcp_connect_mock::Eras::SessionOnly)
            .hang_duration(Duration::from_secs(30))
            .start()
            .await
            .unwrap()
    }

    /// The number of `tools/call` requests the mock received.
    pub fn upstream_tool_calls(&self) -> usize {
        self.mock
            .requests()
            .iter()
            .filter(|r| r.jsonrpc_methods.iter().any(|m| m == "tools/call"))
            .count()
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The Python interpreter. Panics, naming the install command, when the Python peer is not
/// installed; `None` (after a loud `SKIPPED:` line) only when the run opted out with
/// `PAGERDUTY_MCP_SKIP_PEERS=1`, as for every other test with an external peer.
pub fn python() -> Option<PathBuf> {
    if let Some(python) = python_peer_interpreter() {
        return Some(python);
    }
    let msg =
        "the Python MCP SDK interop peer is not installed; run ./scripts/install-python-peer.sh";
    if !skipping_peers() {
        panic!(
            "{msg}\n(to run without the external peers, set {SKIP_PEERS_VAR}=1: their tests then check nothing)"
        );
    }
    use std::io::Write as _;
    let bar = "*".repeat(78);
    let _ = writeln!(
        std::io::stderr(),
        "\n{bar}\nSKIPPED ({SKIP_PEERS_VAR}=1): {msg}\n{bar}"
    );
    None
}

/// Runs one agent session: `gateway_agent.py` with `key`, `mode` and `steps`; returns its JSON.
pub async fn agent(url: &str, key: &str, mode: &str, steps: Value) -> Value {
    agent_with(url, key, mode, steps, &[]).await
}

/// [`agent`] with extra arguments (`--elicit-answer …`).
pub async fn agent_with(url: &str, key: &str, mode: &str, steps: Value, extra: &[&str]) -> Value {
    let python = python_peer_interpreter().expect("python() checked first");
    let script = python_peer::repo_root().join("scripts/python-peer/gateway_agent.py");
    let mut child = tokio::process::Command::new(python)
        .arg(script)
        .args(["--url", url, "--key", key, "--mode", mode])
        .arg("--steps")
        .arg(steps.to_string())
        .args(extra)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn gateway_agent.py");
    let mut stdout = String::new();
    let mut stderr = String::new();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let run = async {
        let (a, b) = tokio::join!(
            out.read_to_string(&mut stdout),
            err.read_to_string(&mut stderr)
        );
        a.and(b).map(|_| ())
    };
    tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("gateway_agent.py finishes")
        .expect("read its output");
    let status = child.wait().await.expect("wait for gateway_agent.py");
    assert!(
        status.success(),
        "gateway_agent.py failed ({status}): {stderr}"
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("gateway_agent.py printed no JSON ({e}): {stdout}\n{stderr}"))
}

/// The `ok` value of step `i`, or a panic showing the error.
pub fn ok(out: &Value, i: usize) -> &Value {
    let result = &out["results"][i];
    assert!(
        result.get("ok").is_some(),
        "step {i} failed: {result}\nwhole output: {out}"
    );
    &result["ok"]
}

/// The error of step `i`, or a panic showing the success.
pub fn err(out: &Value, i: usize) -> &Value {
    let result = &out["results"][i];
    assert!(
        result.get("error").is_some(),
        "step {i} should have failed: {result}\nwhole output: {out}"
    );
    &result["error"]
}

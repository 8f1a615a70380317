//! What the command line's tests share: starting the `pagerduty-mcp-gateway` binary and waiting
//! for its `LISTENING` line, and a 2026-07-28 JSON-RPC request with a gateway key.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Child;

/// The `_meta` of a 2026-07-28 request.
pub fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"},
    })
}

/// Sends `body` (a 2026-07-28 request) to `url` with `key`, and returns the JSON-RPC reply (a
/// JSON body, or the last `data:` of an SSE body).
pub async fn rpc(http: &reqwest::Client, url: &str, key: &str, body: Value) -> Value {
    let mut request = http.post(url);
    if let Some(name) = body["params"]["name"].as_str() {
        request = request.header("mcp-name", name);
    }
    let text = request
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", body["method"].as_str().unwrap())
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&text)
        .ok()
        .or_else(|| {
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .filter_map(|d| serde_json::from_str(d.trim()).ok())
                .next_back()
        })
        .unwrap_or_else(|| panic!("no JSON-RPC reply: {text}"))
}

/// A directory of its own for one test (removed when dropped).
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty directory named after `name` and the process.
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("gw-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// `file` in the directory.
    pub fn join(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The gateway binary, started with `args` and `env`.
pub struct GatewayProcess {
    child: Child,
    /// Its MCP URL (from the `LISTENING` line).
    pub url: String,
}

/// The command for the gateway binary (stdin closed, output piped, killed when dropped).
pub fn command() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pagerduty-mcp-gateway"));
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

impl GatewayProcess {
    /// Starts `command` and waits (up to a minute) for its `LISTENING` line; panics with its
    /// standard error if it exits first.
    pub async fn start(mut command: tokio::process::Command) -> GatewayProcess {
        let mut child = command.spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), stdout.next_line())
            .await
            .expect("the gateway starts")
            .unwrap()
            .unwrap_or_default();
        let Some(url) = line.strip_prefix("LISTENING ") else {
            let status = child.wait().await.unwrap();
            let stderr = read_stderr(&mut child).await;
            panic!("no LISTENING line ({status}): {line}\n{stderr}");
        };
        GatewayProcess {
            url: url.to_owned(),
            child,
        }
    }

    /// Stops the gateway with SIGTERM (graceful: the store is closed) where there is one, and
    /// returns what it wrote on standard error.
    pub async fn stop(mut self) -> String {
        #[cfg(unix)]
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        #[cfg(not(unix))]
        let _ = self.child.start_kill();
        if tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
        read_stderr(&mut self.child).await
    }
}

/// Runs `command` to its end; its exit code and standard error.
pub async fn run_to_end(mut command: tokio::process::Command) -> (Option<i32>, String) {
    let mut child = command.spawn().unwrap();
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("the gateway exits")
        .unwrap();
    (status.code(), read_stderr(&mut child).await)
}

async fn read_stderr(child: &mut Child) -> String {
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr).await;
    }
    stderr
}

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
    /// Its standard error, read all along (a gateway logging a line per call would stop once
    /// an unread pipe filled up).
    stderr: tokio::task::JoinHandle<String>,
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
        let stderr = drain_stderr(&mut child);
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), stdout.next_line())
            .await
            .expect("the gateway starts")
            .unwrap()
            .unwrap_or_default();
        let Some(url) = line.strip_prefix("LISTENING ") else {
            let status = child.wait().await.unwrap();
            let stderr = stderr.await.unwrap_or_default();
            panic!("no LISTENING line ({status}): {line}\n{stderr}");
        };
        GatewayProcess {
            url: url.to_owned(),
            child,
            stderr,
        }
    }

    /// The address agents connect to (`127.0.0.1:PORT`).
    pub fn address(&self) -> &str {
        self.url
            .trim_start_matches("http://")
            .trim_end_matches("/mcp")
    }

    /// Its `/healthz`, `/metrics` and the like: `http://127.0.0.1:PORT{path}`.
    pub fn at(&self, path: &str) -> String {
        format!("http://{}{path}", self.address())
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
        self.stderr.await.unwrap_or_default()
    }

    /// Kills the gateway at once (SIGKILL: no shutdown, nothing flushed, connections cut), and
    /// returns what it wrote on standard error until then.
    pub async fn kill(mut self) -> String {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
        self.stderr.await.unwrap_or_default()
    }
}

/// Reads `child`'s standard error to its end in a task of its own.
fn drain_stderr(child: &mut Child) -> tokio::task::JoinHandle<String> {
    let pipe = child.stderr.take();
    tokio::spawn(async move {
        let mut stderr = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut stderr).await;
        }
        stderr
    })
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

/// The URL of a new, empty database on the Postgres server of `DATABASE_URL`
/// (`eval "$(./scripts/postgres.sh)"` starts one), as the store's own tests find it.
///
/// Without `DATABASE_URL` this panics, unless `PAGERDUTY_MCP_SKIP_POSTGRES=1` (or
/// `PAGERDUTY_MCP_SKIP_PEERS=1`) says to skip: then it prints `SKIPPED: …` and returns `None`
/// (CI sets neither).
#[cfg(all(feature = "mock", feature = "postgres"))]
pub async fn fresh_database(test: &str) -> Option<String> {
    use pagerduty_mcp_connect_store::sqlx;

    const SKIP_VAR: &str = "PAGERDUTY_MCP_SKIP_POSTGRES";
    let Ok(base) = std::env::var("DATABASE_URL") else {
        if std::env::var(SKIP_VAR).as_deref() == Ok("1")
            || std::env::var("PAGERDUTY_MCP_SKIP_PEERS").as_deref() == Ok("1")
        {
            eprintln!("SKIPPED: DATABASE_URL is not set and {SKIP_VAR}=1: {test} did not run");
            return None;
        }
        panic!(
            "DATABASE_URL is not set: run `eval \"$(./scripts/postgres.sh)\"` first (or set {SKIP_VAR}=1 to skip the Postgres tests)"
        );
    };
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!(
        "pdmcp_gw_test_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let admin = sqlx::PgPool::connect(&base)
        .await
        .unwrap_or_else(|err| panic!("cannot connect to DATABASE_URL's Postgres: {err}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let mut url = url::Url::parse(&base).expect("DATABASE_URL is a URL");
    url.set_path(&name);
    Some(url.to_string())
}

/// An HAProxy load balancer in front of some gateways, started by `scripts/haproxy.sh` (which
/// installs Debian's package when HAProxy is missing) in a directory of its own, and stopped
/// when dropped.
#[cfg(all(feature = "mock", feature = "postgres"))]
pub struct LoadBalancer {
    dir: TempDir,
    /// Its MCP URL: `http://127.0.0.1:PORT/mcp`.
    pub url: String,
}

#[cfg(all(feature = "mock", feature = "postgres"))]
impl LoadBalancer {
    /// The script, in the repository.
    const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/haproxy.sh");

    /// Starts HAProxy in front of `backends` (`HOST:PORT` each); panics with the script's
    /// output, naming it, when it cannot.
    pub fn start(name: &str, backends: &[&str]) -> LoadBalancer {
        let dir = TempDir::new(name);
        let output = std::process::Command::new(Self::SCRIPT)
            .arg("start")
            .args(backends)
            .env("HAPROXY_DIR", dir.join("haproxy"))
            .env_remove("HAPROXY_PORT")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|err| panic!("scripts/haproxy.sh did not run: {err}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let Some(base) = stdout
            .lines()
            .find_map(|line| line.strip_prefix("LISTENING "))
        else {
            panic!(
                "scripts/haproxy.sh did not start the load balancer ({}): it needs HAProxy \
                 (Debian's haproxy package, which it installs as root)\n{stdout}\n{stderr}",
                output.status
            );
        };
        LoadBalancer {
            url: format!("{base}/mcp"),
            dir,
        }
    }
}

#[cfg(all(feature = "mock", feature = "postgres"))]
impl Drop for LoadBalancer {
    fn drop(&mut self) {
        let _ = std::process::Command::new(Self::SCRIPT)
            .arg("stop")
            .env("HAPROXY_DIR", self.dir.join("haproxy"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

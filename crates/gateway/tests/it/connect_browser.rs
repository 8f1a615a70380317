//! A real browser on the connect page: Debian's Chromium, headless, driven through WebDriver
//! (`chromedriver`) with `fantoccini`. It opens the link an agent got, signs in at the real
//! authorization server (oidc-provider's login form), pastes a User API Token, sees "Connected
//! as …"; the user's retried call then works. The confirmation page's screenshot is written to
//! `target/connect-page.png`, and to `docs/connect-page.png` (the README's) with
//! `PAGERDUTY_MCP_UPDATE_SCREENSHOT=1`.
//!
//! Chromium and chromedriver come from `./scripts/install-chromium.sh`; missing, the test
//! fails and names that script.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use pagerduty_mcp_connect::UserId;
use pagerduty_mcp_connect_gateway::ConnectionStatus;
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::json;

use crate::connect_support::{ALICE, ConnectHarness, Options, TempDir};

/// The installer named when the browser is missing.
const INSTALLER: &str = "./scripts/install-chromium.sh";

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.is_file())
}

/// Chromium and chromedriver, or a panic naming the installer (never a skip).
fn chromium() -> (PathBuf, PathBuf) {
    match (which("chromium"), which("chromedriver")) {
        (Some(browser), Some(driver)) => (browser, driver),
        (browser, driver) => panic!(
            "the connect page's browser test needs Debian's Chromium and its WebDriver (found chromium: {}, chromedriver: {}); run {INSTALLER}",
            browser.is_some(),
            driver.is_some(),
        ),
    }
}

/// A running chromedriver (killed when dropped).
struct Driver {
    url: String,
    _child: tokio::process::Child,
}

impl Driver {
    async fn start(driver: &Path) -> Driver {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let child = tokio::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("start chromedriver ({err}); run {INSTALLER}"));
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(reply) = http.get(format!("{url}/status")).send().await
                && reply.status().is_success()
            {
                return Driver { url, _child: child };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not answer on {url} within 10 s");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_signs_in_at_the_authorization_server_pastes_a_token_and_sees_connected() {
    let (browser_binary, driver_binary) = chromium();
    let Some(h) = ConnectHarness::start(Options {
        oauth: true,
        require_email: true,
        ..Options::default()
    })
    .await
    else {
        return;
    };
    let mock = MockPagerDuty::start().await;
    let connector = h.connector(&mock);
    let alice = UserId::from(ALICE);
    assert!(
        connector
            .call_tool(&alice, "list_incidents", json!({}))
            .await
            .is_err()
    );
    let pending = h.link(ALICE);
    let waiter = tokio::spawn(pending.completion().wait());

    let driver = Driver::start(&driver_binary).await;
    let profile = TempDir::new();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": browser_binary,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--window-size=900,1000",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|err| panic!("a WebDriver session with Chromium: {err}; run {INSTALLER}"));

    let outcome = async {
        // The link, as the agent showed it: the page asks who you are.
        client.goto(pending.url.as_str()).await?;
        client.find(Locator::Id("sign-in")).await?.click().await?;
        // oidc-provider's login form (another origin), then back to the gateway.
        let login = client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css("input[name=\"login\"]"))
            .await?;
        assert!(
            !client.current_url().await?.as_str().starts_with(&h.base),
            "at the authorization server"
        );
        login.send_keys(ALICE).await?;
        client
            .find(Locator::Css("button[type=\"submit\"]"))
            .await?
            .click()
            .await?;
        let token = client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Id("token"))
            .await?;
        assert_eq!(client.current_url().await?.as_str(), pending.url.as_str());
        let who = client
            .find(Locator::Id("signed-in-as"))
            .await?
            .text()
            .await?;
        assert_eq!(who, ALICE);
        token.send_keys(MockPagerDuty::ALICE_TOKEN).await?;
        client
            .find(Locator::Id("submit-token"))
            .await?
            .click()
            .await?;
        let status = client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Id("status"))
            .await?
            .text()
            .await?;
        let age = client.find(Locator::Id("token-age")).await?.text().await?;
        let url = client.current_url().await?.to_string();
        let source = client.source().await?;
        let png = client.screenshot().await?;
        Ok::<_, fantoccini::error::CmdError>((status, age, url, source, png))
    }
    .await;
    let (status, age, url, source, png) = match outcome {
        Ok(seen) => seen,
        Err(err) => {
            let at = client.current_url().await.map(|u| u.to_string());
            let page = client.source().await.unwrap_or_default();
            let _ = client.close().await;
            panic!("the browser's steps failed: {err}\nat {at:?}\n{page}");
        }
    };
    let _ = client.close().await;

    assert_eq!(url, format!("{}/connect/account?connected=1", h.base));
    assert!(
        source.contains("Connected as Alice Example (alice@example.com), US service region"),
        "{status}\n{source}"
    );
    assert!(age.starts_with("Token stored today"), "{age}");
    assert!(!source.contains(MockPagerDuty::ALICE_TOKEN));
    assert_eq!(waiter.await.unwrap(), ConnectionStatus::Connected);
    // The agent's retried call works now.
    let result = connector
        .call_tool(&alice, "list_incidents", json!({}))
        .await
        .expect("the retried call works");
    assert!(!result.is_error());

    // The screenshot: a PNG of the confirmation page.
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = root.join("target/connect-page.png");
    std::fs::write(&target, &png).unwrap();
    if std::env::var_os("PAGERDUTY_MCP_UPDATE_SCREENSHOT").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::write(root.join("docs/connect-page.png"), &png).unwrap();
    }
}

//! The gateway against a real authorization server (`oidc-provider` from npm, run by
//! `scripts/oauth/provider.mjs`) and a real OAuth client (the TypeScript SDK, run by
//! `scripts/oauth/sdk_oauth_agent.mjs`): a token the provider issued calls a tool; and the SDK,
//! starting from nothing but the gateway's URL, follows the 401 to the protected resource
//! metadata, discovers the provider, registers (DCR), signs in with PKCE, gets a token for the
//! gateway's resource and calls a tool, as the user it signed in as (the SDK v1 and v2 clients,
//! and mcp-remote with its own OAuth code).

use pagerduty_mcp_connect_gateway::OAuthResourceServer;
use pagerduty_mcp_connect_mock::MockPagerDuty;
use serde_json::Value;

use crate::oauth_gateway::OAuthGateway;
use crate::oauth_provider::OAuthScripts;
use crate::raw_http::{Raw, call, open_session, post};

#[tokio::test]
async fn a_token_from_oidc_provider_calls_a_tool() {
    let Some(scripts) = OAuthScripts::find() else {
        return;
    };
    for alg in ["RS256", "ES256"] {
        let provider = scripts.provider(&["--alg", alg]).await;
        let issuer = provider.issuer.clone();
        let gw = OAuthGateway::start(
            move |url| {
                OAuthResourceServer::builder(url)
                    .issuer(issuer)
                    .required_scope("mcp")
            },
            |b| b,
        )
        .await;
        // The provider's metadata and keys are found (RFC 8414 discovery) before any token.
        gw.gateway
            .oauth()
            .unwrap()
            .prefetch()
            .await
            .expect("the provider's metadata and JWKS");
        let (ok, token, err) = scripts
            .run(
                "token.mjs",
                &[
                    "--issuer",
                    &provider.issuer,
                    "--resource",
                    &gw.url,
                    "--login",
                    "alice",
                ],
            )
            .await;
        assert!(ok, "token.mjs failed: {err}");
        let token = token.trim().to_owned();
        let http = reqwest::Client::new();
        let session = open_session(&http, &gw.url, &token).await;
        let reply = Raw::of(
            post(
                &http,
                &gw.url,
                Some(&token),
                Some(&session),
                &call(1, "get_user_data"),
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(reply.status, 200, "{alg}: {reply:?}");
        let result = reply.message()["result"].to_string();
        assert!(
            result.contains(MockPagerDuty::ALICE_USER_ID),
            "{alg}: {result}"
        );
        assert_eq!(
            gw.upstream_calls(),
            [Some(MockPagerDuty::ALICE_USER_ID.to_owned())],
            "{alg}"
        );
        // A token for another resource, from the same provider: refused.
        let (ok, other, err) = scripts
            .run(
                "token.mjs",
                &[
                    "--issuer",
                    &provider.issuer,
                    "--resource",
                    "http://127.0.0.1:9/mcp",
                    "--login",
                    "alice",
                ],
            )
            .await;
        assert!(ok, "token.mjs failed: {err}");
        let reply = Raw::of(
            post(&http, &gw.url, Some(other.trim()), None, &call(2, "x"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, 401, "{alg}");
        assert!(
            reply.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("error=\"invalid_token\"")
        );
    }
}

#[tokio::test]
async fn the_typescript_sdk_signs_in_by_itself_through_the_gateways_401() {
    let Some(scripts) = OAuthScripts::find() else {
        return;
    };
    let provider = scripts.provider(&[]).await;
    let issuer = provider.issuer.clone();
    let gw = OAuthGateway::start(
        move |url| {
            OAuthResourceServer::builder(url)
                .issuer(issuer)
                .required_scope("mcp")
        },
        |b| b,
    )
    .await;
    let runs: [(&str, &[&str]); 3] = [
        ("the v1 SDK, session era", &[]),
        (
            "the v2 SDK, 2026-07-28",
            &["--sdk", "v2", "--era", "2026-07-28"],
        ),
        // mcp-remote (the bridge Claude Desktop and Cursor run), with its own OAuth code.
        ("mcp-remote", &["--via-mcp-remote"]),
    ];
    for (i, (name, extra)) in runs.into_iter().enumerate() {
        let login = ["alice", "bob", "alice"][i];
        let mut args: Vec<&str> = extra.to_vec();
        args.extend([gw.url.as_str(), login, "get_user_data"]);
        let (ok, stdout, stderr) = scripts.run("sdk_oauth_agent.mjs", &args).await;
        let lines: Vec<Value> = stdout
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        assert!(
            ok,
            "{name}: sdk_oauth_agent.mjs failed:\n{stdout}\n{stderr}"
        );
        let step =
            |step: &str| -> Vec<&Value> { lines.iter().filter(|l| l["step"] == step).collect() };
        let called = step("call_tool");
        let text = called[0]["ok"]["text"].as_str().unwrap_or_default();
        let expected = [
            MockPagerDuty::ALICE_USER_ID,
            MockPagerDuty::BOB_USER_ID,
            MockPagerDuty::ALICE_USER_ID,
        ][i];
        assert!(text.contains(expected), "{name}: {stdout}");
        if *extra == ["--via-mcp-remote"] {
            // mcp-remote's own requests are not traced; its authorization request is.
            let authorize = step("authorize");
            assert_eq!(
                authorize[0]["resource"],
                Value::from(gw.url.as_str()),
                "{name}"
            );
            continue;
        }
        // It started from the gateway's 401 and read the protected resource metadata there.
        let http = step("http");
        assert!(
            http.iter()
                .any(|l| l["status"] == 401 && l["url"] == gw.url.as_str()),
            "{name}: no 401 from the gateway: {stdout}"
        );
        assert!(
            http.iter().any(|l| l["url"]
                .as_str()
                .is_some_and(|u| u.contains("/.well-known/oauth-protected-resource"))
                && l["status"] == 200),
            "{name}: the metadata was not read: {stdout}"
        );
        let authorize = step("authorize");
        assert_eq!(authorize.len(), 1, "{name}: {stdout}");
        assert_eq!(
            authorize[0]["resource"],
            Value::from(gw.url.as_str()),
            "{name}"
        );
        assert_eq!(authorize[0]["code_challenge_method"], "S256", "{name}");
        // The challenge's scope (the v2 SDK adds `offline_access`, which the provider offers).
        let scope = authorize[0]["scope"].as_str().unwrap_or_default();
        assert!(
            scope.split(' ').any(|s| s == "mcp"),
            "{name}: scope {scope:?}"
        );
        let token = step("token");
        assert_eq!(
            token[0]["claims"]["aud"],
            Value::from(gw.url.as_str()),
            "{name}"
        );
        assert_eq!(token[0]["claims"]["sub"], login, "{name}");
    }
    assert_eq!(
        gw.upstream_calls(),
        [
            Some(MockPagerDuty::ALICE_USER_ID.to_owned()),
            Some(MockPagerDuty::BOB_USER_ID.to_owned()),
            Some(MockPagerDuty::ALICE_USER_ID.to_owned()),
        ]
    );
}

/// The MCP Inspector CLI (through `$BROWSER`, as it opens the authorization URL on a desktop) and
/// the official Python SDK client (its `OAuthClientProvider`, in both of its modes) sign in by
/// themselves from nothing but the gateway's URL, and call a tool as the user they signed in as.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspector_cli_and_the_python_sdk_sign_in_by_themselves() {
    let Some(scripts) = OAuthScripts::find() else {
        return;
    };
    let Some(python) = crate::gateway_support::python() else {
        return;
    };
    let provider = scripts.provider(&[]).await;
    let issuer = provider.issuer.clone();
    let gw = OAuthGateway::start(
        move |url| {
            OAuthResourceServer::builder(url)
                .issuer(issuer)
                .required_scope("mcp")
        },
        |b| b,
    )
    .await;

    // The Inspector CLI: no TTY here, so it is told it may open a browser; the "browser" is
    // scripts/oauth/browser.sh, which signs in as OAUTH_LOGIN and delivers the code to the
    // Inspector's callback listener.
    let home = std::env::temp_dir().join(format!("gw-inspector-oauth-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    let callback_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let browser_log = home.join("browser.log");
    let inspector = scripts
        .node
        .parent()
        .and_then(|bin| bin.parent())
        .and_then(|package| package.parent())
        .unwrap()
        .join("@modelcontextprotocol/inspector/clients/cli/build/index.js");
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        tokio::process::Command::new(&scripts.node)
            .arg(&inspector)
            .args(["--server-url", &gw.url])
            .arg("--callback-url")
            .arg(format!("http://127.0.0.1:{callback_port}/oauth/callback"))
            .args([
                "--method",
                "tools/call",
                "--tool-name",
                "get_user_data",
                "--format",
                "json",
            ])
            .env("HOME", &home)
            .env("MCP_INSPECTOR_SECRET_STORE", "memory")
            .env("MCP_AUTO_OPEN_ENABLED", "true")
            .env("BROWSER", scripts.dir.join("browser.sh"))
            .env("OAUTH_LOGIN", "bob")
            .env("OAUTH_BROWSER_LOG", &browser_log)
            .env("NODE", &scripts.node)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("XDG_CURRENT_DESKTOP")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the Inspector CLI finishes within 120 s")
    .expect("run the Inspector CLI");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let browser = std::fs::read_to_string(&browser_log).unwrap_or_default();
    assert!(
        output.status.success(),
        "the Inspector CLI failed:\n{stdout}\n{stderr}\nbrowser: {browser}"
    );
    assert!(
        stdout.contains(MockPagerDuty::BOB_USER_ID),
        "the Inspector CLI's call was not Bob's: {stdout}"
    );
    // It signed in through the provider, for the gateway's resource.
    let authorization_url = browser
        .lines()
        .find_map(|line| line.strip_prefix("URL "))
        .unwrap_or_else(|| panic!("the browser was never opened: {browser}"));
    let authorization_url = url::Url::parse(authorization_url).unwrap();
    assert!(
        authorization_url.as_str().starts_with(&provider.issuer),
        "{authorization_url}"
    );
    assert!(
        authorization_url
            .query_pairs()
            .any(|(k, v)| k == "resource" && v == gw.url.as_str()),
        "{authorization_url}"
    );
    let _ = std::fs::remove_dir_all(&home);

    // The Python SDK client, in its session-era and 2026-07-28 modes.
    for (mode, login, user) in [
        ("legacy", "alice", MockPagerDuty::ALICE_USER_ID),
        ("2026-07-28", "bob", MockPagerDuty::BOB_USER_ID),
    ] {
        let output = tokio::time::timeout(
            std::time::Duration::from_secs(120),
            tokio::process::Command::new(&python)
                .arg(scripts.dir.join("python_oauth_agent.py"))
                .args([gw.url.as_str(), login, "get_user_data", "--mode", mode])
                .env("NODE", &scripts.node)
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("the Python SDK client finishes within 120 s")
        .expect("run python_oauth_agent.py");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{mode}: the Python SDK client failed:\n{stdout}\n{stderr}"
        );
        let lines: Vec<Value> = stdout
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        let step = |name: &str| lines.iter().find(|l| l["step"] == name).cloned();
        let token = step("token").unwrap_or_else(|| panic!("{mode}: no token step: {stdout}"));
        assert_eq!(token["claims"]["aud"], gw.url.as_str(), "{mode}");
        assert_eq!(token["claims"]["sub"], login, "{mode}");
        let called = step("call_tool").unwrap_or_else(|| panic!("{mode}: no call: {stdout}"));
        assert!(called.to_string().contains(user), "{mode}: {called}");
    }
    assert_eq!(
        gw.upstream_calls(),
        [
            Some(MockPagerDuty::BOB_USER_ID.to_owned()),
            Some(MockPagerDuty::ALICE_USER_ID.to_owned()),
            Some(MockPagerDuty::BOB_USER_ID.to_owned()),
        ]
    );
}

//! A gateway with OAuth on, in front of the embedded mock, on a loopback port chosen before the
//! gateway is built, so that its resource URI is the URL agents really use (the TypeScript
//! SDK checks that the protected resource metadata names the server it connects to).
#![allow(dead_code)]

use std::time::Duration;

use pagerduty_mcp_connect::{Connector, InMemoryCredentialStore, Policy};
use pagerduty_mcp_connect_gateway::{Gateway, GatewayBuilder, GatewayKeys, OAuthBuilder};
use pagerduty_mcp_connect_mock::MockPagerDuty;

/// A headless agent's gateway key (user `carol`, the mock's demo user's token).
pub const CAROL_KEY: &str = "gk_carol_0123456789abcdef";

/// A running gateway with OAuth.
pub struct OAuthGateway {
    pub mock: MockPagerDuty,
    pub gateway: Gateway,
    pub credentials: InMemoryCredentialStore,
    /// `http://127.0.0.1:PORT/mcp`: the resource URI too.
    pub url: String,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl OAuthGateway {
    /// Users `alice` (Alice's PagerDuty token), `bob` (Bob's) and `carol` (the demo user's, with
    /// the gateway key [`CAROL_KEY`]); OAuth as `oauth` makes it from the resource URI; the
    /// gateway builder adjusted by `configure`.
    pub async fn start(
        oauth: impl FnOnce(&str) -> OAuthBuilder,
        configure: impl FnOnce(GatewayBuilder) -> GatewayBuilder,
    ) -> OAuthGateway {
        let mock = MockPagerDuty::start().await;
        let credentials = InMemoryCredentialStore::new();
        credentials.insert("alice", MockPagerDuty::ALICE_TOKEN);
        credentials.insert("bob", MockPagerDuty::BOB_TOKEN);
        credentials.insert("carol", MockPagerDuty::DEMO_TOKEN);
        let keys = GatewayKeys::new();
        keys.insert(CAROL_KEY, "carol").unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let url = format!("{base}/mcp");
        let connector = Connector::builder()
            .server(mock.pagerduty())
            .credentials(credentials.clone())
            .policy(Policy::new());
        let builder = Gateway::builder(connector, keys)
            .shutdown_grace(Duration::from_secs(5))
            .oauth(oauth(&url).build().expect("the OAuth configuration"));
        let gateway = configure(builder).build().unwrap();
        let serving = gateway.clone();
        let task =
            tokio::spawn(async move { serving.serve(listener, std::future::pending()).await });
        OAuthGateway {
            mock,
            gateway,
            credentials,
            url,
            base,
            task,
        }
    }

    /// The `tools/call` requests the upstream received, with the mock user whose PagerDuty
    /// token each carried (`None`: no known token).
    pub fn upstream_calls(&self) -> Vec<Option<String>> {
        self.mock
            .requests()
            .iter()
            .filter(|r| r.jsonrpc_methods.iter().any(|m| m == "tools/call"))
            .map(|r| r.user_id.clone().filter(|_| r.auth_matched))
            .collect()
    }
}

impl Drop for OAuthGateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

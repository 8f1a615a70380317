//! The gateway's integration tests, one binary. `gateway_operations` stays a binary of its own:
//! it captures every log line of its process with a global subscriber.

#[path = "../support/asking_upstream.rs"]
mod asking_upstream;
#[cfg(feature = "store")]
#[path = "../support/connect_rest.rs"]
mod connect_rest;
#[cfg(feature = "store")]
#[path = "../support/connect.rs"]
mod connect_support;
#[path = "../support/gateway.rs"]
mod gateway_support;
#[path = "../support/oauth_gateway.rs"]
mod oauth_gateway;
#[path = "../support/oauth_provider.rs"]
mod oauth_provider;
#[path = "../support/oauth.rs"]
mod oauth_support;
#[path = "../support/subscribing_upstream.rs"]
mod subscribing_upstream;

/// Set-up that several scenario modules share.
mod shared {
    use pagerduty_mcp_connect::Policy;
    use pagerduty_mcp_connect_gateway::Gateway;

    use crate::gateway_support::{TestGateway, python};

    /// A [`TestGateway`] with `policy` for Python agents; `None` when the run opted out of the
    /// external peers (see [`python`]).
    pub async fn gateway_for_python_agents(policy: Policy) -> Option<TestGateway> {
        python()?;
        Some(TestGateway::start(policy).await)
    }

    /// Serves `gateway` on a fresh loopback port until the test ends; returns its MCP URL.
    pub async fn serve_on_loopback(gateway: &Gateway) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        let serving = gateway.clone();
        tokio::spawn(async move { serving.serve(listener, std::future::pending()).await });
        url
    }
}

mod agent_errors;
// The connect page's tests store tokens in the SqlCredentialStore (feature `store`; the
// workspace's test command builds with --all-features).
#[cfg(feature = "store")]
mod connect_agents;
#[cfg(feature = "store")]
mod connect_browser;
#[cfg(feature = "store")]
mod connect_flow;
#[cfg(feature = "store")]
mod connect_hostile;
#[cfg(feature = "store")]
mod connect_load;
mod forbidden;
mod gateway;
mod gateway_direct_path;
mod gateway_server_requests;
mod hostile_agents;
mod oauth_discovery;
mod oauth_real_provider;
mod oauth_sessions;
mod oauth_tokens;
mod param_headers;
mod raw_http;
mod real_clients;
mod refused_tools;
mod resource_subscriptions;

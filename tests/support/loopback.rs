//! A loopback HTTP server, for the scenarios that need a server the embedded mock cannot play
//! (hostile, odd or instrumented ones). Included with `#[path]` by the `it` binary and by
//! `server_requests_memory`.

use axum::Router;

/// Serves `app` on a fresh loopback port, in a task of its own, and returns the URL of its
/// `/mcp` route.
pub async fn serve_mcp(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{address}/mcp")
}

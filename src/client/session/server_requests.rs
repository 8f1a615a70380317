//! Answering the requests a server sends to the client.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{json, Value};

use super::{Route, SessionInner};
use crate::client::jsonrpc;

impl SessionInner {
    /// Answers a request the server sent: `ping` gets an empty result, anything else "method not
    /// found" (this client declares no sampling, elicitation or roots capability).
    pub(super) fn answer_server_request(
        self: &Arc<Self>,
        route: &Route,
        id: Value,
        method: &str,
        _params: Value,
    ) {
        if self.version.is_stateless() {
            return; // the stateless era has no server-to-client requests on a stream
        }
        let outcome = if method == "ping" {
            Ok(json!({}))
        } else {
            Err((
                -32601,
                "Method not found: this client offers no such capability",
            ))
        };
        let body = Bytes::from(jsonrpc::response_bytes(&id, outcome));
        let this = self.clone();
        let route = route.clone();
        tokio::spawn(async move {
            if let Err(err) = this.post_message(&route, body).await {
                tracing::debug!(error = %this.scrub(err), "could not answer a server request");
            }
        });
    }
}

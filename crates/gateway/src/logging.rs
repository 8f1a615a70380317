//! Upstream log messages to agents, and an agent's `logging/setLevel` to its user's upstream
//! session.
//!
//! MCP logging is deprecated by SEP-2577 (the 2026-07-28 revision; rmcp marks its types so),
//! but agents and upstreams of the session era still use it, and the gateway passes it through
//! as it is: a log message the upstream sent on a call's reply stream goes to the agent that
//! made the call; one sent on the upstream's standing stream goes to every session-era agent of
//! that user ([`list_changed`](super::list_changed)).
#![allow(deprecated)]

use rmcp::RoleServer;
use rmcp::model::{LoggingMessageNotificationParam, ServerNotification};
use rmcp::service::Peer;
use serde_json::Value;

use super::bridge::from_json;

/// The agent's notification for an upstream `notifications/message` with `params`.
pub(crate) fn log_notification(params: Value) -> Option<ServerNotification> {
    match from_json::<LoggingMessageNotificationParam>(params, "notifications/message") {
        Ok(param) => Some(ServerNotification::LoggingMessageNotification(
            rmcp::model::LoggingMessageNotification::new(param),
        )),
        Err(err) => {
            tracing::debug!(error = %err.message, "an upstream log message could not be passed on");
            None
        }
    }
}

/// Passes a log message the upstream sent during an agent's call on to that agent (when it has
/// a peer to send it to: not on the direct path, which takes no call a server logs in).
pub(crate) async fn pass_log_on(peer: Option<&Peer<RoleServer>>, params: Value) {
    let (Some(peer), Some(notification)) = (peer, log_notification(params)) else {
        return;
    };
    let _ = peer.send_notification(notification).await;
}

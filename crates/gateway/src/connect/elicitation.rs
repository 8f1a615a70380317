//! What the gateway sends an agent whose user has no usable PagerDuty token, in each protocol
//! era: the URL-mode elicitation of a [`PendingConnection`], as a 2025-11-25
//! `URLElicitationRequiredError` (-32042), as a 2026-07-28 `input_required` result, or as a
//! tool result with `isError: true` for agents that declared no URL elicitation.

use rmcp::model::{CallToolResult, ContentBlock, ErrorCode, ErrorData};
use serde_json::{Value, json};

use super::registry::PendingConnection;
use super::request_state::{RequestStateError, RequestStateKey};

/// The JSON-RPC error code of `URLElicitationRequiredError` (MCP 2025-11-25). The 2026-07-28
/// revision forbids it: use [`PendingConnection::input_required`] there.
pub const URL_ELICITATION_REQUIRED: i32 = -32042;

/// The key of the connect elicitation in a 2026-07-28 `inputRequests` map (the agent answers
/// under the same key in `inputResponses`).
pub const CONNECT_INPUT_KEY: &str = "connect_pagerduty";

/// The method of the notification that tells a 2025-11-25 agent an URL-mode elicitation
/// completed.
pub const ELICITATION_COMPLETE: &str = "notifications/elicitation/complete";

impl PendingConnection {
    /// The URL-mode elicitation, as in `data.elicitations[]` of a 2025-11-25
    /// `URLElicitationRequiredError` and in an `elicitation/create` request's params:
    /// `{"mode": "url", "elicitationId", "url", "message"}`.
    pub fn url_elicitation(&self) -> Value {
        json!({
            "mode": "url",
            "elicitationId": self.elicitation_id,
            "url": self.url.as_str(),
            "message": self.message,
        })
    }

    /// The 2025-11-25 `URLElicitationRequiredError` as rmcp's [`ErrorData`]: code -32042,
    /// `data.elicitations` holding this one URL-mode elicitation. Answer the request that
    /// needed the token with it, when the agent declared `elicitation.url` in its capabilities;
    /// when the connection completes ([`completion`](PendingConnection::completion)), send the
    /// agent [`elicitation_complete_notification`] and let it retry.
    pub fn elicitation_required_error(&self) -> ErrorData {
        ErrorData::new(
            ErrorCode(URL_ELICITATION_REQUIRED),
            "Your PagerDuty account is not connected to this gateway yet: open the link to connect it, then try again.",
            Some(json!({ "elicitations": [self.url_elicitation()] })),
        )
    }

    /// The same error as a plain JSON-RPC error object
    /// (`{"code": -32042, "message", "data": {"elicitations": [...]}}`).
    pub fn elicitation_required_error_json(&self) -> Value {
        serde_json::to_value(self.elicitation_required_error()).unwrap_or(Value::Null)
    }

    /// The 2026-07-28 `input_required` result carrying the URL-mode elicitation, with a
    /// `requestState` sealed by `key` (elicitation, user, expiry; the registry's own is
    /// [`ConnectRegistry::state_key`](super::ConnectRegistry::state_key)):
    ///
    /// ```json
    /// {"resultType": "input_required",
    ///  "inputRequests": {"connect_pagerduty": {"method": "elicitation/create",
    ///      "params": {"mode": "url", "url": "…", "message": "…"}}},
    ///  "requestState": "gwc1.…"}
    /// ```
    ///
    /// The 2026-07-28 URL-mode params have no `elicitationId` (the revision removed it): the
    /// sealed `requestState` names the elicitation. When the agent retries with that state
    /// (and `{"action": "accept"}` under [`CONNECT_INPUT_KEY`]), [open](RequestStateKey::open)
    /// it for the retrying user, look the connection up with
    /// [`ConnectRegistry::status`](super::ConnectRegistry::status) or wait on
    /// [`ConnectRegistry::watch`](super::ConnectRegistry::watch), then run the call (or answer
    /// `input_required` again while the person has not finished). Never -32042 in this era.
    ///
    /// # Errors
    ///
    /// [`RequestStateError::Random`] when the operating system's random source failed.
    pub fn input_required(&self, key: &RequestStateKey) -> Result<Value, RequestStateError> {
        Ok(json!({
            "resultType": "input_required",
            "inputRequests": {
                CONNECT_INPUT_KEY: {
                    "method": "elicitation/create",
                    "params": {
                        "mode": "url",
                        "url": self.url.as_str(),
                        "message": self.message,
                    },
                },
            },
            "requestState": key.seal(self)?,
        }))
    }

    /// What to tell the person when their agent cannot open URL elicitations (it declared no
    /// `elicitation.url`, like Claude Code today): the link and what to do, in plain text.
    pub fn instructions(&self) -> String {
        format!(
            "Your PagerDuty account is not connected to this gateway yet. To connect it, open this link in your browser:\n\n{}\n\nSign in, then paste your PagerDuty User API Token (in PagerDuty: My Profile > User Settings > API Access > Create API User Token). Do not paste the token into this chat. The link works once and expires in {} minutes. When the page says \"Connected\", ask me to try again.",
            self.url,
            self.remaining_minutes(),
        )
    }

    /// A tool result with `isError: true` whose text is [`instructions`](Self::instructions):
    /// the answer to a `tools/call` from an agent without URL elicitation (for resources and
    /// prompts, answer an error whose message is the same text).
    pub fn tool_error_result(&self) -> CallToolResult {
        CallToolResult::error(vec![ContentBlock::text(self.instructions())])
    }

    fn remaining_minutes(&self) -> u64 {
        let left = self
            .expires_at()
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        left.as_secs().div_ceil(60).max(1)
    }
}

/// The `notifications/elicitation/complete` notification for `elicitation_id` (MCP
/// 2025-11-25), as a JSON-RPC notification: send it to the agent that got the
/// `URLElicitationRequiredError` once [`ConnectionWatch::wait`](super::ConnectionWatch::wait)
/// says [`Connected`](super::ConnectionStatus::Connected).
pub fn elicitation_complete_notification(elicitation_id: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "method": ELICITATION_COMPLETE,
        "params": { "elicitationId": elicitation_id },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::ConnectRegistry;
    use pagerduty_mcp_connect::UserId;

    #[test]
    fn payloads_of_each_era() {
        let registry = ConnectRegistry::new("https://gw.example.com").unwrap();
        let alice = UserId::from("alice@example.com");
        let pending = registry.start(&alice).unwrap();
        let error = pending.elicitation_required_error_json();
        assert_eq!(error["code"], -32042);
        let elicitation = &error["data"]["elicitations"][0];
        assert_eq!(elicitation["mode"], "url");
        assert_eq!(
            elicitation["elicitationId"],
            pending.elicitation_id.as_str()
        );
        assert_eq!(elicitation["url"], pending.url.as_str());
        assert!(
            elicitation["message"]
                .as_str()
                .unwrap()
                .contains("PagerDuty")
        );

        let key = RequestStateKey::generate().unwrap();
        let input = pending.input_required(&key).unwrap();
        assert_eq!(input["resultType"], "input_required");
        let request = &input["inputRequests"][CONNECT_INPUT_KEY];
        assert_eq!(request["method"], "elicitation/create");
        assert_eq!(request["params"]["mode"], "url");
        assert!(request["params"].get("elicitationId").is_none());
        let state = input["requestState"].as_str().unwrap();
        assert_eq!(
            key.open(state, &alice).unwrap().elicitation_id,
            pending.elicitation_id
        );

        let result = serde_json::to_value(pending.tool_error_result()).unwrap();
        assert_eq!(result["isError"], true);
        let text = result["content"][0]["text"].as_str().unwrap();
        assert!(text.contains(pending.url.as_str()));
        assert!(text.contains("15 minutes"));

        let note = elicitation_complete_notification(&pending.elicitation_id);
        assert_eq!(note["method"], ELICITATION_COMPLETE);
        assert_eq!(
            note["params"]["elicitationId"],
            pending.elicitation_id.as_str()
        );
    }
}

//! Asking an agent's user to connect their PagerDuty account, when the gateway has no usable
//! token for them (none stored, revoked by PagerDuty on a 401, or rejected when checked) and a
//! [connect page](super::connect::ConnectPage) is configured: what the agent gets depends on
//! its protocol era and on whether it declared URL-mode elicitation
//! (`capabilities.elicitation.url`).
//!
//! - 2025-11-25 (session era) with URL elicitation: the `URLElicitationRequiredError` (-32042)
//!   with the link; when the person has finished, `notifications/elicitation/complete` goes to
//!   the agent's session, and the retried request finds the token.
//! - 2026-07-28 with URL elicitation: `input_required` carrying the URL-mode elicitation and a
//!   sealed `requestState` (elicitation, user, expiry); the retry with that state is opened for
//!   the retrying user ([`connect_round`]) and the call runs again (asked again with the same
//!   link while the person has not finished). -32042 is never sent in this era.
//! - Without URL elicitation: a `tools/call` gets a tool result with `isError: true` whose text
//!   gives the link and what to do; any other request a JSON-RPC error whose message does.
//!
//! The link goes only to the agent of the user it was made for (the request's own user), and
//! never into a log line; no token is ever in any of it.

use rmcp::RoleServer;
use rmcp::model::{
    CustomNotification, ErrorCode, ErrorData, InputRequiredResult, InputResponses,
    ServerNotification,
};
use rmcp::service::Peer;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::bridge::from_json;
use super::connect::{
    CONNECT_INPUT_KEY, ConnectPage, ConnectionStatus, ELICITATION_COMPLETE, PendingConnection,
    RequestStateError, RequestStateKey,
};
use super::errors::UPSTREAM_UNAUTHORIZED;
use pagerduty_mcp_connect::{Error, UserId};

/// Whether `err` means the gateway has no usable PagerDuty token for the user: none stored,
/// revoked or expired, rejected by PagerDuty (HTTP 401, now or earlier), or unusable as
/// stored. A failing store (retryable) is not: connecting again would not help.
pub(crate) fn needs_connect(err: &Error) -> bool {
    match err {
        Error::Unauthorized { .. } | Error::InvalidCredential { .. } => true,
        Error::Credential(inner) => !inner.is_retryable(),
        _ => false,
    }
}

/// What the agent that made the request can be given.
pub(crate) struct Asked<'a> {
    /// The user the request was authenticated as.
    pub(crate) user: &'a UserId,
    /// The method (only `tools/call`, `prompts/get` and `resources/read` can answer
    /// `input_required`, and only `tools/call` a tool result).
    pub(crate) method: &'static str,
    /// The agent declared `elicitation.url`.
    pub(crate) elicitation_url: bool,
    /// A 2026-07-28 agent.
    pub(crate) stateless_agent: bool,
    /// The session-era agent's peer (for `notifications/elicitation/complete`).
    pub(crate) peer: Option<&'a Peer<RoleServer>>,
    /// The link the agent was given before, still waiting (a 2026-07-28 retry): asked again
    /// with it rather than a new one.
    pub(crate) again: Option<PendingConnection>,
}

/// The answer that asks the person to connect.
pub(crate) enum Ask {
    /// A JSON-RPC error (-32042, or the link and what to do in its message).
    Error(ErrorData),
    /// A 2026-07-28 `input_required` result.
    InputRequired(InputRequiredResult),
    /// A tool result with `isError: true` (the link and what to do).
    ToolResult(Value),
}

/// The answer asking `asked.user` to connect their account through `page`'s links.
pub(crate) fn ask(page: &ConnectPage, asked: Asked<'_>, shutdown: &CancellationToken) -> Ask {
    let registry = page.registry();
    let pending = match asked.again {
        Some(pending) => pending,
        None => match registry.start(asked.user) {
            Ok(pending) => pending,
            Err(err) => {
                return Ask::Error(ErrorData::new(
                    ErrorCode(UPSTREAM_UNAUTHORIZED),
                    format!(
                        "Your PagerDuty account is not connected to this gateway yet, and no link to connect it could be made: {err}"
                    ),
                    Some(json!({ "kind": "connect_account" })),
                ));
            }
        },
    };
    tracing::info!(target: "mcp_gateway::connect", user = %asked.user, method = asked.method, url_elicitation = asked.elicitation_url, "asked to connect a PagerDuty account");
    let input_required_allowed = matches!(
        asked.method,
        "tools/call" | "prompts/get" | "resources/read"
    );
    match (asked.elicitation_url, asked.stateless_agent, asked.peer) {
        (true, true, _) if input_required_allowed => {
            let input = pending
                .input_required(registry.state_key())
                .map_err(|err| {
                    ErrorData::internal_error(format!("no requestState could be made: {err}"), None)
                })
                .and_then(|value| from_json::<InputRequiredResult>(value, asked.method));
            match input {
                Ok(input) => Ask::InputRequired(input),
                Err(err) => Ask::Error(err),
            }
        }
        (true, false, Some(peer)) => {
            tell_when_complete(&pending, peer.clone(), shutdown.clone());
            Ask::Error(pending.elicitation_required_error())
        }
        _ if asked.method == "tools/call" => Ask::ToolResult(
            serde_json::to_value(pending.tool_error_result()).unwrap_or(Value::Null),
        ),
        _ => Ask::Error(instructions_error(&pending)),
    }
}

/// The JSON-RPC error whose message gives the link and what to do.
fn instructions_error(pending: &PendingConnection) -> ErrorData {
    ErrorData::new(
        ErrorCode(UPSTREAM_UNAUTHORIZED),
        pending.instructions(),
        Some(json!({ "kind": "connect_account", "url": pending.url.as_str() })),
    )
}

/// Sends the session-era agent `notifications/elicitation/complete` once the person has
/// connected through the link (nothing when it expires or is retired, or the gateway stops).
fn tell_when_complete(
    pending: &PendingConnection,
    peer: Peer<RoleServer>,
    shutdown: CancellationToken,
) {
    let watch = pending.completion();
    let id = pending.elicitation_id.clone();
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let status = tokio::select! {
            status = watch.wait() => status,
            () = shutdown.cancelled() => return,
        };
        if status == ConnectionStatus::Connected {
            let note =
                CustomNotification::new(ELICITATION_COMPLETE, Some(json!({ "elicitationId": id })));
            let _ = peer
                .send_notification(ServerNotification::CustomNotification(note))
                .await;
        }
    });
}

/// A 2026-07-28 agent's retry of a request the gateway answered with a connect
/// `input_required`: when `state` is a connect `requestState` (and a page is configured), it is
/// taken out of the request (it never goes upstream) with the agent's answers, and opened for
/// `user`. `Ok(Some(link))`: the person has not finished yet (ask again with that link if the
/// call still finds no token); `Ok(None)`: not a connect state, or the link is done (run the
/// call). Refused: a state that is forged or altered, another user's, or expired, and a
/// declined elicitation.
pub(crate) fn connect_round(
    page: Option<&ConnectPage>,
    user: &UserId,
    state: &mut Option<String>,
    responses: &mut Option<InputResponses>,
) -> Result<Option<PendingConnection>, ErrorData> {
    let Some(page) = page else {
        return Ok(None);
    };
    if !state
        .as_deref()
        .is_some_and(RequestStateKey::is_connect_state)
    {
        return Ok(None);
    }
    let Some(sealed) = state.take() else {
        return Ok(None);
    };
    let answers = responses.take().unwrap_or_default();
    let registry = page.registry();
    let opened = registry
        .state_key()
        .open(&sealed, user)
        .map_err(|err| refused(&err))?;
    let action = answers
        .get(CONNECT_INPUT_KEY)
        .and_then(|answer| answer.get("action"))
        .and_then(Value::as_str);
    if matches!(action, Some("decline" | "cancel")) {
        registry.cancel(&opened.elicitation_id);
        return Err(ErrorData::new(
            ErrorCode(UPSTREAM_UNAUTHORIZED),
            "This request needs your PagerDuty account connected to the gateway, and connecting it was declined. Send the request again to get a new link.",
            Some(json!({ "kind": "connect_declined" })),
        ));
    }
    Ok(registry.pending(&opened.elicitation_id, user))
}

/// The error for a connect `requestState` that was not accepted (never saying more than why).
fn refused(err: &RequestStateError) -> ErrorData {
    ErrorData::invalid_params(
        format!("{err}: send the request again without the requestState"),
        Some(json!({ "kind": "connect_request_state" })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagerduty_mcp_connect::CredentialError;

    #[test]
    fn which_errors_ask_to_connect() {
        let user = UserId::from("alice");
        assert!(needs_connect(&Error::from(CredentialError::NotFound {
            user: user.clone()
        })));
        assert!(needs_connect(&Error::from(CredentialError::Rejected {
            user: user.clone()
        })));
        assert!(needs_connect(&Error::unauthorized(
            "Authentication failed",
            "help"
        )));
        assert!(!needs_connect(&Error::from(CredentialError::unavailable(
            "the database is down"
        ))));
        assert!(!needs_connect(&Error::policy_denied("read-only")));
    }
}

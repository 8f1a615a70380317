//! Multi round-trip requests (2026-07-28, SEP-2322): a result with
//! `resultType: "input_required"` names server requests (`inputRequests`) the client answers
//! through its handlers; the request is then sent again, under a new id, with the answers
//! (`inputResponses`) and the server's `requestState` echoed unchanged, for as many rounds as
//! the server asks within the call's time limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{HeaderName, HeaderValue};
use serde_json::{Map, Value};

use super::SessionInner;
use crate::client::server_request::CallContext;
use crate::error::{Error, Result};

/// Most rounds one call goes through before the client gives up on a server that never stops.
const MAX_ROUNDS: u32 = 32;
/// Most input requests one round may carry.
const MAX_INPUT_REQUESTS: usize = 64;

impl SessionInner {
    /// Takes a call's first result through every `input_required` round to its final result.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn complete_rounds(
        self: &Arc<Self>,
        current_id: &AtomicU64,
        method: &str,
        params: &Map<String, Value>,
        routing: &[(HeaderName, HeaderValue)],
        safe: bool,
        context: Option<&CallContext>,
        mut result: Value,
    ) -> Result<Value> {
        let mut rounds = 0u32;
        loop {
            match result.get("resultType") {
                None => return Ok(result),
                Some(Value::String(kind)) if kind == "complete" => return Ok(result),
                Some(Value::String(kind)) if kind == "input_required" => {}
                Some(Value::String(kind)) => {
                    return Err(Error::protocol(format!(
                        "unknown resultType (a string of {} characters)",
                        kind.chars().count()
                    )));
                }
                Some(_) => return Err(Error::protocol("resultType is not a string")),
            }
            rounds += 1;
            if rounds > MAX_ROUNDS {
                return Err(Error::protocol(format!(
                    "{method}: the server asked for input more than {MAX_ROUNDS} times; giving up"
                )));
            }
            let retry = self.answer_round(method, params, context, result).await?;
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            current_id.store(id, Ordering::Relaxed);
            result = self
                .exchange(current_id, method, &retry, routing, safe, context)
                .await?;
        }
    }

    /// Answers one round's input requests; returns the params of the request to send again.
    async fn answer_round(
        &self,
        method: &str,
        params: &Map<String, Value>,
        context: Option<&CallContext>,
        result: Value,
    ) -> Result<Map<String, Value>> {
        let Value::Object(mut result) = result else {
            return Err(Error::protocol("an input_required result is not an object"));
        };
        let requests = match result.remove("inputRequests") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(requests)) => requests,
            Some(_) => {
                return Err(Error::protocol(
                    "the inputRequests of an input_required result is not an object",
                ));
            }
        };
        let state = result.remove("requestState");
        if requests.is_empty() && state.is_none() {
            return Err(Error::protocol(
                "an input_required result has neither inputRequests nor requestState",
            ));
        }
        if requests.len() > MAX_INPUT_REQUESTS {
            return Err(Error::protocol(format!(
                "an input_required result asks for {} inputs, more than the {MAX_INPUT_REQUESTS} this client answers",
                requests.len()
            )));
        }
        let mut responses = Map::new();
        for (key, request) in requests {
            let Value::Object(mut request) = request else {
                return Err(Error::protocol("an input request is not an object"));
            };
            let input_method = match request.remove("method") {
                Some(Value::String(m)) => m,
                _ => return Err(Error::protocol("an input request has no method")),
            };
            let input_params = request.remove("params").unwrap_or(Value::Null);
            let request = self.server_request(&input_method, input_params, context);
            let answer = self.resolve(request).await.map_err(|err| {
                Error::protocol(format!(
                    "{method}: the server asked for {:.64} ({:.40}), which the client could not answer: {err}",
                    input_method, key
                ))
            })?;
            responses.insert(key, answer);
        }
        // The original request again, with this round's answers and the state as it came;
        // nothing of an earlier round is carried over.
        let mut retry = params.clone();
        retry.remove("inputResponses");
        retry.remove("requestState");
        if !responses.is_empty() {
            retry.insert("inputResponses".into(), Value::Object(responses));
        }
        if let Some(state) = state {
            retry.insert("requestState".into(), state);
        }
        Ok(retry)
    }
}

//! One request from start to answer: decoration (`_meta`, routing headers), the retry loop, the
//! time limit and cancellation when the caller drops the future.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use serde_json::{Map, Value, json};
use tracing::Instrument;

use super::{RequestOptions, SessionInner};
use crate::client::endpoint_cache::era_refused;
use crate::client::jsonrpc;
use crate::client::protocol::listed_versions;
use crate::client::server_request::CallContext;
use crate::client::tool_routing::param_header_values;
use crate::client::transport;
use crate::error::{Error, Result};

impl SessionInner {
    /// Sends one request and waits for its result, with retries, session re-establishment,
    /// `input_required` rounds (2026-07-28), the time limit and cancellation on drop.
    pub(crate) async fn call(
        self: &Arc<Self>,
        method: &str,
        mut params: Map<String, Value>,
        options: &RequestOptions,
    ) -> Result<Value> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        if self.is_rejected() {
            return Err(self.rejected_error());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let generated;
        let options = match (&options.on_progress, &options.progress_token) {
            (Some(_), None) => {
                // A per-call callback needs a token: one unique within the session.
                let mut with_token = options.clone();
                with_token.progress_token = Some(json!(format!("pmc-{id}")));
                generated = with_token;
                &generated
            }
            _ => options,
        };
        let _progress = self.register_progress(options);
        self.decorate(&mut params, options);
        let routing = self.routing_headers(method, &params);
        let safe = self.is_safe_to_repeat(method, &params);
        let mut guard = CancelOnDrop {
            session: Arc::downgrade(self),
            id: AtomicU64::new(id),
            armed: !self.version.is_stateless() && method != "initialize",
        };
        let limit = options.timeout.unwrap_or(self.config().request_timeout);
        let span = tracing::debug_span!("mcp_request", method, id);
        let context = options.context.as_ref();
        let exchange = async {
            let result = self
                .exchange(&guard.id, method, &params, &routing, safe, context)
                .await?;
            if options.return_input_required {
                return Ok(result);
            }
            self.complete_rounds(&guard.id, method, &params, &routing, safe, context, result)
                .await
        }
        .instrument(span);
        let result = tokio::time::timeout(limit, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(Error::timeout(format!(
                    "no answer to {method} within {} s",
                    limit.as_secs_f32()
                )))
            });
        if !matches!(result, Err(Error::Timeout { .. })) {
            guard.armed = false;
        }
        if self.version.is_stateless() && result.as_ref().is_err_and(era_refused) {
            // The endpoint no longer speaks the remembered era: negotiate again next time.
            self.client.endpoint.forget();
        }
        result.map_err(|err| {
            // Whether the server may have carried out a request that is not safe to repeat.
            let err = if safe {
                err.after_safe_request()
            } else {
                err.after_unsafe_request()
            };
            self.scrub(err)
        })
    }

    pub(super) fn decorate(&self, params: &mut Map<String, Value>, options: &RequestOptions) {
        let stateless = self.version.is_stateless();
        if !stateless && options.progress_token.is_none() {
            return;
        }
        let meta = params
            .entry("_meta")
            .or_insert_with(|| Value::Object(Map::new()));
        if !meta.is_object() {
            *meta = Value::Object(Map::new());
        }
        let Value::Object(meta) = meta else {
            return;
        };
        if stateless {
            for (key, value) in &self.client.stateless_meta {
                meta.insert(key.clone(), value.clone());
            }
            if let Some(capabilities) = &options.client_capabilities {
                meta.insert(
                    "io.modelcontextprotocol/clientCapabilities".into(),
                    capabilities.clone(),
                );
            }
            if let Some(level) = options.log_level.or_else(|| self.log_level()) {
                meta.insert(
                    "io.modelcontextprotocol/logLevel".into(),
                    json!(level.as_str()),
                );
            }
        }
        if let Some(token) = &options.progress_token {
            meta.insert("progressToken".into(), token.clone());
        }
    }

    /// The stateless era's routing headers: `Mcp-Method`, `Mcp-Name`, and the `Mcp-Param-*`
    /// headers the tool's schema declares.
    pub(super) fn routing_headers(
        &self,
        method: &str,
        params: &Map<String, Value>,
    ) -> Vec<(HeaderName, HeaderValue)> {
        if !self.version.is_stateless() {
            return Vec::new();
        }
        let mut headers = vec![(
            HeaderName::from_static(transport::MCP_METHOD),
            transport::routing_header_value(method),
        )];
        if let Some(name) = routing_name(method, params) {
            headers.push((HeaderName::from_static(transport::MCP_NAME), name));
        }
        if method == "tools/call" {
            let tools = self.tools.read().unwrap_or_else(|p| p.into_inner());
            if let Some(routing) = params
                .get("name")
                .and_then(Value::as_str)
                .and_then(|name| tools.as_ref()?.get(name))
            {
                let arguments = params.get("arguments").and_then(Value::as_object);
                headers.extend(param_header_values(routing, arguments));
            }
        }
        headers
    }

    pub(super) fn is_safe_to_repeat(&self, method: &str, params: &Map<String, Value>) -> bool {
        match method {
            "tools/call" => params
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|name| {
                    self.tools
                        .read()
                        .unwrap_or_else(|p| p.into_inner())
                        .as_ref()
                        .and_then(|tools| tools.get(name))
                        .is_some_and(|tool| tool.safe_to_repeat)
                }),
            _ => true,
        }
    }

    /// Sends the request until it has an answer. `current_id` holds the JSON-RPC id in use: a
    /// retry after a failure goes out under a new id (the 2026-07-28 protocol requires it for a
    /// re-issued request, and it keeps a late answer to the first attempt apart).
    pub(super) async fn exchange(
        self: &Arc<Self>,
        current_id: &AtomicU64,
        method: &str,
        params: &Map<String, Value>,
        routing: &[(HeaderName, HeaderValue)],
        safe: bool,
        context: Option<&CallContext>,
    ) -> Result<Value> {
        let mut attempt = 0u32;
        let mut reestablished = false;
        let mut version_retried = false;
        let mut id = current_id.load(Ordering::Relaxed);
        let mut body = Bytes::from(jsonrpc::request_bytes(id, method, params));
        loop {
            let route = self.route();
            let outcome = self.post(&route, id, routing, body.clone(), context).await;
            match outcome {
                Err(Error::HttpStatus { status: 404, .. })
                    if route.session_id.is_some() && !reestablished =>
                {
                    // The server does not know the session: it did not process the request, so
                    // replaying it on a new session is safe whatever the method.
                    tracing::info!(
                        server = self.client.server.name(),
                        "MCP session expired; re-initialising"
                    );
                    self.reestablish(route.generation).await?;
                    reestablished = true;
                }
                Err(Error::HttpStatus { status: 404, .. }) if route.session_id.is_some() => {
                    return Err(Error::session_expired(false));
                }
                Err(Error::Server {
                    code: -32022, data, ..
                }) if self.version.is_stateless()
                    && !version_retried
                    && listed_versions(data.as_ref()).contains(&self.version) =>
                {
                    // "Unsupported protocol version", yet the server lists the one sent: the
                    // specification says to retry with a listed version, so once more (the
                    // server did not process the request), under a new id.
                    tracing::debug!(
                        method,
                        "the server refused the protocol version it lists; retrying once"
                    );
                    version_retried = true;
                    id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    current_id.store(id, Ordering::Relaxed);
                    body = Bytes::from(jsonrpc::request_bytes(id, method, params));
                }
                Err(err)
                    if attempt < self.config().max_retries
                        && err.is_retryable()
                        && !matches!(err, Error::SessionExpired { .. })
                        // A 429 refused the request before running it: retrying any call
                        // is safe then, as after a connection that never opened.
                        && (safe
                            || transport::is_connect_error(&err)
                            || matches!(err, Error::RateLimited { .. })) =>
                {
                    let wait = err
                        .retry_after()
                        .unwrap_or_else(|| backoff(self.config().retry_base_delay, attempt));
                    if wait > self.config().max_retry_wait {
                        return Err(err);
                    }
                    tracing::debug!(method, attempt, wait_ms = wait.as_millis() as u64, error = %self.scrub(err), "retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    current_id.store(id, Ordering::Relaxed);
                    body = Bytes::from(jsonrpc::request_bytes(id, method, params));
                }
                other => return other,
            }
        }
    }
}

/// Sends `notifications/cancelled` when a request's future is dropped before its answer.
struct CancelOnDrop {
    session: Weak<SessionInner>,
    id: AtomicU64,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Some(session) = self.session.upgrade() else {
            return;
        };
        if session.closed.load(Ordering::Acquire) || session.is_rejected() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let params = json!({"requestId": self.id.load(Ordering::Relaxed), "reason": "the client cancelled the request"});
        let body = Bytes::from(jsonrpc::notification_bytes(
            "notifications/cancelled",
            params.as_object(),
        ));
        runtime.spawn(async move {
            let route = session.route();
            let _ =
                tokio::time::timeout(Duration::from_secs(5), session.post_message(&route, body))
                    .await;
        });
    }
}

/// The `Mcp-Name` of a stateless request: the tool or prompt name, or the resource URI.
fn routing_name(method: &str, params: &Map<String, Value>) -> Option<HeaderValue> {
    let key = match method {
        "tools/call" | "prompts/get" => "name",
        "resources/read" => "uri",
        _ => return None,
    };
    params
        .get(key)
        .and_then(Value::as_str)
        .map(transport::routing_header_value)
}

/// Exponential backoff with jitter: base × 2^attempt × [0.5, 1.5).
fn backoff(base: Duration, attempt: u32) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = 0.5 + f64::from(nanos % 1000) / 1000.0;
    base.mul_f64(f64::from(1u32 << attempt.min(10)) * jitter)
}

//! Reading a request's reply: JSON or SSE, dispatching what arrives before the response, and
//! resuming a dropped SSE stream.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::Value;

use super::{Route, SessionInner};
use crate::client::jsonrpc::{self, Incoming};
use crate::client::model::ServerNotification;
use crate::client::server_request::CallContext;
use crate::client::sse::SseParser;
use crate::client::transport::{self, ACCEPT_POST};
use crate::error::{Error, Result};
use crate::http_support::error_reply::error_from_server_reply;

impl SessionInner {
    /// One POST and its reply.
    pub(super) async fn post(
        self: &Arc<Self>,
        route: &Route,
        id: u64,
        routing: &[(HeaderName, HeaderValue)],
        body: Bytes,
        context: Option<&CallContext>,
    ) -> Result<Value> {
        let mut headers = self.headers(route, ACCEPT_POST);
        for (name, value) in routing {
            headers.insert(name.clone(), value.clone());
        }
        let mut response = self.send_post(headers, body).await?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND && route.session_id.is_some() {
            // Whatever the body says, a 404 on a request carrying a session id means the
            // server no longer knows the session (the caller re-establishes it).
            return Err(Error::http_status(
                404,
                "the server does not know the MCP session",
                None,
            ));
        }
        if !status.is_success() {
            return Err(self.error_reply(status, &mut response).await);
        }
        if transport::is_event_stream(response.headers()) {
            return self.read_stream(route, id, response, context).await;
        }
        if status == StatusCode::ACCEPTED || response.content_length() == Some(0) {
            return Err(Error::protocol(format!(
                "the server answered {status} without a body to a request that needs a response"
            )));
        }
        if !transport::is_json(response.headers()) {
            return Err(Error::protocol(format!(
                "the server answered with content type {}, expected application/json or text/event-stream",
                describe_content_type(response.headers().get(http::header::CONTENT_TYPE))
            )));
        }
        let bytes = transport::read_body(
            &mut response,
            self.config().max_body_bytes,
            self.config().idle_timeout,
        )
        .await?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|err| Error::protocol(format!("the reply is not valid JSON: {err}")))?;
        let mut answer = None;
        for message in jsonrpc::parse_messages(value)? {
            if let Some(outcome) = self.dispatch(route, id, message, context) {
                answer.get_or_insert(outcome);
            }
        }
        answer.unwrap_or_else(|| {
            Err(Error::protocol(
                "the reply holds no response to the request",
            ))
        })
    }

    /// Maps a non-success reply, reading (a bounded part of) its body.
    pub(super) async fn error_reply(
        &self,
        status: StatusCode,
        response: &mut reqwest::Response,
    ) -> Error {
        if status.is_redirection() {
            let location = response
                .headers()
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| self.client.server.endpoint().join(l).ok())
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_default();
            return Error::http_status(
                status.as_u16(),
                format!(
                    "the server redirected to another origin ({location}); the redirect was not followed, so the credential was not sent there"
                ),
                None,
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            self.mark_rejected();
            self.client
                .auth_forms
                .note_challenge(response.headers().get(http::header::WWW_AUTHENTICATE));
        }
        let body = transport::read_body(response, 64 * 1024, self.config().idle_timeout)
            .await
            .unwrap_or_default();
        error_from_server_reply(status, response.headers(), &body, &*self.client.server)
    }

    /// Handles one incoming message; returns the outcome if it answers request `id`.
    pub(super) fn dispatch(
        self: &Arc<Self>,
        route: &Route,
        id: u64,
        message: Incoming,
        context: Option<&CallContext>,
    ) -> Option<Result<Value>> {
        match message {
            Incoming::Response { id: got, outcome } => {
                if got.as_u64() == Some(id) {
                    Some(outcome)
                } else {
                    // The id is the server's: never logged as it is.
                    tracing::debug!(
                        id_is_number = got.is_u64(),
                        "ignoring a response to another request"
                    );
                    None
                }
            }
            Incoming::Notification { method, params } => {
                if method == "notifications/progress" {
                    self.report_progress(&params);
                }
                // What the server says goes on to the application (and, through a gateway, to an
                // agent): a log message that echoes the request's credential must not carry it.
                let params = if params.is_null() || method == "notifications/progress" {
                    params
                } else {
                    self.redactor().redact_value(params)
                };
                let notification = ServerNotification {
                    method,
                    params,
                    call: context.cloned(),
                };
                if let Some(hook) = &self.config().notification_hook {
                    (hook.0)(&notification);
                }
                self.publish(notification);
                None
            }
            Incoming::Request { id, method, params } => {
                self.answer_server_request(route, id, &method, params, context);
                None
            }
        }
    }

    /// Reads an SSE reply until the response to `id` arrives, resuming a dropped stream with
    /// GET + `Last-Event-ID` when the server gave event ids.
    pub(super) async fn read_stream(
        self: &Arc<Self>,
        route: &Route,
        id: u64,
        mut response: reqwest::Response,
        context: Option<&CallContext>,
    ) -> Result<Value> {
        let config = self.config();
        let mut parser = SseParser::new(config.max_event_bytes);
        let mut events = Vec::new();
        let mut resumptions = 0u32;
        loop {
            let read = loop {
                let strayed = self.stray_arrived.notified();
                let chunk = tokio::select! {
                    chunk = transport::next_chunk(&mut response, config.idle_timeout) => chunk,
                    () = strayed => match self.take_stray(id) {
                        Some(outcome) => return outcome,
                        None => continue,
                    },
                };
                match chunk {
                    Ok(Some(chunk)) => {
                        parser.feed(&chunk, &mut events)?;
                        for event in events.drain(..) {
                            if event.data.trim().is_empty() {
                                continue; // a priming event: only its id matters
                            }
                            resumptions = 0;
                            for message in jsonrpc::parse_event_data(&event.data)? {
                                if let Some(outcome) = self.dispatch(route, id, message, context) {
                                    transport::release_connection(
                                        response,
                                        &self.client.endpoint.stream_ends,
                                    )
                                    .await;
                                    return outcome;
                                }
                            }
                        }
                    }
                    Ok(None) => break None,
                    Err(err @ Error::Transport { .. }) => break Some(err),
                    Err(err) => return Err(err),
                }
            };
            // The stream ended (or broke) before the response.
            if let Some(outcome) = self.take_stray(id) {
                return outcome;
            }
            let Some(last_id) = parser.last_event_id().map(str::to_owned) else {
                return Err(read.unwrap_or_else(|| {
                    Error::transport(
                        "the server closed the stream before sending the response",
                        None,
                    )
                }));
            };
            if self.version.is_stateless() || resumptions >= config.max_resumptions {
                return Err(read.unwrap_or_else(|| {
                    Error::transport("the response stream ended and could not be resumed", None)
                }));
            }
            resumptions += 1;
            parser.reset_partial();
            let delay = parser.retry().unwrap_or(config.default_reconnect_delay);
            let wait =
                tokio::time::sleep(delay.clamp(MIN_RECONNECT_DELAY, Duration::from_secs(30)));
            tokio::pin!(wait);
            loop {
                let strayed = self.stray_arrived.notified();
                tokio::select! {
                    () = &mut wait => break,
                    () = strayed => {}
                }
                if let Some(outcome) = self.take_stray(id) {
                    return outcome;
                }
            }
            if let Some(outcome) = self.take_stray(id) {
                return outcome;
            }
            response = self.resume(route, &last_id).await?;
        }
    }

    /// Keeps a response that arrived on the standing stream for the request it answers (at most
    /// [`MAX_STRAY_RESPONSES`], the oldest dropped first).
    pub(super) fn keep_stray(&self, message: Incoming) {
        let Incoming::Response { id, outcome } = message else {
            return;
        };
        let Some(id) = id.as_u64() else {
            return;
        };
        {
            let mut strays = self
                .stray_responses
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if strays.len() >= MAX_STRAY_RESPONSES {
                drop(strays.remove(0));
            }
            strays.push((id, outcome));
        }
        self.stray_arrived.notify_waiters();
    }

    /// The response to `id` that arrived on the standing stream, if any.
    pub(super) fn take_stray(&self, id: u64) -> Option<Result<Value>> {
        let mut strays = self
            .stray_responses
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let index = strays.iter().position(|(got, _)| *got == id)?;
        Some(strays.remove(index).1)
    }

    /// GET with `Last-Event-ID` to continue a stream.
    pub(super) async fn resume(
        &self,
        route: &Route,
        last_event_id: &str,
    ) -> Result<reqwest::Response> {
        if self.is_rejected() {
            return Err(self.rejected_error());
        }
        let last = HeaderValue::from_str(last_event_id).map_err(|_| {
            Error::protocol("the server's SSE event id cannot be sent back in a header")
        })?;
        let response = self
            .stream_request(route, Some(last))
            .send()
            .await
            .map_err(transport::map_reqwest_error)?;
        let mut response = self.same_origin(response)?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND && route.session_id.is_some() {
            // The request was accepted on the lost session: replaying it could repeat its effect.
            return Err(Error::session_expired(true));
        }
        if !status.is_success() {
            return Err(self.error_reply(status, &mut response).await);
        }
        if !transport::is_event_stream(response.headers()) {
            return Err(Error::protocol(
                "the server answered the stream resumption without an event stream",
            ));
        }
        Ok(response)
    }
}

/// Most responses kept from the standing stream for requests still reading their own.
const MAX_STRAY_RESPONSES: usize = 16;

/// The shortest wait before reopening a stream, whatever `retry:` the server asks for.
const MIN_RECONNECT_DELAY: Duration = Duration::from_millis(50);

/// A reply's content type for a message: the media type when it is a plain token (`text/html`),
/// otherwise only that it is unreadable (it could hold anything).
fn describe_content_type(value: Option<&HeaderValue>) -> String {
    let Some(value) = value else {
        return "(none)".to_owned();
    };
    let media = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    let plain = !media.is_empty()
        && media.len() <= 64
        && media
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.'));
    if plain {
        format!("{media:?}")
    } else {
        "(unreadable)".to_owned()
    }
}

//! The HTTP side of Streamable HTTP: the shared `reqwest` client, header encoding, bounded body
//! reads and error mapping.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use base64::Engine as _;
use http::HeaderValue;

use crate::error::Error;
use crate::http_support::redirect_policy::{USER_AGENT, same_origin_only};

/// `Accept` of every POST: a server may answer either way.
pub(crate) const ACCEPT_POST: HeaderValue =
    HeaderValue::from_static("application/json, text/event-stream");
/// `Accept` of a GET stream.
pub(crate) const ACCEPT_STREAM: HeaderValue = HeaderValue::from_static("text/event-stream");
/// `Content-Type` of every POST.
pub(crate) const CONTENT_JSON: HeaderValue = HeaderValue::from_static("application/json");
/// Header names.
pub(crate) const SESSION_ID: &str = "mcp-session-id";
pub(crate) const PROTOCOL_VERSION: &str = "mcp-protocol-version";
pub(crate) const MCP_METHOD: &str = "mcp-method";
pub(crate) const MCP_NAME: &str = "mcp-name";
pub(crate) const LAST_EVENT_ID: &str = "last-event-id";

/// Builds the one HTTP client (and connection pool) a [`McpClient`](super::McpClient) shares
/// between all its sessions. Redirects are followed only within the origin of the request, so a
/// credential header never reaches another host.
pub(crate) fn build_http_client(
    connect_timeout: Duration,
    pool_idle_timeout: Duration,
) -> Result<reqwest::Client, Error> {
    crate::http_support::tls::client_builder()
        .user_agent(USER_AGENT)
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(pool_idle_timeout)
        .redirect(same_origin_only())
        .build()
        .map_err(|err| Error::transport("could not build the HTTP client", Some(Box::new(err))))
}

/// Encodes an `Mcp-Name`/`Mcp-Method` value: as is when it is visible ASCII (spaces allowed
/// inside), otherwise as `=?base64?<standard base64 of the UTF-8 bytes>?=`.
pub(crate) fn routing_header_value(value: &str) -> HeaderValue {
    let sentinel_shaped = value.starts_with("=?") && value.ends_with("?=");
    let plain = !value.is_empty()
        && !value.starts_with(' ')
        && !value.ends_with(' ')
        && value.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !sentinel_shaped;
    if plain && let Ok(header) = HeaderValue::from_str(value) {
        return header;
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(value.as_bytes());
    HeaderValue::from_str(&format!("=?base64?{encoded}?=")).expect("base64 is visible ASCII")
}

/// Whether a reply is an SSE stream.
pub(crate) fn is_event_stream(headers: &http::HeaderMap) -> bool {
    content_type(headers).is_some_and(|ct| ct.eq_ignore_ascii_case("text/event-stream"))
}

/// Whether a reply is JSON.
pub(crate) fn is_json(headers: &http::HeaderMap) -> bool {
    content_type(headers).is_some_and(|ct| {
        ct.eq_ignore_ascii_case("application/json")
            || (ct.len() > 5 && ct[..ct.len() - 5].ends_with('+') && ct.ends_with("json"))
    })
}

fn content_type(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or("").trim())
}

/// Reads a whole body, refusing more than `limit` bytes and a silence longer than `idle`.
pub(crate) async fn read_body(
    response: &mut reqwest::Response,
    limit: usize,
    idle: Duration,
) -> Result<bytes::Bytes, Error> {
    // Read before the first chunk: reqwest's `content_length()` is the body's size hint, which
    // shrinks as the body is read.
    let length = response.content_length();
    if let Some(length) = length
        && length > limit as u64
    {
        return Err(Error::too_large(limit));
    }
    // A small reply usually arrives as one chunk: keep it as it is, without a copy.
    let Some(first) = next_chunk(response, idle).await? else {
        return Ok(bytes::Bytes::new());
    };
    if first.len() > limit {
        return Err(Error::too_large(limit));
    }
    if length == Some(first.len() as u64) {
        // The whole body is here: no second read (and no second idle timer).
        return Ok(first);
    }
    let Some(second) = next_chunk(response, idle).await? else {
        return Ok(first);
    };
    let expected = length.map_or(first.len() + second.len(), |len| len as usize);
    let mut body = Vec::with_capacity(expected.min(limit));
    for chunk in [first, second] {
        if body.len() + chunk.len() > limit {
            return Err(Error::too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    while let Some(chunk) = next_chunk(response, idle).await? {
        if body.len() + chunk.len() > limit {
            return Err(Error::too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.into())
}

/// The next chunk of a body, or `None` at its end; a silence longer than `idle` is a time-out.
pub(crate) async fn next_chunk(
    response: &mut reqwest::Response,
    idle: Duration,
) -> Result<Option<bytes::Bytes>, Error> {
    match crate::time_limit::within(idle, response.chunk()).await {
        Some(Ok(chunk)) => Ok(chunk),
        Some(Err(err)) => Err(map_reqwest_error(err)),
        None => Err(Error::timeout(format!(
            "the server sent nothing for {} s (idle timeout)",
            idle.as_secs_f32()
        ))),
    }
}

/// The most a reply's rest is read for, after its response, to keep the connection.
const RELEASE_MAX_BYTES: usize = 64 * 1024;
/// How long the caller itself waits for a reply's end, after its response, before leaving the
/// rest to a task: about what a new connection to a remote server costs (TCP and TLS 1.3, two
/// round trips of 25 ms), so waiting is never dearer than the handshake it saves.
const RELEASE_INLINE_WAIT: Duration = Duration::from_millis(50);
/// How long a task waits for a reply's end beyond [`RELEASE_INLINE_WAIT`], to keep the
/// connection.
const RELEASE_MAX_WAIT: Duration = Duration::from_secs(2);
/// The most replies whose rest is being read by a task at once, in the process: beyond it (a
/// server that keeps its streams open after the response, under load) a reply's connection is
/// closed, so such a server cannot make the open connections grow with the call rate.
const RELEASE_MAX_TASKS: usize = 256;
static RELEASE_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(RELEASE_MAX_TASKS);

/// Reads an SSE reply to its end once its response has arrived, so that its connection goes
/// back to the pool.
///
/// The server ends the stream after the response (the spec's SHOULD), but the end usually comes
/// in a later write than the response event; a body dropped before its end closes the
/// connection, and the next request pays a new TCP (and TLS) handshake. So the caller reads the
/// rest itself, as a client that reads a whole body does, for at most [`RELEASE_INLINE_WAIT`]
/// and [`RELEASE_MAX_BYTES`] (nothing may follow a response on its own stream: whatever does is
/// dropped). Only a stream still open then is left to a task, at most [`RELEASE_MAX_TASKS`] of
/// them at once, for at most [`RELEASE_MAX_WAIT`]; beyond that its connection is closed.
///
/// The caller waits rather than a task from the start: under load a task runs late (behind the
/// callers), a caller sends its next request before the task gave the previous connection
/// back, the pool opens another one, and once the tasks outnumber their limit connections are
/// closed by the hundred a second (issue 23; `benches/connection_churn.rs`).
pub(crate) async fn release_connection(mut response: reqwest::Response, ends: &Arc<StreamEnds>) {
    if !ends.worth_waiting() {
        release_in_background(response, 0, ends);
        return;
    }
    let mut read = 0usize;
    let rest = async {
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    read += chunk.len();
                    if read > RELEASE_MAX_BYTES {
                        return false; // not a stream that ends: give the connection up
                    }
                }
                // Ended (the connection is free), or broken (nothing to keep).
                Ok(None) | Err(_) => return true,
            }
        }
    };
    match crate::time_limit::within(RELEASE_INLINE_WAIT, rest).await {
        Some(_) => ends.ended(),
        None => {
            ends.left_open();
            release_in_background(response, read, ends);
        }
    }
}

/// Whether an endpoint ends its SSE replies soon after their response: after
/// [`MAX_LEFT_OPEN`] replies in a row whose end did not come within [`RELEASE_INLINE_WAIT`],
/// callers stop waiting for it (a server that keeps its streams open would cost every call
/// the wait) until a reply's end arrives again, in time or later.
#[derive(Debug, Default)]
pub(crate) struct StreamEnds {
    left_open_in_a_row: AtomicU32,
}

/// Replies left open in a row after which callers stop waiting for their end.
const MAX_LEFT_OPEN: u32 = 3;

impl StreamEnds {
    fn worth_waiting(&self) -> bool {
        self.left_open_in_a_row.load(Ordering::Relaxed) < MAX_LEFT_OPEN
    }

    fn ended(&self) {
        if self.left_open_in_a_row.load(Ordering::Relaxed) != 0 {
            self.left_open_in_a_row.store(0, Ordering::Relaxed);
        }
    }

    fn left_open(&self) {
        self.left_open_in_a_row.fetch_add(1, Ordering::Relaxed);
    }
}

/// Leaves the rest of a reply to a task (see [`release_connection`]); closes its connection
/// when [`RELEASE_MAX_TASKS`] tasks are at it already.
fn release_in_background(mut response: reqwest::Response, mut read: usize, ends: &Arc<StreamEnds>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let Ok(slot) = RELEASE_SLOTS.try_acquire() else {
        return;
    };
    let ends = ends.clone();
    runtime.spawn(async move {
        let _slot = slot;
        let ended = tokio::time::timeout(RELEASE_MAX_WAIT, async move {
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        read += chunk.len();
                        if read > RELEASE_MAX_BYTES {
                            return false;
                        }
                    }
                    Ok(None) => return true,
                    Err(_) => return false,
                }
            }
        })
        .await;
        if ended == Ok(true) {
            ends.ended(); // late, but it ends: worth waiting for again
        }
    });
}

/// Reads (at most [`RELEASE_MAX_BYTES`] of) the body of a reply whose body means nothing (a
/// `202` to a notification, the answer to a DELETE), so that its connection goes back to the
/// pool; without a wait when the body is empty, as it usually is.
pub(crate) async fn discard_body(response: reqwest::Response, ends: &Arc<StreamEnds>) {
    if response.content_length() == Some(0) {
        return;
    }
    release_connection(response, ends).await;
}

/// Maps a `reqwest` error. Its message names the URL (which never holds a credential).
pub(crate) fn map_reqwest_error(err: reqwest::Error) -> Error {
    if err.is_timeout() {
        return Error::timeout("the HTTP request timed out");
    }
    let message = if err.is_connect() {
        "could not connect to the server"
    } else if err.is_body() || err.is_decode() {
        "the connection broke while reading the reply"
    } else if err.is_redirect() {
        "the server redirected too often"
    } else {
        "the HTTP request failed"
    };
    Error::transport(message, Some(Box::new(err.without_url())))
}

/// Whether the error happened before the request could reach the server (safe to resend).
pub(crate) fn is_connect_error(err: &Error) -> bool {
    match err {
        Error::Transport {
            source: Some(source),
            ..
        } => source
            .downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_connect),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_values_are_encoded_only_when_needed() {
        assert_eq!(routing_header_value("list_incidents"), "list_incidents");
        assert_eq!(routing_header_value("file:///a b.txt"), "file:///a b.txt");
        assert_eq!(routing_header_value("héllo"), "=?base64?aMOpbGxv?=");
        assert_eq!(routing_header_value(" x"), "=?base64?IHg=?=");
        assert_eq!(routing_header_value("a\r\nb"), "=?base64?YQ0KYg==?=");
        assert_eq!(
            routing_header_value("=?base64?x?="),
            "=?base64?PT9iYXNlNjQ/eD89?="
        );
    }

    #[test]
    fn content_types() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream; charset=utf-8"),
        );
        assert!(is_event_stream(&headers));
        assert!(!is_json(&headers));
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(is_json(&headers));
    }
}

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
/// The longest a reply's end is waited for (by a task, or by the caller while every task is
/// busy), to keep the connection.
const RELEASE_MAX_WAIT: Duration = Duration::from_secs(2);
/// The most replies whose rest is being read by a task at once, in the process: beyond it the
/// caller waits itself for an endpoint that ends its streams, and a reply's connection is
/// closed for one that keeps them open (so that such a server cannot make the open connections
/// grow with the call rate).
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
/// dropped). A stream still open then is left to a task, at most [`RELEASE_MAX_TASKS`] of them
/// at once, for at most [`RELEASE_MAX_WAIT`]; when they are all busy the caller goes on waiting
/// itself, as long as the endpoint is known to end its streams ([`StreamEnds`]), and otherwise
/// gives the connection up.
///
/// The caller waits rather than a task from the start: under load a task runs late (behind the
/// callers), a caller sends its next request before the task gave the previous connection
/// back, the pool opens another one, and once the tasks outnumber their limit connections are
/// closed by the hundred a second (issue 23; `benches/connection_churn.rs`).
pub(crate) async fn release_connection(mut response: reqwest::Response, ends: &Arc<StreamEnds>) {
    if !ends.worth_waiting() {
        if let Some(slot) = release_slot() {
            release_in_background(response, slot, ends);
        }
        return;
    }
    match crate::time_limit::within(RELEASE_INLINE_WAIT, read_rest(&mut response)).await {
        Some(Rest::Ended) => return ends.ended(),
        Some(Rest::TooLong) => return ends.stayed_open(),
        None => {}
    }
    if let Some(slot) = release_slot() {
        return release_in_background(response, slot, ends);
    }
    // Every task is busy with a late stream of an endpoint that does end them: wait on.
    let rest = RELEASE_MAX_WAIT.saturating_sub(RELEASE_INLINE_WAIT);
    match crate::time_limit::within(rest, read_rest(&mut response)).await {
        Some(Rest::Ended) => ends.ended(),
        Some(Rest::TooLong) | None => ends.stayed_open(),
    }
}

/// How a reply's rest was read.
enum Rest {
    /// To its end (or to a broken connection: nothing to keep either way).
    Ended,
    /// Beyond [`RELEASE_MAX_BYTES`]: not a stream that ends.
    TooLong,
}

/// Reads what is left of a reply (after its response), dropping it.
async fn read_rest(response: &mut reqwest::Response) -> Rest {
    let mut read = 0usize;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                read += chunk.len();
                if read > RELEASE_MAX_BYTES {
                    return Rest::TooLong;
                }
            }
            Ok(None) | Err(_) => return Rest::Ended,
        }
    }
}

/// A permit for a task reading a reply's rest, if fewer than [`RELEASE_MAX_TASKS`] are.
fn release_slot() -> Option<tokio::sync::SemaphorePermit<'static>> {
    tokio::runtime::Handle::try_current().ok()?;
    RELEASE_SLOTS.try_acquire().ok()
}

/// Leaves the rest of a reply to a task (see [`release_connection`]).
fn release_in_background(
    mut response: reqwest::Response,
    slot: tokio::sync::SemaphorePermit<'static>,
    ends: &Arc<StreamEnds>,
) {
    let ends = ends.clone();
    tokio::spawn(async move {
        let _slot = slot;
        match tokio::time::timeout(RELEASE_MAX_WAIT, read_rest(&mut response)).await {
            Ok(Rest::Ended) => ends.ended(), // late, but it ends
            Ok(Rest::TooLong) | Err(_) => ends.stayed_open(),
        }
    });
}

/// Whether an endpoint ends its SSE replies after their response: after [`MAX_STAYED_OPEN`]
/// replies in a row that did not end within [`RELEASE_MAX_WAIT`], callers stop waiting for
/// their end (a server that keeps its streams open would cost every call the wait) until a
/// reply's end arrives again. A late end (under load) is an end.
#[derive(Debug, Default)]
pub(crate) struct StreamEnds {
    stayed_open_in_a_row: AtomicU32,
}

/// Replies that stayed open in a row after which callers stop waiting for their end.
const MAX_STAYED_OPEN: u32 = 3;

impl StreamEnds {
    fn worth_waiting(&self) -> bool {
        self.stayed_open_in_a_row.load(Ordering::Relaxed) < MAX_STAYED_OPEN
    }

    fn ended(&self) {
        if self.stayed_open_in_a_row.load(Ordering::Relaxed) != 0 {
            self.stayed_open_in_a_row.store(0, Ordering::Relaxed);
        }
    }

    fn stayed_open(&self) {
        self.stayed_open_in_a_row.fetch_add(1, Ordering::Relaxed);
    }
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

//! Fault injection: the next N requests fail in a chosen way.
//!
//! A fault is used up by the next POST that passed authentication and carries at least one
//! JSON-RPC request (a message with an `id`); notifications, JSON-RPC responses, GET and DELETE
//! never use one up, so a client's background traffic cannot steal a fault a test armed. When
//! several kinds are armed, the first in this order fires: hang, redirect, rate limit, failure
//! status, malformed body, oversized body, dropped SSE stream.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};

/// One fault, taken from the armed set.
#[derive(Debug, Clone)]
pub(crate) enum Fault {
    Fail(StatusCode),
    RateLimit(Duration),
    Hang,
    Redirect(String),
    Malformed,
    Oversized(usize),
    DropSse,
}

impl Fault {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Fault::Fail(_) => "fail",
            Fault::RateLimit(_) => "rate_limit",
            Fault::Hang => "hang",
            Fault::Redirect(_) => "redirect",
            Fault::Malformed => "malformed",
            Fault::Oversized(_) => "oversized",
            Fault::DropSse => "drop_sse",
        }
    }
}

#[derive(Default)]
struct Armed {
    hang: usize,
    redirect: (usize, String),
    rate_limit: (usize, Duration),
    fail: (usize, u16),
    malformed: usize,
    oversized: (usize, usize),
    drop_sse: usize,
}

impl Armed {
    fn total(&self) -> usize {
        self.hang
            + self.redirect.0
            + self.rate_limit.0
            + self.fail.0
            + self.malformed
            + self.oversized.0
            + self.drop_sse
    }
}

/// The armed faults. The hot path reads one atomic when nothing is armed.
#[derive(Default)]
pub(crate) struct Faults {
    armed_total: AtomicUsize,
    armed: Mutex<Armed>,
}

impl Faults {
    fn update(&self, f: impl FnOnce(&mut Armed)) {
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut armed);
        self.armed_total.store(armed.total(), Ordering::SeqCst);
    }

    pub(crate) fn fail_next(&self, n: usize, status: u16) {
        self.update(|a| a.fail = (n, status));
    }

    pub(crate) fn rate_limit_next(&self, n: usize, retry_after: Duration) {
        self.update(|a| a.rate_limit = (n, retry_after));
    }

    pub(crate) fn hang_next(&self, n: usize) {
        self.update(|a| a.hang = n);
    }

    pub(crate) fn redirect_next(&self, n: usize, location: String) {
        self.update(|a| a.redirect = (n, location));
    }

    pub(crate) fn malformed_next(&self, n: usize) {
        self.update(|a| a.malformed = n);
    }

    pub(crate) fn oversized_next(&self, n: usize, bytes: usize) {
        self.update(|a| a.oversized = (n, bytes));
    }

    pub(crate) fn drop_sse_next(&self, n: usize) {
        self.update(|a| a.drop_sse = n);
    }

    pub(crate) fn clear(&self) {
        self.update(|a| *a = Armed::default());
    }

    /// Takes the next fault, if any is armed.
    pub(crate) fn take(&self) -> Option<Fault> {
        if self.armed_total.load(Ordering::SeqCst) == 0 {
            return None;
        }
        let mut taken = None;
        self.update(|a| {
            taken = if a.hang > 0 {
                a.hang -= 1;
                Some(Fault::Hang)
            } else if a.redirect.0 > 0 {
                a.redirect.0 -= 1;
                Some(Fault::Redirect(a.redirect.1.clone()))
            } else if a.rate_limit.0 > 0 {
                a.rate_limit.0 -= 1;
                Some(Fault::RateLimit(a.rate_limit.1))
            } else if a.fail.0 > 0 {
                a.fail.0 -= 1;
                let status =
                    StatusCode::from_u16(a.fail.1).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                Some(Fault::Fail(status))
            } else if a.malformed > 0 {
                a.malformed -= 1;
                Some(Fault::Malformed)
            } else if a.oversized.0 > 0 {
                a.oversized.0 -= 1;
                Some(Fault::Oversized(a.oversized.1))
            } else if a.drop_sse > 0 {
                a.drop_sse -= 1;
                Some(Fault::DropSse)
            } else {
                None
            };
        });
        taken
    }
}

fn json_response(status: StatusCode, body: &'static str) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A failure status with a PagerDuty-style error body.
pub(crate) fn fail_response(status: StatusCode) -> Response {
    let body = match status.as_u16() {
        // PagerDuty's answer to a user whose role lacks a permission (no Advanced Permissions).
        403 => {
            r#"{"error":{"message":"Access Denied","code":2010,"errors":["The user does not have the 'incidents.write' permission"]}}"#
        }
        502 => r#"{"error":{"message":"Bad Gateway","code":2001}}"#,
        503 => r#"{"error":{"message":"Service Unavailable","code":2001}}"#,
        504 => r#"{"error":{"message":"Gateway Timeout","code":2001}}"#,
        _ => r#"{"error":{"message":"Internal Server Error","code":2001}}"#,
    };
    json_response(status, body)
}

/// 429 with `Retry-After` and PagerDuty's rate-limit body (code 2020).
pub(crate) fn rate_limit_response(retry_after: Duration) -> Response {
    let mut response = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        r#"{"error":{"message":"Rate Limit Exceeded","code":2020}}"#,
    );
    let secs = retry_after.as_secs().to_string();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&secs) {
        headers.insert(header::RETRY_AFTER, value.clone());
        headers.insert("ratelimit-reset", value);
    }
    headers.insert("ratelimit-limit", HeaderValue::from_static("960"));
    headers.insert("ratelimit-remaining", HeaderValue::from_static("0"));
    response
}

/// 307 to `location`.
pub(crate) fn redirect_response(location: &str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::TEMPORARY_REDIRECT;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// 200 `application/json` with a body that is not JSON.
pub(crate) fn malformed_response() -> Response {
    json_response(
        StatusCode::OK,
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"trunc",
    )
}

/// 200 `application/json`, a well-formed JSON-RPC response of about `size` bytes, streamed in
/// chunks without `Content-Length`, so a client must count while it reads.
pub(crate) fn oversized_response(id: &serde_json::Value, size: usize) -> Response {
    const CHUNK: usize = 64 * 1024;
    let head = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"isError\":false,\"content\":[{{\"type\":\"text\",\"text\":\""
    );
    let tail: &'static [u8] = b"\"}]}}";
    let filler = size.saturating_sub(head.len() + tail.len());
    let filler_chunk = Bytes::from(vec![b'x'; CHUNK.min(filler.max(1))]);
    let mut chunks: Vec<Bytes> = vec![Bytes::from(head)];
    let mut left = filler;
    while left > 0 {
        let n = left.min(CHUNK);
        chunks.push(filler_chunk.slice(..n));
        left -= n;
    }
    chunks.push(Bytes::from_static(tail));
    let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

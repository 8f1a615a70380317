//! Turning a non-success HTTP reply (PagerDuty's REST-style error envelope, a JSON-RPC error body,
//! or anything else) into an [`Error`].

use std::time::Duration;

use http::{HeaderMap, StatusCode};

use crate::error::Error;

/// Maps a non-success HTTP reply to an [`Error`]. `credential_help` goes into
/// [`Error::Unauthorized`].
pub(crate) fn error_from_reply(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    credential_help: &str,
) -> Error {
    let message = String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned();
    match status.as_u16() {
        401 => Error::Unauthorized {
            message,
            help: credential_help.to_owned(),
        },
        403 => Error::Forbidden { message },
        429 => Error::RateLimited {
            retry_after: retry_after(headers),
            message,
        },
        code => Error::HttpStatus {
            status: code,
            message,
            retry_after: retry_after(headers),
        },
    }
}

/// The wait a reply asks for: `Retry-After` (seconds or an HTTP date) or `ratelimit-reset`.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

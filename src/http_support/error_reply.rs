//! Turning a non-success HTTP reply (a REST-style error envelope, a JSON-RPC error body, or
//! anything else) into an [`Error`].
//!
//! The reply's body is untrusted text: only a short, cleaned excerpt of it ever reaches an error
//! message ([`crate::redaction::excerpt`]); the client then runs its [`Redactor`] with the
//! request's credential over the finished error. What a server's own error codes mean, and what
//! to advise on 401, 403 and 429, comes from the server description
//! ([`RemoteMcpServer::error_code_meaning`], [`RemoteMcpServer::error_advice`]), so nothing here
//! knows one service's texts. Request headers are never part of a message.
//!
//! [`Redactor`]: crate::redaction::Redactor

use http::{HeaderMap, StatusCode};
use serde_json::Value;

use crate::error::Error;
use crate::http_support::retry_after::retry_after;
use crate::redaction::{MAX_EXCERPT, excerpt, truncate};
use crate::server::RemoteMcpServer;

/// What is said on a 401 when the server adds nothing.
pub(crate) const GENERIC_UNAUTHORIZED: &str =
    "the credential was not accepted: it is wrong, expired, or was revoked or deleted";
/// What is said on a 403 when the server adds nothing.
pub(crate) const GENERIC_FORBIDDEN: &str = "the credential is valid, but its user may not do this: ask the service's administrator for the needed role or permission";
/// What is said on a 429 with a `Retry-After` when the server adds nothing.
const GENERIC_RATE_LIMITED: &str = "too many requests; wait before retrying";
/// What is said on a 429 without a wait when the server adds nothing.
const GENERIC_RATE_LIMITED_NO_WAIT: &str = "too many requests; wait a minute before retrying";

/// Maps a non-success HTTP reply of `server` to an [`Error`].
///
/// - 401 → [`Error::Unauthorized`] (the server's message, the advice, and `credential_help`);
/// - 403 → [`Error::Forbidden`];
/// - 429 → [`Error::RateLimited`] with the wait from `Retry-After` or `ratelimit-reset`;
/// - any other status whose body is a JSON-RPC error (and is not a 5xx) → [`Error::Server`];
/// - everything else → [`Error::HttpStatus`] with the server's message and any `Retry-After`.
pub(crate) fn error_from_server_reply(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    server: &dyn RemoteMcpServer,
) -> Error {
    let parsed = ReplyBody::parse(headers, body);
    let detail = parsed.describe(server);
    let advice = |generic: &'static str| server.error_advice(status.as_u16()).unwrap_or(generic);

    match status.as_u16() {
        401 => Error::unauthorized(
            join(detail, advice(GENERIC_UNAUTHORIZED)),
            server.credential_help(),
        ),
        403 => Error::forbidden(join(detail, advice(GENERIC_FORBIDDEN))),
        429 => {
            let retry_after = retry_after(headers);
            let generic = if retry_after.is_some() {
                GENERIC_RATE_LIMITED
            } else {
                GENERIC_RATE_LIMITED_NO_WAIT
            };
            Error::rate_limited(join(detail, advice(generic)), retry_after)
        }
        code => match parsed {
            ReplyBody::JsonRpc {
                code: rpc_code,
                message,
                data,
            } if !status.is_server_error() => Error::server(rpc_code, message, data),
            _ => Error::http_status(
                code,
                detail.unwrap_or_else(|| {
                    status
                        .canonical_reason()
                        .unwrap_or("unexpected HTTP status")
                        .to_owned()
                }),
                retry_after(headers),
            ),
        },
    }
}

/// The cleaned, bounded one-line summary of a reply's body that [`error_from_reply`] puts into
/// its messages, or `None` for an empty or unreadable body.
pub(crate) fn reply_detail(
    headers: &HeaderMap,
    body: &[u8],
    server: &dyn RemoteMcpServer,
) -> Option<String> {
    ReplyBody::parse(headers, body).describe(server)
}

/// A JSON-RPC error object's fields as an [`Error::Server`], with the message cleaned and bounded.
pub(crate) fn json_rpc_error(code: i64, message: &str, data: Option<Value>) -> Error {
    Error::server(code, excerpt(message), data)
}

/// What a reply's body turned out to be.
#[derive(Debug, PartialEq)]
enum ReplyBody {
    /// A REST-style envelope `{"error":{"message":…,"code":2006,"errors":[…]}}` (PagerDuty's and
    /// many others'; messages already cleaned).
    Envelope {
        code: Option<i64>,
        message: Option<String>,
        errors: Vec<String>,
    },
    /// A JSON-RPC error `{"jsonrpc":"2.0","error":{"code":…,"message":…,"data":…}}`, or the same
    /// shape without `jsonrpc` but with a negative code (what older MCP SDKs send).
    JsonRpc {
        code: i64,
        message: String,
        data: Option<Value>,
    },
    /// Anything else that has text in it (already cleaned).
    Text(String),
    /// No body, or nothing readable in it.
    Empty,
}

impl ReplyBody {
    fn parse(headers: &HeaderMap, body: &[u8]) -> Self {
        if body.iter().all(u8::is_ascii_whitespace) {
            return ReplyBody::Empty;
        }
        if let Ok(json) = serde_json::from_slice::<Value>(body) {
            return Self::from_json(json);
        }
        let head = &body[..body.len().min(64 * 1024)];
        let text = String::from_utf8_lossy(head);
        let is_html = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.to_ascii_lowercase().contains("html"))
            || looks_like_html(&text);
        let text = if is_html {
            html_to_text(&text)
        } else {
            text.into_owned()
        };
        let cleaned = excerpt(&text);
        if cleaned.is_empty() {
            ReplyBody::Empty
        } else {
            ReplyBody::Text(cleaned)
        }
    }

    fn from_json(json: Value) -> Self {
        let Value::Object(mut top) = json else {
            return match json {
                Value::String(s) => text_or_empty(&s),
                other => text_or_empty(&other.to_string()),
            };
        };
        match top.remove("error") {
            Some(Value::Object(mut error)) => {
                let code = error.get("code").and_then(Value::as_i64);
                let message = error
                    .get("message")
                    .and_then(Value::as_str)
                    .map(excerpt)
                    .filter(|m| !m.is_empty());
                let is_json_rpc = top.contains_key("jsonrpc") || code.is_some_and(|c| c < 0);
                match code {
                    Some(code) if is_json_rpc => ReplyBody::JsonRpc {
                        code,
                        message: message.unwrap_or_default(),
                        data: error.remove("data"),
                    },
                    _ => {
                        let errors = match error.get("errors") {
                            Some(Value::Array(items)) => items
                                .iter()
                                .map(|item| match item {
                                    Value::String(s) => excerpt(s),
                                    other => excerpt(&other.to_string()),
                                })
                                .filter(|s| !s.is_empty())
                                .collect(),
                            Some(Value::String(s)) => vec![excerpt(s)],
                            _ => Vec::new(),
                        };
                        ReplyBody::Envelope {
                            code,
                            message,
                            errors,
                        }
                    }
                }
            }
            Some(Value::String(message)) => {
                let description = top
                    .get("error_description")
                    .and_then(Value::as_str)
                    .map(|d| format!("{message}: {d}"));
                text_or_empty(description.as_deref().unwrap_or(&message))
            }
            Some(other) => {
                top.insert("error".to_owned(), other);
                text_or_empty(&Value::Object(top).to_string())
            }
            None => match top.get("message").and_then(Value::as_str) {
                Some(message) => text_or_empty(message),
                None => text_or_empty(&Value::Object(top).to_string()),
            },
        }
    }

    /// One cleaned line for an error message, at most about [`MAX_EXCERPT`] characters.
    fn describe(&self, server: &dyn RemoteMcpServer) -> Option<String> {
        match self {
            ReplyBody::Envelope {
                code,
                message,
                errors,
            } => {
                let known = code.and_then(|code| server.error_code_meaning(code));
                let mut line = message
                    .clone()
                    .or_else(|| known.map(str::to_owned))
                    .unwrap_or_else(|| "error".to_owned());
                if !errors.is_empty() {
                    line.push_str(": ");
                    line.push_str(&errors.join("; "));
                }
                let mut line = truncate(&line, MAX_EXCERPT);
                if let Some(code) = code {
                    match known {
                        Some(meaning)
                            if message
                                .as_deref()
                                .is_some_and(|m| !m.eq_ignore_ascii_case(meaning)) =>
                        {
                            line.push_str(&format!(" (error {code}: {meaning})"));
                        }
                        _ => line.push_str(&format!(" (error {code})")),
                    }
                }
                Some(line)
            }
            ReplyBody::JsonRpc { code, message, .. } => {
                Some(format!("{message} (JSON-RPC error {code})"))
            }
            ReplyBody::Text(text) => Some(text.clone()),
            ReplyBody::Empty => None,
        }
    }
}

fn text_or_empty(text: &str) -> ReplyBody {
    let cleaned = excerpt(text);
    if cleaned.is_empty() {
        ReplyBody::Empty
    } else {
        ReplyBody::Text(cleaned)
    }
}

/// `detail; action`, or just `action`.
fn join(detail: Option<String>, action: &str) -> String {
    match detail {
        Some(detail) => format!("{detail}; {action}"),
        None => action.to_owned(),
    }
}

fn looks_like_html(text: &str) -> bool {
    let head: String = text
        .trim_start()
        .chars()
        .take(15)
        .collect::<String>()
        .to_ascii_lowercase();
    head.starts_with("<!doctype")
        || head.starts_with("<html")
        || head.starts_with("<head")
        || head.starts_with("<body")
        || head.starts_with("<h1")
        || head.starts_with("<p>")
}

/// The `<title>` of an HTML page, or else its text with tags, scripts and styles removed.
fn html_to_text(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    if let Some(open) = lower.find("<title")
        && let Some(gt) = lower[open..].find('>')
    {
        let start = open + gt + 1;
        let end = lower[start..]
            .find("</title")
            .map_or(lower.len(), |e| start + e);
        let title = decode_entities(&html[start..end]);
        if !title.trim().is_empty() {
            return title;
        }
    }
    let mut out = String::new();
    let mut rest = html;
    let mut rest_lower = lower.as_str();
    while let Some(lt) = rest_lower.find('<') {
        out.push_str(&rest[..lt]);
        out.push(' ');
        let skip_to = ["<script", "<style"]
            .iter()
            .find(|tag| rest_lower[lt..].starts_with(**tag))
            .and_then(|tag| {
                let close = format!("</{}", &tag[1..]);
                rest_lower[lt..].find(&close).map(|c| lt + c + close.len())
            })
            .unwrap_or(lt);
        match rest_lower[skip_to..].find('>') {
            Some(gt) => {
                rest = &rest[skip_to + gt + 1..];
                rest_lower = &rest_lower[skip_to + gt + 1..];
            }
            None => {
                rest = "";
                rest_lower = "";
            }
        }
    }
    out.push_str(rest);
    decode_entities(&out)
}

fn decode_entities(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GenericServer, PagerDuty, Region};
    use http::HeaderValue;
    use std::time::Duration;

    const HELP: &str = "Create a token under Settings.";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn generic() -> GenericServer {
        GenericServer::new(
            "test",
            "https://mcp.example.com/mcp",
            crate::AuthScheme::token(),
        )
        .unwrap()
        .with_credential_help(HELP)
    }

    fn reply(status: u16, pairs: &[(&'static str, &str)], body: &str) -> Error {
        reply_of(&generic(), status, pairs, body)
    }

    fn pagerduty(status: u16, pairs: &[(&'static str, &str)], body: &str) -> Error {
        reply_of(&PagerDuty::new(Region::Us), status, pairs, body)
    }

    fn reply_of(
        server: &dyn RemoteMcpServer,
        status: u16,
        pairs: &[(&'static str, &str)],
        body: &str,
    ) -> Error {
        error_from_server_reply(
            StatusCode::from_u16(status).unwrap(),
            &headers(pairs),
            body.as_bytes(),
            server,
        )
    }

    #[test]
    fn unauthorized_carries_pagerduty_message_and_help() {
        let err = pagerduty(
            401,
            &[],
            r#"{"error":{"message":"Authentication failed","code":2006,"errors":["The API key is invalid"]}}"#,
        );
        let Error::Unauthorized { message, help, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(
            message.contains("Authentication failed: The API key is invalid"),
            "{message}"
        );
        assert!(message.contains("(error 2006)"), "{message}");
        assert!(message.contains("revoked"), "{message}");
        assert!(
            message.contains("other PagerDuty service region"),
            "{message}"
        );
        assert_eq!(help, crate::CREDENTIAL_HELP);
        assert!(err.to_string().ends_with(crate::CREDENTIAL_HELP));
        assert_eq!(err.status(), Some(401));
        // A generic server with the same body gets neither the code's meaning nor the region hint.
        let generic = reply(
            401,
            &[],
            r#"{"error":{"message":"Authentication failed","code":2006}}"#,
        );
        assert!(!generic.to_string().contains("region"), "{generic}");
        assert!(generic.to_string().contains("(error 2006)"), "{generic}");
        assert!(generic.to_string().ends_with(HELP));
        assert!(err.is_credential_problem());
        assert!(!err.is_retryable());
    }

    #[test]
    fn unauthorized_without_body_is_still_actionable() {
        let err = reply(401, &[], "");
        let Error::Unauthorized { message, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(
            message.starts_with("the credential was not accepted"),
            "{message}"
        );
        // Generic servers get no PagerDuty region hint.
        assert!(!message.contains("PagerDuty"), "{message}");
    }

    #[test]
    fn forbidden_asks_for_role_or_advanced_permissions() {
        let err = pagerduty(
            403,
            &[],
            r#"{"error":{"message":"Access Denied","code":2010,"errors":["You do not have the permission to manage this incident"]}}"#,
        );
        let Error::Forbidden { message, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(
            message.contains("Access Denied: You do not have the permission"),
            "{message}"
        );
        assert!(message.contains("(error 2010)"), "{message}");
        assert!(message.contains("PagerDuty admin"), "{message}");
        assert!(message.contains("Advanced Permissions"), "{message}");
        assert!(!err.is_retryable());
    }

    #[test]
    fn forbidden_for_the_pagerduty_preset_mentions_pagerduty_even_without_envelope() {
        let err = pagerduty(403, &[], "nope");
        assert!(err.to_string().contains("PagerDuty admin"), "{err}");
        let generic = reply(403, &[], "nope");
        assert!(generic.to_string().contains("administrator"), "{generic}");
    }

    #[test]
    fn rate_limited_reads_ratelimit_reset() {
        let err = pagerduty(
            429,
            &[("ratelimit-reset", "17"), ("ratelimit-limit", "960")],
            r#"{"error":{"message":"Rate Limit Exceeded","code":2020}}"#,
        );
        let Error::RateLimited {
            retry_after,
            message,
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(*retry_after, Some(Duration::from_secs(17)));
        assert!(message.contains("960"), "{message}");
        assert!(message.contains("(error 2020)"), "{message}");
        let text = err.to_string();
        assert!(text.contains("retry in 17 s"), "{text}");
        assert!(err.is_retryable());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(17)));
    }

    #[test]
    fn rate_limited_prefers_retry_after() {
        let err = reply(429, &[("retry-after", "3"), ("ratelimit-reset", "17")], "");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
        let err = reply(429, &[], "slow down");
        assert_eq!(err.retry_after(), None);
        assert!(err.to_string().contains("wait a minute"), "{err}");
    }

    #[test]
    fn server_errors_keep_status_and_retry_after() {
        let err = reply(
            503,
            &[("retry-after", "30")],
            "<html><head><title>503 Service Unavailable</title></head><body>down</body></html>",
        );
        let Error::HttpStatus {
            status,
            message,
            retry_after,
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(*status, 503);
        assert_eq!(message, "503 Service Unavailable");
        assert_eq!(*retry_after, Some(Duration::from_secs(30)));
        assert!(err.is_retryable());

        let err = pagerduty(
            500,
            &[],
            r#"{"error":{"message":"Internal Error","code":2000}}"#,
        );
        assert!(
            matches!(&err, Error::HttpStatus { status: 500, message, .. } if message == "Internal Error (error 2000)"),
            "{err:?}"
        );

        let err = reply(502, &[], "");
        assert!(
            matches!(&err, Error::HttpStatus { status: 502, message, .. } if message == "Bad Gateway"),
            "{err:?}"
        );
    }

    #[test]
    fn json_rpc_bodies_become_server_errors() {
        let err = reply(
            400,
            &[],
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2025-11-25"]}}}"#,
        );
        let Error::Server {
            code,
            message,
            data,
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(*code, -32022);
        assert_eq!(message, "Unsupported protocol version");
        assert_eq!(data.as_ref().unwrap()["supported"][0], "2025-11-25");

        // Older SDKs leave out "jsonrpc"; the negative code still marks it JSON-RPC.
        let err = reply(
            400,
            &[],
            r#"{"error":{"code":-32600,"message":"Bad Request: Missing session ID"}}"#,
        );
        assert!(
            matches!(&err, Error::Server { code: -32600, message, data: None, .. } if message == "Bad Request: Missing session ID"),
            "{err:?}"
        );

        let err = reply(
            404,
            &[],
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}"#,
        );
        assert!(matches!(err, Error::Server { code: -32601, .. }), "{err:?}");

        // A 5xx stays an HTTP status (retryable), with the JSON-RPC message.
        let err = reply(
            500,
            &[],
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"Internal error"}}"#,
        );
        assert!(
            matches!(&err, Error::HttpStatus { status: 500, message, .. } if message.contains("Internal error")),
            "{err:?}"
        );
    }

    #[test]
    fn client_errors_without_json_rpc_are_http_status() {
        for status in [400u16, 404, 405, 406] {
            let err = reply(status, &[], "");
            assert!(
                matches!(err, Error::HttpStatus { status: s, .. } if s == status),
                "{err:?}"
            );
        }
        let err = pagerduty(404, &[], r#"{"error":{"message":"Not Found","code":2100}}"#);
        assert!(
            matches!(&err, Error::HttpStatus { status: 404, message, .. } if message == "Not Found (error 2100)"),
            "{err:?}"
        );
        let err = pagerduty(
            400,
            &[],
            r#"{"error":{"message":"Invalid Input Provided","code":2001,"errors":["Status must be one of triggered, acknowledged"]}}"#,
        );
        let text = err.to_string();
        assert!(text.starts_with("HTTP 400 from the server: Invalid Input Provided: Status must be one of triggered, acknowledged (error 2001)"), "{text}");
        let err = reply(405, &[], "Method Not Allowed");
        assert!(
            matches!(&err, Error::HttpStatus { status: 405, message, .. } if message == "Method Not Allowed"),
            "{err:?}"
        );
    }

    #[test]
    fn unknown_pagerduty_code_and_other_json_shapes() {
        let err = reply(400, &[], r#"{"error":{"message":"Weird","code":9999}}"#);
        assert!(err.to_string().contains("Weird (error 9999)"), "{err}");
        let err = pagerduty(400, &[], r#"{"error":{"code":2003}}"#);
        assert!(
            err.to_string().contains("Missing Arguments (error 2003)"),
            "{err}"
        );
        let err = reply(
            400,
            &[],
            r#"{"error":"invalid_request","error_description":"bad"}"#,
        );
        assert!(err.to_string().contains("invalid_request: bad"), "{err}");
        let err = reply(400, &[], r#"{"message":"plain message"}"#);
        assert!(err.to_string().contains("plain message"), "{err}");
        let err = reply(400, &[], r#"[1,2]"#);
        assert!(err.to_string().contains("[1,2]"), "{err}");
    }

    #[test]
    fn text_is_cleaned_and_truncated() {
        let long = format!("bad\r\n\tthing\u{1b}[31m \u{202E}evil {}", "x".repeat(5000));
        let err = reply(418, &[], &long);
        let Error::HttpStatus { message, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(message.starts_with("bad thing [31m evil x"), "{message}");
        assert!(
            message.chars().count() <= MAX_EXCERPT + 1,
            "{}",
            message.len()
        );
        assert!(message.ends_with('…'));
        assert!(!message.chars().any(|c| c.is_control() || c == '\u{202E}'));

        // HTML without a title is reduced to its text, without scripts.
        let err = reply(
            502,
            &[("content-type", "text/html")],
            "<body><script>var a = '<b>';</script><h1>Bad&amp;Gateway</h1>\n<p>nginx</p></body>",
        );
        let Error::HttpStatus { message, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(message, "Bad&Gateway nginx");

        // Invalid UTF-8 does not panic.
        let err = error_from_server_reply(
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            &[0xff, 0xfe, b'o', b'k'],
            &generic(),
        );
        assert!(err.to_string().contains("ok"), "{err}");
    }

    #[test]
    fn every_message_is_bounded() {
        let huge_msg = "m".repeat(10_000);
        let huge_err = "e".repeat(10_000);
        let body = format!(
            r#"{{"error":{{"message":"{huge_msg}","code":2006,"errors":["{huge_err}","{huge_err}"]}}}}"#
        );
        for status in [400u16, 401, 403, 429, 500] {
            let err = reply(status, &[], &body);
            let message = match &err {
                Error::Unauthorized { message, .. }
                | Error::Forbidden { message, .. }
                | Error::RateLimited { message, .. }
                | Error::HttpStatus { message, .. } => message.clone(),
                other => panic!("{other:?}"),
            };
            assert!(
                message.chars().count() < 300 + 200,
                "{status}: {}",
                message.len()
            );
            assert!(!message.contains(&"m".repeat(MAX_EXCERPT + 1)), "{status}");
        }
    }

    #[test]
    fn echoed_credentials_are_redacted() {
        let body = r#"{"error":{"message":"Bad header Authorization: Token token=SECRET1 seen","code":2006,"errors":["Bearer SECRET2 rejected","headers {\"authorization\":\"Token SECRET3\"}"]}}"#;
        let err = reply(401, &[], body);
        let text = format!("{err} {err:?}");
        for secret in ["SECRET1", "SECRET2", "SECRET3"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("[redacted]"), "{text}");

        let err = reply(
            400,
            &[],
            "echo: GET / HTTP/1.1\r\nAuthorization: Token u+SECRET4\r\nHost: x\r\n",
        );
        let text = format!("{err} {err:?}");
        assert!(!text.contains("SECRET4"), "{text}");
        assert!(text.contains("Host: x"), "{text}");

        // Ordinary words are left alone.
        let err = reply(
            401,
            &[],
            r#"{"error":{"message":"Invalid token provided","code":2006}}"#,
        );
        assert!(err.to_string().contains("Invalid token provided"), "{err}");
    }
}

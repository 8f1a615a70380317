//! Turning a non-success HTTP reply (PagerDuty's REST-style error envelope, a JSON-RPC error body,
//! or anything else) into an [`Error`].
//!
//! The reply's body is untrusted text: only a short, cleaned excerpt of it ever reaches an error
//! message (control and bidirectional-override characters removed, HTML reduced to its text,
//! anything that looks like an echoed `Authorization` value or a `Bearer`/`token=` credential
//! replaced by `[redacted]`, at most [`MAX_EXCERPT`] characters). Request headers are never part of
//! a message.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, StatusCode};
use serde_json::Value;

use crate::error::Error;

/// The most characters of server-supplied text kept in an error message.
pub(crate) const MAX_EXCERPT: usize = 240;

/// The longest wait [`retry_after`] reports; a server asking for more is capped here.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// PagerDuty's REST API limit, quoted in rate-limit messages.
const PAGERDUTY_RATE_LIMIT: &str =
    "PagerDuty allows 960 REST API requests per minute per user; slow down and wait before retrying";

/// Maps a non-success HTTP reply to an [`Error`]. `credential_help` goes into
/// [`Error::Unauthorized`].
///
/// - 401 → [`Error::Unauthorized`] (the server's message plus what to do, and `credential_help`);
/// - 403 → [`Error::Forbidden`] (ask an admin for the needed role or Advanced Permissions);
/// - 429 → [`Error::RateLimited`] with the wait from `Retry-After` or `ratelimit-reset`;
/// - any other status whose body is a JSON-RPC error (and is not a 5xx) → [`Error::Server`];
/// - everything else → [`Error::HttpStatus`] with the server's message and any `Retry-After`.
pub(crate) fn error_from_reply(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    credential_help: &str,
) -> Error {
    let parsed = ReplyBody::parse(headers, body);
    let detail = parsed.describe();
    // PagerDuty-specific advice when the reply or the server is PagerDuty's.
    let pagerduty =
        parsed.is_pagerduty_envelope() || credential_help == crate::pagerduty::CREDENTIAL_HELP;

    match status.as_u16() {
        401 => {
            let mut action = String::from(
                "the credential was not accepted: it is wrong, expired, or was revoked or deleted",
            );
            if pagerduty {
                action.push_str(
                    ", or it belongs to an account in the other PagerDuty service region (us/eu)",
                );
            }
            Error::Unauthorized {
                message: join(detail, &action),
                help: credential_help.to_owned(),
            }
        }
        403 => {
            let action = if pagerduty {
                "the token is valid, but its PagerDuty user may not do this: ask a PagerDuty admin to grant you the needed role or Advanced Permissions"
            } else {
                "the credential is valid, but its user may not do this: ask the service's administrator for the needed role or permission"
            };
            Error::Forbidden {
                message: join(detail, action),
            }
        }
        429 => {
            let retry_after = retry_after(headers);
            let action = match (pagerduty, retry_after) {
                (true, _) => PAGERDUTY_RATE_LIMIT,
                (false, Some(_)) => "too many requests; wait before retrying",
                (false, None) => "too many requests; wait a minute before retrying",
            };
            Error::RateLimited {
                retry_after,
                message: join(detail, action),
            }
        }
        code => match parsed {
            ReplyBody::JsonRpc {
                code: rpc_code,
                message,
                data,
            } if !status.is_server_error() => Error::Server {
                code: rpc_code,
                message,
                data,
            },
            _ => Error::HttpStatus {
                status: code,
                message: detail.unwrap_or_else(|| {
                    status
                        .canonical_reason()
                        .unwrap_or("unexpected HTTP status")
                        .to_owned()
                }),
                retry_after: retry_after(headers),
            },
        },
    }
}

/// The cleaned, bounded one-line summary of a reply's body that [`error_from_reply`] puts into
/// its messages, or `None` for an empty or unreadable body.
pub(crate) fn reply_detail(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    ReplyBody::parse(headers, body).describe()
}

/// The wait a reply asks for: `Retry-After` (delta-seconds or an HTTP date), else
/// `ratelimit-reset` (seconds). Capped at [`MAX_RETRY_AFTER`]; a date in the past means "now"
/// (zero).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_at(headers, SystemTime::now())
}

fn retry_after_at(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|value| !value.is_empty())
    };
    let from_retry_after = header("retry-after").and_then(|value| {
        parse_seconds(value).or_else(|| {
            let at = parse_http_date(value)?;
            Some(at.duration_since(now).unwrap_or(Duration::ZERO))
        })
    });
    from_retry_after
        .or_else(|| header("ratelimit-reset").and_then(parse_seconds))
        .map(|wait| wait.min(MAX_RETRY_AFTER))
}

/// Delta-seconds: digits, optionally with a fraction (`17`, `0.5`).
fn parse_seconds(value: &str) -> Option<Duration> {
    if !value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let secs = value.parse::<f64>().ok()?;
    (secs.is_finite() && secs >= 0.0)
        .then(|| Duration::from_secs_f64(secs.min(MAX_RETRY_AFTER.as_secs_f64())))
}

/// Parses an HTTP date in any of the three forms RFC 9110 lets a recipient accept:
/// `Sun, 06 Nov 1994 08:49:37 GMT`, `Sunday, 06-Nov-94 08:49:37 GMT`, `Sun Nov  6 08:49:37 1994`.
fn parse_http_date(value: &str) -> Option<SystemTime> {
    let mut tokens = value
        .split([' ', ',', '-'])
        .filter(|token| !token.is_empty())
        .peekable();
    // The weekday is redundant.
    if tokens
        .peek()
        .is_some_and(|t| t.bytes().all(|b| b.is_ascii_alphabetic()) && month(t).is_none())
    {
        tokens.next();
    }
    let tokens: Vec<&str> = tokens.collect();
    let (day, mon, year, time) = match tokens.as_slice() {
        // asctime
        [mon, day, time, year] if month(mon).is_some() => (*day, *mon, *year, *time),
        // IMF-fixdate and RFC 850
        [day, mon, year, time, zone] if zone.eq_ignore_ascii_case("GMT") => {
            (*day, *mon, *year, *time)
        }
        _ => return None,
    };
    let day: u32 = digits(day, 1..=2)?;
    let month = month(mon)?;
    let mut year: i64 = digits(year, 2..=4)?;
    if year < 100 {
        // RFC 850's two-digit year: the most recent matching year.
        year += if year < 70 { 2000 } else { 1900 };
    }
    let mut hms = time.split(':');
    let hour: u32 = digits(hms.next()?, 2..=2)?;
    let minute: u32 = digits(hms.next()?, 2..=2)?;
    let second: u32 = digits(hms.next()?, 2..=2)?;
    if hms.next().is_some() || day == 0 || day > 31 || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    let secs = u64::try_from(secs).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

fn digits<T: std::str::FromStr>(token: &str, len: std::ops::RangeInclusive<usize>) -> Option<T> {
    (len.contains(&token.len()) && token.bytes().all(|b| b.is_ascii_digit()))
        .then(|| token.parse().ok())
        .flatten()
}

fn month(token: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    (token.len() == 3)
        .then(|| MONTHS.iter().position(|m| m.eq_ignore_ascii_case(token)))
        .flatten()
        .map(|index| index as u32 + 1)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// What a reply's body turned out to be.
#[derive(Debug, PartialEq)]
enum ReplyBody {
    /// PagerDuty's REST envelope `{"error":{"message":…,"code":2006,"errors":[…]}}` (messages
    /// already cleaned).
    PagerDuty {
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
                        ReplyBody::PagerDuty {
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

    fn is_pagerduty_envelope(&self) -> bool {
        matches!(self, ReplyBody::PagerDuty { code: Some(code), .. } if *code > 0)
    }

    /// One cleaned line for an error message, at most about [`MAX_EXCERPT`] characters.
    fn describe(&self) -> Option<String> {
        match self {
            ReplyBody::PagerDuty {
                code,
                message,
                errors,
            } => {
                let known = code.and_then(pagerduty_code_meaning);
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
                            line.push_str(&format!(" (PagerDuty error {code}: {meaning})"));
                        }
                        _ => line.push_str(&format!(" (PagerDuty error {code})")),
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

/// What PagerDuty's REST API error codes mean.
fn pagerduty_code_meaning(code: i64) -> Option<&'static str> {
    Some(match code {
        2000 => "Internal Error",
        2001 => "Invalid Input Provided",
        2002 => "Arguments Caused Error",
        2003 => "Missing Arguments",
        2004 => "Invalid 'since' or 'until' Parameter Values",
        2005 => "Invalid Query Date Range",
        2006 => "Authentication Failed",
        2007 => "Account Not Found",
        2008 => "Account Locked",
        2009 => "Only HTTPS Allowed For This Call",
        2010 => "Access Denied",
        2011 => "The action requires a 'requester_id' to be specified",
        2012 => "Your account is expired and cannot use the API",
        2020 => "Rate Limit Exceeded",
        2100 => "Not Found",
        _ => return None,
    })
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

/// Server text made safe for a message: credentials redacted, control characters removed,
/// whitespace collapsed, truncated to [`MAX_EXCERPT`] characters.
fn excerpt(text: &str) -> String {
    // Look at a bounded prefix only: a message is short, and this keeps the work bounded.
    let mut end = text.len().min(16 * 1024);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let redacted = redact_credentials(&text[..end]);
    truncate(&clean(&redacted), MAX_EXCERPT)
}

/// Replaces control characters and bidirectional overrides by spaces and collapses whitespace.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(1024));
    let mut pending_space = false;
    for c in text.chars() {
        let unwanted = c.is_control()
            || c.is_whitespace()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}');
        if unwanted {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
        None => text.to_owned(),
    }
}

/// Replaces what looks like an echoed credential by `[redacted]`: the value after an
/// `Authorization` key (up to the end of the value), and the word after `Bearer ` or `token=`.
fn redact_credentials(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    // (start, end) byte ranges to blank out.
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let value_end = |from: usize, stops: &[u8]| {
        text.as_bytes()[from..]
            .iter()
            .position(|b| stops.contains(b))
            .map_or(text.len(), |p| from + p)
    };
    for (at, _) in lower.match_indices("authorization") {
        let mut start = at + "authorization".len();
        let bytes = text.as_bytes();
        // Skip the separator: `": "`, `=`, `: `, `'`.
        let sep_start = start;
        while start < bytes.len()
            && matches!(bytes[start], b'"' | b'\'' | b':' | b'=' | b' ' | b'\t')
        {
            start += 1;
        }
        let separated = text[sep_start..start].contains([':', '=']);
        if !separated || start >= bytes.len() {
            continue;
        }
        let end = value_end(start, b"\"'\r\n,;}<&");
        if end > start {
            ranges.push((start, end));
        }
    }
    for needle in ["bearer ", "token="] {
        for (at, _) in lower.match_indices(needle) {
            let start = at + needle.len();
            let end = value_end(start, b" \t\"'\r\n,;}<&");
            if end > start {
                ranges.push((start, end));
            }
        }
    }
    if ranges.is_empty() {
        return text.to_owned();
    }
    ranges.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    for (start, end) in ranges {
        if end <= cursor {
            continue;
        }
        let start = start.max(cursor);
        out.push_str(&text[cursor..start]);
        out.push_str("[redacted]");
        cursor = end;
    }
    out.push_str(&text[cursor..]);
    out
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
    if let Some(open) = lower.find("<title") {
        if let Some(gt) = lower[open..].find('>') {
            let start = open + gt + 1;
            let end = lower[start..]
                .find("</title")
                .map_or(lower.len(), |e| start + e);
            let title = decode_entities(&html[start..end]);
            if !title.trim().is_empty() {
                return title;
            }
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
    use http::HeaderValue;

    const HELP: &str = "Create a token under Settings.";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn reply(status: u16, pairs: &[(&'static str, &str)], body: &str) -> Error {
        error_from_reply(
            StatusCode::from_u16(status).unwrap(),
            &headers(pairs),
            body.as_bytes(),
            HELP,
        )
    }

    #[test]
    fn unauthorized_carries_pagerduty_message_and_help() {
        let err = reply(
            401,
            &[],
            r#"{"error":{"message":"Authentication failed","code":2006,"errors":["The API key is invalid"]}}"#,
        );
        let Error::Unauthorized { message, help } = &err else {
            panic!("{err:?}")
        };
        assert!(
            message.contains("Authentication failed: The API key is invalid"),
            "{message}"
        );
        assert!(message.contains("PagerDuty error 2006"), "{message}");
        assert!(message.contains("revoked"), "{message}");
        assert!(
            message.contains("other PagerDuty service region"),
            "{message}"
        );
        assert_eq!(help, HELP);
        assert!(err.to_string().ends_with(HELP));
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
        let err = reply(
            403,
            &[],
            r#"{"error":{"message":"Access Denied","code":2010,"errors":["You do not have the permission to manage this incident"]}}"#,
        );
        let Error::Forbidden { message } = &err else {
            panic!("{err:?}")
        };
        assert!(
            message.contains("Access Denied: You do not have the permission"),
            "{message}"
        );
        assert!(message.contains("PagerDuty error 2010"), "{message}");
        assert!(message.contains("PagerDuty admin"), "{message}");
        assert!(message.contains("Advanced Permissions"), "{message}");
        assert!(!err.is_retryable());
    }

    #[test]
    fn forbidden_for_the_pagerduty_preset_mentions_pagerduty_even_without_envelope() {
        let err = error_from_reply(
            StatusCode::FORBIDDEN,
            &HeaderMap::new(),
            b"nope",
            crate::pagerduty::CREDENTIAL_HELP,
        );
        assert!(err.to_string().contains("PagerDuty admin"), "{err}");
        let generic = reply(403, &[], "nope");
        assert!(generic.to_string().contains("administrator"), "{generic}");
    }

    #[test]
    fn rate_limited_reads_ratelimit_reset() {
        let err = reply(
            429,
            &[("ratelimit-reset", "17"), ("ratelimit-limit", "960")],
            r#"{"error":{"message":"Rate Limit Exceeded","code":2020}}"#,
        );
        let Error::RateLimited {
            retry_after,
            message,
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(*retry_after, Some(Duration::from_secs(17)));
        assert!(message.contains("960"), "{message}");
        assert!(message.contains("PagerDuty error 2020"), "{message}");
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
    fn retry_after_forms() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_767); // Sun, 06 Nov 1994 08:49:27 GMT
        let at = |value: &str| retry_after_at(&headers(&[("retry-after", value)]), now);
        assert_eq!(at("120"), Some(Duration::from_secs(120)));
        assert_eq!(at(" 5 "), Some(Duration::from_secs(5)));
        assert_eq!(at("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(
            at("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            at("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            at("Sun Nov  6 08:49:37 1994"),
            Some(Duration::from_secs(10))
        );
        // A date in the past: retry now.
        assert_eq!(at("Sat, 05 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
        // Capped.
        assert_eq!(at("99999999999"), Some(MAX_RETRY_AFTER));
        // Garbage.
        assert_eq!(at("soon"), None);
        assert_eq!(at("-5"), None);
        assert_eq!(at("Sun, 06 Nov 1994 25:49:37 GMT"), None);
        let reset = retry_after_at(&headers(&[("ratelimit-reset", "42")]), now);
        assert_eq!(reset, Some(Duration::from_secs(42)));
        assert_eq!(retry_after_at(&HeaderMap::new(), now), None);
    }

    #[test]
    fn http_dates_match_known_instants() {
        let parse = |s| {
            parse_http_date(s)
                .unwrap()
                .duration_since(UNIX_EPOCH)
                .unwrap()
        };
        assert_eq!(parse("Thu, 01 Jan 1970 00:00:00 GMT"), Duration::ZERO);
        assert_eq!(
            parse("Tue, 29 Feb 2000 12:00:00 GMT"),
            Duration::from_secs(951_825_600)
        );
        assert_eq!(
            parse("Wed, 21 Oct 2015 07:28:00 GMT"),
            Duration::from_secs(1_445_412_480)
        );
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
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(*status, 503);
        assert_eq!(message, "503 Service Unavailable");
        assert_eq!(*retry_after, Some(Duration::from_secs(30)));
        assert!(err.is_retryable());

        let err = reply(
            500,
            &[],
            r#"{"error":{"message":"Internal Error","code":2000}}"#,
        );
        assert!(
            matches!(&err, Error::HttpStatus { status: 500, message, .. } if message == "Internal Error (PagerDuty error 2000)"),
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
            matches!(&err, Error::Server { code: -32600, message, data: None } if message == "Bad Request: Missing session ID"),
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
        let err = reply(404, &[], r#"{"error":{"message":"Not Found","code":2100}}"#);
        assert!(
            matches!(&err, Error::HttpStatus { status: 404, message, .. } if message == "Not Found (PagerDuty error 2100)"),
            "{err:?}"
        );
        let err = reply(
            400,
            &[],
            r#"{"error":{"message":"Invalid Input Provided","code":2001,"errors":["Status must be one of triggered, acknowledged"]}}"#,
        );
        let text = err.to_string();
        assert!(text.starts_with("HTTP 400 from the server: Invalid Input Provided: Status must be one of triggered, acknowledged (PagerDuty error 2001)"), "{text}");
        let err = reply(405, &[], "Method Not Allowed");
        assert!(
            matches!(&err, Error::HttpStatus { status: 405, message, .. } if message == "Method Not Allowed"),
            "{err:?}"
        );
    }

    #[test]
    fn unknown_pagerduty_code_and_other_json_shapes() {
        let err = reply(400, &[], r#"{"error":{"message":"Weird","code":9999}}"#);
        assert!(
            err.to_string().contains("Weird (PagerDuty error 9999)"),
            "{err}"
        );
        let err = reply(400, &[], r#"{"error":{"code":2003}}"#);
        assert!(
            err.to_string()
                .contains("Missing Arguments (PagerDuty error 2003)"),
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
        let err = error_from_reply(
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            &[0xff, 0xfe, b'o', b'k'],
            HELP,
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
                | Error::Forbidden { message }
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

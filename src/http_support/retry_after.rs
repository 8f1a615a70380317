//! How long a reply asks the client to wait: `Retry-After` (delta-seconds or an HTTP date, parsed
//! with the `httpdate` crate in all three forms RFC 9110 lets a recipient accept), else
//! `ratelimit-reset` (seconds).

use std::time::{Duration, SystemTime};

use http::HeaderMap;

/// The longest wait [`retry_after`] reports; a server asking for more is capped here.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The wait a reply asks for, capped at [`MAX_RETRY_AFTER`]; a date in the past means "now"
/// (zero); anything unreadable means the reply did not say.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_at(headers, SystemTime::now())
}

/// [`retry_after`] as seen at `now`.
pub(crate) fn retry_after_at(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|value| !value.is_empty())
    };
    let from_retry_after = header("retry-after").and_then(|value| {
        parse_seconds(value).or_else(|| {
            let at = httpdate::parse_http_date(value).ok()?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use std::time::UNIX_EPOCH;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
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
        assert_eq!(at("Fri, 01 Jan 2100 00:00:00 GMT"), Some(MAX_RETRY_AFTER));
        // Garbage.
        assert_eq!(at("soon"), None);
        assert_eq!(at("-5"), None);
        assert_eq!(at("Sun, 06 Nov 1994 25:49:37 GMT"), None);
        let reset = retry_after_at(&headers(&[("ratelimit-reset", "42")]), now);
        assert_eq!(reset, Some(Duration::from_secs(42)));
        // Retry-After wins over ratelimit-reset.
        let both = retry_after_at(
            &headers(&[("retry-after", "3"), ("ratelimit-reset", "42")]),
            now,
        );
        assert_eq!(both, Some(Duration::from_secs(3)));
        assert_eq!(retry_after_at(&HeaderMap::new(), now), None);
    }
}

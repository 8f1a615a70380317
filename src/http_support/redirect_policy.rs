//! What every HTTP client this crate builds sends and how it follows redirects.

/// The `User-Agent` of every request.
pub(crate) const USER_AGENT: &str = concat!("pagerduty-mcp-connect/", env!("CARGO_PKG_VERSION"));

/// Follows a redirect only within the origin of the first request (so a credential header never
/// reaches another host) and at most five in a row. A redirect elsewhere is not followed: the
/// caller gets the 3xx reply and says where it pointed.
pub(crate) fn same_origin_only() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if !same_origin {
            attempt.stop()
        } else if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

//! Per-request options: progress token and time limit.

use std::time::Duration;

use serde_json::Value;

/// Per-request options.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RequestOptions {
    /// Sent as `_meta.progressToken`; the server's `notifications/progress` for this request
    /// carry it and arrive on [`Session::notifications`](super::Session::notifications).
    pub progress_token: Option<Value>,
    /// Overrides the client's request timeout for this request.
    pub timeout: Option<Duration>,
}

impl RequestOptions {
    /// Options with a progress token.
    pub fn with_progress_token(token: impl Into<Value>) -> Self {
        RequestOptions {
            progress_token: Some(token.into()),
            timeout: None,
        }
    }

    /// Sets the timeout of this request.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

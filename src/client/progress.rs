//! Progress of one call, as [`RequestOptions::on_progress`](super::RequestOptions::on_progress)
//! reports it.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// One `notifications/progress` for a call.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    progress: f64,
    total: Option<f64>,
    message: Option<String>,
}

impl Progress {
    /// A progress report (for tests of your own callbacks).
    pub fn new(progress: f64, total: Option<f64>, message: Option<String>) -> Self {
        Progress {
            progress,
            total,
            message,
        }
    }

    /// Reads the `params` of a `notifications/progress`; `None` when it has no number.
    pub(crate) fn from_params(params: &Value) -> Option<Self> {
        Some(Progress {
            progress: params.get("progress")?.as_f64()?,
            total: params.get("total").and_then(Value::as_f64),
            message: params
                .get("message")
                .and_then(Value::as_str)
                .map(|m| m.chars().take(1024).collect()),
        })
    }

    /// How far the work is (increases with each report).
    pub fn progress(&self) -> f64 {
        self.progress
    }

    /// The total, when the server knows it.
    pub fn total(&self) -> Option<f64> {
        self.total
    }

    /// A human-readable message, when the server sent one (at most 1,024 characters kept).
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }
}

/// A per-call progress callback.
#[derive(Clone)]
pub(crate) struct ProgressCallback(pub(crate) Arc<dyn Fn(Progress) + Send + Sync>);

impl fmt::Debug for ProgressCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressCallback")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn progress_params_are_read_leniently() {
        let full = Progress::from_params(
            &json!({"progressToken": "t", "progress": 2, "total": 4.5, "message": "half"}),
        )
        .unwrap();
        assert_eq!(
            (full.progress(), full.total(), full.message()),
            (2.0, Some(4.5), Some("half"))
        );
        let bare = Progress::from_params(&json!({"progress": 0.5})).unwrap();
        assert_eq!((bare.total(), bare.message()), (None, None));
        assert!(Progress::from_params(&json!({"progress": "lots"})).is_none());
        let long = "x".repeat(5000);
        let capped = Progress::from_params(&json!({"progress": 1, "message": long})).unwrap();
        assert_eq!(capped.message().unwrap().len(), 1024);
    }
}

//! Per-call progress: the callbacks of [`RequestOptions::on_progress`], found by progress token
//! whichever stream carries the notification.

use std::sync::{Arc, Weak};

use serde_json::Value;

use super::{RequestOptions, SessionInner};
use crate::client::progress::Progress;

/// Removes a call's progress callback when the call ends (or its future is dropped).
pub(super) struct ProgressRegistration {
    session: Weak<SessionInner>,
    token: Value,
}

impl Drop for ProgressRegistration {
    fn drop(&mut self) {
        if let Some(session) = self.session.upgrade() {
            session
                .progress
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|(token, _)| *token != self.token);
        }
    }
}

impl SessionInner {
    /// Registers the call's callback under its progress token, if it has both.
    pub(super) fn register_progress(
        self: &Arc<Self>,
        options: &RequestOptions,
    ) -> Option<ProgressRegistration> {
        let (Some(callback), Some(token)) = (&options.on_progress, &options.progress_token) else {
            return None;
        };
        self.progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((token.clone(), callback.clone()));
        Some(ProgressRegistration {
            session: Arc::downgrade(self),
            token: token.clone(),
        })
    }

    /// Hands a `notifications/progress` to the callback of the call it belongs to.
    pub(super) fn report_progress(&self, params: &Value) {
        let Some(token) = params.get("progressToken") else {
            return;
        };
        let callback = {
            let callbacks = self.progress.lock().unwrap_or_else(|p| p.into_inner());
            if callbacks.is_empty() {
                return;
            }
            callbacks
                .iter()
                .find(|(t, _)| t == token)
                .map(|(_, callback)| callback.clone())
        };
        if let (Some(callback), Some(progress)) = (callback, Progress::from_params(params)) {
            (callback.0)(progress);
        }
    }
}

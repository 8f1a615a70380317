//! `DirectCalls`: the direct path's calls in flight, shared by the path and the session sweeper.

use std::collections::HashMap;
use std::sync::Mutex;

use pagerduty_mcp_connect::UserId;
use rmcp::model::RequestId;
use tokio_util::sync::CancellationToken;

/// The direct-path calls of session-era agents in flight, so that `notifications/cancelled`
/// from the same user on the same session can reach them, and ending a session ends them.
#[derive(Debug, Default)]
pub(crate) struct DirectCalls {
    calls: Mutex<HashMap<CallKey, CancellationToken>>,
}

/// A call in flight: its session, its user and its JSON-RPC id.
type CallKey = (String, UserId, RequestId);

impl DirectCalls {
    /// Registers a call, its token a child of `parent` (the gateway's shutdown); `None` if the
    /// session already has a call in flight under that id (rmcp answers that one).
    pub(crate) fn register(
        &self,
        session: &str,
        user: &UserId,
        id: &RequestId,
        parent: &CancellationToken,
    ) -> Option<CallGuard<'_>> {
        let key = (session.to_owned(), user.clone(), id.clone());
        let token = parent.child_token();
        let mut calls = self.lock();
        if calls.contains_key(&key) {
            return None;
        }
        calls.insert(key.clone(), token.clone());
        Some(CallGuard {
            calls: self,
            key,
            token,
        })
    }

    pub(crate) fn cancel(&self, session: &str, user: &UserId, id: &RequestId) -> bool {
        let key = (session.to_owned(), user.clone(), id.clone());
        let token = self.lock().get(&key).cloned();
        token.inspect(CancellationToken::cancel).is_some()
    }

    /// Whether `session` has calls in flight on the direct path.
    pub(crate) fn busy(&self, session: &str) -> bool {
        self.lock().keys().any(|(s, _, _)| s == session)
    }

    /// Cancels every call of `session` (the session was ended).
    pub(crate) fn cancel_session(&self, session: &str) {
        for (key, token) in self.lock().iter() {
            if key.0 == session {
                token.cancel();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CallKey, CancellationToken>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Removes a call from [`DirectCalls`] when it ends.
pub(crate) struct CallGuard<'a> {
    calls: &'a DirectCalls,
    key: CallKey,
    pub(crate) token: CancellationToken,
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        self.calls.lock().remove(&self.key);
    }
}

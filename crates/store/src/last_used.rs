//! When each token was last handed out, remembered in memory and written in batches: one
//! statement for many users every `last_used_resolution`, and on close, instead of one write per
//! lookup. A burst of first lookups (a gateway restarting with thousands of users) then costs a
//! few statements, not one write per user competing with the admin's writes.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use pagerduty_mcp_connect::UserId;

/// The last uses not yet written, by user (Unix ms).
#[derive(Default)]
pub(crate) struct LastUsed {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    pending: HashMap<UserId, i64>,
    /// When the oldest pending use was recorded (the batch is due one resolution later).
    since: Option<Instant>,
}

impl LastUsed {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a use of `user`'s token at `at_ms`; whether it is the first pending use.
    pub(crate) fn record(&self, user: &UserId, at_ms: i64) -> bool {
        let mut state = self.lock();
        match state.pending.get_mut(user) {
            Some(at) => *at = (*at).max(at_ms),
            None => {
                state.pending.insert(user.clone(), at_ms);
            }
        }
        let first = state.since.is_none();
        if first {
            state.since = Some(Instant::now());
        }
        first
    }

    /// When the oldest pending use was recorded, if any is pending.
    pub(crate) fn since(&self) -> Option<Instant> {
        self.lock().since
    }

    /// Takes every pending use.
    pub(crate) fn take(&self) -> Vec<(UserId, i64)> {
        let mut state = self.lock();
        state.since = None;
        state.pending.drain().collect()
    }

    /// Puts back uses a failed write did not record (a newer use of the same user wins).
    pub(crate) fn put_back(&self, uses: Vec<(UserId, i64)>) {
        if uses.is_empty() {
            return;
        }
        let mut state = self.lock();
        for (user, at) in uses {
            let slot = state.pending.entry(user).or_insert(at);
            *slot = (*slot).max(at);
        }
        if state.since.is_none() {
            state.since = Some(Instant::now());
        }
    }
}

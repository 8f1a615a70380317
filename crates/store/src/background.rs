//! The store's background writer: one task per store, started when there is something to write
//! and ending when there is nothing left. It writes the last uses kept in memory (one batch per
//! `last_used_resolution`), retries the rejections the database could not take (with backoff),
//! and reseals rows of an earlier seal version that lookups opened.
//!
//! The task holds the store while it runs; when every other handle of the store is gone it
//! writes what is pending once more and ends. [`SqlCredentialStore::close`] waits for a write
//! under way, then writes everything itself.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::store::SqlCredentialStore;
use pagerduty_mcp_connect::UserId;

/// How long a row opened under an earlier seal version waits before it is resealed (so that a
/// burst of first lookups is resealed in a few transactions, not one per lookup).
const RESEAL_DELAY: Duration = Duration::from_millis(250);

/// At most this many rows are resealed in one transaction.
const RESEAL_BATCH: usize = 200;

/// The state of a store's background writer.
#[derive(Default)]
pub(crate) struct Background {
    /// The running task, if any.
    task: Mutex<Option<JoinHandle<()>>>,
    /// Wakes the task early (something new is due sooner).
    wake: Notify,
    /// Held while pending work is written, so that `close` waits for a write under way.
    work: tokio::sync::Mutex<()>,
}

impl SqlCredentialStore {
    /// Starts the background writer unless it runs (it then recomputes when to wake).
    pub(crate) fn ensure_background(&self) {
        if self.inner.closed.load(Ordering::Acquire) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut task = self
            .inner
            .background
            .task
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if task.as_ref().is_some_and(|t| !t.is_finished()) {
            self.inner.background.wake.notify_one();
            return;
        }
        let store = self.clone();
        *task = Some(runtime.spawn(store.background()));
    }

    /// When the next pending write is due, if anything is pending.
    fn next_due(&self) -> Option<Instant> {
        let inner = &self.inner;
        let uses = inner
            .last_used
            .since()
            .map(|since| since + inner.last_used_resolution.unwrap_or_default());
        let reseals = inner
            .reseals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .map(|since| since + RESEAL_DELAY);
        [uses, inner.rejections.next_due(), reseals]
            .into_iter()
            .flatten()
            .min()
    }

    async fn background(self) {
        loop {
            let Some(due) = self.next_due() else {
                // Nothing pending: end, unless something arrived meanwhile (checked while
                // holding the lock `ensure_background` takes, so nothing is missed).
                let mut task = self
                    .inner
                    .background
                    .task
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                if self.next_due().is_none() {
                    *task = None;
                    return;
                }
                continue;
            };
            let now = Instant::now();
            if due > now {
                let _ =
                    tokio::time::timeout(due - now, self.inner.background.wake.notified()).await;
            }
            if self.inner.closed.load(Ordering::Acquire) {
                return;
            }
            // Only this task holds the store: nobody can use it any more.
            let last = Arc::strong_count(&self.inner) == 1;
            self.flush_pending(last).await;
            if last {
                let unwritten = self.inner.rejections.users();
                if !unwritten.is_empty() {
                    tracing::warn!(
                        users = %unwritten.iter().map(UserId::as_str).collect::<Vec<_>>().join(", "),
                        "the store was dropped before it could record that the server rejected these users' tokens"
                    );
                }
                return;
            }
        }
    }

    /// Writes what is due (everything with `all`): the last uses, the rejections (one attempt
    /// each), the rows to reseal.
    pub(crate) async fn flush_pending(&self, all: bool) {
        let _work = self.inner.background.work.lock().await;
        let inner = &self.inner;
        let now = Instant::now();
        let uses_due = inner.last_used.since().is_some_and(|since| {
            all || now >= since + inner.last_used_resolution.unwrap_or_default()
        });
        if uses_due {
            let uses = inner.last_used.take();
            if let Err(err) = inner.pool.touch_many(&inner.server, &uses).await {
                tracing::debug!(users = uses.len(), error = %err, "could not record the last use of credentials");
                if !all {
                    inner.last_used.put_back(uses);
                }
            }
        }
        for (user, credential) in inner.rejections.due(now, all) {
            self.write_rejection(&user, &credential).await;
        }
        let reseals: Vec<UserId> = {
            let mut reseals = inner.reseals.lock().unwrap_or_else(|p| p.into_inner());
            if reseals
                .1
                .is_some_and(|since| all || now >= since + RESEAL_DELAY)
            {
                reseals.1 = None;
                reseals.0.drain().collect()
            } else {
                Vec::new()
            }
        };
        for chunk in reseals.chunks(RESEAL_BATCH) {
            match self.reseal_legacy(chunk).await {
                Ok(n) => tracing::debug!(resealed = n, "resealed rows of an earlier seal version"),
                Err(err) => {
                    tracing::debug!(error = %err, "could not reseal rows of an earlier seal version (a rekey does it too)")
                }
            }
        }
    }
}

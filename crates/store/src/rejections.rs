//! Rejections not yet written: when the server rejects a token (HTTP 401) and the database
//! cannot take the revocation, the store keeps it here, never hands that token out meanwhile, and
//! retries the write with backoff until it is written or moot (the token was replaced, revoked
//! or deleted).
//!
//! This memory is per process: another replica learns of the rejection when it is written, or
//! from its own 401 for the same token.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pagerduty_mcp_connect::{Credential, UserId};

/// The first retry's delay; each failure doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest delay between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The pending rejections of one store, by user.
#[derive(Default)]
pub(crate) struct Rejections {
    pending: Mutex<HashMap<UserId, Pending>>,
    /// Whether any rejection waits (read without the lock on every lookup).
    any: AtomicBool,
}

/// The map, and keeping [`Rejections::any`] up to date when the guard goes.
struct Guard<'a> {
    map: MutexGuard<'a, HashMap<UserId, Pending>>,
    any: &'a AtomicBool,
}

impl std::ops::Deref for Guard<'_> {
    type Target = HashMap<UserId, Pending>;
    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl std::ops::DerefMut for Guard<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.map
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.any.store(!self.map.is_empty(), Ordering::Release);
    }
}

struct Pending {
    /// The rejected credential (its secret is zeroized when dropped).
    credential: Credential,
    failures: u32,
    next_attempt: Instant,
}

impl Rejections {
    fn lock(&self) -> Guard<'_> {
        Guard {
            map: self.pending.lock().unwrap_or_else(|p| p.into_inner()),
            any: &self.any,
        }
    }

    /// Remembers that the server rejected `credential` of `user` (replacing an older rejection
    /// of the user).
    pub(crate) fn add(&self, user: &UserId, credential: &Credential) {
        self.lock().insert(
            user.clone(),
            Pending {
                credential: credential.clone(),
                failures: 0,
                next_attempt: Instant::now(),
            },
        );
    }

    /// Whether `credential` is a rejected token of `user` whose rejection is not written yet.
    pub(crate) fn rejects(&self, user: &UserId, credential: &Credential) -> bool {
        if !self.any.load(Ordering::Acquire) {
            return false;
        }
        self.lock()
            .get(user)
            .is_some_and(|pending| pending.credential.same_secret(credential))
    }

    /// Whether a rejection of `user` waits to be written.
    pub(crate) fn has(&self, user: &UserId) -> bool {
        self.any.load(Ordering::Acquire) && self.lock().contains_key(user)
    }

    /// The rejection of `user` is written or moot: forgets it, if it is still the one of
    /// `credential`.
    pub(crate) fn resolve(&self, user: &UserId, credential: &Credential) {
        let mut pending = self.lock();
        if pending
            .get(user)
            .is_some_and(|p| p.credential.same_secret(credential))
        {
            pending.remove(user);
        }
    }

    /// `credential` is the user's current token, and not the rejected one: forgets a rejection
    /// of another token of theirs.
    pub(crate) fn supersede(&self, user: &UserId, credential: &Credential) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        let mut pending = self.lock();
        if pending
            .get(user)
            .is_some_and(|p| !p.credential.same_secret(credential))
        {
            pending.remove(user);
        }
    }

    /// The user has a new token, or none: forgets any rejection of theirs.
    pub(crate) fn forget(&self, user: &UserId) {
        if self.any.load(Ordering::Acquire) {
            self.lock().remove(user);
        }
    }

    /// Writing the rejection of `user` failed: the next attempt waits longer.
    pub(crate) fn failed(&self, user: &UserId, credential: &Credential) {
        let mut pending = self.lock();
        if let Some(p) = pending
            .get_mut(user)
            .filter(|p| p.credential.same_secret(credential))
        {
            p.failures = p.failures.saturating_add(1);
            let backoff = FIRST_BACKOFF
                .saturating_mul(1u32 << p.failures.min(8).saturating_sub(1))
                .min(MAX_BACKOFF);
            p.next_attempt = Instant::now() + backoff;
        }
    }

    /// The rejections due for another attempt at `now` (all of them with `all`).
    pub(crate) fn due(&self, now: Instant, all: bool) -> Vec<(UserId, Credential)> {
        self.lock()
            .iter()
            .filter(|(_, p)| all || p.next_attempt <= now)
            .map(|(user, p)| (user.clone(), p.credential.clone()))
            .collect()
    }

    /// When the next attempt is due, if any rejection waits.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.lock().values().map(|p| p.next_attempt).min()
    }

    /// The users whose rejections wait (for a log line).
    pub(crate) fn users(&self) -> Vec<UserId> {
        self.lock().keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn a_rejection_names_its_token_only_and_backs_off() {
        let rejections = Rejections::default();
        let alice = UserId::from("alice");
        let old = Credential::new(SecretString::from("u+old"));
        let new = Credential::new(SecretString::from("u+new"));
        rejections.add(&alice, &old);
        assert!(rejections.rejects(&alice, &old));
        assert!(!rejections.rejects(&alice, &new));
        assert_eq!(rejections.due(Instant::now(), false).len(), 1);
        rejections.failed(&alice, &old);
        assert!(rejections.due(Instant::now(), false).is_empty());
        assert_eq!(rejections.due(Instant::now(), true).len(), 1);
        let first = rejections.next_due().unwrap();
        rejections.failed(&alice, &old);
        assert!(rejections.next_due().unwrap() > first);
        for _ in 0..40 {
            rejections.failed(&alice, &old);
        }
        assert!(rejections.next_due().unwrap() <= Instant::now() + MAX_BACKOFF);
        // Resolving another token's rejection leaves this one.
        rejections.resolve(&alice, &new);
        assert!(rejections.has(&alice));
        rejections.resolve(&alice, &old);
        assert!(!rejections.has(&alice));
    }
}

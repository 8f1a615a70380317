//! A caching wrapper around any credential provider.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Credential, CredentialError, CredentialProvider, SharedCredentialProvider, UserId};
use crate::clock::{Clock, SystemClock};

/// Caches each user's credential from a slower provider (a vault, a database) for a while.
///
/// - An entry lives for the time to live (five minutes by default) shortened by a random jitter
///   of up to 10 % (configurable), so entries loaded together do not all expire together; never
///   past the credential's own expiry.
/// - Concurrent callers that miss for the same user wait for **one** load of the inner provider
///   (single flight); different users load in parallel.
/// - An entry is dropped at once when its credential is invalidated, and [`forget`](Self::forget)
///   drops one user's entry (after rotating that user's token in the store), [`clear`](Self::clear)
///   every entry.
/// - At most [`max_entries`](Self::with_max_entries) users are kept (10 000 by default): when full,
///   expired entries go first, then the entry closest to its expiry.
/// - Errors are not cached: the callers that waited on a load that failed each try once more, in
///   turn.
///
/// ```
/// use std::time::Duration;
/// use pagerduty_mcp_connect::{CachedCredentials, InMemoryCredentialStore};
///
/// let cached = CachedCredentials::new(InMemoryCredentialStore::new())
///     .with_time_to_live(Duration::from_secs(60))
///     .with_jitter(0.2)
///     .with_max_entries(1_000);
/// # let _ = cached;
/// ```
#[derive(Debug, Clone)]
pub struct CachedCredentials {
    inner: SharedCredentialProvider,
    time_to_live: Duration,
    jitter: f64,
    max_entries: usize,
    state: Arc<Mutex<State>>,
    seed: Arc<(RandomState, AtomicU64)>,
    clock: Arc<dyn Clock>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<UserId, Entry>,
    /// One lock per user whose credential is being loaded right now (single flight).
    loading: HashMap<UserId, Arc<tokio::sync::Mutex<()>>>,
}

#[derive(Debug)]
struct Entry {
    credential: Credential,
    deadline: Instant,
}

impl CachedCredentials {
    /// The default time to live of an entry.
    pub const DEFAULT_TIME_TO_LIVE: Duration = Duration::from_secs(300);
    /// The default jitter: an entry's life is shortened by up to this fraction of the time to live.
    pub const DEFAULT_JITTER: f64 = 0.1;
    /// The default largest number of users kept.
    pub const DEFAULT_MAX_ENTRIES: usize = 10_000;

    /// Caches the answers of `inner`.
    pub fn new(inner: impl CredentialProvider + 'static) -> Self {
        CachedCredentials {
            inner: SharedCredentialProvider::new(inner),
            time_to_live: Self::DEFAULT_TIME_TO_LIVE,
            jitter: Self::DEFAULT_JITTER,
            max_entries: Self::DEFAULT_MAX_ENTRIES,
            state: Arc::default(),
            seed: Arc::new((RandomState::new(), AtomicU64::new(0))),
            clock: Arc::new(SystemClock),
        }
    }

    /// Sets how long an entry is kept at most.
    #[must_use]
    pub fn with_time_to_live(mut self, time_to_live: Duration) -> Self {
        self.time_to_live = time_to_live;
        self
    }

    /// Sets the jitter: each entry's life is the time to live shortened by a random amount of up
    /// to `fraction` of it (clamped to `0.0..=1.0`; `0.0` turns jitter off).
    #[must_use]
    pub fn with_jitter(mut self, fraction: f64) -> Self {
        self.jitter = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self
    }

    /// Reads the time from `clock` (default [`SystemClock`]): a test passes a
    /// [`ManualClock`](crate::ManualClock) and moves it instead of sleeping.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Sets the largest number of users kept (at least 1).
    #[must_use]
    pub fn with_max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries.max(1);
        self
    }

    /// Forgets `user`'s cached entry, so the next call asks the inner provider (for example right
    /// after rotating that user's token in the store). Other users keep theirs.
    pub fn forget(&self, user: &UserId) {
        self.lock().entries.remove(user);
    }

    /// Forgets every cached entry.
    pub fn clear(&self) {
        self.lock().entries.clear();
    }

    /// How many users have an entry (expired ones included until they are replaced or evicted).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no user has an entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fresh(&self, user: &UserId) -> Option<Credential> {
        let state = self.lock();
        let entry = state.entries.get(user)?;
        (self.clock.now() < entry.deadline).then(|| entry.credential.clone())
    }

    /// A random number in `0.0..1.0` (no cryptographic quality needed: it only spreads expiries).
    fn random_unit(&self) -> f64 {
        let (hasher, counter) = &*self.seed;
        let mut h = hasher.build_hasher();
        h.write_u64(counter.fetch_add(1, Ordering::Relaxed));
        (h.finish() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// How long a freshly loaded entry lives: the time to live less the jitter, capped by the
    /// credential's own expiry.
    fn life(&self, credential: &Credential) -> Duration {
        let mut life = self
            .time_to_live
            .mul_f64(1.0 - self.jitter * self.random_unit());
        if let Some(expires_at) = credential.expires_at() {
            let left = expires_at
                .duration_since(self.clock.system_now())
                .unwrap_or(Duration::ZERO);
            life = life.min(left);
        }
        life
    }

    fn store(&self, user: &UserId, credential: &Credential) {
        let deadline = self.clock.now() + self.life(credential);
        let mut state = self.lock();
        if !state.entries.contains_key(user) && state.entries.len() >= self.max_entries {
            let now = self.clock.now();
            state.entries.retain(|_, entry| entry.deadline > now);
            if state.entries.len() >= self.max_entries {
                let soonest = state
                    .entries
                    .iter()
                    .min_by_key(|(_, entry)| entry.deadline)
                    .map(|(user, _)| user.clone());
                if let Some(soonest) = soonest {
                    state.entries.remove(&soonest);
                }
            }
        }
        state.entries.insert(
            user.clone(),
            Entry {
                credential: credential.clone(),
                deadline,
            },
        );
    }
}

/// A caller's share in the single-flight lock of one user; the last one out removes the lock.
struct Flight<'a> {
    cache: &'a CachedCredentials,
    user: &'a UserId,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut state = self.cache.lock();
        // The map's reference and ours: nobody else waits on this lock.
        let last = state
            .loading
            .get(self.user)
            .is_some_and(|lock| Arc::ptr_eq(lock, &self.lock) && Arc::strong_count(lock) == 2);
        if last {
            state.loading.remove(self.user);
        }
    }
}

#[async_trait]
impl CredentialProvider for CachedCredentials {
    async fn credential(&self, user: &UserId) -> Result<Credential, CredentialError> {
        if let Some(credential) = self.fresh(user) {
            return Ok(credential);
        }
        let flight = {
            let mut state = self.lock();
            let lock = state.loading.entry(user.clone()).or_default().clone();
            Flight {
                cache: self,
                user,
                lock,
            }
        };
        let _turn = flight.lock.lock().await;
        // Whoever held the lock before us may have loaded it.
        if let Some(credential) = self.fresh(user) {
            return Ok(credential);
        }
        let credential = self.inner.credential(user).await?;
        self.store(user, &credential);
        Ok(credential)
    }

    async fn invalidate(&self, user: &UserId, credential: &Credential) {
        {
            let mut state = self.lock();
            if state
                .entries
                .get(user)
                .is_some_and(|entry| entry.credential.same_secret(credential))
            {
                state.entries.remove(user);
            }
        }
        self.inner.invalidate(user, credential).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StaticCredential;

    #[test]
    fn jitter_spreads_lives_within_bounds() {
        let cache = CachedCredentials::new(StaticCredential::new("u+token"))
            .with_time_to_live(Duration::from_secs(100))
            .with_jitter(0.5);
        let credential = Credential::new("u+token");
        let lives: Vec<Duration> = (0..200).map(|_| cache.life(&credential)).collect();
        assert!(
            lives
                .iter()
                .all(|life| *life >= Duration::from_secs(50) && *life <= Duration::from_secs(100))
        );
        let shortest = lives.iter().min().unwrap();
        let longest = lives.iter().max().unwrap();
        assert!(
            *longest - *shortest > Duration::from_secs(30),
            "lives should spread over the jitter range: {shortest:?}..{longest:?}"
        );
    }

    #[test]
    fn no_jitter_and_expiry_cap() {
        let cache = CachedCredentials::new(StaticCredential::new("u+token"))
            .with_time_to_live(Duration::from_secs(100))
            .with_jitter(0.0);
        let credential = Credential::new("u+token");
        assert_eq!(cache.life(&credential), Duration::from_secs(100));
        let soon =
            credential.with_expires_at(std::time::SystemTime::now() + Duration::from_secs(10));
        assert!(cache.life(&soon) <= Duration::from_secs(10));
    }
}

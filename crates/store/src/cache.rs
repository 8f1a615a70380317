//! The store's in-memory cache of lookups: bounded, expiring, and safe against lookups that race
//! with changes.
//!
//! - **Stamped when asked.** An entry counts from the moment its lookup *started*, not from when
//!   the database's answer arrived: an answer read before a change committed and delivered late
//!   is never served longer than the cache time after that change.
//! - **Per-user generations.** A change made through this process (a put, a rotation, a
//!   revocation, a rejection) bumps the user's generation; a lookup that was in flight across
//!   the change does not cache what it read.
//! - **Bounded.** Expired entries are dropped at the first access after they expire (at most
//!   every eighth of the cache time a sweep); beyond the capacity the entries looked up longest
//!   ago go first. Entries of changed users are removed at once. A cached token is a
//!   [`Credential`] whose secret is zeroized when the last copy is dropped.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pagerduty_mcp_connect::{Credential, UserId};

use crate::record::RevokedBy;

/// A cached answer.
#[derive(Clone)]
pub(crate) enum Cached {
    Token(Credential),
    Revoked(RevokedBy),
}

/// The cache of one store.
pub(crate) struct Cache {
    ttl: Duration,
    capacity: usize,
    state: Mutex<State>,
}

struct State {
    entries: HashMap<UserId, Entry>,
    /// Bumped by [`Cache::clear`]: lookups in flight across it cache nothing.
    epoch: u64,
    /// The earliest expiry among the cached values (a sweep is due from then on).
    oldest_expiry: Option<Instant>,
    last_sweep: Instant,
    /// How many entries hold a value.
    values: usize,
}

#[derive(Default)]
struct Entry {
    /// The answer and when its lookup started.
    value: Option<(Cached, Instant)>,
    /// Bumped by every change of the user made through this process.
    generation: u64,
    /// Lookups of the user under way.
    in_flight: u32,
}

impl Entry {
    fn removable(&self) -> bool {
        self.value.is_none() && self.in_flight == 0
    }
}

/// A lookup under way: created before the database is asked, finished with its answer.
pub(crate) struct Ticket<'a> {
    cache: &'a Cache,
    /// `None` when the cache is off.
    user: Option<UserId>,
    generation: u64,
    epoch: u64,
    started: Instant,
}

impl Cache {
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Cache {
        Cache {
            ttl,
            capacity: capacity.max(1),
            state: Mutex::new(State {
                entries: HashMap::new(),
                epoch: 0,
                oldest_expiry: None,
                last_sweep: Instant::now(),
                values: 0,
            }),
        }
    }

    fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached answer for `user`, if it has not expired.
    pub(crate) fn get(&self, user: &UserId) -> Option<Cached> {
        if !self.enabled() {
            return None;
        }
        let now = Instant::now();
        let mut state = self.lock();
        self.sweep_if_due(&mut state, now);
        let entry = state.entries.get_mut(user)?;
        let (cached, started) = entry.value.as_ref()?;
        if now.duration_since(*started) < self.ttl {
            return Some(cached.clone());
        }
        entry.value = None;
        let removable = entry.removable();
        state.values -= 1;
        if removable {
            state.entries.remove(user);
        }
        None
    }

    /// Starts a lookup of `user`, stamped now.
    pub(crate) fn begin(&self, user: &UserId) -> Ticket<'_> {
        let started = Instant::now();
        if !self.enabled() {
            return Ticket {
                cache: self,
                user: None,
                generation: 0,
                epoch: 0,
                started,
            };
        }
        let mut state = self.lock();
        let epoch = state.epoch;
        let entry = state.entries.entry(user.clone()).or_default();
        entry.in_flight += 1;
        Ticket {
            cache: self,
            user: Some(user.clone()),
            generation: entry.generation,
            epoch,
            started,
        }
    }

    /// After a change of `user` made through this process: drops the cached answer, and keeps
    /// lookups under way from caching theirs.
    pub(crate) fn changed(&self, user: &UserId) {
        if !self.enabled() {
            return;
        }
        let mut state = self.lock();
        let Some(entry) = state.entries.get_mut(user) else {
            return;
        };
        entry.generation += 1;
        let had_value = entry.value.take().is_some();
        let removable = entry.removable();
        if had_value {
            state.values -= 1;
        }
        if removable {
            state.entries.remove(user);
        }
    }

    /// Forgets every cached answer; lookups under way cache nothing.
    pub(crate) fn clear(&self) {
        let mut state = self.lock();
        state.epoch += 1;
        state.entries.retain(|_, entry| {
            entry.value = None;
            entry.in_flight > 0
        });
        state.values = 0;
        state.oldest_expiry = None;
    }

    /// How many users' answers are cached.
    pub(crate) fn len(&self) -> usize {
        self.lock().values
    }

    /// Drops expired values when one may have expired, at most every eighth of the cache time.
    fn sweep_if_due(&self, state: &mut State, now: Instant) {
        let due = state.oldest_expiry.is_some_and(|at| now >= at)
            && now.duration_since(state.last_sweep) >= self.ttl / 8;
        if due {
            self.sweep(state, now);
        }
    }

    fn sweep(&self, state: &mut State, now: Instant) {
        let ttl = self.ttl;
        let mut oldest: Option<Instant> = None;
        let mut values = 0;
        state.entries.retain(|_, entry| {
            if let Some((_, started)) = &entry.value {
                if now.duration_since(*started) >= ttl {
                    entry.value = None;
                } else {
                    values += 1;
                    let expiry = *started + ttl;
                    oldest = Some(oldest.map_or(expiry, |o| o.min(expiry)));
                }
            }
            !entry.removable()
        });
        state.values = values;
        state.oldest_expiry = oldest;
        state.last_sweep = now;
    }

    /// Beyond the capacity: drops the values looked up longest ago, down to seven eighths of
    /// the capacity (so that a full cache is not swept at every lookup).
    fn evict_oldest(&self, state: &mut State) {
        let keep = self.capacity - self.capacity / 8;
        let mut stamps: Vec<Instant> = state
            .entries
            .values()
            .filter_map(|entry| entry.value.as_ref().map(|(_, at)| *at))
            .collect();
        if stamps.len() <= keep {
            return;
        }
        let drop_count = stamps.len() - keep;
        let (_, cutoff, _) = stamps.select_nth_unstable(drop_count - 1);
        let cutoff = *cutoff;
        let mut values = 0;
        state.entries.retain(|_, entry| {
            if let Some((_, at)) = &entry.value {
                if *at <= cutoff {
                    entry.value = None;
                } else {
                    values += 1;
                }
            }
            !entry.removable()
        });
        state.values = values;
    }
}

impl Ticket<'_> {
    /// When the lookup started.
    pub(crate) fn started(&self) -> Instant {
        self.started
    }

    /// Caches the lookup's answer, unless the user changed (or the cache was cleared) since it
    /// started, or it is already older than the cache time.
    pub(crate) fn finish(self, cached: Cached) {
        let Some(user) = &self.user else {
            return;
        };
        let cache = self.cache;
        let now = Instant::now();
        if now.duration_since(self.started) >= cache.ttl {
            return;
        }
        let mut state = cache.lock();
        if state.epoch != self.epoch {
            return;
        }
        let Some(entry) = state.entries.get_mut(user) else {
            return;
        };
        if entry.generation != self.generation {
            return;
        }
        let replaced = entry.value.replace((cached, self.started)).is_some();
        if !replaced {
            state.values += 1;
        }
        let expiry = self.started + cache.ttl;
        state.oldest_expiry = Some(state.oldest_expiry.map_or(expiry, |o| o.min(expiry)));
        cache.sweep_if_due(&mut state, now);
        if state.values > cache.capacity {
            cache.evict_oldest(&mut state);
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let Some(user) = &self.user else {
            return;
        };
        let mut state = self.cache.lock();
        if let Some(entry) = state.entries.get_mut(user) {
            entry.in_flight = entry.in_flight.saturating_sub(1);
            if entry.removable() {
                state.entries.remove(user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn token(text: &str) -> Cached {
        Cached::Token(Credential::new(SecretString::from(text)))
    }

    fn user(i: usize) -> UserId {
        UserId::from(format!("user{i}"))
    }

    #[test]
    fn a_lookup_that_raced_with_a_change_caches_nothing() {
        let cache = Cache::new(Duration::from_secs(60), 100);
        let ticket = cache.begin(&user(1));
        cache.changed(&user(1));
        ticket.finish(token("u+old"));
        assert!(cache.get(&user(1)).is_none());
        assert_eq!(cache.len(), 0);
        // A lookup that started after the change caches.
        cache.begin(&user(1)).finish(token("u+new"));
        assert!(cache.get(&user(1)).is_some());

        let ticket = cache.begin(&user(2));
        cache.clear();
        ticket.finish(token("u+old"));
        assert!(cache.get(&user(2)).is_none());
        // Another user's change does not matter.
        let ticket = cache.begin(&user(3));
        cache.changed(&user(4));
        ticket.finish(token("u+three"));
        assert!(cache.get(&user(3)).is_some());
    }

    #[test]
    fn an_entry_counts_from_when_its_lookup_started() {
        let cache = Cache::new(Duration::from_millis(100), 100);
        let ticket = cache.begin(&user(1));
        std::thread::sleep(Duration::from_millis(60));
        ticket.finish(token("u+late"));
        assert!(cache.get(&user(1)).is_some());
        std::thread::sleep(Duration::from_millis(50));
        // 110 ms after the lookup started (50 ms after it finished): expired.
        assert!(cache.get(&user(1)).is_none());
        assert_eq!(cache.len(), 0);
        // An answer older than the cache time when it arrives is not cached at all.
        let ticket = cache.begin(&user(2));
        std::thread::sleep(Duration::from_millis(110));
        ticket.finish(token("u+stale"));
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn a_dropped_lookup_leaves_nothing_behind_and_the_capacity_holds() {
        let cache = Cache::new(Duration::from_secs(60), 16);
        drop(cache.begin(&user(1)));
        assert!(cache.lock().entries.is_empty());
        for i in 0..100 {
            cache.begin(&user(i)).finish(token("u+t"));
            assert!(cache.len() <= 16);
        }
        assert!(cache.get(&user(99)).is_some(), "the latest lookups stay");
        let entries = cache.lock().entries.len();
        assert_eq!(entries, cache.len());
    }
}

//! Per-user limits at the gateway's front: how many of a user's calls may be in flight at once,
//! and how many requests a user may send per second (a token bucket). A user over a limit gets
//! HTTP 429 with `Retry-After` at once, before anything else is done for the request, so that
//! one user's flood costs the gateway little and leaves the other users' requests alone.
//!
//! The limits are per user (the identity a gateway key maps to), not per key or per connection:
//! a user's agents share them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pagerduty_mcp_connect::UserId;

/// The default number of one user's calls in flight at once.
pub(crate) const DEFAULT_MAX_IN_FLIGHT: usize = 32;
/// The default sustained request rate of one user, per second.
pub(crate) const DEFAULT_RATE: u32 = 50;
/// The default burst of one user's requests above the rate.
pub(crate) const DEFAULT_BURST: u32 = 100;

/// The per-user limits (`0`: that limit is off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UserLimits {
    pub(crate) max_in_flight: usize,
    pub(crate) rate_per_second: u32,
    pub(crate) burst: u32,
}

impl Default for UserLimits {
    fn default() -> Self {
        UserLimits {
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            rate_per_second: DEFAULT_RATE,
            burst: DEFAULT_BURST,
        }
    }
}

/// Why a request was refused, and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OverLimit {
    /// Too many requests per second.
    Rate { retry_after: Duration },
    /// Too many calls in flight.
    InFlight { retry_after: Duration },
}

impl OverLimit {
    pub(crate) fn retry_after(self) -> Duration {
        match self {
            OverLimit::Rate { retry_after } | OverLimit::InFlight { retry_after } => retry_after,
        }
    }
}

#[derive(Debug)]
struct UserState {
    in_flight: usize,
    tokens: f64,
    refilled: Instant,
}

/// The users' counters.
#[derive(Debug)]
pub(crate) struct Limiter {
    limits: UserLimits,
    users: Mutex<HashMap<UserId, UserState>>,
}

/// Held while one of a user's calls is in flight.
#[derive(Debug)]
pub(crate) struct UserPermit {
    limiter: Arc<Limiter>,
    user: UserId,
}

impl Drop for UserPermit {
    fn drop(&mut self) {
        if let Some(state) = self.limiter.lock().get_mut(&self.user) {
            state.in_flight = state.in_flight.saturating_sub(1);
        }
    }
}

impl Limiter {
    pub(crate) fn new(limits: UserLimits) -> Self {
        Limiter {
            limits,
            users: Mutex::new(HashMap::new()),
        }
    }

    /// Admits one request of `user` (a call, counted in flight until the permit is dropped, if
    /// `call`), or says why not.
    pub(crate) fn admit(
        self: &Arc<Self>,
        user: &UserId,
        call: bool,
    ) -> Result<Option<UserPermit>, OverLimit> {
        let UserLimits {
            max_in_flight,
            rate_per_second,
            burst,
        } = self.limits;
        let capacity = f64::from(burst.max(1));
        let now = Instant::now();
        let mut users = self.lock();
        if users.len() >= 4096 && !users.contains_key(user) {
            // Forget the users with nothing in flight and a full bucket (nothing to remember).
            users.retain(|_, state| {
                state.in_flight > 0 || refill(state, now, rate_per_second, capacity) < capacity
            });
        }
        let state = users.entry(user.clone()).or_insert_with(|| UserState {
            in_flight: 0,
            tokens: capacity,
            refilled: now,
        });
        if call && max_in_flight > 0 && state.in_flight >= max_in_flight {
            return Err(OverLimit::InFlight {
                retry_after: Duration::from_secs(1),
            });
        }
        if rate_per_second > 0 {
            let tokens = refill(state, now, rate_per_second, capacity);
            if tokens < 1.0 {
                let wait = (1.0 - tokens) / f64::from(rate_per_second);
                return Err(OverLimit::Rate {
                    retry_after: Duration::from_secs_f64(wait.ceil().max(1.0)),
                });
            }
            state.tokens = tokens - 1.0;
        }
        if !call || max_in_flight == 0 {
            return Ok(None);
        }
        state.in_flight += 1;
        Ok(Some(UserPermit {
            limiter: self.clone(),
            user: user.clone(),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, UserState>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Tops the bucket up for the time since it was last, and returns its tokens.
fn refill(state: &mut UserState, now: Instant, rate: u32, capacity: f64) -> f64 {
    let elapsed = now.saturating_duration_since(state.refilled).as_secs_f64();
    state.tokens = (state.tokens + elapsed * f64::from(rate)).min(capacity);
    state.refilled = now;
    state.tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_is_per_user_and_released() {
        let limiter = Arc::new(Limiter::new(UserLimits {
            max_in_flight: 2,
            rate_per_second: 0,
            burst: 0,
        }));
        let (alice, bob) = (UserId::from("alice"), UserId::from("bob"));
        let a1 = limiter.admit(&alice, true).unwrap();
        let _a2 = limiter.admit(&alice, true).unwrap();
        assert!(matches!(
            limiter.admit(&alice, true),
            Err(OverLimit::InFlight { .. })
        ));
        assert!(limiter.admit(&alice, false).is_ok(), "not a call");
        assert!(limiter.admit(&bob, true).is_ok(), "bob is not alice");
        drop(a1);
        assert!(limiter.admit(&alice, true).is_ok());
    }

    #[test]
    fn the_rate_is_a_bucket_per_user() {
        let limiter = Arc::new(Limiter::new(UserLimits {
            max_in_flight: 0,
            rate_per_second: 1,
            burst: 3,
        }));
        let (alice, bob) = (UserId::from("alice"), UserId::from("bob"));
        for _ in 0..3 {
            assert!(limiter.admit(&alice, true).is_ok());
        }
        let refused = limiter.admit(&alice, true).unwrap_err();
        assert_eq!(refused.retry_after(), Duration::from_secs(1));
        assert!(limiter.admit(&bob, true).is_ok());
    }
}

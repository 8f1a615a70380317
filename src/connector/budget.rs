//! Per-user budgets: how many requests a user may send per period (a token bucket) and how many
//! of their calls may be in flight at once, so that one user's looping agent spends that user's
//! budget only, never another user's.
//!
//! PagerDuty allows 960 REST API requests per minute per user, across all of that user's tokens,
//! and advises serial requests per token; past that, every call of the user fails with 429. The
//! [`PagerDuty`](crate::PagerDuty) preset therefore brings [`UserBudget::pagerduty`]; a generic
//! server has none unless one is set ([`ConnectorBuilder::user_budget`](super::ConnectorBuilder::user_budget)).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::credential::UserId;
use crate::error::{Error, Result};

/// How much one user may send: `requests` per `period` (refilled continuously, so a user at rest
/// may send a burst of up to `requests` at once), at most `in_flight` calls at a time, and how
/// long a call beyond the budget waits for room before it fails with
/// [`Error::RateLimited`] without sending anything.
///
/// ```
/// use std::time::Duration;
/// use pagerduty_mcp_connect::UserBudget;
///
/// let budget = UserBudget::new(100, Duration::from_secs(60))
///     .in_flight(2)
///     .max_wait(Duration::from_secs(5));
/// assert_eq!(budget.requests(), 100);
/// assert_eq!(UserBudget::pagerduty().requests(), 960);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserBudget {
    requests: u32,
    period: Duration,
    in_flight: usize,
    max_wait: Duration,
}

/// The longest period and wait a budget takes (longer values are cut to it): a day.
const LONGEST: Duration = Duration::from_secs(86_400);

impl UserBudget {
    /// `requests` per `period` (at least one request; a period from a millisecond to a day,
    /// values outside cut to those), 8 calls in flight, waiting up to 10 s for room.
    pub fn new(requests: u32, period: Duration) -> Self {
        UserBudget {
            requests: requests.max(1),
            period: period.clamp(Duration::from_millis(1), LONGEST),
            in_flight: 8,
            max_wait: Duration::from_secs(10),
        }
    }

    /// PagerDuty's limit: 960 requests per minute per user, 4 calls in flight (PagerDuty advises
    /// serial requests per token; a few at once keep one agent's parallel reads usable), waiting
    /// up to 10 s.
    pub fn pagerduty() -> Self {
        UserBudget::new(960, Duration::from_secs(60)).in_flight(4)
    }

    /// At most `calls` (at least 1, at most 1,000,000) of a user's calls in flight at once;
    /// more wait their turn.
    #[must_use]
    pub fn in_flight(mut self, calls: usize) -> Self {
        self.in_flight = calls.clamp(1, 1_000_000);
        self
    }

    /// How long a call waits for room in the budget before it fails with
    /// [`Error::RateLimited`] (without a request). Zero: fail at once; at most a day.
    #[must_use]
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait.min(LONGEST);
        self
    }

    /// The requests allowed per [`period`](Self::period).
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// The period of [`requests`](Self::requests).
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The calls allowed in flight at once.
    pub fn calls_in_flight(&self) -> usize {
        self.in_flight
    }

    /// How long a call waits for room.
    pub fn wait_limit(&self) -> Duration {
        self.max_wait
    }

    /// The time one request's worth of budget takes to come back.
    fn refill_interval(&self) -> Duration {
        self.period / self.requests
    }
}

impl fmt::Display for UserBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests per {:?}, {} in flight",
            self.requests, self.period, self.in_flight
        )
    }
}

/// One user's bucket and in-flight limit.
struct UserGate {
    in_flight: Arc<Semaphore>,
    bucket: Mutex<Bucket>,
}

/// A token bucket kept as "the time at which it is full again" (GCRA): no timer, one number.
struct Bucket {
    /// When the bucket is full again; at or before now: full.
    full_at: Instant,
    /// The server said to wait until then (a 429): nothing goes out before.
    paused_until: Option<Instant>,
}

/// Permission to send one request for a user: holds the user's in-flight slot until dropped.
pub(crate) struct Admission {
    _permit: OwnedSemaphorePermit,
}

/// Every user's gate.
pub(crate) struct Budgets {
    budget: UserBudget,
    gates: Mutex<HashMap<UserId, Arc<UserGate>>>,
}

impl Budgets {
    pub(crate) fn new(budget: UserBudget) -> Self {
        Budgets {
            budget,
            gates: Mutex::new(HashMap::new()),
        }
    }

    fn gate(&self, user: &UserId) -> Arc<UserGate> {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        gates
            .entry(user.clone())
            .or_insert_with(|| {
                Arc::new(UserGate {
                    in_flight: Arc::new(Semaphore::new(self.budget.in_flight)),
                    bucket: Mutex::new(Bucket {
                        full_at: Instant::now(),
                        paused_until: None,
                    }),
                })
            })
            .clone()
    }

    /// Waits (up to the budget's wait limit) for an in-flight slot and one request's worth of
    /// `user`'s budget; past the limit, [`Error::RateLimited`] with the wait still needed.
    pub(crate) async fn admit(&self, user: &UserId) -> Result<Admission> {
        let gate = self.gate(user);
        let deadline = Instant::now() + self.budget.max_wait;
        let permit = match tokio::time::timeout_at(deadline, gate.in_flight.clone().acquire_owned())
            .await
        {
            Ok(Ok(permit)) => permit,
            // The semaphore is never closed; a timeout means the user's calls are all busy.
            _ => {
                return Err(Error::rate_limited(
                    format!(
                        "{} of this user's calls are already in flight (the connector's per-user limit); wait for one to finish",
                        self.budget.in_flight
                    ),
                    Some(
                        self.budget
                            .refill_interval()
                            .max(Duration::from_millis(100)),
                    ),
                ));
            }
        };
        loop {
            let now = Instant::now();
            let ready_at = self.take(&gate, now);
            match ready_at {
                None => return Ok(Admission { _permit: permit }),
                Some(ready_at) if ready_at <= deadline => tokio::time::sleep_until(ready_at).await,
                Some(ready_at) => {
                    return Err(Error::rate_limited(
                        format!(
                            "this user's request budget ({}) is spent; nothing was sent",
                            self.budget
                        ),
                        Some(ready_at.saturating_duration_since(now)),
                    ));
                }
            }
        }
    }

    /// Takes one request's worth of the bucket at `now`: `None` when taken, else when to try
    /// again.
    fn take(&self, gate: &UserGate, now: Instant) -> Option<Instant> {
        let mut bucket = gate.bucket.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = bucket.paused_until {
            if until > now {
                return Some(until);
            }
            bucket.paused_until = None;
        }
        let interval = self.budget.refill_interval();
        let capacity = self.budget.period;
        // Full at `full_at`; a request adds one interval; it fits while the bucket would be full
        // again within one period from now.
        let full_at = bucket.full_at.max(now) + interval;
        if full_at <= now + capacity {
            bucket.full_at = full_at;
            None
        } else {
            Some(full_at - capacity)
        }
    }

    /// The server answered `user` with 429 and a wait: nothing more goes out for that user
    /// until it has passed (other users are not touched).
    pub(crate) fn pause(&self, user: &UserId, wait: Duration) {
        let gate = self.gate(user);
        let mut bucket = gate.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let until = Instant::now() + wait.min(LONGEST);
        bucket.paused_until = Some(bucket.paused_until.map_or(until, |t| t.max(until)));
    }

    /// Forgets users whose bucket is full, with nothing in flight and no pause: their state is
    /// the initial one. Returns how many were forgotten.
    pub(crate) fn forget_idle(&self) -> usize {
        let now = Instant::now();
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        let before = gates.len();
        gates.retain(|_, gate| {
            let bucket = gate.bucket.lock().unwrap_or_else(|p| p.into_inner());
            let at_rest = bucket.full_at <= now
                && bucket.paused_until.is_none_or(|until| until <= now)
                && gate.in_flight.available_permits() == self.budget.in_flight
                && Arc::strong_count(gate) == 1;
            !at_rest
        });
        before - gates.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> UserId {
        UserId::from(name)
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_up_to_the_budget_passes_then_calls_wait_for_the_refill() {
        let budgets = Budgets::new(UserBudget::new(4, Duration::from_secs(4)).in_flight(10));
        let alice = user("alice");
        let started = Instant::now();
        for _ in 0..4 {
            budgets.admit(&alice).await.unwrap();
        }
        assert_eq!(started.elapsed(), Duration::ZERO);
        budgets.admit(&alice).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_wait_limit_a_call_fails_at_once_saying_how_long_to_wait() {
        let budgets = Budgets::new(
            UserBudget::new(1, Duration::from_secs(60)).max_wait(Duration::from_secs(1)),
        );
        let alice = user("alice");
        budgets.admit(&alice).await.unwrap();
        let started = Instant::now();
        let err = budgets.admit(&alice).await.err().unwrap();
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert!(matches!(err, Error::RateLimited { .. }), "{err}");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(60)));
        assert!(err.to_string().contains("nothing was sent"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn one_users_spent_budget_and_pause_never_touch_another() {
        let budgets =
            Budgets::new(UserBudget::new(1, Duration::from_secs(60)).max_wait(Duration::ZERO));
        let (alice, bob) = (user("alice"), user("bob"));
        budgets.admit(&alice).await.unwrap();
        assert!(budgets.admit(&alice).await.is_err());
        budgets.pause(&alice, Duration::from_secs(600));
        budgets.admit(&bob).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_the_user_until_it_ends() {
        let budgets = Budgets::new(UserBudget::new(100, Duration::from_secs(1)));
        let alice = user("alice");
        budgets.pause(&alice, Duration::from_secs(3));
        let started = Instant::now();
        budgets.admit(&alice).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn calls_beyond_the_in_flight_limit_wait_for_a_slot() {
        let budgets = Arc::new(Budgets::new(
            UserBudget::new(100, Duration::from_secs(1))
                .in_flight(1)
                .max_wait(Duration::from_secs(5)),
        ));
        let alice = user("alice");
        let first = budgets.admit(&alice).await.unwrap();
        let waiting = {
            let budgets = budgets.clone();
            let alice = alice.clone();
            tokio::spawn(async move { budgets.admit(&alice).await.map(|_| Instant::now()) })
        };
        tokio::time::sleep(Duration::from_secs(2)).await;
        let released = Instant::now();
        drop(first);
        let admitted = waiting.await.unwrap().unwrap();
        assert!(admitted >= released);
        // All busy past the wait limit: fails.
        let _held = budgets.admit(&alice).await.unwrap();
        assert!(budgets.admit(&alice).await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn extreme_settings_are_cut_to_sane_ones_rather_than_panicking() {
        let budget = UserBudget::new(u32::MAX, Duration::MAX)
            .in_flight(usize::MAX)
            .max_wait(Duration::MAX);
        assert_eq!(budget.period(), LONGEST);
        assert_eq!(budget.calls_in_flight(), 1_000_000);
        assert_eq!(budget.wait_limit(), LONGEST);
        let budgets = Budgets::new(budget);
        budgets.admit(&user("alice")).await.unwrap();
        budgets.pause(&user("alice"), Duration::MAX);
        let tiny = Budgets::new(UserBudget::new(0, Duration::ZERO).max_wait(Duration::ZERO));
        tiny.admit(&user("bob")).await.unwrap();
        assert!(tiny.admit(&user("bob")).await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn users_at_rest_are_forgotten() {
        let budgets = Budgets::new(UserBudget::new(10, Duration::from_secs(1)));
        budgets.admit(&user("alice")).await.unwrap();
        assert_eq!(budgets.forget_idle(), 0);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(budgets.forget_idle(), 1);
    }
}

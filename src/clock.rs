//! `Clock`: where the connector and the credential cache read the time, so that tests (this
//! crate's and a gateway's) can move it instead of sleeping.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The time source of a [`Connector`](crate::Connector) (idle sessions, token age) and of
/// [`CachedCredentials`](crate::CachedCredentials) (lifetimes, credential expiry).
///
/// [`SystemClock`] is the default; [`ManualClock`] is a clock a test moves by hand. Timers that
/// only pace background work (the connector's idle sweep) still run on Tokio's timer: a test
/// with a manual clock calls [`Connector::evict_idle`](crate::Connector::evict_idle) itself.
pub trait Clock: Send + Sync + fmt::Debug {
    /// A monotonic instant (idle times, cache lifetimes).
    fn now(&self) -> Instant;
    /// The wall-clock time (token age, credential expiry).
    fn system_now(&self) -> SystemTime;
}

/// The operating system's clocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn system_now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told to: both its instant and its wall-clock time start at the
/// system's when it is made and advance together. Clones share one time.
///
/// ```
/// use std::time::Duration;
/// use pagerduty_mcp_connect::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let before = clock.now();
/// clock.advance(Duration::from_secs(90 * 86_400));
/// assert_eq!(clock.now() - before, Duration::from_secs(90 * 86_400));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    time: Arc<Mutex<(Instant, SystemTime)>>,
}

impl ManualClock {
    /// A clock at the system's current time.
    pub fn new() -> Self {
        ManualClock {
            time: Arc::new(Mutex::new((Instant::now(), SystemTime::now()))),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut time = self.time.lock().unwrap_or_else(|p| p.into_inner());
        time.0 += by;
        time.1 += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.time.lock().unwrap_or_else(|p| p.into_inner()).0
    }
    fn system_now(&self) -> SystemTime {
        self.time.lock().unwrap_or_else(|p| p.into_inner()).1
    }
}

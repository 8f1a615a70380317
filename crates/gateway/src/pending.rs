//! Calls of 2026-07-28 agents waiting for the agent's answers to an `input_required` result.
//!
//! The 2026-07-28 protocol lets no server send requests to the client; a server asks by
//! answering `input_required` with the requests and an opaque `requestState`, and the client
//! sends the call again with the answers. When the upstream asks the gateway something for such
//! an agent, the upstream call keeps running here, parked under a fresh unguessable state, until
//! the agent comes back with that state and its answers (or the entry expires, which cancels the
//! upstream call).

use std::collections::HashMap;

/// How the gateway's own `requestState`s begin.
const STATE_PREFIX: &str = "gw1.";
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use super::agent_call::{ANSWER_TIMEOUT, Running};
use pagerduty_mcp_connect::UserId;
use pagerduty_mcp_connect::client::HandlerError;

/// The most calls one user may have waiting for answers.
const MAX_PER_USER: usize = 16;

/// A parked call.
pub(crate) struct Parked {
    pub(crate) user: UserId,
    pub(crate) name: String,
    pub(crate) running: Running,
    pub(crate) answers: HashMap<String, oneshot::Sender<Result<Value, HandlerError>>>,
    pub(crate) started: Instant,
    parked_at: Instant,
}

#[derive(Default)]
pub(crate) struct PendingCalls {
    calls: Mutex<HashMap<String, Parked>>,
    counter: AtomicU64,
}

impl PendingCalls {
    /// Parks a call; returns its request state, or gives the call back when the user has too
    /// many waiting.
    pub(crate) fn park(
        &self,
        user: UserId,
        name: String,
        running: Running,
        answers: HashMap<String, oneshot::Sender<Result<Value, HandlerError>>>,
        started: Instant,
    ) -> Result<String, Running> {
        let mut calls = self.lock();
        let now = Instant::now();
        // Expired entries go first; dropping one cancels its upstream call.
        calls.retain(|_, parked| now.duration_since(parked.parked_at) < ANSWER_TIMEOUT);
        if calls.values().filter(|p| p.user == user).count() >= MAX_PER_USER {
            return Err(running);
        }
        let state = self.fresh_state();
        calls.insert(
            state.clone(),
            Parked {
                user,
                name,
                running,
                answers,
                started,
                parked_at: now,
            },
        );
        Ok(state)
    }

    /// Takes the call parked under `state`, if it is `user`'s and has this `name` (method and
    /// tool, prompt or resource).
    pub(crate) fn take(&self, state: &str, user: &UserId, name: &str) -> Option<Parked> {
        let mut calls = self.lock();
        let now = Instant::now();
        calls.retain(|_, parked| now.duration_since(parked.parked_at) < ANSWER_TIMEOUT);
        let matches = calls
            .get(state)
            .is_some_and(|p| &p.user == user && p.name == name);
        if matches { calls.remove(state) } else { None }
    }

    /// Whether a call is parked under `state` (a state the gateway made; any other is the
    /// upstream's own, which goes back upstream).
    pub(crate) fn holds(&self, state: &str) -> bool {
        // The gateway's states carry its prefix: an expired one is still its own (and answered
        // "expired"), never sent upstream.
        state.starts_with(STATE_PREFIX) || self.lock().contains_key(state)
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// A state nobody can guess: SHA-256 over the process's random hasher seed, a counter and
    /// the time.
    fn fresh_state(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut seed = std::collections::hash_map::RandomState::new().build_hasher();
        seed.write_u64(n);
        let mut hasher = Sha256::new();
        hasher.update(seed.finish().to_le_bytes());
        hasher.update(
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
                .to_le_bytes(),
        );
        hasher.update(n.to_le_bytes());
        hasher.update(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
                .as_nanos()
                .to_le_bytes(),
        );
        let digest = hasher.finalize();
        let mut out = String::from(STATE_PREFIX);
        for byte in digest.iter() {
            out.push_str(&format!("{byte:02x}"));
        }
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Parked>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }
}

//! A caching wrapper around any credential provider.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;

use super::{Credential, CredentialError, CredentialProvider, SharedCredentialProvider, UserId};

/// Caches each user's credential from a slower provider (a vault, a database) for a while.
///
/// An entry lives for the configured time to live (five minutes by default), never past the
/// credential's own expiry, and is dropped at once when the credential is invalidated. Errors are
/// not cached. Two callers that miss at the same moment may both ask the inner provider.
///
/// ```
/// use std::time::Duration;
/// use pagerduty_mcp_connect::{CachedCredentials, InMemoryCredentialStore};
///
/// let cached = CachedCredentials::new(InMemoryCredentialStore::new())
///     .with_time_to_live(Duration::from_secs(60));
/// # let _ = cached;
/// ```
#[derive(Debug, Clone)]
pub struct CachedCredentials {
    inner: SharedCredentialProvider,
    time_to_live: Duration,
    entries: Arc<Mutex<HashMap<UserId, (Credential, Instant)>>>,
}

impl CachedCredentials {
    /// The default time to live of an entry.
    pub const DEFAULT_TIME_TO_LIVE: Duration = Duration::from_secs(300);

    /// Caches the answers of `inner`.
    pub fn new(inner: impl CredentialProvider + 'static) -> Self {
        CachedCredentials {
            inner: SharedCredentialProvider::new(inner),
            time_to_live: Self::DEFAULT_TIME_TO_LIVE,
            entries: Arc::default(),
        }
    }

    /// Sets how long an entry is kept.
    #[must_use]
    pub fn with_time_to_live(mut self, time_to_live: Duration) -> Self {
        self.time_to_live = time_to_live;
        self
    }

    /// Forgets every cached entry.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, (Credential, Instant)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn deadline(&self, credential: &Credential) -> Instant {
        let now = Instant::now();
        let mut deadline = now + self.time_to_live;
        if let Some(expires_at) = credential.expires_at() {
            let left = expires_at
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            deadline = deadline.min(now + left);
        }
        deadline
    }
}

#[async_trait]
impl CredentialProvider for CachedCredentials {
    async fn credential(&self, user: &UserId) -> Result<Credential, CredentialError> {
        if let Some((credential, deadline)) = self.lock().get(user) {
            if Instant::now() < *deadline {
                return Ok(credential.clone());
            }
        }
        let credential = self.inner.credential(user).await?;
        let deadline = self.deadline(&credential);
        self.lock()
            .insert(user.clone(), (credential.clone(), deadline));
        Ok(credential)
    }

    async fn invalidate(&self, user: &UserId, credential: &Credential) {
        {
            let mut entries = self.lock();
            if entries
                .get(user)
                .is_some_and(|(cached, _)| cached.same_secret(credential))
            {
                entries.remove(user);
            }
        }
        self.inner.invalidate(user, credential).await;
    }
}

//! Tokens already validated, by the SHA-256 digest of the token (never the token itself), so
//! that an agent's next requests cost a digest and a map lookup instead of a signature check.
//! Bounded: when full, the expired entries go, and all of them if none has expired.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};

use pagerduty_mcp_connect::UserId;

/// What is remembered of a valid token.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) user: UserId,
    pub(crate) scopes: Arc<[String]>,
    /// The Unix time (seconds) until which the token is accepted, leeway included.
    pub(crate) valid_until: u64,
}

/// The cache.
#[derive(Debug)]
pub(crate) struct TokenCache {
    entries: RwLock<HashMap<[u8; 32], Entry>>,
    capacity: usize,
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        TokenCache {
            entries: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    /// The digest a token is remembered by.
    pub(crate) fn digest(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The entry for `digest`, if it is still valid at `now`.
    pub(crate) fn get(&self, digest: &[u8; 32], now: u64) -> Option<Entry> {
        if self.capacity == 0 {
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(digest)
            .filter(|entry| entry.valid_until >= now)
            .cloned()
    }

    /// Remembers a validated token.
    pub(crate) fn insert(&self, digest: [u8; 32], entry: Entry, now: u64) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(&digest) {
            entries.retain(|_, entry| entry.valid_until >= now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(digest, entry);
    }

    /// How many tokens are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(valid_until: u64) -> Entry {
        Entry {
            user: "alice".into(),
            scopes: Arc::from(Vec::new()),
            valid_until,
        }
    }

    #[test]
    fn bounded_and_expiring() {
        let cache = TokenCache::new(2);
        cache.insert(TokenCache::digest("a"), entry(100), 50);
        cache.insert(TokenCache::digest("b"), entry(10), 50);
        assert!(cache.get(&TokenCache::digest("a"), 60).is_some());
        assert!(cache.get(&TokenCache::digest("a"), 101).is_none());
        // Full: the expired "b" goes.
        cache.insert(TokenCache::digest("c"), entry(100), 50);
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&TokenCache::digest("c"), 60).is_some());
        // Full with nothing expired: all go.
        cache.insert(TokenCache::digest("d"), entry(100), 50);
        assert_eq!(cache.len(), 1);
        let off = TokenCache::new(0);
        off.insert(TokenCache::digest("a"), entry(100), 50);
        assert!(off.get(&TokenCache::digest("a"), 60).is_none());
    }
}

//! A per-user credential map kept in memory.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use secrecy::SecretString;

use super::{Credential, CredentialError, CredentialProvider, UserId};

#[derive(Debug)]
struct Entry {
    credential: Credential,
    revoked: bool,
}

/// Each user's credential, in memory: insert, rotate, revoke, remove. Clones share the same map,
/// so one clone can sit in a connector while another takes updates from an admin API.
///
/// When the server rejects a credential ([`CredentialProvider::invalidate`]) and it is still the
/// user's current one, the entry is marked revoked: the store answers
/// [`CredentialError::Revoked`] until the user supplies a new token with
/// [`InMemoryCredentialStore::rotate`] or [`InMemoryCredentialStore::insert`].
///
/// ```
/// use pagerduty_mcp_connect::{InMemoryCredentialStore, UserId};
///
/// let store = InMemoryCredentialStore::new();
/// store.insert("alice@example.com", "u+alice-token");
/// store.rotate("alice@example.com", "u+alice-new-token");
/// store.revoke(&UserId::from("alice@example.com"));
/// assert!(store.contains(&UserId::from("alice@example.com")));
/// ```
#[derive(Debug, Clone, Default)]
pub struct InMemoryCredentialStore {
    entries: Arc<RwLock<HashMap<UserId, Entry>>>,
}

impl InMemoryCredentialStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `user`'s token (replacing any earlier one, revoked or not).
    pub fn insert(&self, user: impl Into<UserId>, token: impl Into<SecretString>) {
        self.insert_credential(user, Credential::new(token));
    }

    /// Sets `user`'s credential (replacing any earlier one, revoked or not).
    pub fn insert_credential(&self, user: impl Into<UserId>, credential: Credential) {
        self.write().insert(
            user.into(),
            Entry {
                credential,
                revoked: false,
            },
        );
    }

    /// Replaces `user`'s token with a new one. Returns whether the user had a credential before.
    /// New connections use the new token at once.
    pub fn rotate(&self, user: impl Into<UserId>, token: impl Into<SecretString>) -> bool {
        let user = user.into();
        let had = self.write().contains_key(&user);
        self.insert(user, token);
        had
    }

    /// Marks `user`'s credential revoked. Returns whether the user had one.
    pub fn revoke(&self, user: &UserId) -> bool {
        match self.write().get_mut(user) {
            Some(entry) => {
                entry.revoked = true;
                true
            }
            None => false,
        }
    }

    /// Forgets `user`. Returns whether the user had a credential.
    pub fn remove(&self, user: &UserId) -> bool {
        self.write().remove(user).is_some()
    }

    /// Whether `user` has a credential (revoked or not).
    pub fn contains(&self, user: &UserId) -> bool {
        self.read().contains_key(user)
    }

    /// Whether `user`'s credential is marked revoked.
    pub fn is_revoked(&self, user: &UserId) -> bool {
        self.read().get(user).is_some_and(|entry| entry.revoked)
    }

    /// The number of users with a credential.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<UserId, Entry>> {
        // A panic while holding the lock cannot leave a map entry half-written, so the data is
        // still consistent: recover it instead of propagating the poison.
        self.entries
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<UserId, Entry>> {
        self.entries
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

#[async_trait]
impl CredentialProvider for InMemoryCredentialStore {
    async fn credential(&self, user: &UserId) -> Result<Credential, CredentialError> {
        match self.read().get(user) {
            None => Err(CredentialError::NotFound { user: user.clone() }),
            Some(entry) if entry.revoked => Err(CredentialError::Revoked { user: user.clone() }),
            Some(entry) if entry.credential.is_expired() => {
                Err(CredentialError::Expired { user: user.clone() })
            }
            Some(entry) => Ok(entry.credential.clone()),
        }
    }

    async fn invalidate(&self, user: &UserId, credential: &Credential) {
        if let Some(entry) = self.write().get_mut(user) {
            // Only the token the server rejected: a rotation that happened meanwhile stays valid.
            if entry.credential.same_secret(credential) {
                entry.revoked = true;
            }
        }
    }
}

//! [`ConnectStore`]: where the connect flow keeps a user's checked token, and what it says
//! about it (never the token itself).

use std::fmt;
use std::time::SystemTime;

use secrecy::SecretString;

use pagerduty_mcp_connect::{
    Credential, CredentialProvider, InMemoryCredentialStore, UserId, VerifiedIdentity, async_trait,
};

/// What a [`ConnectStore`] says about a user's stored token: never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredAccount {
    /// Whom PagerDuty said the token belongs to when it was checked (name, email, role, and
    /// the region as route), when the store keeps it.
    pub identity: Option<VerifiedIdentity>,
    /// When the current token was stored (its age is shown with the advice to rotate it).
    pub token_stored_at: Option<SystemTime>,
    /// Whether the token was revoked (by an admin, or after PagerDuty rejected it): the user
    /// must connect a new one.
    pub revoked: bool,
}

impl StoredAccount {
    /// An account record.
    pub fn new(
        identity: Option<VerifiedIdentity>,
        token_stored_at: Option<SystemTime>,
        revoked: bool,
    ) -> Self {
        StoredAccount {
            identity,
            token_stored_at,
            revoked,
        }
    }
}

/// A store could not be read or written. The message never holds a token.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectStoreError {
    /// The store failed (database unreachable, locked, a row that does not open …).
    #[error("the credential store failed: {0}")]
    Unavailable(String),
}

/// Where the connect flow keeps users' checked tokens: the gateway's credential store, seen
/// from the connect page.
///
/// Implemented for `SqlCredentialStore` (feature `store`: sealed at rest, the identity and
/// region kept beside the token, shared by replicas) and for
/// [`InMemoryCredentialStore`](pagerduty_mcp_connect::InMemoryCredentialStore) (tests,
/// single-process demos: it keeps no identity, so the account page can name the user only
/// right after a connection). Use the same store as the gateway's connector, so that a token
/// connected here is used from the user's next call.
#[async_trait]
pub trait ConnectStore: Send + Sync + fmt::Debug {
    /// What is stored for `user`, if anything.
    async fn account(&self, user: &UserId) -> Result<Option<StoredAccount>, ConnectStoreError>;

    /// Stores `token` for `user`, replacing any earlier one (a revoked one too), with the
    /// identity PagerDuty gave when the token was just checked.
    async fn save(
        &self,
        user: &UserId,
        token: SecretString,
        identity: &VerifiedIdentity,
    ) -> Result<StoredAccount, ConnectStoreError>;

    /// Removes `user`'s token; returns whether there was one.
    async fn disconnect(&self, user: &UserId) -> Result<bool, ConnectStoreError>;
}

#[async_trait]
impl ConnectStore for InMemoryCredentialStore {
    async fn account(&self, user: &UserId) -> Result<Option<StoredAccount>, ConnectStoreError> {
        if !self.contains(user) {
            return Ok(None);
        }
        if self.is_revoked(user) {
            return Ok(Some(StoredAccount::new(None, None, true)));
        }
        let stored_at = self
            .credential(user)
            .await
            .ok()
            .and_then(|credential| credential.created_at());
        Ok(Some(StoredAccount::new(None, stored_at, false)))
    }

    async fn save(
        &self,
        user: &UserId,
        token: SecretString,
        identity: &VerifiedIdentity,
    ) -> Result<StoredAccount, ConnectStoreError> {
        let now = SystemTime::now();
        let mut credential = Credential::new(token).with_created_at(now);
        if let Some(route) = &identity.route {
            credential = credential.with_route(route.clone());
        }
        self.insert_credential(user.clone(), credential);
        Ok(StoredAccount::new(Some(identity.clone()), Some(now), false))
    }

    async fn disconnect(&self, user: &UserId) -> Result<bool, ConnectStoreError> {
        Ok(self.remove(user))
    }
}

//! [`ConnectStore`] for the encrypted `SqlCredentialStore` (feature `store`).

use secrecy::SecretString;

use pagerduty_mcp_connect::{CredentialVerifier, UserId, VerifiedIdentity, async_trait};
use pagerduty_mcp_connect_store::{CredentialRecord, SqlCredentialStore, StoreError};

use super::store::{ConnectStore, ConnectStoreError, StoredAccount};

/// The identity the connect flow found a moment ago with the real check (PagerDuty's
/// `/users/me`): handing it to `put_verified`/`rotate_verified` stores the token with that
/// identity and region, without asking PagerDuty a second time.
#[derive(Debug)]
struct AlreadyVerified(VerifiedIdentity);

#[async_trait]
impl CredentialVerifier for AlreadyVerified {
    async fn verify_token(
        &self,
        _token: &SecretString,
    ) -> pagerduty_mcp_connect::Result<VerifiedIdentity> {
        Ok(self.0.clone())
    }
}

fn account_of(record: CredentialRecord) -> StoredAccount {
    StoredAccount::new(
        record.verification.as_ref().map(|v| v.identity.clone()),
        Some(record.token_created_at()),
        record.is_revoked(),
    )
}

fn failed(err: StoreError) -> ConnectStoreError {
    ConnectStoreError::Unavailable(err.to_string())
}

/// The gateway's encrypted store: the token sealed at rest (XChaCha20-Poly1305), the identity
/// and region PagerDuty gave kept beside it; an existing token is replaced with
/// `rotate_verified`, a first one stored with `put_verified`; disconnecting deletes the row.
#[cfg_attr(docsrs, doc(cfg(feature = "store")))]
#[async_trait]
impl ConnectStore for SqlCredentialStore {
    async fn account(&self, user: &UserId) -> Result<Option<StoredAccount>, ConnectStoreError> {
        Ok(self.record(user).await.map_err(failed)?.map(account_of))
    }

    async fn save(
        &self,
        user: &UserId,
        token: SecretString,
        identity: &VerifiedIdentity,
    ) -> Result<StoredAccount, ConnectStoreError> {
        let verified = AlreadyVerified(identity.clone());
        let exists = self.record(user).await.map_err(failed)?.is_some();
        let record = if exists {
            match self.rotate_verified(user, token.clone(), &verified).await {
                // Deleted meanwhile: a first token after all.
                Err(StoreError::NotFound { .. }) => self.put_verified(user, token, &verified).await,
                other => other,
            }
        } else {
            self.put_verified(user, token, &verified).await
        };
        Ok(account_of(record.map_err(failed)?))
    }

    async fn disconnect(&self, user: &UserId) -> Result<bool, ConnectStoreError> {
        self.delete(user).await.map_err(failed)
    }
}

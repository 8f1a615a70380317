//! One credential for every user.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use secrecy::SecretString;

use super::{Credential, CredentialError, CredentialProvider, UserId};

/// The same credential for every user: a service account, or a single-user tool.
///
/// When the server rejects it ([`CredentialProvider::invalidate`]), it answers
/// [`CredentialError::Revoked`] from then on instead of sending a dead token again.
///
/// ```
/// use pagerduty_mcp_connect::{CredentialProvider, StaticCredential, UserId};
///
/// # tokio_test_block_on(async {
/// let provider = StaticCredential::new("u+service-token");
/// let credential = provider.credential(&UserId::from("anyone")).await.unwrap();
/// # let _ = credential;
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct StaticCredential {
    credential: Credential,
    revoked: Arc<AtomicBool>,
}

impl StaticCredential {
    /// A provider answering `token` for every user.
    pub fn new(token: impl Into<SecretString>) -> Self {
        Self::from_credential(Credential::new(token))
    }

    /// A provider answering `credential` for every user.
    pub fn from_credential(credential: Credential) -> Self {
        StaticCredential {
            credential,
            revoked: Arc::new(AtomicBool::new(false)),
        }
    }
}

#[async_trait]
impl CredentialProvider for StaticCredential {
    async fn credential(&self, user: &UserId) -> Result<Credential, CredentialError> {
        if self.revoked.load(Ordering::Acquire) {
            return Err(CredentialError::Revoked { user: user.clone() });
        }
        if self.credential.is_expired() {
            return Err(CredentialError::Expired { user: user.clone() });
        }
        Ok(self.credential.clone())
    }

    async fn invalidate(&self, _user: &UserId, credential: &Credential) {
        if self.credential.same_secret(credential) {
            self.revoked.store(true, Ordering::Release);
        }
    }
}

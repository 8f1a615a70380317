//! Several providers tried in order.

use async_trait::async_trait;

use super::{Credential, CredentialError, CredentialProvider, SharedCredentialProvider, UserId};

/// Tries providers in order, moving to the next **only** when one answers
/// [`CredentialError::NotFound`]. Any other error stops the chain: a broken store must not fall
/// through to a credential that belongs to someone else.
///
/// ```
/// use pagerduty_mcp_connect::{CredentialChain, EnvCredential, InMemoryCredentialStore};
///
/// let store = InMemoryCredentialStore::new();
/// let chain = CredentialChain::first(store.clone()).or_else(EnvCredential::new());
/// # let _ = chain;
/// ```
#[derive(Debug, Clone)]
pub struct CredentialChain {
    providers: Vec<SharedCredentialProvider>,
}

impl CredentialChain {
    /// A chain starting with `provider`.
    pub fn first(provider: impl CredentialProvider + 'static) -> Self {
        CredentialChain {
            providers: vec![SharedCredentialProvider::new(provider)],
        }
    }

    /// Appends `provider`, tried when every earlier one answered "not found".
    #[must_use]
    pub fn or_else(mut self, provider: impl CredentialProvider + 'static) -> Self {
        self.providers.push(SharedCredentialProvider::new(provider));
        self
    }
}

#[async_trait]
impl CredentialProvider for CredentialChain {
    async fn credential(&self, user: &UserId) -> Result<Credential, CredentialError> {
        for provider in &self.providers {
            match provider.credential(user).await {
                Err(err) if err.is_not_found() => continue,
                other => return other,
            }
        }
        Err(CredentialError::NotFound { user: user.clone() })
    }

    /// Tells every provider; each acts only if `credential` is the one it holds.
    async fn invalidate(&self, user: &UserId, credential: &Credential) {
        for provider in &self.providers {
            provider.invalidate(user, credential).await;
        }
    }
}

//! A credential provider made from an async closure.

use std::fmt;
use std::future::Future;

use async_trait::async_trait;

use super::{Credential, CredentialError, CredentialProvider, UserId};

/// Turns an async closure into a [`CredentialProvider`], without a struct of your own.
///
/// ```
/// use pagerduty_mcp_connect::{credential_fn, Credential, CredentialError, UserId};
///
/// let provider = credential_fn(|user: UserId| async move {
///     if user.as_str() == "alice" {
///         Ok(Credential::new("u+alice-token"))
///     } else {
///         Err(CredentialError::NotFound { user })
///     }
/// });
/// # let _ = provider;
/// ```
pub fn credential_fn<F, Fut>(load: F) -> FnCredentialProvider<F>
where
    F: Fn(UserId) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Credential, CredentialError>> + Send,
{
    FnCredentialProvider { load }
}

/// The provider [`credential_fn`] returns.
pub struct FnCredentialProvider<F> {
    load: F,
}

impl<F> fmt::Debug for FnCredentialProvider<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnCredentialProvider")
    }
}

#[async_trait]
impl<F, Fut> CredentialProvider for FnCredentialProvider<F>
where
    F: Fn(UserId) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Credential, CredentialError>> + Send,
{
    async fn credential(&self, user: &UserId) -> Result<Credential, CredentialError> {
        (self.load)(user.clone()).await
    }
}

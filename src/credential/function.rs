//! A credential provider made from an async closure, with an optional invalidate hook.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;

use super::{Credential, CredentialError, CredentialProvider, UserId};

type InvalidateHook =
    Arc<dyn Fn(UserId, Credential) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Turns an async closure into a [`CredentialProvider`], without a struct of your own.
///
/// Add [`FnCredentialProvider::on_invalidate`] when the closure reads a store that must learn
/// about rejected tokens: without it a revoked token keeps being handed out (the connector never
/// retries it in a loop, but every new call tries it once more).
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
/// })
/// .on_invalidate(|user: UserId, _rejected: Credential| async move {
///     // e.g. mark the token revoked in your database
///     println!("the server rejected the token of {user}");
/// });
/// # let _ = provider;
/// ```
pub fn credential_fn<F, Fut>(load: F) -> FnCredentialProvider<F>
where
    F: Fn(UserId) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Credential, CredentialError>> + Send,
{
    FnCredentialProvider {
        load,
        invalidate: None,
    }
}

/// The provider [`credential_fn`] returns.
#[must_use]
pub struct FnCredentialProvider<F> {
    load: F,
    invalidate: Option<InvalidateHook>,
}

impl<F> FnCredentialProvider<F> {
    /// Calls `hook` with the user and the rejected credential when the server rejected it (see
    /// [`CredentialProvider::invalidate`]). Replaces an earlier hook.
    pub fn on_invalidate<H, Fut>(mut self, hook: H) -> Self
    where
        H: Fn(UserId, Credential) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.invalidate = Some(Arc::new(move |user, credential| {
            Box::pin(hook(user, credential))
        }));
        self
    }
}

impl<F> fmt::Debug for FnCredentialProvider<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnCredentialProvider")
            .field("on_invalidate", &self.invalidate.is_some())
            .finish_non_exhaustive()
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

    async fn invalidate(&self, user: &UserId, credential: &Credential) {
        if let Some(hook) = &self.invalidate {
            hook(user.clone(), credential.clone()).await;
        }
    }
}

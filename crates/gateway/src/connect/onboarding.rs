//! [`Onboarding`]: check + seal + store of a pasted User API Token for a signed-in user.

use std::fmt;
use std::sync::Arc;

use pagerduty_mcp_connect::{CredentialVerifier, Error, UserId, VerifiedIdentity};

use super::store::{ConnectStore, ConnectStoreError, StoredAccount};
use super::token_input::{PastedTokenError, check_pasted_token};

/// Who has proved, on the connect page, to be a gateway user: the user (as the gateway's
/// OAuth resource server or gateway keys name them) and, when known, their email address.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedInUser {
    /// The gateway user.
    pub user: UserId,
    /// Their email address, when the sign-in told it (the ID token's `email`, or a user id that
    /// is an email address).
    pub email: Option<String>,
}

impl SignedInUser {
    /// A signed-in user; the email is taken from the user id when it looks like an address.
    pub fn new(user: impl Into<UserId>) -> Self {
        let user = user.into();
        let email = looks_like_email(user.as_str()).then(|| user.as_str().to_owned());
        SignedInUser { user, email }
    }

    /// The same user with this email address (as the identity provider asserted it).
    #[must_use]
    pub fn with_email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }
}

fn looks_like_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => !local.is_empty() && domain.contains('.'),
        None => false,
    }
}

/// Why a pasted token was not stored. No variant holds or prints the token.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The pasted text is not a token (empty, a line break, too long …): nothing was sent.
    #[error("{0}")]
    Pasted(#[from] PastedTokenError),
    /// PagerDuty rejected the token in every region (wrong, revoked or deleted).
    #[error(
        "PagerDuty does not accept this token (in the US and EU regions): it is wrong, or was revoked or deleted. Create a new one and paste it"
    )]
    Rejected,
    /// The token belongs to another person than the one signed in (with
    /// [`Onboarding::require_matching_email`]).
    #[error(
        "this token belongs to the PagerDuty user {pagerduty_email}, not to you ({}): paste a token of your own PagerDuty user",
        signed_in.as_deref().unwrap_or("no email address known")
    )]
    EmailMismatch {
        /// The PagerDuty user's email.
        pagerduty_email: String,
        /// The signed-in user's email, when known.
        signed_in: Option<String>,
    },
    /// The check itself failed (PagerDuty unreachable, rate limited, a time-out …): nothing
    /// is known about the token, and nothing was stored.
    #[error("the token could not be checked with PagerDuty right now: {message}")]
    CheckFailed {
        /// What happened (never the token).
        message: String,
    },
    /// The store failed: nothing was stored.
    #[error("{0}")]
    Store(#[from] ConnectStoreError),
}

impl SubmitError {
    /// Whether pasting the same token again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SubmitError::CheckFailed { .. } | SubmitError::Store(_)
        )
    }
}

/// The part of the connect flow that takes a pasted User API Token from a signed-in user:
/// [checks its form](super::check_pasted_token) (no CR/LF, not empty, at most 4 KiB),
/// checks it with PagerDuty (a [`CredentialVerifier`] such as
/// [`TokenVerifier`](pagerduty_mcp_connect::TokenVerifier): `GET /users/me`, the US region
/// and then the EU one, the region found recorded), optionally requires the PagerDuty user's
/// email to be the signed-in user's, and stores it sealed in a [`ConnectStore`].
///
/// The [connect page](super::ConnectPage) calls it; another front end (a CLI, an admin UI) can
/// too. Cheap to clone.
///
/// ```no_run
/// use pagerduty_mcp_connect::{InMemoryCredentialStore, TokenVerifier};
/// use pagerduty_mcp_connect_gateway::{Onboarding, SignedInUser};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let onboarding = Onboarding::new(TokenVerifier::new()?, InMemoryCredentialStore::new())
///     .require_matching_email(true);
/// let alice = SignedInUser::new("alice@example.com");
/// let account = onboarding.submit(&alice, "u+pasted-token").await?;
/// println!("{:?}", account.identity);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Onboarding {
    verifier: Arc<dyn CredentialVerifier>,
    store: Arc<dyn ConnectStore>,
    require_email: bool,
}

impl fmt::Debug for Onboarding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Onboarding")
            .field("verifier", &self.verifier)
            .field("store", &self.store)
            .field("require_matching_email", &self.require_email)
            .finish()
    }
}

impl Onboarding {
    /// Checks tokens with `verifier` and stores them in `store`.
    pub fn new(
        verifier: impl CredentialVerifier + 'static,
        store: impl ConnectStore + 'static,
    ) -> Self {
        Self::from_shared(Arc::new(verifier), Arc::new(store))
    }

    /// The same from shared parts (a store the connector also uses, for example).
    pub fn from_shared(
        verifier: Arc<dyn CredentialVerifier>,
        store: Arc<dyn ConnectStore>,
    ) -> Self {
        Onboarding {
            verifier,
            store,
            require_email: false,
        }
    }

    /// With `true`, a token is stored only when the PagerDuty user it belongs to has the
    /// signed-in user's email address (compared without regard to case): nobody can connect
    /// someone else's PagerDuty user (off by default: a team may use service users).
    #[must_use]
    pub fn require_matching_email(mut self, require: bool) -> Self {
        self.require_email = require;
        self
    }

    /// Whether tokens must belong to a PagerDuty user with the signed-in email.
    pub fn requires_matching_email(&self) -> bool {
        self.require_email
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ConnectStore> {
        &self.store
    }

    /// Checks `pasted` for `who` and stores it: what is stored now.
    ///
    /// # Errors
    ///
    /// [`SubmitError`]: the pasted text is not a token, PagerDuty rejects it, it is another
    /// person's (with [`require_matching_email`](Self::require_matching_email)), the check or
    /// the store failed. In each case nothing is stored.
    pub async fn submit(
        &self,
        who: &SignedInUser,
        pasted: &str,
    ) -> Result<StoredAccount, SubmitError> {
        let token = check_pasted_token(pasted)?;
        let identity = match self.verifier.verify_token(&token).await {
            Ok(identity) => identity,
            Err(Error::Unauthorized { .. }) => {
                tracing::info!(target: "mcp_gateway::connect", user = %who.user, "connect: PagerDuty rejected the pasted token");
                return Err(SubmitError::Rejected);
            }
            Err(Error::InvalidCredential { .. }) => {
                return Err(SubmitError::Pasted(PastedTokenError::InvalidCharacters));
            }
            Err(err) => {
                tracing::warn!(target: "mcp_gateway::connect", user = %who.user, error = %err, "connect: the token check failed");
                return Err(SubmitError::CheckFailed {
                    message: err.to_string(),
                });
            }
        };
        if self.require_email && !same_email(&identity, who.email.as_deref()) {
            tracing::warn!(target: "mcp_gateway::connect", user = %who.user, "connect: refused a token of another PagerDuty user");
            return Err(SubmitError::EmailMismatch {
                pagerduty_email: identity.email.clone(),
                signed_in: who.email.clone(),
            });
        }
        let stored = self.store.save(&who.user, token, &identity).await?;
        tracing::info!(
            target: "mcp_gateway::connect",
            user = %who.user,
            region = identity.route.as_ref().map(|r| r.as_str()).unwrap_or("-"),
            "connect: PagerDuty account connected"
        );
        Ok(stored)
    }

    /// What is stored for `user`.
    ///
    /// # Errors
    ///
    /// The store failed.
    pub async fn account(&self, user: &UserId) -> Result<Option<StoredAccount>, ConnectStoreError> {
        self.store.account(user).await
    }

    /// Removes `user`'s token; returns whether there was one.
    ///
    /// # Errors
    ///
    /// The store failed.
    pub async fn disconnect(&self, user: &UserId) -> Result<bool, ConnectStoreError> {
        let removed = self.store.disconnect(user).await?;
        tracing::info!(target: "mcp_gateway::connect", user = %user, removed, "connect: PagerDuty account disconnected");
        Ok(removed)
    }
}

fn same_email(identity: &VerifiedIdentity, signed_in: Option<&str>) -> bool {
    match signed_in {
        Some(email) => !identity.email.is_empty() && identity.email.eq_ignore_ascii_case(email),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_from_user_ids() {
        assert_eq!(
            SignedInUser::new("alice@example.com").email.as_deref(),
            Some("alice@example.com")
        );
        assert_eq!(SignedInUser::new("alice").email, None);
        let identity = VerifiedIdentity::new("P1", "Alice", "Alice@Example.com", "user");
        assert!(same_email(&identity, Some("alice@example.com")));
        assert!(!same_email(&identity, Some("bob@example.com")));
        assert!(!same_email(&identity, None));
    }
}

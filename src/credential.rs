//! Users, their credentials, and where credentials come from.
//!
//! A gateway asks a [`CredentialProvider`] for the credential of a [`UserId`] each time it needs to
//! open a connection for that user, and tells it through [`CredentialProvider::invalidate`] when
//! the server rejected the credential, so a store can stop handing out a revoked token.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

mod cache;
mod chain;
mod environment;
mod function;
mod memory_store;
mod route;
mod static_credential;

pub use cache::CachedCredentials;
pub use chain::CredentialChain;
pub use environment::EnvCredential;
pub use function::{FnCredentialProvider, credential_fn};
pub use memory_store::InMemoryCredentialStore;
pub use route::Route;
pub use static_credential::StaticCredential;

/// The identity of one user of the gateway (for example an email address or an SSO subject).
///
/// Cheap to clone. It is not a secret: it appears in logs and errors.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct UserId(Arc<str>);

impl UserId {
    /// Makes a user id.
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        UserId(id.into())
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for UserId {
    fn from(id: &str) -> Self {
        UserId(id.into())
    }
}

impl From<String> for UserId {
    fn from(id: String) -> Self {
        UserId(id.into())
    }
}

impl AsRef<str> for UserId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A secret token plus what is known about its lifetime.
///
/// Cheap to clone (the secret is shared, not copied). `Debug` never shows the token; the only way
/// to it is [`Credential::secret`] and then `ExposeSecret::expose_secret`.
///
/// ```
/// use pagerduty_mcp_connect::Credential;
///
/// let credential = Credential::new("u+SECRETTOKEN");
/// assert!(!format!("{credential:?}").contains("SECRET"));
/// ```
#[derive(Clone)]
pub struct Credential {
    secret: Arc<SecretString>,
    created_at: Option<SystemTime>,
    expires_at: Option<SystemTime>,
    route: Option<Route>,
}

impl Credential {
    /// A credential holding `token`. Accepts a `SecretString`, a `String` or a `&str`; the value is
    /// moved into a `SecretString` at once.
    pub fn new(token: impl Into<SecretString>) -> Self {
        Credential {
            secret: Arc::new(token.into()),
            created_at: None,
            expires_at: None,
            route: None,
        }
    }

    /// The empty credential, for a server that needs none ([`AuthScheme::none`](crate::AuthScheme::none)).
    /// With any other scheme it is refused as an empty token before anything is sent.
    pub fn none() -> Self {
        Credential::new(SecretString::from(""))
    }

    /// Records when the token was created (PagerDuty User API Tokens never expire; their age is
    /// what tells a gateway to ask for a rotation).
    #[must_use]
    pub fn with_created_at(mut self, created_at: SystemTime) -> Self {
        self.created_at = Some(created_at);
        self
    }

    /// Records when the token stops working (for example an OAuth access token).
    #[must_use]
    pub fn with_expires_at(mut self, expires_at: SystemTime) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Records which of a connector's servers the token belongs to (for example the service
    /// region its account lives in, as a token check found it): a [`Connector`](crate::Connector)
    /// with [routes](crate::ConnectorBuilder::route) sends it to that server only.
    ///
    /// ```
    /// use pagerduty_mcp_connect::Credential;
    ///
    /// let credential = Credential::new("u+token").with_route("eu");
    /// assert_eq!(credential.route().map(|route| route.as_str()), Some("eu"));
    /// ```
    #[must_use]
    pub fn with_route(mut self, route: impl Into<Route>) -> Self {
        self.route = Some(route.into());
        self
    }

    /// The server the token belongs to, if recorded.
    pub fn route(&self) -> Option<&Route> {
        self.route.as_ref()
    }

    /// The secret token.
    pub fn secret(&self) -> &SecretString {
        &self.secret
    }

    /// When the token was created, if known.
    pub fn created_at(&self) -> Option<SystemTime> {
        self.created_at
    }

    /// When the token stops working, if known.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// Whether the token's known expiry time has passed.
    pub fn is_expired(&self) -> bool {
        self.expires_at.is_some_and(|at| at <= SystemTime::now())
    }

    /// Whether two credentials hold the same token. The comparison takes the same time wherever
    /// the tokens first differ.
    pub fn same_secret(&self, other: &Credential) -> bool {
        if Arc::ptr_eq(&self.secret, &other.secret) {
            return true;
        }
        let a = self.secret.expose_secret().as_bytes();
        let b = other.secret.expose_secret().as_bytes();
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl From<SecretString> for Credential {
    fn from(secret: SecretString) -> Self {
        Credential::new(secret)
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("secret", &"** redacted **")
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("route", &self.route)
            .finish()
    }
}

/// Why a [`CredentialProvider`] produced no credential.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// This provider has no credential for the user. A [`CredentialChain`] moves on to its next
    /// provider only on this error.
    #[error("no credential is stored for user {user}")]
    NotFound {
        /// The user.
        user: UserId,
    },
    /// The user's credential was revoked (by an admin, or after the server rejected it). The user
    /// must supply a new one.
    #[error(
        "the credential of user {user} was revoked or rejected by the server; the user must supply a new one"
    )]
    Revoked {
        /// The user.
        user: UserId,
    },
    /// The server rejected the user's credential earlier (HTTP 401) and the store recorded it
    /// (for example `SqlCredentialStore` after [`CredentialProvider::invalidate`]). A
    /// [`Connector`](crate::Connector) answers this at once with [`Error::Unauthorized`] and the
    /// server's credential help, without sending anything upstream, until a new token is stored.
    ///
    /// [`Error::Unauthorized`]: crate::Error::Unauthorized
    #[error(
        "the server rejected the credential of user {user} earlier (HTTP 401); the user must supply a new one"
    )]
    Rejected {
        /// The user.
        user: UserId,
    },
    /// The user's credential has expired.
    #[error("the credential of user {user} has expired; the user must supply a new one")]
    Expired {
        /// The user.
        user: UserId,
    },
    /// The credential store failed (unreachable, misconfigured …).
    #[error("the credential store failed: {message}")]
    Unavailable {
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl CredentialError {
    /// Whether this is [`CredentialError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, CredentialError::NotFound { .. })
    }

    /// Whether asking again later may succeed (only a failing store).
    pub fn is_retryable(&self) -> bool {
        matches!(self, CredentialError::Unavailable { .. })
    }

    /// A store failure with a message.
    pub fn unavailable(message: impl Into<String>) -> Self {
        CredentialError::Unavailable {
            message: message.into(),
            source: None,
        }
    }
}

/// Where the credential of each user comes from.
///
/// Implementations must be cheap to call often and safe to share between tasks. The crate ships
/// [`StaticCredential`], [`EnvCredential`], [`InMemoryCredentialStore`], [`credential_fn`],
/// [`CredentialChain`] and [`CachedCredentials`]; a gateway usually writes its own against its
/// secret store.
///
/// The trait is written with [`async_trait`](macro@crate::async_trait), re-exported by this crate:
/// implement it with `#[pagerduty_mcp_connect::async_trait]`, no `async-trait` dependency of your
/// own needed.
///
/// ```
/// use pagerduty_mcp_connect::{async_trait, Credential, CredentialError, CredentialProvider, UserId};
///
/// #[derive(Debug)]
/// struct Vault;
///
/// #[async_trait]
/// impl CredentialProvider for Vault {
///     async fn credential(&self, user: &UserId) -> Result<Credential, CredentialError> {
///         match user.as_str() {
///             "alice@example.com" => Ok(Credential::new("u+alice-token")),
///             _ => Err(CredentialError::NotFound { user: user.clone() }),
///         }
///     }
/// }
/// ```
#[async_trait]
pub trait CredentialProvider: Send + Sync + fmt::Debug {
    /// The current credential of `user`.
    async fn credential(&self, user: &UserId) -> Result<Credential, CredentialError>;

    /// Called when the server rejected `credential` (HTTP 401) for `user`. A store should stop
    /// handing out this credential (if it is still the current one) until the user supplies a new
    /// one. The default does nothing.
    async fn invalidate(&self, user: &UserId, credential: &Credential) {
        let _ = (user, credential);
    }
}

#[async_trait]
impl<P: CredentialProvider + ?Sized> CredentialProvider for Arc<P> {
    async fn credential(&self, user: &UserId) -> Result<Credential, CredentialError> {
        (**self).credential(user).await
    }

    async fn invalidate(&self, user: &UserId, credential: &Credential) {
        (**self).invalidate(user, credential).await
    }
}

/// A cheap-to-clone, type-erased [`CredentialProvider`].
///
/// ```
/// use pagerduty_mcp_connect::{SharedCredentialProvider, StaticCredential};
///
/// let shared = SharedCredentialProvider::new(StaticCredential::new("u+service-token"));
/// let copy = shared.clone();
/// # drop(copy);
/// ```
#[derive(Clone, Debug)]
pub struct SharedCredentialProvider(Arc<dyn CredentialProvider>);

impl SharedCredentialProvider {
    /// Wraps `provider`.
    pub fn new(provider: impl CredentialProvider + 'static) -> Self {
        SharedCredentialProvider(Arc::new(provider))
    }
}

impl From<Arc<dyn CredentialProvider>> for SharedCredentialProvider {
    fn from(provider: Arc<dyn CredentialProvider>) -> Self {
        SharedCredentialProvider(provider)
    }
}

#[async_trait]
impl CredentialProvider for SharedCredentialProvider {
    async fn credential(&self, user: &UserId) -> Result<Credential, CredentialError> {
        self.0.credential(user).await
    }

    async fn invalidate(&self, user: &UserId, credential: &Credential) {
        self.0.invalidate(user, credential).await
    }
}

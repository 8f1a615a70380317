//! `CredentialVerifier`: asking the service a token belongs to whose it is.

use std::fmt;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::credential::Route;
use crate::error::Result;

/// Whom a token belongs to, as the service that issued it said when it was checked.
///
/// It holds no secret: `Debug` is safe, and a credential store may keep it beside the sealed
/// token.
///
/// ```
/// use pagerduty_mcp_connect::VerifiedIdentity;
///
/// let identity = VerifiedIdentity::new("PADA001", "Ada", "ada@example.com", "admin").with_route("eu");
/// assert_eq!(identity.route.as_ref().map(|route| route.as_str()), Some("eu"));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The user's id at the service.
    pub id: String,
    /// The user's name.
    pub name: String,
    /// The user's email address (empty when the service gave none).
    pub email: String,
    /// The user's role at the service (empty when the service gave none).
    pub role: String,
    /// The server the token belongs to among a connector's routes (for example the region
    /// whose service accepted it), when the check tells.
    pub route: Option<Route>,
}

impl VerifiedIdentity {
    /// An identity with no route.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        email: impl Into<String>,
        role: impl Into<String>,
    ) -> Self {
        VerifiedIdentity {
            id: id.into(),
            name: name.into(),
            email: email.into(),
            role: role.into(),
            route: None,
        }
    }

    /// The same identity, found on `route`.
    #[must_use]
    pub fn with_route(mut self, route: impl Into<Route>) -> Self {
        self.route = Some(route.into());
        self
    }
}

/// Checks a token with the service that issued it, before a credential store keeps it (the
/// PagerDuty preset's `TokenVerifier` asks `GET /users/me` in each region).
///
/// A rejected token is [`Error::Unauthorized`](crate::Error::Unauthorized); any other error
/// (forbidden, rate limited, unreachable) says nothing about the token.
#[async_trait]
pub trait CredentialVerifier: Send + Sync + fmt::Debug {
    /// Whom `token` belongs to.
    async fn verify_token(&self, token: &SecretString) -> Result<VerifiedIdentity>;
}

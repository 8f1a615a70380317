//! What the store knows about each user's credential, besides the token.

use std::time::SystemTime;

use pagerduty_mcp_connect::{Route, UserId, VerifiedIdentity};

/// One user's entry in a [`SqlCredentialStore`](super::SqlCredentialStore): everything but the
/// token, which [`list`](super::SqlCredentialStore::list) and
/// [`record`](super::SqlCredentialStore::record) never return.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRecord {
    /// The gateway user.
    pub user: UserId,
    /// When the user's first token was stored.
    pub created_at: SystemTime,
    /// When the current token replaced an earlier one (by `put` or `rotate`), if it did.
    pub rotated_at: Option<SystemTime>,
    /// When the store last handed the token to a connector (recorded at most once per
    /// `last_used_resolution`).
    pub last_used_at: Option<SystemTime>,
    /// Which of a connector's servers the token belongs to (for PagerDuty: the region of the
    /// user's account, `us` or `eu`): set by the token check, or given with
    /// [`put_with_route`](super::SqlCredentialStore::put_with_route). It is the
    /// [route](pagerduty_mcp_connect::Credential::route) of the credential handed out, which
    /// selects the server of the user's sessions.
    pub route: Option<Route>,
    /// The last successful token check of the current token.
    pub verification: Option<Verification>,
    /// Set while the token is revoked: the store answers with an error instead of the token.
    pub revocation: Option<Revocation>,
    /// The id of the key that seals the token.
    pub key_id: String,
    /// Counts the changes of the entry (puts, rotations, revocations); starts at 1.
    pub revision: u64,
}

impl CredentialRecord {
    /// When the current token was stored: the creation time the connector's token-age warning
    /// uses ([`Credential::created_at`](pagerduty_mcp_connect::Credential::created_at)).
    pub fn token_created_at(&self) -> SystemTime {
        self.rotated_at.unwrap_or(self.created_at)
    }

    /// Whether the token is revoked.
    pub fn is_revoked(&self) -> bool {
        self.revocation.is_some()
    }
}

/// A successful token check (a [`CredentialVerifier`](pagerduty_mcp_connect::CredentialVerifier),
/// such as PagerDuty's `TokenVerifier`).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// When the check succeeded.
    pub verified_at: SystemTime,
    /// Whom the service said the token belongs to (id, name, email, role), and on which route.
    pub identity: VerifiedIdentity,
}

/// Why and when a token was revoked.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// When.
    pub revoked_at: SystemTime,
    /// Why (an admin's reason, or the server's rejection).
    pub reason: String,
    /// Who.
    pub by: RevokedBy,
}

/// Who revoked a token.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevokedBy {
    /// An admin, through [`revoke`](super::SqlCredentialStore::revoke).
    Admin,
    /// The server rejected the token (HTTP 401) and the connector invalidated it, or the token
    /// check failed with 401 in [`verify`](super::SqlCredentialStore::verify).
    Server,
}

impl RevokedBy {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RevokedBy::Admin => "admin",
            RevokedBy::Server => "server",
        }
    }

    pub(crate) fn parse(text: Option<&str>) -> RevokedBy {
        match text {
            Some("server") => RevokedBy::Server,
            _ => RevokedBy::Admin,
        }
    }
}

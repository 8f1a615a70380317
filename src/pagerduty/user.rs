//! Who a PagerDuty User API Token belongs to.

use serde::{Deserialize, Serialize};

use crate::pagerduty::Region;
use crate::verifier::VerifiedIdentity;

/// The PagerDuty user a User API Token belongs to, as the token check
/// ([`TokenVerifier::verify`](crate::TokenVerifier::verify),
/// [`PagerDuty::verify_token`](crate::PagerDuty::verify_token)) found it, plus the service region
/// that accepted the token.
///
/// It holds no secret, so `Debug` and serde are safe to use (for example to cache the result next
/// to the gateway's user record). Unknown fields are ignored when deserializing, so a newer
/// PagerDuty reply does not break it.
///
/// ```
/// use pagerduty_mcp_connect::{PagerDutyUser, Region};
///
/// let user: PagerDutyUser = serde_json::from_str(
///     r#"{"id":"PXPGF42","name":"Earline Greenholt","email":"earline@example.com",
///         "role":"admin","time_zone":"America/Lima","region":"eu","color":"red"}"#,
/// )?;
/// assert_eq!(user.id, "PXPGF42");
/// assert_eq!(user.region, Region::Eu);
/// assert_eq!(user.html_url, None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagerDutyUser {
    /// The user's PagerDuty id (for example `PXPGF42`).
    pub id: String,
    /// The user's name.
    pub name: String,
    /// The user's login email address.
    #[serde(default)]
    pub email: String,
    /// The user's base role (`owner`, `admin`, `user`, `limited_user`, `observer`,
    /// `restricted_access`, `read_only_user`, `read_only_limited_user` …). Advanced Permissions
    /// may grant or restrict more than the role says.
    #[serde(default)]
    pub role: String,
    /// The user's time zone (an IANA name such as `Europe/Berlin`), when PagerDuty gave one.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// The user's profile page in the PagerDuty web app, when PagerDuty gave one.
    #[serde(default)]
    pub html_url: Option<String>,
    /// The service region whose REST API accepted the token: the region the user's account lives
    /// in, and so the hosted MCP server to connect them to.
    pub region: Region,
}

impl PagerDutyUser {
    /// A user with these fields and no time zone or profile page (for example one read back
    /// from a store's record).
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        email: impl Into<String>,
        role: impl Into<String>,
        region: Region,
    ) -> Self {
        PagerDutyUser {
            id: id.into(),
            name: name.into(),
            email: email.into(),
            role: role.into(),
            time_zone: None,
            html_url: None,
            region,
        }
    }
}

/// The generic identity a credential store keeps: id, name, email, role, and the region as the
/// route.
impl From<PagerDutyUser> for VerifiedIdentity {
    fn from(user: PagerDutyUser) -> Self {
        VerifiedIdentity::new(user.id, user.name, user.email, user.role).with_route(user.region)
    }
}

/// The `user` object of `GET /users/me`, before the region is known.
#[derive(Deserialize)]
pub(super) struct RestUser {
    id: String,
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
}

/// The body of `GET /users/me`: `{"user": {…}}`.
#[derive(Deserialize)]
pub(super) struct UserEnvelope {
    pub(super) user: RestUser,
}

impl RestUser {
    pub(super) fn in_region(self, region: Region) -> PagerDutyUser {
        PagerDutyUser {
            id: self.id,
            name: self.name,
            email: self.email,
            role: self.role,
            time_zone: self.time_zone,
            html_url: self.html_url,
            region,
        }
    }
}

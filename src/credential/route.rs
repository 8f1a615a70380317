//! `Route`: which of a connector's servers a credential belongs to.

use std::fmt;
use std::sync::Arc;

/// The name of the server a credential belongs to, among the servers of a
/// [`Connector`](crate::Connector) (a *route*): for example the service region a token was
/// issued in, when each region has its own endpoint.
///
/// A [`Credential`](crate::Credential) may carry one ([`Credential::with_route`](crate::Credential::with_route));
/// the connector then sends it only to the server registered under that name
/// ([`ConnectorBuilder::route`](crate::ConnectorBuilder::route)), never to another. The
/// PagerDuty preset names its regions' servers `us` and `eu`
/// ([`PagerDuty::routes`](crate::PagerDuty::routes)), and a `Region` converts into its route.
///
/// Route names are compared exactly (lower-case them when they come from users). Cheap to clone.
///
/// ```
/// use pagerduty_mcp_connect::{Credential, Route};
///
/// let credential = Credential::new("u+token").with_route("eu");
/// assert_eq!(credential.route(), Some(&Route::from("eu")));
/// assert_eq!(credential.route().unwrap().as_str(), "eu");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Route(Arc<str>);

impl Route {
    /// A route named `name`.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Route(name.into())
    }

    /// The route's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Route {
    fn from(name: &str) -> Self {
        Route::new(name)
    }
}

impl From<String> for Route {
    fn from(name: String) -> Self {
        Route::new(name)
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

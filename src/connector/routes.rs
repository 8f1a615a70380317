//! `ServerRoutes`: the servers of a connector, by route.

use std::fmt;
use std::sync::Arc;

use crate::credential::Route;
use crate::server::RemoteMcpServer;

/// The servers a [`Connector`](crate::Connector) connects users to: a server for each
/// [`Route`], and optionally a default server for credentials that name no route.
///
/// A credential that names a route goes to that route's server only; a route the table lacks is
/// an error ([`Error::InvalidConfig`](crate::Error::InvalidConfig)), never a fallback to another
/// server (a token sent to a server it does not belong to would be rejected, and its rejection
/// would mark it revoked). A credential without a route goes to the default server, or is an
/// error when there is none.
///
/// Presets fill a table for their vendor (`PagerDuty::routes()`: `us` and `eu`); any
/// deployment can build its own:
///
/// ```
/// use pagerduty_mcp_connect::{AuthScheme, GenericServer, ServerRoutes};
///
/// let routes = ServerRoutes::new()
///     .route("staging", GenericServer::new("Staging", "https://staging.example.com/mcp", AuthScheme::bearer())?)
///     .route("prod", GenericServer::new("Production", "https://mcp.example.com/mcp", AuthScheme::bearer())?)
///     .default_server(GenericServer::new("Production", "https://mcp.example.com/mcp", AuthScheme::bearer())?);
/// assert_eq!(routes.len(), 3);
/// # Ok::<(), pagerduty_mcp_connect::Error>(())
/// ```
#[must_use]
#[derive(Clone, Default)]
pub struct ServerRoutes {
    pub(crate) default: Option<Arc<dyn RemoteMcpServer>>,
    pub(crate) routes: Vec<(Route, Arc<dyn RemoteMcpServer>)>,
}

impl ServerRoutes {
    /// An empty table.
    pub fn new() -> Self {
        ServerRoutes::default()
    }

    /// Credentials whose route is `route` go to `server` (replacing an earlier server of that
    /// route).
    pub fn route(
        mut self,
        route: impl Into<Route>,
        server: impl RemoteMcpServer + 'static,
    ) -> Self {
        self.insert(route.into(), Arc::new(server));
        self
    }

    /// Credentials that name no route go to `server`.
    pub fn default_server(mut self, server: impl RemoteMcpServer + 'static) -> Self {
        self.default = Some(Arc::new(server));
        self
    }

    /// The server of `route`, if the table has one.
    pub fn get(&self, route: &Route) -> Option<&dyn RemoteMcpServer> {
        self.routes
            .iter()
            .find(|(r, _)| r == route)
            .map(|(_, server)| &**server)
    }

    /// The default server, if any.
    pub fn default_route_server(&self) -> Option<&dyn RemoteMcpServer> {
        self.default.as_deref()
    }

    /// How many servers the table holds (the default one included).
    pub fn len(&self) -> usize {
        self.routes.len() + usize::from(self.default.is_some())
    }

    /// Whether the table holds no server.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn insert(&mut self, route: Route, server: Arc<dyn RemoteMcpServer>) {
        self.routes.retain(|(r, _)| *r != route);
        self.routes.push((route, server));
    }

    pub(crate) fn merge(&mut self, other: ServerRoutes) {
        if other.default.is_some() {
            self.default = other.default;
        }
        for (route, server) in other.routes {
            self.insert(route, server);
        }
    }
}

impl fmt::Debug for ServerRoutes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        if let Some(default) = &self.default {
            map.entry(&"(default)", &default.name());
        }
        for (route, server) in &self.routes {
            map.entry(route, &server.name());
        }
        map.finish()
    }
}

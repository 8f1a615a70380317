//! `RegionalConnector`: each user to the hosted MCP server of their own PagerDuty region.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::{Connector, ConnectorBuilder};
use crate::auth::AuthScheme;
use crate::client::model::{CallToolResult, Tool};
use crate::client::{McpClientBuilder, Session};
use crate::credential::{
    Credential, CredentialError, CredentialProvider, SharedCredentialProvider, UserId,
};
use crate::error::{Error, Result};
use crate::pagerduty::PagerDuty;
use crate::redirect_policy::{same_origin_only, USER_AGENT};
use crate::region::Region;

type ConfigureConnector = Arc<dyn Fn(ConnectorBuilder) -> ConnectorBuilder + Send + Sync>;
type ConfigureClient = Arc<dyn Fn(McpClientBuilder) -> McpClientBuilder + Send + Sync>;

/// A gateway's users in several PagerDuty service regions, each connected to the hosted MCP
/// server of their own region (`https://mcp.pagerduty.com/mcp` for [`Region::Us`],
/// `https://mcp.eu.pagerduty.com/mcp` for [`Region::Eu`]), with no routing code in the gateway.
///
/// It holds one [`Connector`] per region, all on one HTTP connection pool, and routes each call
/// by the region carried by the user's [`Credential`] ([`Credential::region`]): the region the
/// PagerDuty token check found, as a `SqlCredentialStore` records it
/// (`put_verified`, `verify`, `put_in_region`). A credential without a region goes to the
/// [`default_region`](RegionalConnectorBuilder::default_region), or fails with
/// [`Error::InvalidConfig`] when none is set: a token is never sent to a region it was not
/// meant for (the 401 that would follow would revoke it).
///
/// ```
/// use pagerduty_mcp_connect::{Credential, InMemoryCredentialStore, Region, RegionalConnector};
///
/// let store = InMemoryCredentialStore::new();
/// store.insert_credential("ada@example.com", Credential::new("u+ada-token").with_region(Region::Us));
/// store.insert_credential("grace@example.eu", Credential::new("u+grace-token").with_region(Region::Eu));
/// let connector = RegionalConnector::builder().credentials(store).build()?;
/// assert_eq!(
///     connector.connector(Region::Eu).unwrap().client().server().endpoint().as_str(),
///     "https://mcp.eu.pagerduty.com/mcp"
/// );
/// # Ok::<(), pagerduty_mcp_connect::Error>(())
/// ```
#[derive(Clone)]
pub struct RegionalConnector {
    inner: Arc<Inner>,
}

struct Inner {
    credentials: SharedCredentialProvider,
    default_region: Option<Region>,
    connectors: Vec<(Region, Connector)>,
}

impl fmt::Debug for RegionalConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegionalConnector")
            .field("connectors", &self.inner.connectors)
            .field("default_region", &self.inner.default_region)
            .finish_non_exhaustive()
    }
}

impl RegionalConnector {
    /// A builder; `credentials` is required.
    pub fn builder() -> RegionalConnectorBuilder {
        RegionalConnectorBuilder::default()
    }

    /// The connector of `region`, if this connector serves it.
    pub fn connector(&self, region: Region) -> Option<&Connector> {
        self.inner
            .connectors
            .iter()
            .find(|(r, _)| *r == region)
            .map(|(_, c)| c)
    }

    /// The region `user` is routed to: their credential's region, else the default region.
    pub async fn region_of(&self, user: &UserId) -> Result<Region> {
        self.any().policy().check_user(user)?;
        let credential = self
            .inner
            .credentials
            .credential(user)
            .await
            .map_err(|err| self.any().credential_error(err))?;
        credential
            .region()
            .or(self.inner.default_region)
            .ok_or_else(|| {
                Error::config(format!(
                    "the credential of user {user} carries no PagerDuty region: verify the token (SqlCredentialStore::put_verified or verify), store it with a region, or set RegionalConnectorBuilder::default_region"
                ))
            })
    }

    /// The connector that serves `user`.
    pub async fn connector_for(&self, user: &UserId) -> Result<&Connector> {
        let region = self.region_of(user).await?;
        self.connector(region).ok_or_else(|| {
            Error::config(format!(
                "user {user} belongs to region {region}, which this RegionalConnector does not serve"
            ))
        })
    }

    /// The tools `user` may see, from their region's server.
    pub async fn list_tools(&self, user: &UserId) -> Result<Vec<Tool>> {
        self.connector_for(user).await?.list_tools(user).await
    }

    /// Calls tool `name` for `user` on their region's server.
    pub async fn call_tool(
        &self,
        user: &UserId,
        name: &str,
        arguments: Value,
    ) -> Result<CallToolResult> {
        self.connector_for(user)
            .await?
            .call_tool(user, name, arguments)
            .await
    }

    /// `user`'s session on their region's server ([`Connector::session`]).
    pub async fn session(&self, user: &UserId) -> Result<Session> {
        self.connector_for(user).await?.session(user).await
    }

    /// Closes and forgets `user`'s sessions in every region.
    pub async fn disconnect(&self, user: &UserId) -> Result<()> {
        let mut first_error = None;
        for (_, connector) in &self.inner.connectors {
            if let Err(err) = connector.disconnect(user).await {
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The number of users with an open session, over all regions.
    pub fn active_users(&self) -> usize {
        self.inner
            .connectors
            .iter()
            .map(|(_, c)| c.active_users())
            .sum()
    }

    fn any(&self) -> &Connector {
        &self.inner.connectors[0].1
    }
}

/// The provider each region's connector uses: the shared one, answering only for the users of
/// its region, so that a token is never sent to another region's server.
#[derive(Debug)]
struct RegionScoped {
    inner: SharedCredentialProvider,
    region: Region,
    default_region: Option<Region>,
}

#[async_trait]
impl CredentialProvider for RegionScoped {
    async fn credential(&self, user: &UserId) -> std::result::Result<Credential, CredentialError> {
        let credential = self.inner.credential(user).await?;
        match credential.region().or(self.default_region) {
            Some(region) if region == self.region => Ok(credential),
            Some(region) => Err(CredentialError::unavailable(format!(
                "the region of user {user} changed to {region} while connecting; try again"
            ))),
            None => Err(CredentialError::unavailable(format!(
                "the credential of user {user} carries no PagerDuty region"
            ))),
        }
    }

    async fn invalidate(&self, user: &UserId, credential: &Credential) {
        self.inner.invalidate(user, credential).await
    }
}

/// Builds a [`RegionalConnector`].
#[must_use]
#[derive(Default)]
pub struct RegionalConnectorBuilder {
    credentials: Option<SharedCredentialProvider>,
    regions: Option<Vec<Region>>,
    endpoints: Vec<(Region, String)>,
    default_region: Option<Region>,
    auth_scheme: Option<AuthScheme>,
    http: Option<reqwest::Client>,
    configure: Option<ConfigureConnector>,
    configure_client: Option<ConfigureClient>,
}

impl fmt::Debug for RegionalConnectorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegionalConnectorBuilder")
            .field("regions", &self.regions)
            .field("endpoints", &self.endpoints)
            .field("default_region", &self.default_region)
            .finish_non_exhaustive()
    }
}

impl RegionalConnectorBuilder {
    /// Where users' credentials (with their regions) come from (required).
    pub fn credentials(mut self, provider: impl CredentialProvider + 'static) -> Self {
        self.credentials = Some(SharedCredentialProvider::new(provider));
        self
    }

    /// The regions served (default: every region, [`Region::ALL`]).
    pub fn regions(mut self, regions: impl IntoIterator<Item = Region>) -> Self {
        self.regions = Some(regions.into_iter().collect());
        self
    }

    /// Sends `region`'s users to `endpoint` instead of the region's hosted MCP server (a proxy,
    /// a test server). Must be `https://`, or `http://` on a loopback host.
    pub fn endpoint(mut self, region: Region, endpoint: impl Into<String>) -> Self {
        self.endpoints.retain(|(r, _)| *r != region);
        self.endpoints.push((region, endpoint.into()));
        self
    }

    /// The region of users whose credential carries none (default: none, such a user's call
    /// fails with [`Error::InvalidConfig`]).
    pub fn default_region(mut self, region: Region) -> Self {
        self.default_region = Some(region);
        self
    }

    /// The auth scheme ([`AuthScheme::token`] by default).
    pub fn auth_scheme(mut self, scheme: AuthScheme) -> Self {
        self.auth_scheme = Some(scheme);
        self
    }

    /// The HTTP client (and pool) every region's connector shares; by default one is built that
    /// follows redirects only within the same origin.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Adjusts each region's [`ConnectorBuilder`] (policy, idle timeout, token-age warning). The
    /// server, the credentials and the HTTP client are set by the regional connector: use
    /// [`configure_client`](Self::configure_client) for the client.
    pub fn configure(
        mut self,
        configure: impl Fn(ConnectorBuilder) -> ConnectorBuilder + Send + Sync + 'static,
    ) -> Self {
        self.configure = Some(Arc::new(configure));
        self
    }

    /// Adjusts each region's [`McpClientBuilder`] (timeouts, limits, protocol preference).
    pub fn configure_client(
        mut self,
        configure: impl Fn(McpClientBuilder) -> McpClientBuilder + Send + Sync + 'static,
    ) -> Self {
        self.configure_client = Some(Arc::new(configure));
        self
    }

    /// Checks and builds.
    pub fn build(self) -> Result<RegionalConnector> {
        let credentials = self
            .credentials
            .ok_or_else(|| Error::config("RegionalConnector::builder() needs .credentials(…)"))?;
        let mut regions = self.regions.unwrap_or_else(|| Region::ALL.to_vec());
        regions.dedup();
        if regions.is_empty() {
            return Err(Error::config(
                "a RegionalConnector needs at least one region",
            ));
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .connect_timeout(Duration::from_secs(10))
                .pool_idle_timeout(Duration::from_secs(90))
                .redirect(same_origin_only())
                .build()
                .map_err(|err| {
                    Error::transport("could not build the HTTP client", Some(Box::new(err)))
                })?,
        };
        let mut connectors = Vec::with_capacity(regions.len());
        for region in regions {
            let mut server = PagerDuty::builder().region(region);
            if let Some((_, endpoint)) = self.endpoints.iter().find(|(r, _)| *r == region) {
                server = server.endpoint(endpoint.clone());
            }
            if let Some(scheme) = &self.auth_scheme {
                server = server.auth_scheme(scheme.clone());
            }
            let mut builder = Connector::builder();
            if let Some(configure) = &self.configure {
                builder = configure(builder);
            }
            let http = http.clone();
            let configure_client = self.configure_client.clone();
            let connector = builder
                .server(server.build()?)
                .credentials(RegionScoped {
                    inner: credentials.clone(),
                    region,
                    default_region: self.default_region,
                })
                .configure_client(move |client| {
                    let client = match &configure_client {
                        Some(configure) => configure(client),
                        None => client,
                    };
                    client.http_client(http)
                })
                .build()?;
            connectors.push((region, connector));
        }
        Ok(RegionalConnector {
            inner: Arc::new(Inner {
                credentials,
                default_region: self.default_region,
                connectors,
            }),
        })
    }
}

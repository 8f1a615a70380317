//! The PagerDuty preset: the hosted MCP server of a region, with User API Tokens.

use url::Url;

use crate::auth::AuthScheme;
use crate::connector::{ServerRoutes, UserBudget};
use crate::error::{Error, Result};
use crate::server::{ConnectionType, RemoteMcpServer, check_endpoint, parse_endpoint};

/// How a PagerDuty user obtains a User API Token; shown in [`Error::Unauthorized`].
pub const CREDENTIAL_HELP: &str = "Create a PagerDuty User API Token: in PagerDuty open My Profile → User Settings → API Access → Create API User Token, copy the token (it is shown only once) and give it to the gateway. The token carries all of your permissions and never expires: rotate it regularly, and ask an admin to revoke any token you no longer use.";

/// PagerDuty's hosted MCP server for one region, with per-user User API Tokens sent as
/// `Authorization: Token <token>`.
///
/// ```
/// use pagerduty_mcp_connect::{ConnectionType, PagerDuty, Region, RemoteMcpServer};
///
/// let pagerduty = PagerDuty::new(Region::Eu);
/// assert_eq!(pagerduty.endpoint().as_str(), "https://mcp.eu.pagerduty.com/mcp");
/// assert_eq!(pagerduty.auth_scheme().prefix(), "Token ");
/// assert_eq!(pagerduty.connection_type(), ConnectionType::PerUser);
///
/// // Point it elsewhere (a proxy, or the embedded mock server in tests).
/// let local = PagerDuty::builder()
///     .region(Region::Us)
///     .endpoint("http://127.0.0.1:8080/mcp")
///     .build()?;
/// assert_eq!(local.endpoint().port(), Some(8080));
/// # Ok::<(), pagerduty_mcp_connect::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct PagerDuty {
    name: String,
    region: Region,
    endpoint: Url,
    api_url: Url,
    auth_scheme: AuthScheme,
    auth_fallbacks: Vec<AuthScheme>,
    user_budget: Option<UserBudget>,
}

impl PagerDuty {
    /// The hosted MCP server of `region` with the defaults: the region's endpoint,
    /// [`AuthScheme::token`], per-user credentials.
    pub fn new(region: Region) -> Self {
        PagerDuty {
            name: format!("PagerDuty ({region})"),
            region,
            endpoint: region.mcp_url(),
            api_url: region.api_url(),
            auth_scheme: AuthScheme::token(),
            auth_fallbacks: documented_forms_besides(&AuthScheme::token()),
            user_budget: Some(UserBudget::pagerduty()),
        }
    }

    /// The hosted MCP server of every region, each under its region's route (`us`, `eu`), for a
    /// [`Connector`](crate::Connector) whose users live in several regions: each user goes to
    /// the server of the region their credential was recorded in
    /// ([`Credential::with_route`](crate::Credential::with_route) with a [`Region`]; a
    /// credential store's token check records it).
    ///
    /// ```
    /// use pagerduty_mcp_connect::{Connector, Credential, InMemoryCredentialStore, PagerDuty, Region};
    ///
    /// let store = InMemoryCredentialStore::new();
    /// store.insert_credential("ada@example.com", Credential::new("u+ada-token").with_route(Region::Us));
    /// store.insert_credential("grace@example.eu", Credential::new("u+grace-token").with_route(Region::Eu));
    /// let connector = Connector::builder().routes(PagerDuty::routes()).credentials(store).build()?;
    /// let eu = connector.route_client(&Region::Eu.into()).unwrap();
    /// assert_eq!(eu.server().endpoint().as_str(), "https://mcp.eu.pagerduty.com/mcp");
    /// # Ok::<(), pagerduty_mcp_connect::Error>(())
    /// ```
    ///
    /// A credential with no region has no server here: add
    /// `.default_server(PagerDuty::new(region))` to send those to one region.
    pub fn routes() -> ServerRoutes {
        Region::ALL
            .iter()
            .fold(ServerRoutes::new(), |routes, &region| {
                routes.route(region, PagerDuty::new(region))
            })
    }

    /// A builder to override the endpoint, the REST API URL or the auth scheme.
    pub fn builder() -> PagerDutyBuilder {
        PagerDutyBuilder::default()
    }

    /// The account's service region.
    pub fn region(&self) -> Region {
        self.region
    }

    /// The base URL of the REST API (the region's, unless overridden).
    pub fn api_url(&self) -> &Url {
        &self.api_url
    }
}

impl RemoteMcpServer for PagerDuty {
    fn name(&self) -> &str {
        &self.name
    }
    fn endpoint(&self) -> &Url {
        &self.endpoint
    }
    fn auth_scheme(&self) -> &AuthScheme {
        &self.auth_scheme
    }
    fn connection_type(&self) -> ConnectionType {
        ConnectionType::PerUser
    }
    fn credential_help(&self) -> &str {
        CREDENTIAL_HELP
    }
    fn error_advice(&self, status: u16) -> Option<&str> {
        pagerduty_error_advice(status)
    }
    fn error_code_meaning(&self, code: i64) -> Option<&str> {
        pagerduty_code_meaning(code)
    }
    fn user_budget(&self) -> Option<UserBudget> {
        self.user_budget
    }
    fn auth_fallbacks(&self) -> &[AuthScheme] {
        &self.auth_fallbacks
    }
}

/// The forms of PagerDuty's auth header, besides `scheme`: `Token <token>` (what the widely used
/// gateway guides send, the default), and the two PagerDuty's MCP API schema documents,
/// `Token token=<token>` and `Bearer <token>`. A custom scheme has none.
fn documented_forms_besides(scheme: &AuthScheme) -> Vec<AuthScheme> {
    let forms = [
        AuthScheme::token(),
        AuthScheme::token_equals(),
        AuthScheme::bearer(),
    ];
    if !forms.contains(scheme) {
        return Vec::new();
    }
    forms.into_iter().filter(|form| form != scheme).collect()
}

/// PagerDuty's advice on 401, 403 and 429 (its REST API limit, its roles, its two regions).
pub(crate) fn pagerduty_error_advice(status: u16) -> Option<&'static str> {
    Some(match status {
        401 => {
            "the credential was not accepted: it is wrong, expired, or was revoked or deleted, or it belongs to an account in the other PagerDuty service region (us/eu)"
        }
        403 => {
            "the token is valid, but its PagerDuty user may not do this: ask a PagerDuty admin to grant you the needed role or Advanced Permissions"
        }
        429 => {
            "PagerDuty allows 960 REST API requests per minute per user; slow down and wait before retrying"
        }
        _ => return None,
    })
}

/// What PagerDuty's REST API error codes mean.
pub(crate) fn pagerduty_code_meaning(code: i64) -> Option<&'static str> {
    Some(match code {
        2000 => "Internal Error",
        2001 => "Invalid Input Provided",
        2002 => "Arguments Caused Error",
        2003 => "Missing Arguments",
        2004 => "Invalid 'since' or 'until' Parameter Values",
        2005 => "Invalid Query Date Range",
        2006 => "Authentication Failed",
        2007 => "Account Not Found",
        2008 => "Account Locked",
        2009 => "Only HTTPS Allowed For This Call",
        2010 => "Access Denied",
        2011 => "The action requires a 'requester_id' to be specified",
        2012 => "Your account is expired and cannot use the API",
        2020 => "Rate Limit Exceeded",
        2100 => "Not Found",
        _ => return None,
    })
}

/// Builds a [`PagerDuty`] with overrides. Setters never fail; [`PagerDutyBuilder::build`] checks.
#[must_use]
#[derive(Debug, Clone, Default)]
pub struct PagerDutyBuilder {
    region: Region,
    endpoint: Option<String>,
    api_url: Option<String>,
    auth_scheme: Option<AuthScheme>,
    user_budget: Option<Option<UserBudget>>,
    header_form_fallback: Option<bool>,
}

impl PagerDutyBuilder {
    /// Whether a 401 to the auth header form in use is tried once more in another of the forms
    /// PagerDuty documents (`Token <token>`, `Token token=<token>`, `Bearer <token>`) while the
    /// endpoint has accepted none yet (default: yes; see
    /// [`RemoteMcpServer::auth_fallbacks`]). The accepted form is then used for every user.
    /// `false`: the configured form only.
    pub fn header_form_fallback(mut self, enabled: bool) -> Self {
        self.header_form_fallback = Some(enabled);
        self
    }

    /// The per-user budget a connector keeps for this server. By default
    /// [`UserBudget::pagerduty`] (PagerDuty's 960 requests per minute per user) while the
    /// endpoint is PagerDuty's own, none with another [`endpoint`](Self::endpoint) (a test
    /// double, a proxy: give one here when it forwards to PagerDuty). `None` for none.
    pub fn user_budget(mut self, budget: Option<UserBudget>) -> Self {
        self.user_budget = Some(budget);
        self
    }

    /// The service region (US by default).
    pub fn region(mut self, region: Region) -> Self {
        self.region = region;
        self
    }

    /// Overrides the MCP endpoint (a proxy, a test server). Must be `https://`, or `http://` on a
    /// loopback host.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Overrides the REST API base URL (used by the token check). Same rules as the endpoint.
    pub fn api_url(mut self, api_url: impl Into<String>) -> Self {
        self.api_url = Some(api_url.into());
        self
    }

    /// Overrides the auth scheme ([`AuthScheme::token`] by default).
    pub fn auth_scheme(mut self, auth_scheme: AuthScheme) -> Self {
        self.auth_scheme = Some(auth_scheme);
        self
    }

    /// Checks the overrides and builds the server description.
    pub fn build(self) -> Result<PagerDuty> {
        let mut server = PagerDuty::new(self.region);
        if let Some(endpoint) = self.endpoint {
            server.endpoint = parse_endpoint(&endpoint)?;
            if !Region::ALL
                .iter()
                .any(|region| region.mcp_url() == server.endpoint)
            {
                // PagerDuty's limit is PagerDuty's servers' to enforce; another endpoint (a
                // proxy, a test double) keeps a budget only when given one.
                server.user_budget = None;
            }
        }
        if let Some(api_url) = self.api_url {
            let url = parse_endpoint(&api_url)
                .map_err(|err| Error::config(format!("REST API URL: {err}")))?;
            check_endpoint(&url)?;
            server.api_url = url;
        }
        if let Some(scheme) = self.auth_scheme {
            server.auth_fallbacks = documented_forms_besides(&scheme);
            server.auth_scheme = scheme;
        }
        if self.header_form_fallback == Some(false) {
            server.auth_fallbacks.clear();
        }
        if let Some(budget) = self.user_budget {
            server.user_budget = budget;
        }
        Ok(server)
    }
}

mod catalogue;
mod region;
mod token_check;
mod tool_role;
mod user;

pub use catalogue::{
    AreaSummary, CatalogueSummary, PagerDutyArea, ToolAccess, ToolCatalogue, ToolSummary,
};
pub use region::{Region, UnknownRegion};
pub use token_check::TokenVerifier;
pub use tool_role::{NoToolForRole, ToolRole};
pub use user::PagerDutyUser;

impl PagerDuty {
    /// Checks a User API Token against this server's REST API (`GET {api_url}/users/me` with
    /// `Authorization: Token token=<token>`) and says whose it is, with
    /// [`region`](PagerDutyUser::region) set to this server's region.
    ///
    /// A gateway calls it when a user submits a token, before storing it. Uses the connection
    /// pool shared by [`TokenVerifier::new`]; see [`TokenVerifier::verify`] for the limits and the
    /// errors, and for finding the region of a token whose region is not known.
    ///
    /// ```no_run
    /// use pagerduty_mcp_connect::{PagerDuty, Region};
    /// use secrecy::SecretString;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), pagerduty_mcp_connect::Error> {
    /// let token = SecretString::from("u+token-from-the-user");
    /// let user = PagerDuty::new(Region::Us).verify_token(&token).await?;
    /// println!("token of {} <{}>, role {}", user.name, user.email, user.role);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn verify_token(&self, token: &secrecy::SecretString) -> Result<PagerDutyUser> {
        TokenVerifier::new()?
            .with_api_url(self.region, self.api_url.clone())?
            .verify(token, Some(self.region))
            .await
    }
}

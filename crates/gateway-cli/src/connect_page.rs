//! `--connect`: the page where each user connects their own PagerDuty account
//! (`<public base>/connect/…`), and the links the gateway gives an agent whose user has no
//! usable token. The person proves who they are with the gateway's authorization server (with
//! `--oauth-issuer`) or with their gateway key (users of `users.toml`), pastes their User API
//! Token, the gateway checks it with PagerDuty's `GET /users/me` and seals it into the same
//! store the gateway reads.

use pagerduty_mcp_connect::{Region, TokenVerifier};
use pagerduty_mcp_connect_gateway::{
    ConnectPage, ConnectRegistry, GatewayKeys, OAuthResourceServer, OidcSignIn, Onboarding,
};
use secrecy::SecretString;
use url::Url;

use crate::token_store::TokenStore;

/// The environment variable holding the connect page's OAuth client secret, when its client is
/// confidential (`--connect-client-id`).
pub const CLIENT_SECRET_ENV: &str = "PAGERDUTY_MCP_CONNECT_CLIENT_SECRET";

/// What the command line says about the page.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The gateway's public MCP URL (`https://gw.example.com/mcp`): the page is served beside
    /// it.
    pub public_url: String,
    /// The page's OAuth client id at the issuer (`None`: registered at start, RFC 7591).
    pub client_id: Option<String>,
    /// Whether the PagerDuty user's email must be the signed-in person's.
    pub require_matching_email: bool,
    /// Where tokens are checked instead of PagerDuty's regional REST APIs (a proxy, the mock).
    pub api_url: Option<Url>,
}

/// Builds the page: links under the public URL's base, tokens checked with `/users/me` and
/// stored in `tokens`, people signed in with `oauth`'s first issuer and/or their gateway key.
pub async fn build(
    options: &ConnectOptions,
    oauth: Option<&OAuthResourceServer>,
    keys: &GatewayKeys,
    tokens: &TokenStore,
) -> Result<ConnectPage, Box<dyn std::error::Error>> {
    let public_url = Url::parse(&options.public_url)
        .map_err(|err| format!("--public-url {}: {err}", options.public_url))?;
    // `https://gw.example.com/mcp` -> `https://gw.example.com/`: the page is beside /mcp.
    let base = public_url.join("./")?;
    let registry = ConnectRegistry::new(base.as_str())?;
    let mut verifier = TokenVerifier::new()?;
    if let Some(api_url) = &options.api_url {
        for region in Region::ALL {
            verifier = verifier.with_api_url(region, api_url.clone())?;
        }
    }
    let onboarding = match tokens {
        TokenStore::Sealed(store) => Onboarding::new(verifier, store.clone()),
        TokenStore::Memory(memory) => Onboarding::new(verifier, memory.clone()),
    }
    .require_matching_email(options.require_matching_email);
    let mut page = ConnectPage::builder(registry, onboarding);
    if !keys.is_empty() {
        page = page.gateway_keys(keys.clone());
    }
    if let Some(oauth) = oauth {
        let issuer = oauth
            .issuers()
            .first()
            .ok_or("--connect with OAuth needs an --oauth-issuer")?
            .clone();
        let redirect_uri = base.join("connect/callback")?;
        let client_id = match &options.client_id {
            Some(id) => id.clone(),
            None => {
                let id = OidcSignIn::register_client(&issuer, &redirect_uri, "pagerduty-mcp-gateway connect page")
                    .await
                    .map_err(|err| {
                        format!(
                            "the connect page could not register as a client of {issuer} ({err}); \
                             register it yourself with the redirect URI {redirect_uri} and pass \
                             --connect-client-id (and {CLIENT_SECRET_ENV} for a confidential client)"
                        )
                    })?;
                eprintln!(
                    "--connect: registered at {issuer} as client {id} (redirect URI {redirect_uri})"
                );
                id
            }
        };
        let mut sign_in = OidcSignIn::builder(oauth.clone(), issuer, client_id);
        if let Ok(secret) = std::env::var(CLIENT_SECRET_ENV)
            && !secret.is_empty()
        {
            sign_in = sign_in.client_secret(SecretString::from(secret));
        }
        page = page.oauth(sign_in.build()?);
    }
    Ok(page.build()?)
}

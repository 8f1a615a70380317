//! The gateway's OAuth 2.0 Protected Resource Metadata (RFC 9728): the document MCP clients
//! read, after a `401`, to learn which authorization servers issue tokens for the gateway.

use serde::{Deserialize, Serialize};
use url::Url;

/// The well-known path prefix of protected resource metadata (RFC 9728 §3).
pub(crate) const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The protected resource metadata document (RFC 9728 §2) the gateway serves at
/// `/.well-known/oauth-protected-resource` and `/.well-known/oauth-protected-resource/mcp`.
///
/// ```
/// use pagerduty_mcp_connect_gateway::OAuthResourceServer;
///
/// let oauth = OAuthResourceServer::builder("https://gw.example.com/mcp")
///     .issuer("https://login.example.com")
///     .required_scope("mcp")
///     .build()
///     .unwrap();
/// let json = serde_json::to_value(oauth.metadata()).unwrap();
/// assert_eq!(json["resource"], "https://gw.example.com/mcp");
/// assert_eq!(json["authorization_servers"][0], "https://login.example.com");
/// assert_eq!(json["scopes_supported"][0], "mcp");
/// assert_eq!(json["bearer_methods_supported"][0], "header");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectedResourceMetadata {
    /// The gateway's resource identifier: the canonical URI of its MCP endpoint, which clients
    /// send as the `resource` parameter (RFC 8707) and which access tokens' `aud` must name.
    pub resource: String,
    /// The issuer identifiers of the authorization servers whose tokens the gateway accepts.
    pub authorization_servers: Vec<String>,
    /// The scopes the gateway knows (left out when none are configured).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// How a token may be sent: only `header` (`Authorization: Bearer …`).
    pub bearer_methods_supported: Vec<String>,
}

/// Where the metadata of `resource` lives (RFC 9728 §3.1: the well-known path inserted between
/// the host and the resource's path): `https://gw.example.com/mcp` →
/// `https://gw.example.com/.well-known/oauth-protected-resource/mcp`.
pub(crate) fn metadata_url(resource: &Url) -> Url {
    let mut url = resource.clone();
    let path = resource.path().trim_end_matches('/');
    url.set_path(&format!("{WELL_KNOWN}{path}"));
    url.set_query(None);
    url.set_fragment(None);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metadata_url_inserts_the_well_known_path() {
        let url = |r: &str| metadata_url(&Url::parse(r).unwrap()).to_string();
        assert_eq!(
            url("https://gw.example.com/mcp"),
            "https://gw.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            url("http://127.0.0.1:8080/"),
            "http://127.0.0.1:8080/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            url("https://gw.example.com:8443/team/mcp?x=1"),
            "https://gw.example.com:8443/.well-known/oauth-protected-resource/team/mcp"
        );
    }
}

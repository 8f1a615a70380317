//! [`OAuthResourceServer`]: the configured resource server, and what it says of a token.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;
use url::Url;

use pagerduty_mcp_connect::UserId;

use super::config::{OAuthBuilder, check_scope, parse_url};
use super::error::{OAuthConfigError, TokenError};
use super::fetch::Fetcher;
use super::introspection::Introspector;
use super::issuer::Issuer;
use super::jwt::{Claims, JwtValidator};
use super::resource_metadata::{ProtectedResourceMetadata, metadata_url};
use super::token_cache::{Entry, TokenCache};

/// The longest user id taken from a token's claim.
const MAX_USER_LENGTH: usize = 256;
/// How long an introspected token is remembered at most (seconds): a revocation is seen within
/// this time.
const INTROSPECTION_CACHE_SECONDS: u64 = 60;

/// The gateway as an OAuth 2.1 resource server (MCP authorization specification): which
/// authorization servers it trusts, its resource URI, the scopes it requires, the claim naming
/// the user. Cheap to clone (an `Arc` inside); [`GatewayBuilder::oauth`](crate::GatewayBuilder::oauth)
/// puts it in front of `/mcp`.
///
/// With it, the gateway
///
/// - serves its [`ProtectedResourceMetadata`] (RFC 9728) at
///   `/.well-known/oauth-protected-resource` and `/.well-known/oauth-protected-resource/mcp`
///   (and at the path of the resource URI, if it is not `/mcp`);
/// - answers a request to `/mcp` without a credential with `401` and
///   `WWW-Authenticate: Bearer resource_metadata="<resource metadata URL>"` (plus
///   `scope="…"` when scopes are required), a refused token with the same and
///   `error="invalid_token"`, a token without a required scope with `403` and
///   `error="insufficient_scope"`; each with a JSON-RPC error body saying what to do;
/// - accepts a bearer that is one of its [gateway keys](crate::GatewayKeys) as that key's user
///   (headless agents), and checks any other bearer as an access token: a JWT against the
///   issuer's JWKS (signature with an asymmetric algorithm matching the key, `iss` one of the
///   issuers, `aud` the resource URI, `exp` required, `nbf` and `iat` honoured, a leeway of at
///   most 60 s), or an opaque token with [`Introspection`](super::Introspection);
/// - takes the user ([`UserId`]) from the [user claim](OAuthBuilder::user_claim); the user's
///   sessions are bound to that user as with keys, and the upstream gets the user's own
///   credential, never the access token.
///
/// The token is never logged, never part of an error, never in `Debug` output; validated
/// tokens are remembered by their SHA-256 digest ([`OAuthBuilder::token_cache_capacity`]).
///
/// ```no_run
/// use pagerduty_mcp_connect::{Connector, InMemoryCredentialStore, PagerDuty};
/// use pagerduty_mcp_connect_gateway::{Gateway, GatewayKeys, OAuthResourceServer};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let oauth = OAuthResourceServer::builder("https://gw.example.com/mcp")
///     .issuer("https://login.example.com/realms/acme")
///     .user_claim("email")
///     .build()?;
/// let connector = Connector::builder()
///     .routes(PagerDuty::routes())
///     .credentials(InMemoryCredentialStore::new());
/// let gateway = Gateway::builder(connector, GatewayKeys::new())
///     .allowed_hosts(["gw.example.com"])
///     .oauth(oauth)
///     .build()?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct OAuthResourceServer {
    inner: Arc<Inner>,
}

struct Inner {
    resource: String,
    resource_url: Url,
    metadata_url: Url,
    metadata: ProtectedResourceMetadata,
    issuers: Vec<Arc<Issuer>>,
    issuer_ids: Vec<String>,
    required_scopes: Vec<String>,
    user_claim: String,
    jwt: JwtValidator,
    introspector: Option<Introspector>,
    cache: TokenCache,
    leeway: u64,
}

impl fmt::Debug for OAuthResourceServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthResourceServer")
            .field("resource", &self.inner.resource)
            .field("issuers", &self.inner.issuer_ids)
            .field("required_scopes", &self.inner.required_scopes)
            .field("user_claim", &self.inner.user_claim)
            .field("introspection", &self.inner.introspector.is_some())
            .finish_non_exhaustive()
    }
}

/// What a valid access token says: its user and scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidatedToken {
    /// The user the token stands for (the configured claim's value).
    pub user: UserId,
    /// The token's scopes.
    pub scopes: Vec<String>,
}

impl OAuthResourceServer {
    /// A builder for the gateway whose public MCP endpoint is `resource`: its canonical URI,
    /// as agents reach it (`https://gw.example.com/mcp`; `http://` only on loopback). It is
    /// the `resource` of the protected resource metadata and the audience every access token
    /// must name (RFC 8707); the metadata's own URL is derived from it (RFC 9728 §3.1).
    pub fn builder(resource: impl Into<String>) -> OAuthBuilder {
        OAuthBuilder::new(resource)
    }

    pub(crate) fn from_builder(b: OAuthBuilder) -> Result<Self, OAuthConfigError> {
        ensure_crypto()?;
        let resource = b.resource.trim().to_owned();
        let resource_url =
            parse_url(&resource).map_err(|reason| OAuthConfigError::InvalidResource {
                uri: resource.clone(),
                reason,
            })?;
        if resource_url.query().is_some() {
            return Err(OAuthConfigError::InvalidResource {
                uri: resource,
                reason: "a resource URI has no query".to_owned(),
            });
        }
        if b.issuers.is_empty() {
            return Err(OAuthConfigError::NoIssuer);
        }
        for scope in b
            .required_scopes
            .iter()
            .chain(b.scopes_supported.iter().flatten())
        {
            check_scope(scope).map_err(|reason| OAuthConfigError::InvalidName {
                what: "scope",
                value: scope.clone(),
                reason,
            })?;
        }
        let user_claim = b.user_claim.trim().to_owned();
        if user_claim.is_empty() || user_claim.chars().any(char::is_control) {
            return Err(OAuthConfigError::InvalidName {
                what: "user claim",
                value: user_claim,
                reason: "a claim name is a non-empty string without control characters",
            });
        }
        let fetcher = Fetcher::new(b.fetch_timeout, b.max_document_size)
            .map_err(OAuthConfigError::Unavailable)?;
        let mut issuers = Vec::new();
        let mut issuer_ids: Vec<String> = Vec::new();
        for issuer in &b.issuers {
            let id = issuer.trim().to_owned();
            let url = parse_url(&id).map_err(|reason| OAuthConfigError::InvalidIssuer {
                uri: id.clone(),
                reason,
            })?;
            if url.query().is_some() {
                return Err(OAuthConfigError::InvalidIssuer {
                    uri: id,
                    reason: "an issuer identifier has no query (RFC 8414 §2)".to_owned(),
                });
            }
            if issuer_ids.contains(&id) {
                continue;
            }
            issuer_ids.push(id.clone());
            issuers.push(Arc::new(Issuer::new(
                id,
                &url,
                fetcher.clone(),
                b.jwks_refetch_interval,
                b.jwks_max_age,
            )));
        }
        let introspector = match b.introspection {
            None => None,
            Some(config) => {
                let endpoint = parse_url(&config.endpoint).map_err(|reason| {
                    OAuthConfigError::InvalidIntrospection {
                        uri: config.endpoint.clone(),
                        reason,
                    }
                })?;
                Some(Introspector::new(endpoint, config, fetcher.clone()))
            }
        };
        let leeway = b.leeway.as_secs();
        let metadata = ProtectedResourceMetadata {
            resource: resource.clone(),
            authorization_servers: issuer_ids.clone(),
            scopes_supported: b
                .scopes_supported
                .unwrap_or_else(|| b.required_scopes.clone()),
            bearer_methods_supported: vec!["header".to_owned()],
        };
        Ok(OAuthResourceServer {
            inner: Arc::new(Inner {
                jwt: JwtValidator::new(issuers.clone(), &resource, leeway),
                metadata_url: metadata_url(&resource_url),
                resource,
                resource_url,
                metadata,
                issuers,
                issuer_ids,
                required_scopes: b.required_scopes,
                user_claim,
                introspector,
                cache: TokenCache::new(b.token_cache_capacity),
                leeway,
            }),
        })
    }

    /// The gateway's resource URI, as configured.
    pub fn resource(&self) -> &str {
        &self.inner.resource
    }

    /// The URL of the gateway's protected resource metadata, named in every `401` challenge:
    /// for `https://gw.example.com/mcp`,
    /// `https://gw.example.com/.well-known/oauth-protected-resource/mcp`.
    pub fn resource_metadata_url(&self) -> &Url {
        &self.inner.metadata_url
    }

    /// The protected resource metadata document the gateway serves.
    pub fn metadata(&self) -> &ProtectedResourceMetadata {
        &self.inner.metadata
    }

    /// The issuers whose tokens are accepted, as configured.
    pub fn issuers(&self) -> &[String] {
        &self.inner.issuer_ids
    }

    /// The scopes every token must carry.
    pub fn required_scopes(&self) -> &[String] {
        &self.inner.required_scopes
    }

    /// The claim naming the user.
    pub fn user_claim(&self) -> &str {
        &self.inner.user_claim
    }

    /// Fetches every issuer's metadata and keys now, instead of on the first token (useful
    /// at start-up, to fail early on a misconfigured issuer). The gateway works without it.
    ///
    /// # Errors
    ///
    /// [`TokenError::IssuerUnavailable`] naming the first issuer that could not be read.
    pub async fn prefetch(&self) -> Result<(), TokenError> {
        for issuer in &self.inner.issuers {
            issuer.prefetch().await?;
        }
        Ok(())
    }

    /// Checks an access token (the text after `Bearer `): the user and scopes it carries when
    /// it is valid for this gateway and has every required scope.
    ///
    /// # Errors
    ///
    /// [`TokenError`] saying why not (never quoting the token). A token without a required
    /// scope gets [`TokenError::InsufficientScope`].
    pub async fn validate(&self, token: &str) -> Result<ValidatedToken, TokenError> {
        let inner = &*self.inner;
        let now = jsonwebtoken::get_current_timestamp();
        let digest = TokenCache::digest(token);
        if let Some(entry) = inner.cache.get(&digest, now) {
            return Ok(ValidatedToken {
                user: entry.user,
                scopes: entry.scopes.to_vec(),
            });
        }
        let (claims, valid_until) = if JwtValidator::looks_like_jwt(token) {
            let claims = inner.jwt.validate(token).await?;
            let exp = claims.get("exp").and_then(Value::as_f64).unwrap_or(0.0) as u64;
            (claims, exp.saturating_add(inner.leeway))
        } else if let Some(introspector) = &inner.introspector {
            let audiences = self.audiences();
            let audiences: Vec<&str> = audiences.iter().map(String::as_str).collect();
            let claims = introspector
                .introspect(token, &inner.issuer_ids, &audiences, inner.leeway)
                .await?;
            let cap = now + INTROSPECTION_CACHE_SECONDS;
            let until = match claims.get("exp").and_then(Value::as_f64) {
                Some(exp) => (exp as u64).min(cap),
                None => cap,
            };
            (claims, until)
        } else {
            return Err(TokenError::Malformed);
        };
        let user = self.user_of(&claims)?;
        let scopes = scopes_of(&claims);
        let missing: Vec<&str> = inner
            .required_scopes
            .iter()
            .filter(|required| !scopes.iter().any(|s| s == *required))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(TokenError::InsufficientScope {
                required: inner.required_scopes.join(" "),
            });
        }
        inner.cache.insert(
            digest,
            Entry {
                user: user.clone(),
                scopes: Arc::from(scopes.clone()),
                valid_until,
            },
            now,
        );
        Ok(ValidatedToken { user, scopes })
    }

    /// The user named by the configured claim.
    fn user_of(&self, claims: &Claims) -> Result<UserId, TokenError> {
        let claim = &self.inner.user_claim;
        let no_user = || TokenError::NoUser {
            claim: claim.clone(),
        };
        let value = claims
            .get(claim)
            .and_then(Value::as_str)
            .ok_or_else(no_user)?;
        if value.is_empty() || value.len() > MAX_USER_LENGTH || value.chars().any(char::is_control)
        {
            return Err(no_user());
        }
        Ok(UserId::from(value))
    }

    /// The resource URI in the forms an audience may name it.
    fn audiences(&self) -> Vec<String> {
        let resource = &self.inner.resource;
        let other = match resource.strip_suffix('/') {
            Some(bare) => bare.to_owned(),
            None => format!("{resource}/"),
        };
        vec![resource.clone(), other]
    }

    /// The path of the resource URI (the gateway also serves its metadata under it).
    pub(crate) fn resource_path(&self) -> &str {
        self.inner.resource_url.path()
    }
}

/// The scopes of a token: `scope` (space-separated, RFC 8693/9068) or `scp` (a list or a
/// string, as some issuers send).
fn scopes_of(claims: &Claims) -> Vec<String> {
    let mut scopes = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(text)) => {
                scopes.extend(text.split_ascii_whitespace().map(str::to_owned));
            }
            Some(Value::Array(list)) => {
                scopes.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            _ => {}
        }
    }
    scopes.dedup();
    scopes
}

/// Makes sure `jsonwebtoken` has a crypto backend for the process: the one this build's
/// features chose (aws-lc-rs with `rustls`, RustCrypto with `rustls-ring` alone), unless the
/// application installed one itself.
fn ensure_crypto() -> Result<(), OAuthConfigError> {
    if jsonwebtoken::crypto::CryptoProvider::try_get_default().is_some() {
        return Ok(());
    }
    #[cfg(feature = "rustls")]
    {
        // Both features on: aws-lc-rs, as for TLS. Fails only when another thread installed
        // one first: that one is used.
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
        );
    }
    #[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
    {
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
        );
    }
    if jsonwebtoken::crypto::CryptoProvider::try_get_default().is_some() {
        Ok(())
    } else {
        Err(OAuthConfigError::Unavailable(
            "no crypto backend for token signatures: enable the `rustls` or `rustls-ring` feature"
                .to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_is_checked() {
        let ok = || OAuthResourceServer::builder("https://gw.example.com/mcp");
        assert_eq!(
            ok().build().unwrap_err(),
            OAuthConfigError::NoIssuer,
            "an issuer is required"
        );
        assert!(matches!(
            OAuthResourceServer::builder("http://gw.example.com/mcp")
                .issuer("https://as.example.com")
                .build(),
            Err(OAuthConfigError::InvalidResource { .. })
        ));
        assert!(matches!(
            ok().issuer("http://as.example.com").build(),
            Err(OAuthConfigError::InvalidIssuer { .. })
        ));
        assert!(matches!(
            ok().issuer("https://as.example.com")
                .required_scope("two words")
                .build(),
            Err(OAuthConfigError::InvalidName { .. })
        ));
        assert!(matches!(
            ok().issuer("https://as.example.com")
                .introspection(super::super::Introspection::new(
                    "http://as.example.com/introspect",
                    "gw",
                    "secret"
                ))
                .build(),
            Err(OAuthConfigError::InvalidIntrospection { .. })
        ));
        let server = ok()
            .issuers(["https://a.example.com", "https://b.example.com/t"])
            .required_scopes(["mcp:tools"])
            .build()
            .unwrap();
        assert_eq!(server.metadata().authorization_servers.len(), 2);
        assert_eq!(server.metadata().scopes_supported, ["mcp:tools"]);
        assert_eq!(server.resource_path(), "/mcp");
    }

    #[test]
    fn scopes_from_either_claim() {
        let claims: Claims = serde_json::from_value(serde_json::json!({
            "scope": "a b", "scp": ["c"]
        }))
        .unwrap();
        assert_eq!(scopes_of(&claims), ["a", "b", "c"]);
    }
}

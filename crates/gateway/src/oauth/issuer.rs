//! One trusted authorization server: its metadata (RFC 8414 `/.well-known/oauth-authorization-server`,
//! then OpenID Connect `/.well-known/openid-configuration`), its JWKS, and the cache of its
//! signing keys.
//!
//! Keys are looked up without waiting whenever the cached JWKS has them. A key id the cache
//! lacks makes one request fetch the JWKS again, at most once per refetch interval (others
//! asking meanwhile wait for that fetch, which is bounded by the fetch timeout, or are told at
//! once that the key is unknown); a JWKS older than its maximum age is refreshed in the
//! background while the old keys keep serving.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use url::Url;

use super::config::parse_url;
use super::error::{FetchError, TokenError};
use super::fetch::Fetcher;

/// A failed fetch is tried again after at most this long.
const FAILED_RETRY: Duration = Duration::from_secs(5);
/// The most keys kept from one JWKS.
const MAX_KEYS: usize = 64;
/// The smallest RSA modulus accepted (2048 bits).
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// The algorithms accepted: asymmetric only, never `none`, never `HS*`.
pub(crate) const ALLOWED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// One trusted issuer.
#[derive(Debug)]
pub(crate) struct Issuer {
    /// The issuer identifier exactly as configured: a token's `iss` must equal it.
    pub(crate) id: String,
    /// Where its metadata is looked for, in order.
    discovery: Vec<Url>,
    keys: RwLock<Arc<KeySet>>,
    refresh: tokio::sync::Mutex<RefreshState>,
    fetcher: Fetcher,
    refetch_interval: Duration,
    max_age: Duration,
}

/// The keys of one JWKS, parsed.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    keys: Vec<Key>,
    fetched: Option<Instant>,
}

/// One usable signing key.
pub(crate) struct Key {
    kid: Option<String>,
    kind: KeyKind,
    /// The JWK's own `alg`, if it names one.
    alg: Option<Algorithm>,
    pub(crate) decoding: DecodingKey,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// A key's type, which decides the algorithms it may verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl KeyKind {
    fn allows(self, alg: Algorithm) -> bool {
        match self {
            KeyKind::Rsa => matches!(
                alg,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ),
            KeyKind::P256 => alg == Algorithm::ES256,
            KeyKind::P384 => alg == Algorithm::ES384,
            KeyKind::Ed25519 => alg == Algorithm::EdDSA,
        }
    }
}

impl Key {
    fn fits(&self, alg: Algorithm) -> bool {
        self.kind.allows(alg) && self.alg.is_none_or(|own| own == alg)
    }
}

#[derive(Debug, Default)]
struct RefreshState {
    /// The JWKS location from the metadata, once known.
    jwks_uri: Option<Url>,
    /// When the last fetch was tried, and its error if it failed.
    last_attempt: Option<(Instant, Option<FetchError>)>,
}

/// The parts of the issuer's metadata the gateway reads.
#[derive(Debug, Deserialize)]
struct IssuerMetadata {
    issuer: String,
    jwks_uri: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

impl Issuer {
    pub(crate) fn new(
        id: String,
        url: &Url,
        fetcher: Fetcher,
        refetch_interval: Duration,
        max_age: Duration,
    ) -> Issuer {
        Issuer {
            id,
            discovery: discovery_urls(url),
            keys: RwLock::default(),
            refresh: tokio::sync::Mutex::default(),
            fetcher,
            refetch_interval,
            max_age,
        }
    }

    /// The key that verifies a token signed with `alg` under `kid`.
    pub(crate) async fn key(
        self: &Arc<Self>,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<KeySet>, TokenError> {
        let current = self.current();
        if current.find(kid, alg).is_some() {
            if current
                .fetched
                .is_some_and(|at| at.elapsed() >= self.max_age)
            {
                self.refresh_in_background();
            }
            return Ok(current);
        }
        // Not known: fetch again (one fetch at a time; each bounded by the fetch timeout).
        let mut state = self.refresh.lock().await;
        let current = self.current();
        if current.find(kid, alg).is_some() {
            return Ok(current);
        }
        if let Some((at, error)) = &state.last_attempt {
            let wait = match error {
                Some(_) => FAILED_RETRY.min(self.refetch_interval),
                None => self.refetch_interval,
            };
            if at.elapsed() < wait {
                return Err(match error {
                    Some(error) => error.clone().into(),
                    None => TokenError::UnknownKey,
                });
            }
        }
        self.refresh_locked(&mut state).await?;
        let current = self.current();
        if current.find(kid, alg).is_some() {
            Ok(current)
        } else if current.keys.iter().any(|k| k.kid.as_deref() == kid) {
            Err(TokenError::UnsupportedAlgorithm)
        } else {
            Err(TokenError::UnknownKey)
        }
    }

    /// Fetches the metadata and keys now (if not fetched within the refetch interval).
    pub(crate) async fn prefetch(&self) -> Result<(), TokenError> {
        let mut state = self.refresh.lock().await;
        if let Some((at, None)) = &state.last_attempt
            && at.elapsed() < self.refetch_interval
        {
            return Ok(());
        }
        self.refresh_locked(&mut state).await
    }

    fn current(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn refresh_in_background(self: &Arc<Self>) {
        let Ok(mut state) = self.refresh.try_lock() else {
            return; // a fetch is under way
        };
        if state
            .last_attempt
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < FAILED_RETRY.min(self.refetch_interval))
        {
            return;
        }
        // Marked now, so that no other request starts one while this task starts.
        state.last_attempt = Some((Instant::now(), None));
        drop(state);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let issuer = self.clone();
        runtime.spawn(async move {
            let mut state = issuer.refresh.lock().await;
            if let Err(err) = issuer.refresh_locked(&mut state).await {
                tracing::warn!(issuer = %issuer.id, error = %err, "refreshing the issuer's keys failed; the keys fetched before stay in use");
            }
        });
    }

    /// Fetches the metadata (once) and the JWKS, and installs the keys. Called with the refresh
    /// lock held.
    async fn refresh_locked(&self, state: &mut RefreshState) -> Result<(), TokenError> {
        let result = self.fetch(state).await;
        match result {
            Ok(keys) => {
                tracing::debug!(issuer = %self.id, keys = keys.keys.len(), "fetched the issuer's signing keys");
                *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
                state.last_attempt = Some((Instant::now(), None));
                Ok(())
            }
            Err(err) => {
                tracing::warn!(issuer = %self.id, error = %err, "fetching the issuer's signing keys failed");
                state.last_attempt = Some((Instant::now(), Some(err.clone())));
                Err(err.into())
            }
        }
    }

    async fn fetch(&self, state: &mut RefreshState) -> Result<KeySet, FetchError> {
        let jwks_uri = match &state.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let uri = self.discover().await?;
                state.jwks_uri = Some(uri.clone());
                uri
            }
        };
        let jwks: Option<RawJwks> = match self.fetcher.get_json(&jwks_uri).await {
            Ok(jwks) => jwks,
            Err(err) => {
                // The metadata may have moved the keys: read it again next time.
                state.jwks_uri = None;
                return Err(err);
            }
        };
        let Some(jwks) = jwks else {
            state.jwks_uri = None;
            return Err(FetchError::Status {
                url: jwks_uri.to_string(),
                status: 404,
            });
        };
        let keys = parse_keys(jwks.keys);
        if keys.is_empty() {
            return Err(FetchError::Invalid {
                url: jwks_uri.to_string(),
                reason: "the JWKS holds no usable signing key (RSA of at least 2048 bits, P-256, P-384 or Ed25519)".to_owned(),
            });
        }
        Ok(KeySet {
            keys,
            fetched: Some(Instant::now()),
        })
    }

    /// Reads the issuer's metadata from the first discovery location that has it.
    async fn discover(&self) -> Result<Url, FetchError> {
        let mut last = None;
        for url in &self.discovery {
            let metadata: IssuerMetadata = match self.fetcher.get_json(url).await {
                Ok(Some(metadata)) => metadata,
                Ok(None) => continue,
                // Another location may still answer (a server that refuses one path).
                Err(err @ FetchError::Status { .. }) => {
                    last = Some(err);
                    continue;
                }
                Err(err) => return Err(err),
            };
            // RFC 8414 §3.3, OpenID Connect Discovery §4.3: the metadata's issuer is the one
            // asked for, exactly, or the metadata is not used.
            if metadata.issuer != self.id {
                return Err(FetchError::Invalid {
                    url: url.to_string(),
                    reason: format!(
                        "its \"issuer\" is not {:?} (RFC 8414 requires them to be identical)",
                        self.id
                    ),
                });
            }
            let Some(jwks_uri) = metadata.jwks_uri else {
                return Err(FetchError::Invalid {
                    url: url.to_string(),
                    reason: "it names no jwks_uri, so JWT access tokens cannot be checked"
                        .to_owned(),
                });
            };
            return parse_url(&jwks_uri).map_err(|reason| FetchError::Invalid {
                url: url.to_string(),
                reason: format!("its jwks_uri is not usable: {reason}"),
            });
        }
        Err(last.unwrap_or_else(|| FetchError::Invalid {
            url: self.id.clone(),
            reason: "no authorization server metadata at /.well-known/oauth-authorization-server or /.well-known/openid-configuration".to_owned(),
        }))
    }
}

impl KeySet {
    /// The key for `kid` and `alg`: by key id when the token names one; else the only key
    /// that fits the algorithm.
    pub(crate) fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&Key> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|key| key.kid.as_deref() == Some(kid) && key.fits(alg)),
            None => {
                let mut fitting = self.keys.iter().filter(|key| key.fits(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Some(key),
                    _ => None,
                }
            }
        }
    }
}

/// The usable signing keys of a JWKS; others (encryption keys, symmetric keys, unknown types,
/// short RSA keys, keys that do not parse) are skipped.
fn parse_keys(raw: Vec<serde_json::Value>) -> Vec<Key> {
    let mut keys = Vec::new();
    for value in raw.into_iter().take(MAX_KEYS * 4) {
        if keys.len() >= MAX_KEYS {
            break;
        }
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        if let Some(key) = usable(&jwk) {
            keys.push(key);
        }
    }
    keys
}

fn usable(jwk: &Jwk) -> Option<Key> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(alg) => {
            let alg: Algorithm = alg.to_string().parse().ok()?;
            if !ALLOWED.contains(&alg) {
                return None;
            }
            Some(alg)
        }
    };
    let kind = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            use base64::Engine as _;
            let modulus = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(rsa.n.trim_end_matches('='))
                .ok()?;
            let significant = modulus.iter().skip_while(|b| **b == 0).count();
            if significant < MIN_RSA_MODULUS_BYTES {
                return None;
            }
            KeyKind::Rsa
        }
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => KeyKind::P256,
            EllipticCurve::P384 => KeyKind::P384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(okp) => match okp.curve {
            EllipticCurve::Ed25519 => KeyKind::Ed25519,
            _ => return None,
        },
        // Symmetric (`oct`) keys never verify a token here: no HMAC with a published key.
        _ => return None,
    };
    if alg.is_some_and(|alg| !kind.allows(alg)) {
        return None;
    }
    let decoding = DecodingKey::from_jwk(jwk).ok()?;
    Some(Key {
        kid: jwk.common.key_id.clone(),
        kind,
        alg,
        decoding,
    })
}

/// Where an issuer's metadata is looked for (RFC 8414 §3.1, OpenID Connect Discovery §4, and
/// the MCP authorization specification's order): for `https://as.example.com/tenant`,
/// `/.well-known/oauth-authorization-server/tenant`, `/.well-known/openid-configuration/tenant`,
/// `/tenant/.well-known/openid-configuration`; for an issuer without a path, the first two
/// without it.
pub(crate) fn discovery_urls(issuer: &Url) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/');
    let at = |p: String| {
        let mut url = issuer.clone();
        url.set_path(&p);
        url.set_query(None);
        url.set_fragment(None);
        url
    };
    if path.is_empty() {
        vec![
            at("/.well-known/oauth-authorization-server".to_owned()),
            at("/.well-known/openid-configuration".to_owned()),
        ]
    } else {
        vec![
            at(format!("/.well-known/oauth-authorization-server{path}")),
            at(format!("/.well-known/openid-configuration{path}")),
            at(format!("{path}/.well-known/openid-configuration")),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_follows_the_path_insertion_rules() {
        let urls = |issuer: &str| -> Vec<String> {
            discovery_urls(&Url::parse(issuer).unwrap())
                .into_iter()
                .map(|u| u.to_string())
                .collect()
        };
        assert_eq!(
            urls("https://as.example.com"),
            [
                "https://as.example.com/.well-known/oauth-authorization-server",
                "https://as.example.com/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            urls("https://as.example.com/tenant1/"),
            [
                "https://as.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://as.example.com/.well-known/openid-configuration/tenant1",
                "https://as.example.com/tenant1/.well-known/openid-configuration"
            ]
        );
    }

    #[test]
    fn only_asymmetric_signing_keys_are_kept() {
        let n = "x".repeat(344); // 258 bytes of base64url
        let keys = parse_keys(vec![
            serde_json::json!({"kty": "oct", "k": "c2VjcmV0", "kid": "h"}),
            serde_json::json!({"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "short"}),
            serde_json::json!({"kty": "RSA", "n": n, "e": "AQAB", "kid": "enc", "use": "enc"}),
            serde_json::json!({"kty": "RSA", "n": n, "e": "AQAB", "kid": "hs", "alg": "HS256"}),
            serde_json::json!({"kty": "RSA", "n": n, "e": "AQAB", "kid": "es", "alg": "ES256"}),
            serde_json::json!({"kty": "weird"}),
            serde_json::json!({"kty": "RSA", "n": n, "e": "AQAB", "kid": "ok", "alg": "RS256"}),
        ]);
        let kids: Vec<_> = keys.iter().map(|k| k.kid.as_deref()).collect();
        assert_eq!(kids, [Some("ok")]);
        let set = KeySet {
            keys,
            fetched: None,
        };
        assert!(set.find(Some("ok"), Algorithm::RS256).is_some());
        assert!(set.find(Some("ok"), Algorithm::PS256).is_none());
        assert!(set.find(None, Algorithm::RS256).is_some());
        assert!(set.find(Some("ok"), Algorithm::ES256).is_none());
    }
}

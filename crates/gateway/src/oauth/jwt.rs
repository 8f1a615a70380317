//! JWT access tokens checked locally: the header's algorithm against the allow-list and the
//! issuer's key, the signature with the issuer's JWKS (`jsonwebtoken`), then `iss`, `aud` (the
//! gateway's resource URI, RFC 8707), `exp`, `nbf` and `iat` with a bounded leeway.

use std::collections::HashSet;
use std::sync::Arc;

use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::TokenError;
use super::issuer::{ALLOWED, Issuer};

/// The longest access token read (a header line is capped by the HTTP server too).
const MAX_TOKEN_LENGTH: usize = 16 * 1024;

/// The claims of a token whose signature and registered claims were checked.
pub(crate) type Claims = Map<String, Value>;

/// What checks JWTs for one gateway.
#[derive(Debug)]
pub(crate) struct JwtValidator {
    issuers: Vec<(Arc<Issuer>, Validation)>,
    leeway: u64,
}

#[derive(Deserialize)]
struct JoseHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

#[derive(Deserialize)]
struct IssuerOnly {
    #[serde(default)]
    iss: Option<Value>,
}

impl JwtValidator {
    /// Validates tokens of `issuers`, for `resource`, with `leeway` seconds.
    pub(crate) fn new(issuers: Vec<Arc<Issuer>>, resource: &str, leeway: u64) -> JwtValidator {
        let mut audiences: HashSet<String> = HashSet::new();
        audiences.insert(resource.to_owned());
        // The same URI with and without a trailing slash (RFC 8707 asks clients for the
        // canonical form; some add or drop the slash).
        match resource.strip_suffix('/') {
            Some(bare) => audiences.insert(bare.to_owned()),
            None => audiences.insert(format!("{resource}/")),
        };
        let issuers = issuers
            .into_iter()
            .map(|issuer| {
                let mut validation = Validation::new(Algorithm::RS256);
                validation.leeway = leeway;
                validation.validate_exp = true;
                validation.validate_nbf = true;
                validation.validate_aud = true;
                validation.aud = Some(audiences.clone());
                validation.iss = Some(HashSet::from([issuer.id.clone()]));
                validation.required_spec_claims = ["exp", "iss", "aud"]
                    .into_iter()
                    .map(str::to_owned)
                    .collect();
                (issuer, validation)
            })
            .collect();
        JwtValidator { issuers, leeway }
    }

    /// Whether `token` has the shape of a JWS (three base64url parts); an opaque token goes to
    /// introspection instead, when it is configured.
    pub(crate) fn looks_like_jwt(token: &str) -> bool {
        token.len() <= MAX_TOKEN_LENGTH
            && token.split('.').count() == 3
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='))
    }

    /// Checks `token`; its claims when it is valid, for `resource`.
    pub(crate) async fn validate(&self, token: &str) -> Result<Claims, TokenError> {
        if !Self::looks_like_jwt(token) {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload)) = (parts.next(), parts.next()) else {
            return Err(TokenError::Malformed);
        };
        let header: JoseHeader = decode_part(header)?;
        if header.crit.is_some() {
            // No critical extension is understood here (RFC 7515 §4.1.11).
            return Err(TokenError::Malformed);
        }
        let alg = allowed_algorithm(&header.alg)?;
        let (issuer, validation) = self.issuer_for(payload)?;
        let keys = issuer.key(header.kid.as_deref(), alg).await?;
        let key = keys
            .find(header.kid.as_deref(), alg)
            .ok_or(TokenError::UnknownKey)?;
        let mut validation = validation.clone();
        validation.algorithms = vec![alg];
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map_err(|err| map_error(err.kind(), &validation))?;
        let claims = data.claims;
        if let Some(iat) = claims.get("iat") {
            let iat = iat.as_f64().ok_or(TokenError::MissingClaim("iat"))?;
            let now = jsonwebtoken::get_current_timestamp() as f64;
            if iat > now + self.leeway as f64 {
                return Err(TokenError::NotYetValid);
            }
        }
        Ok(claims)
    }

    /// The configured issuer the token names (with one issuer, that one: its `iss` is checked
    /// with the signature).
    fn issuer_for(&self, payload: &str) -> Result<&(Arc<Issuer>, Validation), TokenError> {
        if let [only] = self.issuers.as_slice() {
            return Ok(only);
        }
        // Read before the signature is checked only to choose whose keys check it.
        let claims: IssuerOnly = decode_part(payload)?;
        let Some(Value::String(iss)) = claims.iss else {
            return Err(TokenError::MissingClaim("iss"));
        };
        self.issuers
            .iter()
            .find(|(issuer, _)| issuer.id == iss)
            .ok_or(TokenError::WrongIssuer)
    }
}

/// The algorithm named by a JWS header, if it is on the allow-list.
fn allowed_algorithm(name: &str) -> Result<Algorithm, TokenError> {
    let alg: Algorithm = name.parse().map_err(|_| TokenError::UnsupportedAlgorithm)?;
    if ALLOWED.contains(&alg) {
        Ok(alg)
    } else {
        Err(TokenError::UnsupportedAlgorithm)
    }
}

/// A base64url JSON part of the token.
fn decode_part<T: for<'de> Deserialize<'de>>(part: &str) -> Result<T, TokenError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

fn map_error(kind: &ErrorKind, validation: &Validation) -> TokenError {
    match kind {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::InvalidAudience => TokenError::WrongAudience {
            resource: validation
                .aud
                .as_ref()
                .and_then(|aud| aud.iter().min_by_key(|a| a.len()).cloned())
                .unwrap_or_default(),
        },
        ErrorKind::MissingRequiredClaim(claim) | ErrorKind::InvalidClaimFormat(claim) => {
            TokenError::MissingClaim(match claim.as_str() {
                "exp" => "exp",
                "iss" => "iss",
                "aud" => "aud",
                "nbf" => "nbf",
                "sub" => "sub",
                _ => "a registered claim",
            })
        }
        ErrorKind::InvalidAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::InvalidAlgorithmName => TokenError::UnsupportedAlgorithm,
        _ => TokenError::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_algorithms() {
        for ok in ["RS256", "PS384", "ES256", "ES384", "EdDSA"] {
            assert!(allowed_algorithm(ok).is_ok(), "{ok}");
        }
        for refused in ["none", "HS256", "HS512", "", "rs256", "ES512"] {
            assert_eq!(
                allowed_algorithm(refused),
                Err(TokenError::UnsupportedAlgorithm),
                "{refused}"
            );
        }
    }

    #[test]
    fn jwt_shape() {
        assert!(JwtValidator::looks_like_jwt("a.b.c"));
        assert!(!JwtValidator::looks_like_jwt("opaque-token"));
        assert!(!JwtValidator::looks_like_jwt("a.b.c.d.e"));
        assert!(!JwtValidator::looks_like_jwt("a.b.c d"));
    }
}

//! Test support for the gateway's OAuth side: a tiny authorization server of our own on
//! loopback (RFC 8414 metadata and a JWKS with the RSA and EC keys of `tests/fixtures/`, which
//! can also hang or flood), and access tokens signed with those keys, valid or hostile.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pagerduty_mcp_connect_gateway::OAuthResourceServer;
use serde_json::{Value, json};

/// The RSA key pair (PKCS#8 PEM), `kid` [`RSA_KID`].
pub const RSA_PRIVATE: &str = include_str!("../fixtures/oauth_rsa_private.pem");
/// Its public half.
pub const RSA_PUBLIC: &str = include_str!("../fixtures/oauth_rsa_public.pem");
/// The EC P-256 key pair, `kid` [`EC_KID`].
pub const EC_PRIVATE: &str = include_str!("../fixtures/oauth_ec_private.pem");
/// The key ids the JWKS names.
pub const RSA_KID: &str = "test-rsa-1";
pub const EC_KID: &str = "test-ec-1";

/// What the test authorization server's JWKS endpoint does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwksMode {
    /// Answers the JWKS.
    Normal,
    /// Never answers.
    Hang,
    /// Answers 10 MB of JSON.
    Huge,
}

/// A running test authorization server.
pub struct TestIssuer {
    /// Its issuer identifier (`http://127.0.0.1:PORT`).
    pub issuer: String,
    jwks_fetches: Arc<AtomicUsize>,
    introspection_audience: Arc<Mutex<String>>,
    task: tokio::task::JoinHandle<()>,
}

/// The opaque access token the introspection endpoint says is Alice's.
pub const OPAQUE_ALICE: &str = "opaque-alice-7f3c9a1e5b2d4c6a";
/// The client credentials the introspection endpoint accepts.
pub const INTROSPECTION_CLIENT: (&str, &str) = ("gateway-client", "gateway-secret-0123");

#[derive(Clone)]
struct IssuerState {
    issuer: String,
    mode: JwksMode,
    fetches: Arc<AtomicUsize>,
    introspection_audience: Arc<Mutex<String>>,
}

impl TestIssuer {
    /// Starts one whose JWKS endpoint behaves as `mode`.
    pub async fn start(mode: JwksMode) -> TestIssuer {
        crypto();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let fetches = Arc::new(AtomicUsize::new(0));
        let introspection_audience = Arc::new(Mutex::new(String::new()));
        let state = IssuerState {
            issuer: issuer.clone(),
            mode,
            fetches: fetches.clone(),
            introspection_audience: introspection_audience.clone(),
        };
        let app = Router::new()
            .route("/.well-known/oauth-authorization-server", get(metadata))
            .route("/jwks", get(jwks))
            .route("/introspect", axum::routing::post(introspect))
            .with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestIssuer {
            issuer,
            jwks_fetches: fetches,
            introspection_audience,
            task,
        }
    }

    /// Its introspection endpoint.
    pub fn introspection_endpoint(&self) -> String {
        format!("{}/introspect", self.issuer)
    }

    /// The audience the introspection endpoint names for [`OPAQUE_ALICE`].
    pub fn set_introspection_audience(&self, audience: &str) {
        *self.introspection_audience.lock().unwrap() = audience.to_owned();
    }

    /// How many times its JWKS was asked for.
    pub fn jwks_fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Claims of a valid token for `user` and the resource `audience`, valid for an hour.
    pub fn claims(&self, user: &str, audience: &str) -> Value {
        let now = now();
        json!({
            "iss": self.issuer,
            "sub": user,
            "aud": audience,
            "iat": now,
            "nbf": now - 5,
            "exp": now + 3600,
            "scope": "mcp:tools openid",
            "email": format!("{user}@example.com"),
        })
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn metadata(State(state): State<IssuerState>) -> Response {
    axum::Json(json!({
        "issuer": state.issuer,
        "jwks_uri": format!("{}/jwks", state.issuer),
        "authorization_endpoint": format!("{}/authorize", state.issuer),
        "token_endpoint": format!("{}/token", state.issuer),
        "response_types_supported": ["code"],
    }))
    .into_response()
}

/// RFC 7662: `OPAQUE_ALICE` is active (for the audience set), any other token is not; the
/// client must authenticate with `INTROSPECTION_CLIENT`.
async fn introspect(
    State(state): State<IssuerState>,
    headers: http::HeaderMap,
    body: String,
) -> Response {
    use base64::Engine as _;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            INTROSPECTION_CLIENT.0, INTROSPECTION_CLIENT.1
        ))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (http::StatusCode::UNAUTHORIZED, "bad client").into_response();
    }
    let token = url::form_urlencoded::parse(body.as_bytes())
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned());
    if token.as_deref() != Some(OPAQUE_ALICE) {
        return axum::Json(json!({"active": false})).into_response();
    }
    let audience = state.introspection_audience.lock().unwrap().clone();
    axum::Json(json!({
        "active": true,
        "sub": "alice",
        "iss": state.issuer,
        "aud": audience,
        "scope": "mcp:tools",
        "exp": now() + 600,
    }))
    .into_response()
}

async fn jwks(State(state): State<IssuerState>) -> Response {
    state.fetches.fetch_add(1, Ordering::SeqCst);
    match state.mode {
        JwksMode::Normal => axum::Json(jwk_set()).into_response(),
        JwksMode::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            axum::Json(jwk_set()).into_response()
        }
        JwksMode::Huge => {
            let filler = "x".repeat(10 * 1024 * 1024);
            (
                [("content-type", "application/json")],
                format!("{{\"keys\":[],\"filler\":\"{filler}\"}}"),
            )
                .into_response()
        }
    }
}

/// The public JWKS: the RSA key (RS256) and the EC key (ES256).
pub fn jwk_set() -> JwkSet {
    let mut rsa = Jwk::from_encoding_key(&rsa_key(), Algorithm::RS256).unwrap();
    rsa.common.key_id = Some(RSA_KID.to_owned());
    let mut ec = Jwk::from_encoding_key(&ec_key(), Algorithm::ES256).unwrap();
    ec.common.key_id = Some(EC_KID.to_owned());
    JwkSet {
        keys: vec![rsa, ec],
    }
}

pub fn rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap()
}

pub fn ec_key() -> EncodingKey {
    EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap()
}

/// `claims` signed with the RSA key (RS256, kid [`RSA_KID`]).
pub fn sign_rsa(claims: &Value) -> String {
    sign(claims, Algorithm::RS256, Some(RSA_KID), &rsa_key())
}

/// `claims` signed with the EC key (ES256, kid [`EC_KID`]).
pub fn sign_ec(claims: &Value) -> String {
    sign(claims, Algorithm::ES256, Some(EC_KID), &ec_key())
}

/// `claims` signed with `key` as `alg`, naming `kid`.
pub fn sign(claims: &Value, alg: Algorithm, kid: Option<&str>, key: &EncodingKey) -> String {
    crypto();
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    header.typ = Some("at+jwt".to_owned());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// An unsigned token (`alg: none`).
pub fn unsigned(claims: &Value) -> String {
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": RSA_KID})),
        b64(claims)
    )
}

/// HS256 with the RSA public key's PEM bytes as the HMAC secret: the classic confusion attack.
pub fn hmac_with_public_key(claims: &Value) -> String {
    sign(
        claims,
        Algorithm::HS256,
        Some(RSA_KID),
        &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()).unwrap(),
    )
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Makes sure `jsonwebtoken` has its crypto backend for signing test tokens: building any
/// `OAuthResourceServer` installs the one the gateway's features chose.
pub fn crypto() {
    OAuthResourceServer::builder("http://127.0.0.1/mcp")
        .issuer("http://127.0.0.1")
        .build()
        .expect("the gateway's OAuth crypto backend");
}

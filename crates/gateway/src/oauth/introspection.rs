//! Opaque access tokens checked with the authorization server's introspection endpoint
//! (RFC 7662): the gateway authenticates as its own client (HTTP Basic) and posts the token;
//! an active token whose audience names the gateway is accepted.

use secrecy::ExposeSecret;
use serde_json::{Map, Value};
use url::Url;

use super::config::Introspection;
use super::error::{FetchError, TokenError};
use super::fetch::Fetcher;
use super::jwt::Claims;

/// The introspection client.
#[derive(Debug)]
pub(crate) struct Introspector {
    endpoint: Url,
    config: Introspection,
    fetcher: Fetcher,
}

impl Introspector {
    pub(crate) fn new(endpoint: Url, config: Introspection, fetcher: Fetcher) -> Self {
        Introspector {
            endpoint,
            config,
            fetcher,
        }
    }

    /// Asks the endpoint about `token`; its claims when it is active and for `audiences`, from
    /// one of `issuers` (when it names an issuer).
    pub(crate) async fn introspect(
        &self,
        token: &str,
        issuers: &[String],
        audiences: &[&str],
        leeway: u64,
    ) -> Result<Claims, TokenError> {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        // RFC 6749 §2.3.1: the client id and secret are form-encoded before Basic encoding.
        let id: String =
            url::form_urlencoded::byte_serialize(self.config.client_id.as_bytes()).collect();
        let secret: String = url::form_urlencoded::byte_serialize(
            self.config.client_secret.expose_secret().as_bytes(),
        )
        .collect();
        let reply: Map<String, Value> =
            self.fetcher
                .post_form(&self.endpoint, (&id, &secret), form)
                .await
                .map_err(|err| match err {
                    FetchError::Status { status: 401, .. }
                    | FetchError::Status { status: 403, .. } => TokenError::IssuerUnavailable(
                        format!("{err} (check the gateway's introspection client credentials)"),
                    ),
                    other => other.into(),
                })?;
        check(reply, issuers, audiences, leeway)
    }
}

/// The checks on an introspection reply.
fn check(
    reply: Map<String, Value>,
    issuers: &[String],
    audiences: &[&str],
    leeway: u64,
) -> Result<Claims, TokenError> {
    if reply.get("active") != Some(&Value::Bool(true)) {
        return Err(TokenError::Inactive);
    }
    if let Some(iss) = reply.get("iss") {
        match iss.as_str() {
            Some(iss) if issuers.iter().any(|i| i == iss) => {}
            _ => return Err(TokenError::WrongIssuer),
        }
    }
    let now = jsonwebtoken::get_current_timestamp() as f64;
    if let Some(exp) = reply.get("exp") {
        let exp = exp.as_f64().ok_or(TokenError::MissingClaim("exp"))?;
        if exp + (leeway as f64) < now {
            return Err(TokenError::Expired);
        }
    }
    if let Some(nbf) = reply.get("nbf") {
        let nbf = nbf.as_f64().ok_or(TokenError::MissingClaim("nbf"))?;
        if nbf > now + leeway as f64 {
            return Err(TokenError::NotYetValid);
        }
    }
    // The audience is required: a token issued for another resource must not open this one
    // (the MCP authorization specification's "MUST validate" the audience).
    let for_us = match reply.get("aud") {
        Some(Value::String(aud)) => audiences.contains(&aud.as_str()),
        Some(Value::Array(auds)) => auds
            .iter()
            .any(|aud| aud.as_str().is_some_and(|aud| audiences.contains(&aud))),
        _ => false,
    };
    if !for_us {
        return Err(TokenError::WrongAudience {
            resource: audiences.first().copied().unwrap_or_default().to_owned(),
        });
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn replies_are_checked() {
        let issuers = ["https://as.example.com".to_owned()];
        let aud = ["https://gw.example.com/mcp"];
        let now = jsonwebtoken::get_current_timestamp();
        let ok = json!({"active": true, "sub": "alice", "aud": aud[0], "exp": now + 60, "iss": issuers[0]});
        assert!(check(reply(ok.clone()), &issuers, &aud, 30).is_ok());
        assert_eq!(
            check(reply(json!({"active": false})), &issuers, &aud, 30),
            Err(TokenError::Inactive)
        );
        let mut other = ok.clone();
        other["aud"] = json!(["https://other.example.com"]);
        assert!(matches!(
            check(reply(other), &issuers, &aud, 30),
            Err(TokenError::WrongAudience { .. })
        ));
        let mut no_aud = ok.clone();
        no_aud.as_object_mut().unwrap().remove("aud");
        assert!(check(reply(no_aud), &issuers, &aud, 30).is_err());
        let mut expired = ok.clone();
        expired["exp"] = json!(now - 120);
        assert_eq!(
            check(reply(expired), &issuers, &aud, 30),
            Err(TokenError::Expired)
        );
        let mut foreign = ok;
        foreign["iss"] = json!("https://evil.example.com");
        assert_eq!(
            check(reply(foreign), &issuers, &aud, 30),
            Err(TokenError::WrongIssuer)
        );
    }
}

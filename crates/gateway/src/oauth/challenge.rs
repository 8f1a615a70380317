//! The gateway's answers to an agent without a usable credential when OAuth is on: `401` with
//! `WWW-Authenticate: Bearer resource_metadata="…"` (RFC 9728 §5.1, RFC 6750 §3), `403` with
//! `error="insufficient_scope"`, each with a JSON-RPC error body saying what to do; and the
//! `404` of the authorization-server paths clients probe on the gateway itself.

use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

use super::error::TokenError;
use super::server::OAuthResourceServer;
use crate::agent_auth::{REFUSED_CODE, json_rpc_error};

/// `401` for a request that carries no credential: the challenge names the metadata and the
/// required scopes, and no error (RFC 6750 §3.1).
pub(crate) fn missing(oauth: &OAuthResourceServer) -> Response {
    let message = format!(
        "Unauthorized: sign in to this gateway. It is an OAuth 2.1 protected resource: your MCP \
         client can sign in by itself, starting from this reply's WWW-Authenticate header \
         (resource metadata at {}; authorization server {}). Headless agents may send a gateway \
         key instead, as the HTTP header `Authorization: Bearer <gateway key>`; ask the \
         gateway's operator for one.",
        oauth.resource_metadata_url(),
        oauth.issuers().join(", "),
    );
    with_challenge(
        json_rpc_error(StatusCode::UNAUTHORIZED, REFUSED_CODE, &message),
        oauth,
        None,
    )
}

/// `401` (`invalid_token`) or `403` (`insufficient_scope`) for a refused token.
pub(crate) fn refused(oauth: &OAuthResourceServer, error: &TokenError) -> Response {
    if error.is_insufficient_scope() {
        let message = format!(
            "Forbidden: {error}. Sign in again and grant the scope(s) this gateway requires \
             ({}).",
            oauth.required_scopes().join(" ")
        );
        return with_challenge(
            json_rpc_error(StatusCode::FORBIDDEN, REFUSED_CODE, &message),
            oauth,
            Some(("insufficient_scope", &error.to_string())),
        );
    }
    let message = format!(
        "Unauthorized: {error}. Sign in again (your MCP client can do so from this reply's \
         WWW-Authenticate header), or send a valid gateway key as `Authorization: Bearer \
         <gateway key>`."
    );
    with_challenge(
        json_rpc_error(StatusCode::UNAUTHORIZED, REFUSED_CODE, &message),
        oauth,
        Some(("invalid_token", &error.to_string())),
    )
}

/// The `404` of `/.well-known/*` probes other than the protected resource metadata, and of
/// `/register`, `/authorize`, `/token`: the gateway is not the authorization server; the
/// body says where it is.
pub(crate) fn not_the_authorization_server(oauth: &OAuthResourceServer) -> Response {
    let message = format!(
        "Not Found: this gateway is an OAuth protected resource, not an authorization server. \
         Its protected resource metadata is at {}; register, authorize and get tokens at its \
         authorization server ({}), for the resource {}.",
        oauth.resource_metadata_url(),
        oauth.issuers().join(", "),
        oauth.resource(),
    );
    json_rpc_error(StatusCode::NOT_FOUND, REFUSED_CODE, &message)
}

fn with_challenge(
    mut response: Response,
    oauth: &OAuthResourceServer,
    error: Option<(&str, &str)>,
) -> Response {
    let value = challenge(oauth, error);
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// The `WWW-Authenticate` value.
pub(crate) fn challenge(oauth: &OAuthResourceServer, error: Option<(&str, &str)>) -> String {
    let mut value = format!(
        "Bearer resource_metadata=\"{}\"",
        quoted(oauth.resource_metadata_url().as_str())
    );
    if !oauth.required_scopes().is_empty() {
        value.push_str(&format!(
            ", scope=\"{}\"",
            quoted(&oauth.required_scopes().join(" "))
        ));
    }
    if let Some((code, description)) = error {
        value.push_str(&format!(
            ", error=\"{code}\", error_description=\"{}\"",
            quoted(description)
        ));
    }
    value
}

/// A value fit for a quoted string of `WWW-Authenticate` (RFC 6750 §3: visible ASCII and
/// spaces, no `"` or `\`).
fn quoted(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            c if c == ' ' || c.is_ascii_graphic() => c,
            _ => '?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let oauth = OAuthResourceServer::builder("https://gw.example.com/mcp")
            .issuer("https://as.example.com")
            .required_scopes(["mcp:tools", "mcp:read"])
            .build()
            .unwrap();
        assert_eq!(
            challenge(&oauth, None),
            "Bearer resource_metadata=\"https://gw.example.com/.well-known/oauth-protected-resource/mcp\", scope=\"mcp:tools mcp:read\""
        );
        let refused = challenge(&oauth, Some(("invalid_token", "it said \"no\"\n")));
        assert!(
            refused.ends_with(", error=\"invalid_token\", error_description=\"it said 'no'?\""),
            "{refused}"
        );
    }
}

//! How a credential is put on an HTTP request: a header name and a value prefix.

use std::borrow::Cow;
use std::fmt;

use http::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

/// An HTTP header name plus the prefix written before the token in its value.
///
/// PagerDuty's hosted MCP server expects `Authorization: Token <token>` ([`AuthScheme::token`], the
/// default of the [`PagerDuty`](crate::PagerDuty) preset). The prefix is data, not a constant: the
/// REST API's `Token token=` form, OAuth's `Bearer ` and any custom header are one constructor away.
///
/// ```
/// use pagerduty_mcp_connect::AuthScheme;
/// use secrecy::SecretString;
///
/// let scheme = AuthScheme::token();
/// assert_eq!(scheme.header_name().as_str(), "authorization");
/// let value = scheme.header_value(&SecretString::from("u+abc123"))?;
/// assert_eq!(value.to_str().unwrap(), "Token u+abc123");
/// assert!(value.is_sensitive());
/// // A token pasted with its prefix is not prefixed twice.
/// let value = scheme.header_value(&SecretString::from("Token u+abc123"))?;
/// assert_eq!(value.to_str().unwrap(), "Token u+abc123");
/// # Ok::<(), pagerduty_mcp_connect::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AuthScheme {
    header: HeaderName,
    prefix: Cow<'static, str>,
    /// `false` only for [`AuthScheme::none`].
    sends: bool,
}

impl AuthScheme {
    /// `Authorization: Token <token>`: what PagerDuty's hosted MCP server expects.
    pub fn token() -> Self {
        Self::fixed("Token ")
    }

    /// `Authorization: Token token=<token>`: the form of PagerDuty's REST API.
    pub fn token_equals() -> Self {
        Self::fixed("Token token=")
    }

    /// `Authorization: Bearer <token>`: OAuth access tokens.
    pub fn bearer() -> Self {
        Self::fixed("Bearer ")
    }

    /// No credential at all: for a server that needs none (see
    /// [`GenericServer::without_credential`](crate::GenericServer::without_credential)). No
    /// header is sent, whatever credential the connection was opened with.
    ///
    /// ```
    /// use pagerduty_mcp_connect::AuthScheme;
    ///
    /// let none = AuthScheme::none();
    /// assert!(!none.sends_credential());
    /// assert!(AuthScheme::token().sends_credential());
    /// assert_eq!(none.to_string(), "no credential");
    /// ```
    pub fn none() -> Self {
        AuthScheme {
            sends: false,
            ..Self::fixed("")
        }
    }

    fn fixed(prefix: &'static str) -> Self {
        AuthScheme {
            header: http::header::AUTHORIZATION,
            prefix: Cow::Borrowed(prefix),
            sends: true,
        }
    }

    /// Whether a credential header is sent at all (`false` only for [`AuthScheme::none`]).
    pub fn sends_credential(&self) -> bool {
        self.sends
    }

    /// Any header and prefix, for example `custom("X-Api-Key", "")`.
    ///
    /// The header name must be a legal HTTP header name; the prefix may hold only visible ASCII
    /// characters and spaces (no control characters).
    ///
    /// ```
    /// use pagerduty_mcp_connect::AuthScheme;
    ///
    /// let scheme = AuthScheme::custom("X-Api-Key", "")?;
    /// assert_eq!(scheme.header_name().as_str(), "x-api-key");
    /// assert!(AuthScheme::custom("Bad Header", "").is_err());
    /// assert!(AuthScheme::custom("Authorization", "Token\n").is_err());
    /// # Ok::<(), pagerduty_mcp_connect::Error>(())
    /// ```
    pub fn custom(header: &str, prefix: &str) -> Result<Self> {
        let header = HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
            Error::config(format!(
                "{header:?} is not a legal HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)"
            ))
        })?;
        if let Some(bad) = prefix
            .bytes()
            .position(|b| !(b == b' ' || b.is_ascii_graphic()))
        {
            return Err(Error::config(format!(
                "the auth prefix may hold only visible ASCII characters and spaces; byte {bad} is not one"
            )));
        }
        Ok(AuthScheme {
            header,
            prefix: Cow::Owned(prefix.to_owned()),
            sends: true,
        })
    }

    /// The header the credential is sent in (`authorization` for [`AuthScheme::none`], which
    /// sends none).
    pub fn header_name(&self) -> &HeaderName {
        &self.header
    }

    /// The text written before the token (for example `"Token "`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Builds the header value for `token`, marked sensitive so it is hidden from `Debug` output
    /// and from HTTP/2 header compression.
    ///
    /// Surrounding spaces are trimmed. A token that already starts with the prefix (compared
    /// without regard to case) is not prefixed again. The rest must be non-empty printable ASCII
    /// without spaces; anything else (CR, LF, NUL, other control or non-ASCII characters) is an
    /// [`Error::InvalidCredential`] whose message never repeats the token.
    ///
    /// For [`AuthScheme::none`] the token is ignored and the value is empty: it is never sent.
    pub fn header_value(&self, token: &SecretString) -> Result<HeaderValue> {
        if !self.sends {
            let mut value = HeaderValue::from_static("");
            value.set_sensitive(true);
            return Ok(value);
        }
        let raw = token.expose_secret().trim_matches(' ');
        let bare = strip_prefix_ignore_case(raw, &self.prefix).unwrap_or(raw);
        check_token(bare)?;
        let mut bytes = Vec::with_capacity(self.prefix.len() + bare.len());
        bytes.extend_from_slice(self.prefix.as_bytes());
        bytes.extend_from_slice(bare.as_bytes());
        let mut value = HeaderValue::from_maybe_shared(bytes::Bytes::from(bytes))
            .map_err(|_| invalid("the token cannot be sent in an HTTP header"))?;
        value.set_sensitive(true);
        Ok(value)
    }
}

fn strip_prefix_ignore_case<'a>(raw: &'a str, prefix: &str) -> Option<&'a str> {
    let trimmed_prefix = prefix.trim_end_matches(' ');
    if trimmed_prefix.is_empty() {
        return None;
    }
    let head = raw.get(..trimmed_prefix.len())?;
    if !head.eq_ignore_ascii_case(trimmed_prefix) {
        return None;
    }
    let rest = &raw[trimmed_prefix.len()..];
    if rest.is_empty() {
        // The prefix alone ("Token", its trailing space trimmed away): an empty token.
        return Some(rest);
    }
    // "Token abc" with prefix "Token ": the prefix's trailing space(s) must be there too, so that
    // a token which merely begins with the same letters ("Tokenizer…") is left alone.
    if prefix.len() > trimmed_prefix.len() {
        let stripped = rest.trim_start_matches(' ');
        (stripped.len() < rest.len()).then_some(stripped)
    } else {
        Some(rest)
    }
}

fn check_token(bare: &str) -> Result<()> {
    if bare.is_empty() {
        return Err(invalid("the token is empty"));
    }
    for (index, byte) in bare.bytes().enumerate() {
        let problem = match byte {
            b'\r' | b'\n' => "a line break (CR or LF)",
            0 => "a NUL character",
            b' ' | b'\t' => "whitespace",
            b if b.is_ascii_control() => "a control character",
            b if !b.is_ascii() => "a non-ASCII character",
            _ => continue,
        };
        return Err(invalid(format!(
            "the token contains {problem} at byte {index}; copy it again without extra characters"
        )));
    }
    Ok(())
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidCredential {
        reason: reason.into(),
    }
}

impl Default for AuthScheme {
    /// [`AuthScheme::token`].
    fn default() -> Self {
        Self::token()
    }
}

impl fmt::Debug for AuthScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthScheme")
            .field("header", &self.header.as_str())
            .field("prefix", &self.prefix)
            .field("sends_credential", &self.sends)
            .finish()
    }
}

impl fmt::Display for AuthScheme {
    /// `authorization: Token <token>`: the shape, never a token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.sends {
            return f.write_str("no credential");
        }
        write!(f, "{}: {}<token>", self.header, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(scheme: &AuthScheme, token: &str) -> Result<String> {
        scheme
            .header_value(&SecretString::from(token))
            .map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn presets_write_their_prefix() {
        assert_eq!(value(&AuthScheme::token(), "abc").unwrap(), "Token abc");
        assert_eq!(
            value(&AuthScheme::token_equals(), "abc").unwrap(),
            "Token token=abc"
        );
        assert_eq!(value(&AuthScheme::bearer(), "abc").unwrap(), "Bearer abc");
        let custom = AuthScheme::custom("X-Api-Key", "").unwrap();
        assert_eq!(value(&custom, "abc").unwrap(), "abc");
        assert_eq!(custom.header_name().as_str(), "x-api-key");
    }

    #[test]
    fn never_prefixes_twice() {
        assert_eq!(
            value(&AuthScheme::token(), "Token abc").unwrap(),
            "Token abc"
        );
        assert_eq!(
            value(&AuthScheme::token(), "token abc").unwrap(),
            "Token abc"
        );
        assert_eq!(
            value(&AuthScheme::bearer(), "Bearer abc").unwrap(),
            "Bearer abc"
        );
        assert_eq!(
            value(&AuthScheme::token_equals(), "Token token=abc").unwrap(),
            "Token token=abc"
        );
        // Only a real prefix is stripped.
        assert_eq!(
            value(&AuthScheme::token(), "Tokenizer").unwrap(),
            "Token Tokenizer"
        );
        // A prefix alone is still an empty token.
        assert!(value(&AuthScheme::token(), "Token ").is_err());
    }

    #[test]
    fn rejects_bad_tokens_without_echoing_them() {
        for bad in [
            "",
            "   ",
            "SECRET\r\nX-Evil: 1",
            "SECRET\n",
            "SEC\0RET",
            "SEC\tRET",
            "SECRÉT",
            "SEC RET",
            "SEC\x7fRET",
        ] {
            let err = value(&AuthScheme::token(), bad).unwrap_err();
            assert!(matches!(err, Error::InvalidCredential { .. }), "{bad:?}");
            let text = format!("{err} {err:?}");
            assert!(!text.contains("SEC"), "{text}");
        }
    }

    #[test]
    fn values_are_sensitive() {
        let v = AuthScheme::token()
            .header_value(&SecretString::from("SECRET"))
            .unwrap();
        assert!(v.is_sensitive());
        assert!(!format!("{v:?}").contains("SECRET"));
    }

    #[test]
    fn custom_is_validated() {
        assert!(AuthScheme::custom("", "").is_err());
        assert!(AuthScheme::custom("X Key", "").is_err());
        assert!(AuthScheme::custom("X-Key\r\n", "").is_err());
        assert!(AuthScheme::custom("Authorization", "Token\r").is_err());
        assert!(AuthScheme::custom("Authorization", "Tökén ").is_err());
        assert!(AuthScheme::custom("Authorization", "Token ").is_ok());
    }
}

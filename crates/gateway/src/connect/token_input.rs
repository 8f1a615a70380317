//! The first check of a pasted User API Token, before anything is sent anywhere.

use secrecy::SecretString;

/// The longest token accepted, in bytes (PagerDuty's are 20 characters; a header cannot carry
/// much more anyway).
pub const MAX_TOKEN_LENGTH: usize = 4096;

/// Why a pasted token was refused before it was checked with PagerDuty. No variant holds or
/// prints the token.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PastedTokenError {
    /// Nothing was pasted (or only spaces).
    #[error("no token was pasted")]
    Empty,
    /// The token holds a line break (CR or LF): no real token does, and an HTTP header could
    /// not carry it.
    #[error("the token holds a line break; paste the token alone, on one line")]
    LineBreak,
    /// The token is longer than [`MAX_TOKEN_LENGTH`] bytes.
    #[error("the token is too long (more than {max} bytes); paste the token alone")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// The token holds control or non-ASCII characters.
    #[error(
        "the token holds characters a PagerDuty token never has (control or non-ASCII characters)"
    )]
    InvalidCharacters,
}

/// Checks a pasted token and keeps it secret from here on: spaces and tabs around it are
/// removed; it must not be empty, hold a line break (CR, LF), a control or non-ASCII
/// character, or be longer than [`MAX_TOKEN_LENGTH`] bytes.
///
/// ```
/// use pagerduty_mcp_connect_gateway::{check_pasted_token, PastedTokenError};
///
/// assert!(check_pasted_token("  u+AbCdEf0123456789xy ").is_ok());
/// assert_eq!(check_pasted_token("u+abc\r\nX-Evil: 1").unwrap_err(), PastedTokenError::LineBreak);
/// assert_eq!(check_pasted_token(" ").unwrap_err(), PastedTokenError::Empty);
/// assert!(matches!(check_pasted_token(&"a".repeat(10_000)), Err(PastedTokenError::TooLong { .. })));
/// ```
///
/// # Errors
///
/// [`PastedTokenError`] saying what is wrong, never quoting the token.
pub fn check_pasted_token(pasted: &str) -> Result<SecretString, PastedTokenError> {
    if pasted.len() > MAX_TOKEN_LENGTH + 64 {
        return Err(PastedTokenError::TooLong {
            max: MAX_TOKEN_LENGTH,
        });
    }
    if pasted.contains(['\r', '\n']) {
        return Err(PastedTokenError::LineBreak);
    }
    let token = pasted.trim_matches([' ', '\t']);
    if token.is_empty() {
        return Err(PastedTokenError::Empty);
    }
    if token.len() > MAX_TOKEN_LENGTH {
        return Err(PastedTokenError::TooLong {
            max: MAX_TOKEN_LENGTH,
        });
    }
    if !token.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(PastedTokenError::InvalidCharacters);
    }
    Ok(SecretString::from(token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn pasted_tokens_are_checked() {
        assert_eq!(
            check_pasted_token("\tu+abc ").unwrap().expose_secret(),
            "u+abc"
        );
        assert_eq!(
            check_pasted_token("u+abc\n").unwrap_err(),
            PastedTokenError::LineBreak
        );
        assert_eq!(
            check_pasted_token("u+ab\u{0}c").unwrap_err(),
            PastedTokenError::InvalidCharacters
        );
        assert_eq!(
            check_pasted_token("u+abcé").unwrap_err(),
            PastedTokenError::InvalidCharacters
        );
        assert!(check_pasted_token(&"a".repeat(MAX_TOKEN_LENGTH)).is_ok());
        assert_eq!(
            check_pasted_token(&"a".repeat(MAX_TOKEN_LENGTH + 1)).unwrap_err(),
            PastedTokenError::TooLong {
                max: MAX_TOKEN_LENGTH
            }
        );
        let err = check_pasted_token("u+secret\r\n").unwrap_err();
        assert!(!format!("{err} {err:?}").contains("secret"));
    }
}

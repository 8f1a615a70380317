//! Random identifiers (elicitation ids, session ids, CSRF tokens, OAuth `state` and PKCE
//! verifiers) from the operating system's random source, and their comparison.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Random bytes in every identifier: 256 bits.
const ID_BYTES: usize = 32;

/// The length of an identifier made by [`random_id`]: 32 bytes in unpadded base64url.
pub(crate) const ID_LENGTH: usize = 43;

/// A fresh random identifier: 256 bits from the operating system's random source, as 43
/// characters of unpadded base64url (safe in a URL path, a cookie and a form field).
///
/// # Errors
///
/// The random source failed (it never does on a working system).
pub(crate) fn random_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; ID_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `text` has the shape of an identifier made by [`random_id`] (checked before any
/// lookup, so that odd input never reaches a map or a page).
pub(crate) fn is_id(text: &str) -> bool {
    text.len() == ID_LENGTH
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The SHA-256 digest of an identifier: maps are keyed by it, so that a lookup's timing says
/// nothing about the identifier itself and a memory dump holds no usable session id.
pub(crate) fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Compares two secrets in time independent of where they differ (digests first, so their
/// lengths do not matter either).
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (digest(a), digest(b));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_well_formed() {
        let a = random_id().unwrap();
        let b = random_id().unwrap();
        assert_ne!(a, b);
        assert!(is_id(&a) && is_id(&b));
        assert!(!is_id("short"));
        assert!(!is_id(&format!("{}!", &a[..ID_LENGTH - 1])));
        assert!(same_secret(&a, &a.clone()));
        assert!(!same_secret(&a, &b));
    }
}

//! Gateway keys: the secret each agent sends as `Authorization: Bearer <key>`, and the user it
//! stands for.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use pagerduty_mcp_connect::UserId;

/// The shortest gateway key accepted: a key is a password an agent presents, so it must not be
/// guessable.
pub const MIN_KEY_LENGTH: usize = 16;

/// The gateway keys and the user each one authenticates.
///
/// Keys are kept only as SHA-256 digests, so neither `Debug` nor a memory dump of the map shows
/// them, and a lookup compares digests, not the key itself. Clones share the same map: a key
/// added or removed through one clone is seen by a running gateway at once.
///
/// **Timing.** A lookup hashes the presented key and looks the digest up in a hash map; no
/// comparison ever touches the key's own bytes. What a lookup's timing could reveal is at most
/// how many leading bytes of the presented key's digest match a stored digest, which brings an
/// attacker no closer to a key (finding a key for a known digest is a SHA-256 preimage), so
/// byte-by-byte guessing of a key through response times is not possible. Keys are never
/// logged: the gateway logs the user a key stands for, never the key.
///
/// With [OAuth](crate::GatewayBuilder::oauth) on, a bearer that is not a known key is checked
/// as an OAuth access token.
///
/// ```
/// use pagerduty_mcp_connect_gateway::GatewayKeys;
///
/// let keys = GatewayKeys::new();
/// keys.insert("gk_alice_0123456789abcdef", "alice@example.com").unwrap();
/// assert_eq!(keys.user_for("gk_alice_0123456789abcdef").unwrap().as_str(), "alice@example.com");
/// assert!(keys.user_for("gk_wrong").is_none());
/// assert!(!format!("{keys:?}").contains("gk_alice"));
/// ```
#[derive(Clone, Default)]
pub struct GatewayKeys {
    by_digest: Arc<RwLock<HashMap<[u8; 32], UserId>>>,
}

/// Why a gateway key was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key is shorter than [`MIN_KEY_LENGTH`] characters.
    #[error("the gateway key is too short: use at least {MIN_KEY_LENGTH} random characters")]
    TooShort,
    /// The key holds characters an HTTP header cannot carry, or spaces.
    #[error(
        "the gateway key may hold only visible ASCII characters (no spaces or control characters)"
    )]
    InvalidCharacters,
    /// Another user already has this key.
    #[error("this gateway key is already given to user {0}")]
    Duplicate(UserId),
    /// A key's SHA-256 digest is not 64 hexadecimal digits.
    #[error("a key's SHA-256 digest is 64 hexadecimal digits (printf %s \"$KEY\" | sha256sum)")]
    InvalidDigest,
}

impl GatewayKeys {
    /// No keys: every agent is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives `key` to `user` (a user may have several keys, one per agent for example).
    pub fn insert(
        &self,
        key: impl Into<SecretString>,
        user: impl Into<UserId>,
    ) -> Result<(), KeyError> {
        let key = key.into();
        check_key(key.expose_secret())?;
        self.insert_digest(digest(key.expose_secret()), user.into())
    }

    /// Gives the key whose SHA-256 digest is `sha256_hex` (64 hexadecimal digits, as
    /// `printf %s "$KEY" | sha256sum` prints them) to `user`: the configuration then never holds
    /// the key itself. The key's own shape cannot be checked from its digest: make it at least
    /// [`MIN_KEY_LENGTH`] random characters.
    ///
    /// ```
    /// use pagerduty_mcp_connect_gateway::GatewayKeys;
    ///
    /// let keys = GatewayKeys::new();
    /// // printf %s gk_alice_0123456789abcdef | sha256sum
    /// keys.insert_sha256(
    ///     "6f36120cb6d18dcf01cf8ad56d68d0cad9b05da0230b4dc2075ea054178ef395",
    ///     "alice@example.com",
    /// )
    /// .unwrap();
    /// assert_eq!(keys.user_for("gk_alice_0123456789abcdef").unwrap().as_str(), "alice@example.com");
    /// assert!(keys.insert_sha256("not hex", "bob@example.com").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidDigest`], or [`KeyError::Duplicate`] when another user has that key.
    pub fn insert_sha256(&self, sha256_hex: &str, user: impl Into<UserId>) -> Result<(), KeyError> {
        let digest = parse_digest(sha256_hex.trim()).ok_or(KeyError::InvalidDigest)?;
        self.insert_digest(digest, user.into())
    }

    /// Gives the key of `digest` to `user`, unless another user has it.
    fn insert_digest(&self, digest: [u8; 32], user: UserId) -> Result<(), KeyError> {
        let mut map = self.write();
        match map.get(&digest) {
            Some(owner) if owner != &user => Err(KeyError::Duplicate(owner.clone())),
            _ => {
                map.insert(digest, user);
                Ok(())
            }
        }
    }

    /// Takes `key` away; returns whether it was known.
    pub fn remove(&self, key: &str) -> bool {
        self.write().remove(&digest(key)).is_some()
    }

    /// The user `key` authenticates, if any.
    pub fn user_for(&self, key: &str) -> Option<UserId> {
        self.by_digest
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&digest(key))
            .cloned()
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.by_digest
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<[u8; 32], UserId>> {
        self.by_digest.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl fmt::Debug for GatewayKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayKeys")
            .field("keys", &self.len())
            .finish()
    }
}

/// Checks a key's shape, as [`GatewayKeys::insert`] does: visible ASCII only, at least
/// [`MIN_KEY_LENGTH`] characters.
///
/// ```
/// use pagerduty_mcp_connect_gateway::{check_key, KeyError};
///
/// assert_eq!(check_key("short"), Err(KeyError::TooShort));
/// assert!(check_key("gk_alice_7f3c9a1e5b2d4c6a8e0f").is_ok());
/// ```
///
/// # Errors
///
/// [`KeyError::InvalidCharacters`] or [`KeyError::TooShort`].
pub fn check_key(key: &str) -> Result<(), KeyError> {
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(KeyError::InvalidCharacters);
    }
    if key.len() < MIN_KEY_LENGTH {
        return Err(KeyError::TooShort);
    }
    Ok(())
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// 64 hexadecimal digits (either case) as 32 bytes.
fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let nibble = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_given_by_its_digest_authenticates_and_is_unique() {
        let keys = GatewayKeys::new();
        let key = "gk_carol_0123456789abcdef";
        let hex: String = digest(key).iter().map(|b| format!("{b:02x}")).collect();
        keys.insert_sha256(&hex.to_uppercase(), "carol").unwrap();
        assert_eq!(keys.user_for(key), Some(UserId::from("carol")));
        assert_eq!(
            keys.insert_sha256(&hex, "dave"),
            Err(KeyError::Duplicate(UserId::from("carol")))
        );
        assert_eq!(
            keys.insert(key, "dave"),
            Err(KeyError::Duplicate(UserId::from("carol")))
        );
        for bad in [
            "",
            "abc",
            &hex[..63],
            &format!("{}g", &hex[..63]),
            &format!("{hex}0"),
        ] {
            assert_eq!(
                keys.insert_sha256(bad, "x"),
                Err(KeyError::InvalidDigest),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn keys_are_checked_and_unique() {
        let keys = GatewayKeys::new();
        assert_eq!(keys.insert("short", "a"), Err(KeyError::TooShort));
        assert_eq!(
            keys.insert("has space 0123456789", "a"),
            Err(KeyError::InvalidCharacters)
        );
        keys.insert("0123456789abcdefA", "a").unwrap();
        keys.insert("0123456789abcdefA", "a").unwrap();
        assert_eq!(
            keys.insert("0123456789abcdefA", "b"),
            Err(KeyError::Duplicate("a".into()))
        );
        assert_eq!(keys.len(), 1);
        assert!(keys.remove("0123456789abcdefA"));
        assert!(keys.user_for("0123456789abcdefA").is_none());
    }
}

//! [`RequestStateKey`]: the 2026-07-28 `requestState` of a connect elicitation, sealed with
//! XChaCha20-Poly1305, so that the gateway trusts only states it made itself, for the user it
//! made them for, before they expire.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};

use pagerduty_mcp_connect::UserId;

use super::error::ConnectConfigError;
use super::registry::PendingConnection;

/// How the connect flow's `requestState`s begin (the gateway's parked calls use `gw1.`).
pub const REQUEST_STATE_PREFIX: &str = "gwc1.";

/// The associated data of every sealed state: a state sealed for anything else never opens here.
const AAD: &[u8] = b"pagerduty-mcp-connect-gateway connect requestState v1";

/// The longest state accepted (a real one is about 150 characters).
const MAX_STATE_LENGTH: usize = 1024;

/// What a sealed state holds.
#[derive(Serialize, Deserialize)]
struct Sealed {
    /// The elicitation id.
    e: String,
    /// The user.
    u: String,
    /// Expiry, seconds since the Unix epoch.
    x: u64,
}

/// Why a `requestState` was not accepted.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestStateError {
    /// Not a connect state of this gateway (another prefix, bad encoding, too long).
    #[error("the requestState is not one of this gateway's connect states")]
    Malformed,
    /// It does not open with the gateway's key: forged, altered, or from another gateway.
    #[error("the requestState was not made by this gateway or was altered")]
    Forged,
    /// It was made for another user.
    #[error("the requestState belongs to another user")]
    OtherUser,
    /// It has expired: send the request again without it.
    #[error("the requestState has expired: send the request again without it")]
    Expired,
    /// The operating system's random source failed.
    #[error("the operating system's random source failed")]
    Random,
}

/// What an accepted connect `requestState` says.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectRequestState {
    /// The elicitation the state was made for (look it up with
    /// [`ConnectRegistry::status`](super::ConnectRegistry::status)).
    pub elicitation_id: String,
    /// When the state stops being accepted.
    pub expires_at: SystemTime,
}

/// The key that seals and opens the connect flow's 2026-07-28 `requestState`s
/// (XChaCha20-Poly1305: a fresh random 192-bit nonce per state; the state names the
/// elicitation, the user and an expiry, all authenticated).
///
/// A 2026-07-28 agent sends the `requestState` back unchanged with its retried request; the
/// gateway [opens](RequestStateKey::open) it for the user who sent the retry, which fails
/// for a state that was altered, made by another key, made for another user, or expired.
/// Replicas behind one load balancer share a key ([`RequestStateKey::from_bytes`]);
/// [`RequestStateKey::generate`] makes one for a single process.
///
/// ```
/// use pagerduty_mcp_connect::UserId;
/// use pagerduty_mcp_connect_gateway::{ConnectRegistry, RequestStateError, RequestStateKey};
///
/// let key = RequestStateKey::generate()?;
/// let registry = ConnectRegistry::new("https://gw.example.com")?;
/// let alice = UserId::from("alice@example.com");
/// let pending = registry.start(&alice)?;
/// let state = key.seal(&pending)?;
/// assert_eq!(key.open(&state, &alice)?.elicitation_id, pending.elicitation_id);
/// assert_eq!(key.open(&state, &UserId::from("bob")), Err(RequestStateError::OtherUser));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RequestStateKey {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for RequestStateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequestStateKey(** redacted **)")
    }
}

impl RequestStateKey {
    /// A fresh random key (for one process: states made by it open nowhere else).
    ///
    /// # Errors
    ///
    /// [`ConnectConfigError::Random`] when the operating system's random source failed.
    pub fn generate() -> Result<Self, ConnectConfigError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|err| ConnectConfigError::Random(err.to_string()))?;
        Self::from_bytes(&bytes)
    }

    /// The key of these 32 bytes (share them between replicas, like any secret).
    ///
    /// # Errors
    ///
    /// [`ConnectConfigError::StateKeyLength`] unless `bytes` has 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ConnectConfigError> {
        let cipher = XChaCha20Poly1305::new_from_slice(bytes)
            .map_err(|_| ConnectConfigError::StateKeyLength)?;
        Ok(RequestStateKey { cipher })
    }

    /// Seals a `requestState` for `pending`: its elicitation id, its user, and its expiry.
    ///
    /// # Errors
    ///
    /// [`RequestStateError::Random`] when the operating system's random source failed.
    pub fn seal(&self, pending: &PendingConnection) -> Result<String, RequestStateError> {
        let expiry = pending
            .expires_at()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let plain = serde_json::to_vec(&Sealed {
            e: pending.elicitation_id.clone(),
            u: pending.user().as_str().to_owned(),
            x: expiry,
        })
        .map_err(|_| RequestStateError::Malformed)?;
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|_| RequestStateError::Random)?;
        let ciphertext = self
            .cipher
            .encrypt(
                &XNonce::try_from(&nonce[..]).map_err(|_| RequestStateError::Random)?,
                Payload {
                    msg: &plain,
                    aad: AAD,
                },
            )
            .map_err(|_| RequestStateError::Random)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(format!(
            "{REQUEST_STATE_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(sealed)
        ))
    }

    /// Whether `state` looks like a connect `requestState` (its prefix): only those are
    /// [opened](RequestStateKey::open) here; any other belongs to someone else (the gateway's
    /// parked calls, or the upstream).
    pub fn is_connect_state(state: &str) -> bool {
        state.starts_with(REQUEST_STATE_PREFIX)
    }

    /// Opens a `requestState` that `user` sent back.
    ///
    /// # Errors
    ///
    /// [`RequestStateError`]: malformed, forged or altered, another user's, or expired.
    pub fn open(
        &self,
        state: &str,
        user: &UserId,
    ) -> Result<ConnectRequestState, RequestStateError> {
        let body = state
            .strip_prefix(REQUEST_STATE_PREFIX)
            .filter(|body| body.len() <= MAX_STATE_LENGTH)
            .ok_or(RequestStateError::Malformed)?;
        let sealed = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| RequestStateError::Malformed)?;
        if sealed.len() < 24 + 16 {
            return Err(RequestStateError::Malformed);
        }
        let (nonce, ciphertext) = sealed.split_at(24);
        let nonce = XNonce::try_from(nonce).map_err(|_| RequestStateError::Malformed)?;
        let plain = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: AAD,
                },
            )
            .map_err(|_| RequestStateError::Forged)?;
        let opened: Sealed =
            serde_json::from_slice(&plain).map_err(|_| RequestStateError::Forged)?;
        if opened.u != user.as_str() {
            return Err(RequestStateError::OtherUser);
        }
        let expires_at = UNIX_EPOCH + Duration::from_secs(opened.x);
        if SystemTime::now() >= expires_at {
            return Err(RequestStateError::Expired);
        }
        Ok(ConnectRequestState {
            elicitation_id: opened.e,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::ConnectRegistry;

    #[test]
    fn states_open_only_untouched_for_their_user_with_their_key() {
        let key = RequestStateKey::generate().unwrap();
        let registry = ConnectRegistry::new("https://gw.example.com").unwrap();
        let alice = UserId::from("alice");
        let pending = registry.start(&alice).unwrap();
        let state = key.seal(&pending).unwrap();
        assert!(RequestStateKey::is_connect_state(&state));
        assert!(
            !state.contains(&pending.elicitation_id),
            "sealed, not readable"
        );
        assert_eq!(
            key.open(&state, &alice).unwrap().elicitation_id,
            pending.elicitation_id
        );
        // Flip one character of the sealed part.
        let mut altered = state.clone().into_bytes();
        let at = altered.len() - 5;
        altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert_eq!(key.open(&altered, &alice), Err(RequestStateError::Forged));
        let other = RequestStateKey::generate().unwrap();
        assert_eq!(other.open(&state, &alice), Err(RequestStateError::Forged));
        assert_eq!(
            key.open("gw1.abc", &alice),
            Err(RequestStateError::Malformed)
        );
        assert_eq!(
            key.open(
                &format!("{REQUEST_STATE_PREFIX}{}", "A".repeat(5000)),
                &alice
            ),
            Err(RequestStateError::Malformed)
        );
        assert!(!format!("{key:?}").contains(&state));
    }
}

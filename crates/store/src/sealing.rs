//! Sealing tokens at rest: XChaCha20-Poly1305 with a fresh random 192-bit nonce per seal and
//! associated data that binds each ciphertext to its server and user.

use std::fmt;

use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretString};

use crate::error::StoreError;
use pagerduty_mcp_connect::UserId;

/// The length of a sealing key in bytes (XChaCha20-Poly1305 takes 256-bit keys).
pub(crate) const KEY_LEN: usize = 32;

/// Versioned domain separation for the associated data and the key check value.
const AAD_DOMAIN: &[u8] = b"pagerduty-mcp-connect/sql-store/v1";
const KEY_ID_DOMAIN: &[u8] = b"pagerduty-mcp-connect/sql-store/key-id/v1";

/// One loaded key and its id.
#[derive(Clone)]
pub(crate) struct StoreKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl StoreKey {
    pub(crate) fn from_bytes(bytes: &[u8], what: &str) -> Result<Self, StoreError> {
        if bytes.len() != KEY_LEN {
            return Err(StoreError::key(format!(
                "{what} is {} bytes long; a key is exactly {KEY_LEN} bytes (KeySource::generate makes one)",
                bytes.len()
            )));
        }
        let cipher = XChaCha20Poly1305::new_from_slice(bytes)
            .map_err(|_| StoreError::key(format!("{what} is not a usable key")))?;
        // The key id is a check value: the tag of an empty message under a fixed nonce. It
        // identifies the key without revealing anything about it.
        let tag = cipher
            .encrypt(
                &XNonce::default(),
                Payload {
                    msg: b"",
                    aad: KEY_ID_DOMAIN,
                },
            )
            .map_err(|_| StoreError::key(format!("{what} is not a usable key")))?;
        let id = tag[..8].iter().map(|b| format!("{b:02x}")).collect();
        Ok(StoreKey { id, cipher })
    }
}

/// A token as stored: the id of the key, the nonce and the ciphertext (with its tag).
pub(crate) struct Sealed {
    pub(crate) key_id: String,
    pub(crate) nonce: Vec<u8>,
    pub(crate) ciphertext: Vec<u8>,
}

/// The store's keys: the primary one seals, every one opens.
#[derive(Clone, Debug)]
pub(crate) struct KeyRing {
    primary: StoreKey,
    previous: Vec<StoreKey>,
}

impl KeyRing {
    pub(crate) fn new(primary: StoreKey, previous: Vec<StoreKey>) -> Self {
        let previous = previous
            .into_iter()
            .filter(|k| k.id != primary.id)
            .collect();
        KeyRing { primary, previous }
    }

    pub(crate) fn primary_id(&self) -> &str {
        &self.primary.id
    }

    pub(crate) fn ids(&self) -> Vec<String> {
        std::iter::once(&self.primary)
            .chain(&self.previous)
            .map(|k| k.id.clone())
            .collect()
    }

    pub(crate) fn knows(&self, key_id: &str) -> bool {
        self.find(key_id).is_some()
    }

    fn find(&self, key_id: &str) -> Option<&StoreKey> {
        std::iter::once(&self.primary)
            .chain(&self.previous)
            .find(|k| k.id == key_id)
    }

    /// Seals `token` for `user` of `server` under the primary key, with a fresh random nonce.
    pub(crate) fn seal(
        &self,
        server: &str,
        user: &UserId,
        token: &SecretString,
    ) -> Result<Sealed, StoreError> {
        let nonce = XNonce::try_generate().map_err(|err| StoreError::Key {
            message: format!("the operating system's random source failed: {err}"),
            source: None,
        })?;
        let aad = associated_data(server, user);
        let ciphertext = self
            .primary
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: token.expose_secret().as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::key("sealing the token failed"))?;
        Ok(Sealed {
            key_id: self.primary.id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Opens a stored token of `user` of `server`.
    pub(crate) fn open(
        &self,
        server: &str,
        user: &UserId,
        sealed: &Sealed,
    ) -> Result<SecretString, StoreError> {
        let unsealable = || StoreError::Unsealable {
            user: user.clone(),
            key_id: sealed.key_id.clone(),
        };
        let key = self
            .find(&sealed.key_id)
            .ok_or_else(|| StoreError::WrongKey {
                found: vec![sealed.key_id.clone()],
                configured: self.ids(),
            })?;
        let nonce = XNonce::try_from(sealed.nonce.as_slice()).map_err(|_| unsealable())?;
        let aad = associated_data(server, user);
        let mut plain = key
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| unsealable())?;
        let token = match std::str::from_utf8(&plain) {
            Ok(text) => SecretString::from(text),
            Err(_) => {
                secrecy::zeroize::Zeroize::zeroize(&mut plain);
                return Err(unsealable());
            }
        };
        secrecy::zeroize::Zeroize::zeroize(&mut plain);
        Ok(token)
    }
}

/// `domain ‖ len(server) ‖ server ‖ len(user) ‖ user`: lengths make the encoding unambiguous.
fn associated_data(server: &str, user: &UserId) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_DOMAIN.len() + 8 + server.len() + user.as_str().len());
    aad.extend_from_slice(AAD_DOMAIN);
    for part in [server.as_bytes(), user.as_str().as_bytes()] {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part);
    }
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(byte: u8) -> KeyRing {
        KeyRing::new(StoreKey::from_bytes(&[byte; 32], "test").unwrap(), vec![])
    }

    #[test]
    fn a_sealed_token_opens_only_for_its_server_and_user() {
        let ring = ring(1);
        let alice = UserId::from("alice");
        let token = SecretString::from("u+alice-token");
        let sealed = ring.seal("pagerduty", &alice, &token).unwrap();
        assert!(
            !sealed
                .ciphertext
                .windows(b"alice-token".len())
                .any(|w| w == b"alice-token")
        );
        assert_eq!(
            ring.open("pagerduty", &alice, &sealed)
                .unwrap()
                .expose_secret(),
            "u+alice-token"
        );
        assert!(matches!(
            ring.open("pagerduty", &UserId::from("bob"), &sealed),
            Err(StoreError::Unsealable { .. })
        ));
        assert!(matches!(
            ring.open("other", &alice, &sealed),
            Err(StoreError::Unsealable { .. })
        ));
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let ring = ring(2);
        let alice = UserId::from("alice");
        let token = SecretString::from("u+alice-token");
        let a = ring.seal("s", &alice, &token).unwrap();
        let b = ring.seal("s", &alice, &token).unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        assert_eq!(a.nonce.len(), 24);
    }

    #[test]
    fn a_wrong_key_is_a_typed_error_and_ids_differ() {
        let (one, two) = (ring(3), ring(4));
        assert_ne!(one.primary_id(), two.primary_id());
        assert_eq!(one.primary_id().len(), 16);
        let alice = UserId::from("alice");
        let sealed = one.seal("s", &alice, &SecretString::from("u+tok")).unwrap();
        assert!(matches!(
            two.open("s", &alice, &sealed),
            Err(StoreError::WrongKey { .. })
        ));
        // Same key id recorded but another key: the tag does not verify.
        let forged = Sealed {
            key_id: two.primary_id().to_owned(),
            nonce: sealed.nonce.clone(),
            ciphertext: sealed.ciphertext.clone(),
        };
        assert!(matches!(
            two.open("s", &alice, &forged),
            Err(StoreError::Unsealable { .. })
        ));
        assert!(StoreKey::from_bytes(&[0; 31], "short").is_err());
    }
}

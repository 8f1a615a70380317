//! Sealing tokens at rest: XChaCha20-Poly1305 with a fresh random 192-bit nonce per seal and
//! associated data that binds each ciphertext to its row.
//!
//! Seal version 2 (this release) binds the server, the user, the entry's creation time, its
//! revision, its route and its revocation state ([`Binding`]): a sealed token put back under
//! another revision, a route or a revocation changed by hand, or a row moved to another user or
//! server, no longer opens. Seal version 1 (earlier releases) bound the server and the user only;
//! such rows still open while the store accepts them (see [`KeyRing::open`]) and are resealed
//! under version 2 when first read and by a rekey.

use std::fmt;

use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretString};

use crate::error::StoreError;
use pagerduty_mcp_connect::UserId;

/// The length of a sealing key in bytes (XChaCha20-Poly1305 takes 256-bit keys).
pub(crate) const KEY_LEN: usize = 32;

/// Versioned domain separation for the associated data and the key check value.
const AAD_DOMAIN_V1: &[u8] = b"pagerduty-mcp-connect/sql-store/v1";
const AAD_DOMAIN_V2: &[u8] = b"pagerduty-mcp-connect/sql-store/v2";
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

/// The seal version of rows written by releases before the associated data bound the row's state.
pub(crate) const SEAL_V1: i64 = 1;
/// The seal version this release writes.
pub(crate) const SEAL_V2: i64 = 2;

/// A token as stored: the id of the key, the nonce, the ciphertext (with its tag) and the seal
/// version its row records.
pub(crate) struct Sealed {
    pub(crate) key_id: String,
    pub(crate) nonce: Vec<u8>,
    pub(crate) ciphertext: Vec<u8>,
    pub(crate) version: i64,
}

/// What a sealed token is bound to besides its server and user: the state of its row that
/// decides whether and where the token is handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Binding<'a> {
    /// When the entry was created (Unix ms): tells a new entry from an earlier one of the user.
    pub(crate) created_at: i64,
    /// The row's revision.
    pub(crate) revision: i64,
    /// The route, if any.
    pub(crate) route: Option<&'a str>,
    /// Who revoked the token (`"admin"`, `"server"`), if it is revoked.
    pub(crate) revoked: Option<&'a str>,
}

/// A token opened, and the seal version it opened under.
pub(crate) struct Opened {
    pub(crate) token: SecretString,
    pub(crate) version: i64,
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

    /// Seals `token` for `user` of `server`, bound to the row state `binding`, under the
    /// primary key, with a fresh random nonce (seal version 2).
    pub(crate) fn seal(
        &self,
        server: &str,
        user: &UserId,
        token: &SecretString,
        binding: &Binding<'_>,
    ) -> Result<Sealed, StoreError> {
        let nonce = XNonce::try_generate().map_err(|err| StoreError::Key {
            message: format!("the operating system's random source failed: {err}"),
            source: None,
        })?;
        let aad = associated_data_v2(server, user, binding);
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
            version: SEAL_V2,
        })
    }

    /// Opens a stored token of `user` of `server` whose row is in the state `binding`.
    ///
    /// The token opens under seal version 2 when the row's state is the one it was sealed
    /// with. With `accept_v1` it also opens under version 1 (server and user only), whatever
    /// the row's `seal_version` column says: the column is not authenticated, so it is only a
    /// hint of which rows to reseal.
    pub(crate) fn open(
        &self,
        server: &str,
        user: &UserId,
        sealed: &Sealed,
        binding: &Binding<'_>,
        accept_v1: bool,
    ) -> Result<Opened, StoreError> {
        let unsealable = || StoreError::Unsealable {
            user: user.clone(),
            key_id: sealed.key_id.clone(),
        };
        let key = self
            .find(&sealed.key_id)
            .ok_or_else(|| StoreError::UnknownKey {
                user: user.clone(),
                key_id: sealed.key_id.clone(),
                configured: self.ids(),
            })?;
        let nonce = XNonce::try_from(sealed.nonce.as_slice()).map_err(|_| unsealable())?;
        let mut candidates = vec![(SEAL_V2, associated_data_v2(server, user, binding))];
        if accept_v1 {
            candidates.push((SEAL_V1, associated_data_v1(server, user)));
        }
        for (version, aad) in candidates {
            let Ok(mut plain) = key.cipher.decrypt(
                &nonce,
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            ) else {
                continue;
            };
            let token = match std::str::from_utf8(&plain) {
                Ok(text) => SecretString::from(text),
                Err(_) => {
                    secrecy::zeroize::Zeroize::zeroize(&mut plain);
                    return Err(unsealable());
                }
            };
            secrecy::zeroize::Zeroize::zeroize(&mut plain);
            return Ok(Opened { token, version });
        }
        Err(unsealable())
    }
}

/// Appends `len(part) ‖ part` (a 32-bit big-endian length): lengths make the encoding
/// unambiguous.
fn push_part(aad: &mut Vec<u8>, part: &[u8]) {
    aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
    aad.extend_from_slice(part);
}

/// Version 1: `domain ‖ len(server) ‖ server ‖ len(user) ‖ user`.
fn associated_data_v1(server: &str, user: &UserId) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_DOMAIN_V1.len() + 8 + server.len() + user.as_str().len());
    aad.extend_from_slice(AAD_DOMAIN_V1);
    push_part(&mut aad, server.as_bytes());
    push_part(&mut aad, user.as_str().as_bytes());
    aad
}

/// Version 2: the domain, then server, user, creation time, revision, route and revocation, each
/// length-prefixed (an absent route or revocation is a zero-length part marked absent).
fn associated_data_v2(server: &str, user: &UserId, binding: &Binding<'_>) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_DOMAIN_V2.len() + 64 + server.len() + user.as_str().len());
    aad.extend_from_slice(AAD_DOMAIN_V2);
    push_part(&mut aad, server.as_bytes());
    push_part(&mut aad, user.as_str().as_bytes());
    push_part(&mut aad, &binding.created_at.to_be_bytes());
    push_part(&mut aad, &binding.revision.to_be_bytes());
    for optional in [binding.route, binding.revoked] {
        match optional {
            Some(value) => {
                aad.push(1);
                push_part(&mut aad, value.as_bytes());
            }
            None => aad.push(0),
        }
    }
    aad
}
#[cfg(test)]
mod tests {
    use super::*;

    fn ring(byte: u8) -> KeyRing {
        KeyRing::new(StoreKey::from_bytes(&[byte; 32], "test").unwrap(), vec![])
    }

    const ACTIVE: Binding<'static> = Binding {
        created_at: 1_700_000_000_000,
        revision: 1,
        route: None,
        revoked: None,
    };

    #[test]
    fn a_sealed_token_opens_only_for_its_server_and_user() {
        let ring = ring(1);
        let alice = UserId::from("alice");
        let token = SecretString::from("u+alice-token");
        let sealed = ring.seal("pagerduty", &alice, &token, &ACTIVE).unwrap();
        assert!(
            !sealed
                .ciphertext
                .windows(b"alice-token".len())
                .any(|w| w == b"alice-token")
        );
        let opened = ring
            .open("pagerduty", &alice, &sealed, &ACTIVE, false)
            .unwrap();
        assert_eq!(opened.token.expose_secret(), "u+alice-token");
        assert_eq!(opened.version, SEAL_V2);
        assert!(matches!(
            ring.open("pagerduty", &UserId::from("bob"), &sealed, &ACTIVE, true),
            Err(StoreError::Unsealable { .. })
        ));
        assert!(matches!(
            ring.open("other", &alice, &sealed, &ACTIVE, true),
            Err(StoreError::Unsealable { .. })
        ));
    }

    #[test]
    fn a_sealed_token_opens_only_in_the_row_state_it_was_sealed_for() {
        let ring = ring(5);
        let alice = UserId::from("alice");
        let token = SecretString::from("u+alice-token");
        let revoked = Binding {
            revision: 2,
            revoked: Some("admin"),
            ..ACTIVE
        };
        let sealed = ring.seal("s", &alice, &token, &revoked).unwrap();
        assert!(ring.open("s", &alice, &sealed, &revoked, false).is_ok());
        for changed in [
            Binding {
                revoked: None,
                ..revoked
            },
            Binding {
                revoked: Some("server"),
                ..revoked
            },
            Binding {
                revision: 1,
                revoked: None,
                ..revoked
            },
            Binding {
                route: Some("eu"),
                ..revoked
            },
            Binding {
                created_at: 1,
                ..revoked
            },
        ] {
            assert!(
                matches!(
                    ring.open("s", &alice, &sealed, &changed, true),
                    Err(StoreError::Unsealable { .. })
                ),
                "{changed:?}"
            );
        }
        // A route is not confused with its absence, nor with a revocation.
        let routed = Binding {
            route: Some(""),
            ..ACTIVE
        };
        let sealed = ring.seal("s", &alice, &token, &routed).unwrap();
        assert!(ring.open("s", &alice, &sealed, &ACTIVE, false).is_err());
        let other = Binding {
            route: None,
            revoked: Some(""),
            ..ACTIVE
        };
        assert!(ring.open("s", &alice, &sealed, &other, false).is_err());
    }

    #[test]
    fn a_version_1_seal_opens_only_while_version_1_is_accepted() {
        let ring = ring(6);
        let alice = UserId::from("alice");
        // What releases before seal version 2 wrote.
        let nonce = XNonce::try_generate().unwrap();
        let ciphertext = ring
            .primary
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: b"u+legacy",
                    aad: &associated_data_v1("s", &alice),
                },
            )
            .unwrap();
        let sealed = Sealed {
            key_id: ring.primary_id().to_owned(),
            nonce: nonce.to_vec(),
            ciphertext,
            version: SEAL_V1,
        };
        let opened = ring.open("s", &alice, &sealed, &ACTIVE, true).unwrap();
        assert_eq!(
            (opened.token.expose_secret(), opened.version),
            ("u+legacy", SEAL_V1)
        );
        assert!(matches!(
            ring.open("s", &alice, &sealed, &ACTIVE, false),
            Err(StoreError::Unsealable { .. })
        ));
        assert!(
            ring.open("s", &UserId::from("bob"), &sealed, &ACTIVE, true)
                .is_err()
        );
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let ring = ring(2);
        let alice = UserId::from("alice");
        let token = SecretString::from("u+alice-token");
        let a = ring.seal("s", &alice, &token, &ACTIVE).unwrap();
        let b = ring.seal("s", &alice, &token, &ACTIVE).unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        assert_eq!(a.nonce.len(), 24);
    }

    #[test]
    fn an_unknown_key_is_a_typed_error_and_ids_differ() {
        let (one, two) = (ring(3), ring(4));
        assert_ne!(one.primary_id(), two.primary_id());
        assert_eq!(one.primary_id().len(), 16);
        let alice = UserId::from("alice");
        let sealed = one
            .seal("s", &alice, &SecretString::from("u+tok"), &ACTIVE)
            .unwrap();
        assert!(matches!(
            two.open("s", &alice, &sealed, &ACTIVE, true),
            Err(StoreError::UnknownKey { user, key_id, .. }) if user == alice && key_id == one.primary_id()
        ));
        // Same key id recorded but another key: the tag does not verify.
        let forged = Sealed {
            key_id: two.primary_id().to_owned(),
            nonce: sealed.nonce.clone(),
            ciphertext: sealed.ciphertext.clone(),
            version: SEAL_V2,
        };
        assert!(matches!(
            two.open("s", &alice, &forged, &ACTIVE, true),
            Err(StoreError::Unsealable { .. })
        ));
        assert!(StoreKey::from_bytes(&[0; 31], "short").is_err());
    }
}

//! Helpers for the credential store's tests: a private temporary directory, keys, and a store
//! on a SQLite file in it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pagerduty_mcp_connect::{Connector, CredentialProvider, UserId};
use pagerduty_mcp_connect_mock::MockPagerDuty;
use pagerduty_mcp_connect_store::{
    CredentialRecord, KeySource, SqlCredentialStore, SqlCredentialStoreBuilder, StoreError,
};
use secrecy::{ExposeSecret, SecretString};

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let path = std::env::temp_dir().join(format!(
            "pdmcp-{name}-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn db(&self) -> PathBuf {
        self.0.join("credentials.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fixed test key (base64 of 32 bytes of `byte`).
pub fn key(byte: u8) -> KeySource {
    use base64::Engine as _;
    KeySource::base64(base64::engine::general_purpose::STANDARD.encode([byte; 32]))
}

pub fn secret(token: &str) -> SecretString {
    SecretString::from(token)
}

/// A builder on the SQLite file of `dir` with key 1 and no cache.
pub fn sqlite(dir: &TempDir) -> SqlCredentialStoreBuilder {
    SqlCredentialStore::builder()
        .sqlite_file(dir.db())
        .key(key(1))
        .cache_ttl(Duration::ZERO)
}

/// Opens the store on the SQLite file of `dir` (as [`sqlite`]) with `key` instead of key 1.
pub async fn open_with_key(
    dir: &TempDir,
    key: KeySource,
) -> Result<SqlCredentialStore, StoreError> {
    sqlite(dir).key(key).open().await
}

/// The token `store` hands out for `user`; panics if it has none to give.
pub async fn token_of(store: &SqlCredentialStore, user: &UserId) -> String {
    let credential = store.credential(user).await.expect("a credential");
    credential.secret().expose_secret().to_owned()
}

/// The record `store` keeps for `user`; panics if there is none.
pub async fn record_of(store: &SqlCredentialStore, user: &UserId) -> CredentialRecord {
    let record = store.record(user).await.expect("the record reads");
    record.expect("a record for the user")
}

/// A connector to `mock`'s PagerDuty server with the credentials of `store`.
pub fn connector_to(mock: &MockPagerDuty, store: &SqlCredentialStore) -> Connector {
    Connector::builder()
        .server(mock.pagerduty())
        .credentials(store.clone())
        .build()
        .expect("connector")
}

/// Every file of the SQLite database (the file, its WAL and shared-memory files), concatenated.
pub fn raw_database_bytes(db: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        if let Ok(content) = std::fs::read(PathBuf::from(name)) {
            bytes.extend(content);
        }
    }
    bytes
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A token sealed the way releases before seal version 2 sealed it (associated data: server and
/// user only), under the test key of `byte`: `(key_id, nonce, ciphertext)` for a row of an
/// older database.
pub fn legacy_seal(
    byte: u8,
    server: &str,
    user: &UserId,
    token: &str,
) -> (String, Vec<u8>, Vec<u8>) {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{XChaCha20Poly1305, XNonce};
    let cipher = XChaCha20Poly1305::new_from_slice(&[byte; 32]).unwrap();
    let tag = cipher
        .encrypt(
            &XNonce::default(),
            Payload {
                msg: b"",
                aad: b"pagerduty-mcp-connect/sql-store/key-id/v1",
            },
        )
        .unwrap();
    let key_id: String = tag[..8].iter().map(|b| format!("{b:02x}")).collect();
    let mut aad = b"pagerduty-mcp-connect/sql-store/v1".to_vec();
    for part in [server.as_bytes(), user.as_str().as_bytes()] {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part);
    }
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let mut nonce = [0u8; 24];
    nonce[..8].copy_from_slice(&NEXT.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    nonce[8..16].copy_from_slice(&std::process::id().to_be_bytes().repeat(2));
    let ciphertext = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: token.as_bytes(),
                aad: &aad,
            },
        )
        .unwrap();
    (key_id, nonce.to_vec(), ciphertext)
}

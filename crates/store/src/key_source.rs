//! Where the store's sealing key comes from.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretSlice, SecretString};

use crate::error::StoreError;
use crate::sealing::{KEY_LEN, StoreKey};
use pagerduty_mcp_connect::BoxError;

type KeyFn = dyn Fn() -> BoxFuture<'static, Result<SecretSlice<u8>, BoxError>> + Send + Sync;

/// Where the 256-bit key that seals the stored tokens comes from.
///
/// - [`KeySource::env`]: an environment variable holding the key in base64 (standard alphabet,
///   padding optional), for container platforms that inject secrets as variables.
/// - [`KeySource::file`]: a file holding the key as 32 raw bytes or as base64 text. The file is
///   refused when its permissions let the group or others read or write it (`chmod 600`).
/// - [`KeySource::from_fn`]: an async closure, for a key management service (AWS KMS, Vault, GCP
///   KMS …) that unwraps the key at start-up.
/// - [`KeySource::base64`]: a base64 value you already hold as a secret.
///
/// [`KeySource::generate`] makes a fresh key. Each key has a *key id*, a check value derived from
/// the key (it reveals nothing about it), recorded with every row sealed under it, so that the
/// store can tell a wrong key from a damaged row and can [`rekey`](super::SqlCredentialStore::rekey).
///
/// `Debug` names the variable or the file, never the key.
///
/// ```
/// use pagerduty_mcp_connect_store::KeySource;
/// use secrecy::ExposeSecret;
///
/// let key = KeySource::generate().expect("the operating system's random source");
/// assert_eq!(key.expose_secret().len(), 44);
/// let from_env = KeySource::env("PAGERDUTY_MCP_STORE_KEY");
/// assert!(format!("{from_env:?}").contains("PAGERDUTY_MCP_STORE_KEY"));
/// let from_kms = KeySource::from_fn(|| async {
///     // Ask the KMS to unwrap the data key here.
///     Ok(secrecy::SecretSlice::from(vec![7u8; 32]))
/// });
/// # let _ = from_kms;
/// ```
#[derive(Clone)]
pub struct KeySource {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Env(String),
    File(PathBuf),
    Base64(Arc<SecretString>),
    Fn(Arc<KeyFn>),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Env(var) => f.debug_tuple("KeySource::Env").field(var).finish(),
            Kind::File(path) => f.debug_tuple("KeySource::File").field(path).finish(),
            Kind::Base64(_) => f.write_str("KeySource::Base64(** redacted **)"),
            Kind::Fn(_) => f.write_str("KeySource::Fn(..)"),
        }
    }
}

impl KeySource {
    /// The environment variable this crate's examples and README use for the key.
    pub const DEFAULT_ENV: &'static str = "PAGERDUTY_MCP_STORE_KEY";

    /// The key, in base64, from the environment variable `var` (read when the store opens).
    pub fn env(var: impl Into<String>) -> Self {
        KeySource {
            kind: Kind::Env(var.into()),
        }
    }

    /// The key from the file at `path`: 32 raw bytes, or their base64 (surrounding whitespace
    /// ignored). On Unix the file must not be readable or writable by its group or others.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        KeySource {
            kind: Kind::File(path.into()),
        }
    }

    /// The key as base64 text.
    pub fn base64(key: impl Into<SecretString>) -> Self {
        KeySource {
            kind: Kind::Base64(Arc::new(key.into())),
        }
    }

    /// The key from an async closure, called each time a store opens (for example a key
    /// management service unwrapping the data key). It must return exactly 32 bytes.
    pub fn from_fn<F, Fut>(load: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<SecretSlice<u8>, BoxError>> + Send + 'static,
    {
        KeySource {
            kind: Kind::Fn(Arc::new(move || Box::pin(load()))),
        }
    }

    /// A fresh random key, in base64, from the operating system's random source: put it into
    /// the environment variable or file the store reads.
    pub fn generate() -> Result<SecretString, StoreError> {
        let mut bytes = [0u8; KEY_LEN];
        getrandom_fill(&mut bytes)?;
        let text = base64::engine::general_purpose::STANDARD.encode(bytes);
        secrecy::zeroize::Zeroize::zeroize(&mut bytes);
        Ok(SecretString::from(text))
    }

    /// Loads the key.
    pub(crate) async fn load(&self) -> Result<StoreKey, StoreError> {
        match &self.kind {
            Kind::Env(var) => {
                // `VarError::NotUnicode` holds the variable's value (the key): never kept as a
                // source or shown.
                let value = std::env::var(var).map_err(|err| StoreError::Key {
                    message: match err {
                        std::env::VarError::NotPresent => format!(
                            "the environment variable {var} is not set; set it to a base64 key (KeySource::generate makes one)"
                        ),
                        std::env::VarError::NotUnicode(_) => format!(
                            "the environment variable {var} is not UTF-8; set it to a base64 key (KeySource::generate makes one)"
                        ),
                    },
                    source: None,
                })?;
                let value = SecretString::from(value);
                decode_base64(
                    value.expose_secret(),
                    &format!("the environment variable {var}"),
                )
            }
            Kind::File(path) => load_file(path).await,
            Kind::Base64(value) => decode_base64(value.expose_secret(), "the base64 key"),
            Kind::Fn(load) => {
                let bytes = load().await.map_err(|err| StoreError::Key {
                    message: "the key function failed".into(),
                    source: Some(err),
                })?;
                StoreKey::from_bytes(bytes.expose_secret(), "the key function's key")
            }
        }
    }
}

fn getrandom_fill(bytes: &mut [u8]) -> Result<(), StoreError> {
    use chacha20poly1305::aead::Generate;
    // 32 bytes of the OS random source, via the AEAD crate's own generator.
    let key = chacha20poly1305::Key::try_generate().map_err(|err| StoreError::Key {
        message: format!("the operating system's random source failed: {err}"),
        source: None,
    })?;
    bytes.copy_from_slice(&key[..bytes.len()]);
    Ok(())
}

fn decode_base64(text: &str, what: &str) -> Result<StoreKey, StoreError> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    let text = text.trim();
    let decoded = STANDARD
        .decode(text)
        .or_else(|_| STANDARD_NO_PAD.decode(text))
        .map_err(|_| {
            StoreError::key(format!(
                "{what} is not base64 (expected the base64 of {KEY_LEN} bytes, 44 characters)"
            ))
        })?;
    let decoded = SecretSlice::from(decoded);
    StoreKey::from_bytes(decoded.expose_secret(), what)
}

async fn load_file(path: &std::path::Path) -> Result<StoreKey, StoreError> {
    let shown = path.display();
    let metadata = tokio_fs_metadata(path)
        .await
        .map_err(|err| StoreError::Key {
            message: format!("cannot read the key file {shown}"),
            source: Some(Box::new(err)),
        })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(StoreError::key(format!(
                "the key file {shown} has mode {mode:o}: its group or others may access it; run `chmod 600 {shown}`"
            )));
        }
    }
    if !metadata.is_file() {
        return Err(StoreError::key(format!(
            "the key file {shown} is not a regular file"
        )));
    }
    let path_owned = path.to_owned();
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(path_owned))
        .await
        .map_err(|err| StoreError::Key {
            message: format!("reading the key file {shown} failed"),
            source: Some(Box::new(err)),
        })?
        .map_err(|err| StoreError::Key {
            message: format!("cannot read the key file {shown}"),
            source: Some(Box::new(err)),
        })?;
    let bytes = SecretSlice::from(bytes);
    let what = format!("the key file {shown}");
    if bytes.expose_secret().len() == KEY_LEN {
        return StoreKey::from_bytes(bytes.expose_secret(), &what);
    }
    let text = std::str::from_utf8(bytes.expose_secret()).map_err(|_| {
        StoreError::key(format!(
            "{what} holds neither {KEY_LEN} raw bytes nor base64 text"
        ))
    })?;
    decode_base64(text, &what)
}

async fn tokio_fs_metadata(path: &std::path::Path) -> std::io::Result<std::fs::Metadata> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || std::fs::metadata(path))
        .await
        .unwrap_or_else(|err| Err(std::io::Error::other(err)))
}

//! Where the gateway reads users' PagerDuty tokens: the encrypted credential store
//! (`--store sqlite:PATH | postgres://…`), shared with the `credentials` admin tool; or, for a
//! quick try with `--mock` and no `--store`, memory holding the mock's test tokens.
//!
//! A `users.toml` that still holds tokens (`token` or `token_env`) is imported: a user the store
//! has no token for gets the file's, once; a user it has one for keeps the store's. Either way a
//! WARN line says to remove the token from the file. No token is ever printed.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use pagerduty_mcp_connect::{
    Credential, CredentialError, CredentialProvider, InMemoryCredentialStore, UserId,
};
use pagerduty_mcp_connect_store::{KeySource, SqlCredentialStore, StoreError};
use secrecy::SecretString;

use crate::users_file::UsersFile;

/// The store used when `--store` is not given (and `--mock` is not asked for).
pub const DEFAULT_STORE: &str = "sqlite:gateway-credentials.db";

/// Where tokens live.
#[derive(Clone)]
pub enum TokenStore {
    /// The encrypted store.
    Sealed(SqlCredentialStore),
    /// Memory: only with `--mock` and no `--store` (the mock's test tokens, gone at exit).
    Memory(InMemoryCredentialStore),
}

impl fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenStore::Sealed(store) => write!(f, "TokenStore::Sealed({})", store.engine()),
            TokenStore::Memory(_) => f.write_str("TokenStore::Memory"),
        }
    }
}

impl fmt::Display for TokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenStore::Sealed(store) => write!(
                f,
                "the encrypted {} store (lookups cached for {} ms)",
                store.engine(),
                store.cache_ttl().as_millis()
            ),
            TokenStore::Memory(_) => f.write_str("memory (--mock without --store: test tokens)"),
        }
    }
}

/// Why the store cannot be opened or written.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TokenStoreError {
    /// `--store` names no known kind of database.
    #[error(
        "--store {0:?}: use sqlite:PATH (a file, created mode 600), sqlite://PATH or postgres://USER@HOST/DATABASE"
    )]
    UnknownStore(String),
    /// The store refused to open, or a write failed.
    #[error("the credential store ({what}): {source}")]
    Store {
        /// What was being done.
        what: String,
        /// The store's error (it never holds a token).
        #[source]
        source: StoreError,
    },
}

/// Opens the store `spec` names with the key from `key_file`, or from the environment variable
/// `PAGERDUTY_MCP_STORE_KEY` (the `credentials` tool's); lookups cached for `cache_ttl` (the
/// store's default, 5 s, when `None`; zero: no cache).
pub async fn open(
    spec: &str,
    key_file: Option<PathBuf>,
    cache_ttl: Option<Duration>,
) -> Result<TokenStore, TokenStoreError> {
    let key = match key_file {
        Some(path) => KeySource::file(path),
        None => KeySource::env(KeySource::DEFAULT_ENV),
    };
    let mut builder = SqlCredentialStore::builder().key(key);
    if let Some(ttl) = cache_ttl {
        builder = builder.cache_ttl(ttl);
    }
    let builder = if let Some(path) = spec
        .strip_prefix("sqlite:")
        .filter(|p| !p.starts_with("//"))
    {
        if path.is_empty() {
            return Err(TokenStoreError::UnknownStore(spec.to_owned()));
        }
        builder.sqlite_file(path)
    } else if spec.starts_with("sqlite://")
        || spec.starts_with("postgres://")
        || spec.starts_with("postgresql://")
    {
        builder.database_url(spec)
    } else {
        // Never echo a value that may be a URL with a password: only its scheme.
        let shown = match spec.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://…"),
            None => spec.to_owned(),
        };
        return Err(TokenStoreError::UnknownStore(shown));
    };
    let store = builder
        .open()
        .await
        .map_err(|source| TokenStoreError::Store {
            what: "opening it".to_owned(),
            source,
        })?;
    Ok(TokenStore::Sealed(store))
}

impl TokenStore {
    /// Memory, for `--mock` without `--store`.
    pub fn memory() -> Self {
        TokenStore::Memory(InMemoryCredentialStore::new())
    }

    /// Puts `token` for `user` unless the store has one already; says which (true: put).
    pub async fn put_if_absent(
        &self,
        user: &UserId,
        token: SecretString,
    ) -> Result<bool, TokenStoreError> {
        match self {
            TokenStore::Memory(memory) => {
                if memory.contains(user) {
                    return Ok(false);
                }
                memory.insert(user.clone(), token);
                Ok(true)
            }
            TokenStore::Sealed(store) => {
                let failed = |source| TokenStoreError::Store {
                    what: format!("importing user {user}'s token"),
                    source,
                };
                if store.record(user).await.map_err(failed)?.is_some() {
                    return Ok(false);
                }
                store.put(user, token).await.map_err(failed)?;
                Ok(true)
            }
        }
    }

    /// Imports the tokens `users` still holds (see the module's documentation), one WARN line
    /// per user.
    pub async fn import(&self, users: &UsersFile) -> Result<(), TokenStoreError> {
        for entry in users.tokens() {
            let Some(token) = &entry.token else { continue };
            let id = &entry.user;
            let sealed = matches!(self, TokenStore::Sealed(_));
            if self.put_if_absent(id, token.clone()).await? {
                if sealed {
                    eprintln!(
                        "WARN user {id}: its token from {} was imported into the credential store; \
                         remove `token`/`token_env` from that file (the store is the only place \
                         the gateway reads tokens from)",
                        users.path()
                    );
                }
            } else {
                eprintln!(
                    "WARN user {id}: the credential store already holds a token for this user, so \
                     the token {} gives is ignored; remove `token`/`token_env` from that file (use \
                     the credentials tool's `rotate` to replace a token)",
                    users.path()
                );
            }
        }
        Ok(())
    }

    /// Closes the store (SQLite: every write in the main file).
    pub async fn close(&self) {
        if let TokenStore::Sealed(store) = self {
            store.close().await;
        }
    }
}

#[async_trait::async_trait]
impl CredentialProvider for TokenStore {
    async fn credential(&self, user: &UserId) -> Result<Credential, CredentialError> {
        match self {
            TokenStore::Sealed(store) => store.credential(user).await,
            TokenStore::Memory(memory) => memory.credential(user).await,
        }
    }

    async fn invalidate(&self, user: &UserId, credential: &Credential) {
        match self {
            TokenStore::Sealed(store) => store.invalidate(user, credential).await,
            TokenStore::Memory(memory) => memory.invalidate(user, credential).await,
        }
    }
}

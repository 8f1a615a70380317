//! What can go wrong in the SQL credential store.

use pagerduty_mcp_connect::BoxError;
use pagerduty_mcp_connect::{CredentialError, UserId};

/// An error of [`SqlCredentialStore`](super::SqlCredentialStore).
///
/// No variant ever holds a token: database errors carry the engine's message (which never quotes
/// bound values), sealing errors name the user and the key id only. A failed write changes
/// nothing: each change is one statement (or one transaction) that either commits whole or not at
/// all.
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use pagerduty_mcp_connect_store::{KeySource, SqlCredentialStore, StoreError};
///
/// let err = SqlCredentialStore::builder()
///     .sqlite_file("/nonexistent-directory/credentials.db")
///     .key(KeySource::base64("not base64!"))
///     .open()
///     .await
///     .unwrap_err();
/// assert!(matches!(err, StoreError::Key { .. }), "{err}");
/// # }
/// # #[cfg(not(feature = "sqlite"))]
/// # fn main() {}
/// ```
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another connection or process holds a lock on the database for longer than the store's
    /// busy timeout. Nothing was changed; try again.
    #[error(
        "the credential database is locked by another connection; nothing was changed: {message}"
    )]
    Locked {
        /// The engine's message.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// The database cannot be reached (connection refused, TLS failure, the pool timed out, the
    /// server shut down).
    #[error("the credential database cannot be reached: {message}")]
    Unreachable {
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// The database file is damaged or is not a database at all; the store did not write to it.
    #[error("the credential database is corrupt or not a database: {message}")]
    Corrupt {
        /// The engine's message.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// Any other database failure.
    #[error("the credential database failed: {message}")]
    Database {
        /// The engine's message.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// The schema could not be brought up to date (for example the database was written by a
    /// newer version of this crate).
    #[error("the credential database's schema could not be upgraded: {message}")]
    Migration {
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// No row of the database opens with the keys the store was given: every row is sealed
    /// under other keys. The key is wrong, or the previous key is missing while a
    /// [`rekey`](super::SqlCredentialStore::rekey) is under way. (When only some rows are under
    /// unknown keys the store opens, and those users' lookups fail with
    /// [`StoreError::UnknownKey`].)
    #[error("the credential database holds tokens sealed with key(s) {} that this store was not given (configured: {}); give it the right key, or the previous one with `previous_key`", found.join(", "), configured.join(", "))]
    WrongKey {
        /// The key ids found in the database and not configured.
        found: Vec<String>,
        /// The key ids configured.
        configured: Vec<String>,
    },
    /// A stored token does not open with its key: the row was tampered with. Each sealed token
    /// is bound to its server and user and to the state of its row (creation time, revision,
    /// route, revocation), so an altered ciphertext, a row copied from another user or server,
    /// an older sealed token put back under a newer revision, or a route or revocation changed
    /// outside the store all end here. Put a new token for the user.
    #[error(
        "the stored token of user {user} does not open with key {key_id}: the row was tampered with (its token, revision, route or revocation changed outside the store, or it was copied from another user or server); put a new token for the user"
    )]
    Unsealable {
        /// The user whose row failed.
        user: UserId,
        /// The key id recorded in the row.
        key_id: String,
    },
    /// The user's token is sealed under a key the store was not given. Only this user is
    /// affected: give the store that key (as
    /// [`previous_key`](super::SqlCredentialStoreBuilder::previous_key)), or put a new token for
    /// the user.
    #[error(
        "the stored token of user {user} is sealed with key {key_id}, which this store was not given (configured: {}); give the store that key with `previous_key`, or put a new token for the user",
        configured.join(", ")
    )]
    UnknownKey {
        /// The user whose row is under the unknown key.
        user: UserId,
        /// The key id recorded in the row.
        key_id: String,
        /// The key ids configured.
        configured: Vec<String>,
    },
    /// The user's row is older than one this process has already seen: a whole earlier row
    /// (with its earlier revision) was put back, for example from a backup, to bring back a
    /// token that was since rotated or revoked. Put a new token for the user.
    #[error(
        "the stored entry of user {user} is at revision {revision}, older than revision {newest_seen} this process has already seen: an earlier copy of the row was put back; put a new token for the user"
    )]
    RolledBack {
        /// The user.
        user: UserId,
        /// The revision found in the database.
        revision: u64,
        /// The newest revision of the same entry this process has seen.
        newest_seen: u64,
    },
    /// An existing SQLite file (the database, or its `-wal` or `-shm` file) may be read or
    /// written by its group or others. The store refuses to open it, as it refuses such a key
    /// file: `chmod 600` it (new files are created with mode 600).
    #[error(
        "the credential database file {} has mode {mode:o}: its group or others may access it; run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    InsecureFile {
        /// The file.
        path: std::path::PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key could not be loaded, or is not a 32-byte key.
    #[error("the store's key: {message}")]
    Key {
        /// What is wrong with the key and how to fix it.
        message: String,
        /// The underlying error (for example the key management service's).
        #[source]
        source: Option<BoxError>,
    },
    /// The token cannot be stored: it could never be sent in an HTTP header (empty, control
    /// characters such as CR or LF, non-ASCII) or is too long. The message never repeats it.
    #[error("the token was not stored: {reason}")]
    InvalidToken {
        /// What is wrong with the token.
        reason: String,
    },
    /// No credential is stored for the user.
    #[error("no credential is stored for user {user}")]
    NotFound {
        /// The user.
        user: UserId,
    },
    /// The token check failed (the service rejected the token, or could not be asked); the
    /// token was not stored, or (for [`verify`](super::SqlCredentialStore::verify)) marked
    /// rejected when the service answered 401.
    #[error("the token check failed: {0}")]
    Verification(#[source] pagerduty_mcp_connect::Error),
    /// The user's entry changed (a rotation, a revocation) while this operation was under way;
    /// nothing was written. Try again.
    #[error(
        "the credential of user {user} changed while this operation was under way; nothing was written, try again"
    )]
    Changed {
        /// The user.
        user: UserId,
    },
    /// The store's configuration is unusable.
    #[error("invalid credential store configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
}

impl StoreError {
    /// Whether trying again later may succeed (a lock, an unreachable database).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Locked { .. } | StoreError::Unreachable { .. } | StoreError::Changed { .. }
        )
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        StoreError::Config {
            message: message.into(),
        }
    }

    pub(crate) fn key(message: impl Into<String>) -> Self {
        StoreError::Key {
            message: message.into(),
            source: None,
        }
    }

    /// The error a [`CredentialProvider`](pagerduty_mcp_connect::CredentialProvider) call reports
    /// for this one.
    pub(crate) fn into_credential_error(self, user: &UserId) -> CredentialError {
        match self {
            StoreError::NotFound { .. } => CredentialError::NotFound { user: user.clone() },
            other => CredentialError::Unavailable {
                message: other.to_string(),
                source: Some(Box::new(other)),
            },
        }
    }
}

/// SQLite result codes (primary code in the low byte).
#[cfg(feature = "sqlite")]
mod sqlite_codes {
    pub(super) const BUSY: u32 = 5;
    pub(super) const LOCKED: u32 = 6;
    pub(super) const CORRUPT: u32 = 11;
    pub(super) const NOTADB: u32 = 26;
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        let message = err.to_string();
        let boxed = |err: sqlx::Error| Some(Box::new(err) as BoxError);
        match &err {
            sqlx::Error::Database(db) => {
                let (engine, code) = engine_code(db.as_ref());
                if is_lock_code(&engine, &code) {
                    StoreError::Locked {
                        message,
                        source: boxed(err),
                    }
                } else if is_corrupt_code(&engine, &code) {
                    StoreError::Corrupt {
                        message,
                        source: boxed(err),
                    }
                } else if engine == Engine::Postgres
                    && (code.starts_with("08") || code.starts_with("57P"))
                {
                    StoreError::Unreachable {
                        message,
                        source: boxed(err),
                    }
                } else {
                    StoreError::Database {
                        message,
                        source: boxed(err),
                    }
                }
            }
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unreachable {
                message,
                source: boxed(err),
            },
            sqlx::Error::Decode(_)
            | sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::TypeNotFound { .. } => StoreError::Corrupt {
                message,
                source: boxed(err),
            },
            _ => StoreError::Database {
                message,
                source: boxed(err),
            },
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        use sqlx::migrate::MigrateError;
        match err {
            MigrateError::Execute(inner) | MigrateError::ExecuteMigration(inner, _) => {
                match StoreError::from(inner) {
                    StoreError::Database { message, source } => {
                        StoreError::Migration { message, source }
                    }
                    other => other,
                }
            }
            MigrateError::VersionMissing(version) => StoreError::Migration {
                message: format!(
                    "migration {version} was applied to this database by a newer version of pagerduty-mcp-connect; upgrade the crate"
                ),
                source: None,
            },
            other => StoreError::Migration {
                message: other.to_string(),
                source: Some(Box::new(other)),
            },
        }
    }
}

/// Which engine an error came from, and its code.
fn engine_code(db: &dyn sqlx::error::DatabaseError) -> (Engine, String) {
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    #[cfg(feature = "sqlite")]
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        return (Engine::Sqlite, code);
    }
    (Engine::Postgres, code)
}

#[derive(PartialEq)]
enum Engine {
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    Sqlite,
    Postgres,
}

fn is_lock_code(engine: &Engine, code: &str) -> bool {
    match engine {
        #[cfg(feature = "sqlite")]
        Engine::Sqlite => code.parse::<u32>().is_ok_and(|n| {
            let primary = n & 0xff;
            primary == sqlite_codes::BUSY || primary == sqlite_codes::LOCKED
        }),
        // Postgres: lock_not_available, deadlock_detected, serialization_failure.
        _ => matches!(code, "55P03" | "40P01" | "40001"),
    }
}

fn is_corrupt_code(engine: &Engine, code: &str) -> bool {
    match engine {
        #[cfg(feature = "sqlite")]
        Engine::Sqlite => code.parse::<u32>().is_ok_and(|n| {
            let primary = n & 0xff;
            primary == sqlite_codes::CORRUPT || primary == sqlite_codes::NOTADB
        }),
        // Postgres: data_corrupted, index_corrupted.
        _ => matches!(code, "XX001" | "XX002"),
    }
}

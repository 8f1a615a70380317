//! [`SqlCredentialStoreBuilder`]: where the store keeps its data, its keys, and how it opens.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;

use crate::backend::Pool;
use crate::cache::Cache;
use crate::error::StoreError;
use crate::key_source::KeySource;
use crate::sealing::KeyRing;
use crate::store::{Inner, SqlCredentialStore};

/// How many users under an unknown key the WARN at open names (the rest are counted).
const NAMED_USERS: i64 = 20;

/// Where the store keeps its data.
#[derive(Clone)]
enum Target {
    SqliteFile(PathBuf),
    Url(SecretString),
}

/// Builds a [`SqlCredentialStore`]: a database ([`sqlite_file`](Self::sqlite_file) or
/// [`database_url`](Self::database_url)) and a [`key`](Self::key) are required.
///
/// ```no_run
/// # #[cfg(feature = "postgres")]
/// # async fn run() -> Result<(), pagerduty_mcp_connect_store::StoreError> {
/// use std::time::Duration;
/// use pagerduty_mcp_connect_store::{KeySource, SqlCredentialStore};
///
/// let store = SqlCredentialStore::builder()
///     .database_url("postgres://gateway@db.internal/gateway")
///     .key(KeySource::env(KeySource::DEFAULT_ENV))
///     .cache_ttl(Duration::from_secs(2))
///     .open()
///     .await?;
/// # let _ = store;
/// # Ok(())
/// # }
/// ```
#[must_use]
#[derive(Clone)]
pub struct SqlCredentialStoreBuilder {
    target: Option<Target>,
    key: Option<KeySource>,
    previous: Vec<KeySource>,
    server: String,
    cache_ttl: Duration,
    busy_timeout: Duration,
    connect_timeout: Duration,
    max_connections: Option<u32>,
    last_used_resolution: Option<Duration>,
    cache_capacity: usize,
}

impl Default for SqlCredentialStoreBuilder {
    fn default() -> Self {
        SqlCredentialStoreBuilder {
            target: None,
            key: None,
            previous: Vec::new(),
            server: SqlCredentialStore::DEFAULT_SERVER.to_owned(),
            cache_ttl: SqlCredentialStore::DEFAULT_CACHE_TTL,
            busy_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            max_connections: None,
            last_used_resolution: Some(Duration::from_secs(60)),
            cache_capacity: SqlCredentialStore::DEFAULT_CACHE_CAPACITY,
        }
    }
}

impl fmt::Debug for SqlCredentialStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match &self.target {
            Some(Target::SqliteFile(path)) => format!("sqlite file {}", path.display()),
            // A URL may hold a password: only its scheme is shown.
            Some(Target::Url(url)) => {
                use secrecy::ExposeSecret;
                let scheme = url.expose_secret().split(':').next().unwrap_or_default();
                format!("{scheme} URL")
            }
            None => "none".to_owned(),
        };
        f.debug_struct("SqlCredentialStoreBuilder")
            .field("database", &target)
            .field("key", &self.key)
            .field("previous_keys", &self.previous)
            .field("server", &self.server)
            .field("cache_ttl", &self.cache_ttl)
            .finish_non_exhaustive()
    }
}

impl SqlCredentialStoreBuilder {
    /// A SQLite database file, created (mode 600 on Unix) when missing. Needs feature
    /// `sqlite`. An existing file (or its `-wal` or `-shm` file) that its group or others may
    /// read or write is refused at open with [`StoreError::InsecureFile`], which names the file
    /// and the fix (`chmod 600`).
    pub fn sqlite_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.target = Some(Target::SqliteFile(path.into()));
        self
    }

    /// A database URL: `sqlite://path/to/file.db` (feature `sqlite`) or
    /// `postgres://user:password@host:port/database` (feature `postgres`; add
    /// `?sslmode=require` or `verify-full` for TLS). The URL is kept as a secret (it may hold a
    /// password) and never shown.
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.target = Some(Target::Url(SecretString::from(url.into())));
        self
    }

    /// The key that seals new tokens (and opens the rows sealed under it). Required.
    pub fn key(mut self, key: KeySource) -> Self {
        self.key = Some(key);
        self
    }

    /// A former key: rows sealed under it still open, and [`SqlCredentialStore::rekey`] reseals
    /// them under [`key`](Self::key). May be given several times.
    pub fn previous_key(mut self, key: KeySource) -> Self {
        self.previous.push(key);
        self
    }

    /// The name of the server the credentials are for (default `"pagerduty"`): one database can
    /// hold the credentials of several servers, and a token sealed for one does not open for
    /// another.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server = name.into();
        self
    }

    /// How long a lookup is cached in memory (default 5 s; [`Duration::ZERO`] turns the cache
    /// off), counted from the moment the lookup started (not from when the database answered).
    /// This is the bound within which a change made by another replica is seen.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// How many users' lookups the cache holds at most (default
    /// [`SqlCredentialStore::DEFAULT_CACHE_CAPACITY`], 100,000; at least 1). Beyond it, the
    /// lookups made longest ago are dropped first; expired lookups are dropped as they expire.
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity.max(1);
        self
    }

    /// How long a SQLite write waits for another connection's lock before failing with
    /// [`StoreError::Locked`] (default 5 s).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// How long opening the database or waiting for a pooled connection may take (default
    /// 10 s) before [`StoreError::Unreachable`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The size of the connection pool (default 4 for SQLite, 10 for Postgres).
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = Some(n.max(1));
        self
    }

    /// How often the last uses of tokens are written (default once a minute; `None`: never).
    /// Uses are kept in memory and written in the background, many users per statement, once
    /// per resolution and on [`close`](SqlCredentialStore::close): a lookup never writes, and a
    /// burst of first lookups costs a few statements. Uses not yet written when the process
    /// dies without `close` are lost (the field is informational).
    pub fn last_used_resolution(mut self, resolution: Option<Duration>) -> Self {
        self.last_used_resolution = resolution;
        self
    }

    /// Loads the keys, connects, migrates the schema (an older one is upgraded in place) and
    /// checks the keys against the rows of this server: when rows exist and none of them is
    /// sealed under a key given, the key is wrong ([`StoreError::WrongKey`]). Rows under a key
    /// that was not given (while others open) cost their users only: the store opens, logs a
    /// WARN naming those users (ids, never tokens) and the key ids, and their lookups fail with
    /// [`StoreError::UnknownKey`].
    pub async fn open(self) -> Result<SqlCredentialStore, StoreError> {
        let key = self.key.as_ref().ok_or_else(|| {
            StoreError::config("SqlCredentialStore::builder() needs .key(KeySource::…)")
        })?;
        if self.server.is_empty() {
            return Err(StoreError::config("the server name must not be empty"));
        }
        let primary = key.load().await?;
        let mut previous = Vec::with_capacity(self.previous.len());
        for source in &self.previous {
            previous.push(source.load().await?);
        }
        let keys = KeyRing::new(primary, previous);
        let target = self.target.clone().ok_or_else(|| {
            StoreError::config(
                "SqlCredentialStore::builder() needs .sqlite_file(…) or .database_url(…)",
            )
        })?;
        let pool = self.connect(target).await?;
        let accept_v1 = match self.check_rows(&pool, &keys).await {
            Ok(legacy) => legacy > 0,
            Err(err) => {
                pool.close().await;
                return Err(err);
            }
        };
        Ok(SqlCredentialStore {
            inner: Arc::new(Inner {
                pool,
                keys,
                server: self.server,
                cache: Cache::new(self.cache_ttl, self.cache_capacity),
                cache_ttl: self.cache_ttl,
                last_used_resolution: self.last_used_resolution,
                last_used: Default::default(),
                rejections: Default::default(),
                marks: Default::default(),
                reseals: Mutex::new(Default::default()),
                accept_v1: AtomicBool::new(accept_v1),
                background: Default::default(),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// Migrates the schema and checks the rows' keys; returns how many rows are sealed under
    /// an earlier seal version.
    async fn check_rows(&self, pool: &Pool, keys: &KeyRing) -> Result<u64, StoreError> {
        pool.migrate().await?;
        let census = pool.key_census(&self.server).await?;
        let (known, unknown): (Vec<_>, Vec<_>) =
            census.into_iter().partition(|(id, _)| keys.knows(id));
        if known.is_empty() && !unknown.is_empty() {
            return Err(StoreError::WrongKey {
                found: unknown.into_iter().map(|(id, _)| id).collect(),
                configured: keys.ids(),
            });
        }
        for (key_id, rows) in unknown {
            let mut users = pool
                .users_under_key(&self.server, &key_id, NAMED_USERS)
                .await?
                .join(", ");
            if rows > NAMED_USERS {
                users.push_str(&format!(" and {} more", rows - NAMED_USERS));
            }
            tracing::warn!(
                key_id = %key_id,
                rows,
                users = %users,
                "credentials of these users are sealed with a key this store was not given: their lookups fail (StoreError::UnknownKey) until the store gets that key as previous_key or they get new tokens; every other user is served"
            );
        }
        pool.legacy_count(&self.server).await
    }

    async fn connect(&self, target: Target) -> Result<Pool, StoreError> {
        use secrecy::ExposeSecret;
        match target {
            Target::SqliteFile(path) => self.connect_sqlite_file(path).await,
            Target::Url(url) => {
                let url = url.expose_secret();
                if url.starts_with("sqlite:") {
                    self.connect_sqlite_url(url).await
                } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                    self.connect_postgres(url).await
                } else {
                    Err(StoreError::config(
                        "the database URL must start with sqlite:, postgres:// or postgresql://",
                    ))
                }
            }
        }
    }

    #[cfg(feature = "sqlite")]
    async fn connect_sqlite_file(&self, path: PathBuf) -> Result<Pool, StoreError> {
        crate::sqlite_file::prepare(&path)?;
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
        self.connect_sqlite(options).await
    }

    #[cfg(not(feature = "sqlite"))]
    async fn connect_sqlite_file(&self, _path: PathBuf) -> Result<Pool, StoreError> {
        Err(StoreError::config(
            "SQLite needs the crate feature `sqlite`",
        ))
    }

    #[cfg(feature = "sqlite")]
    async fn connect_sqlite_url(&self, url: &str) -> Result<Pool, StoreError> {
        use std::str::FromStr;
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
            .map_err(|err| StoreError::config(format!("the SQLite URL is not valid: {err}")))?;
        let path = options.get_filename().to_owned();
        if path.as_os_str() != ":memory:" && !path.as_os_str().is_empty() {
            crate::sqlite_file::prepare(&path)?;
        }
        self.connect_sqlite(options).await
    }

    #[cfg(not(feature = "sqlite"))]
    async fn connect_sqlite_url(&self, _url: &str) -> Result<Pool, StoreError> {
        Err(StoreError::config(
            "SQLite needs the crate feature `sqlite`",
        ))
    }

    #[cfg(feature = "sqlite")]
    async fn connect_sqlite(
        &self,
        options: sqlx::sqlite::SqliteConnectOptions,
    ) -> Result<Pool, StoreError> {
        use sqlx::sqlite::{SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(self.busy_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(self.max_connections.unwrap_or(4))
            .acquire_timeout(self.connect_timeout)
            .connect_with(options)
            .await?;
        Ok(Pool::Sqlite(pool))
    }

    #[cfg(feature = "postgres")]
    async fn connect_postgres(&self, url: &str) -> Result<Pool, StoreError> {
        use std::str::FromStr;
        let options = sqlx::postgres::PgConnectOptions::from_str(url)
            .map_err(|_| StoreError::config("the Postgres URL is not valid"))?
            .application_name("pagerduty-mcp-connect");
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(self.max_connections.unwrap_or(10))
            .acquire_timeout(self.connect_timeout)
            .connect_with(options);
        let pool = tokio::time::timeout(self.connect_timeout, pool)
            .await
            .map_err(|_| StoreError::Unreachable {
                message: format!(
                    "no connection to Postgres within {:?}",
                    self.connect_timeout
                ),
                source: None,
            })??;
        Ok(Pool::Postgres(pool))
    }

    #[cfg(not(feature = "postgres"))]
    async fn connect_postgres(&self, _url: &str) -> Result<Pool, StoreError> {
        Err(StoreError::config(
            "Postgres needs the crate feature `postgres`",
        ))
    }
}

//! A persistent credential store for `pagerduty-mcp-connect`: each user's token on SQLite
//! (embedded) or Postgres (several gateway replicas), sealed at rest with XChaCha20-Poly1305.
//!
//! [`SqlCredentialStore`] is a [`CredentialProvider`] for a
//! [`Connector`](pagerduty_mcp_connect::Connector), with the admin operations a gateway needs
//! (put, verify, rotate, revoke, list, rekey). The PagerDuty region a token check finds is
//! stored with the token and handed out as the credential's
//! [route](pagerduty_mcp_connect::Credential::route), so a connector built with
//! [`PagerDuty::routes`](pagerduty_mcp_connect::PagerDuty::routes) sends each user to their own
//! region's hosted MCP server.
//!
//! ```toml
//! [dependencies]
//! pagerduty-mcp-connect = "0.1"
//! pagerduty-mcp-connect-store = "0.1"   # SQLite; features = ["postgres"] adds Postgres
//! ```
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use pagerduty_mcp_connect::{Connector, PagerDuty, TokenVerifier, UserId};
//! use pagerduty_mcp_connect_store::{KeySource, SqlCredentialStore};
//!
//! let store = SqlCredentialStore::builder()
//!     .sqlite_file("/var/lib/gateway/credentials.db")
//!     .key(KeySource::env(KeySource::DEFAULT_ENV))
//!     .open()
//!     .await?;
//!
//! // Onboarding: check the token with PagerDuty, store it with the identity and region found.
//! let alice = UserId::from("alice@example.com");
//! store.put_verified(&alice, "u+alice-token".into(), &TokenVerifier::new()?).await?;
//!
//! // Each user to the hosted MCP server of the region stored with their token.
//! let connector = Connector::builder()
//!     .routes(PagerDuty::routes())
//!     .credentials(store.clone())
//!     .build()?;
//! let incidents = connector
//!     .call_tool(&alice, "list_incidents", pagerduty_mcp_connect::serde_json::json!({}))
//!     .await?;
//! # let _ = incidents;
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! | feature | default | what it enables |
//! |---|---|---|
//! | `sqlite` | yes | the embedded SQLite engine (one file, no server) |
//! | `postgres` | no | Postgres, for several gateway replicas sharing one database |
//! | `rustls` | yes | TLS (Postgres connections and the token check) through rustls with aws-lc-rs |
//! | `rustls-ring` | no | TLS through rustls with ring (no cmake): `default-features = false, features = ["sqlite", "rustls-ring"]` |
//!
//! The schema's migrations are embedded (`crates/store/migrations` in the repository). The admin
//! tool `cargo run -p pagerduty-mcp-connect-store --example credentials -- list` adds, rotates,
//! revokes, lists and verifies tokens (add `--features postgres` for
//! `--database-url postgres://…`).
//!
//! This crate was `pagerduty_mcp_connect::credential::SqlCredentialStore` and its neighbours,
//! behind the features `store-sqlite` and `store-postgres` of `pagerduty-mcp-connect`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
mod error;
mod key_source;
mod record;
mod sealing;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use secrecy::SecretString;

use crate::backend::{Pool, RawRecord, WriteMeta, now_ms, to_time};
use crate::sealing::KeyRing;
use pagerduty_mcp_connect::AuthScheme;
use pagerduty_mcp_connect::Error;
use pagerduty_mcp_connect::{Credential, CredentialError, CredentialProvider, UserId};
use pagerduty_mcp_connect::{CredentialVerifier, Route};

pub use error::StoreError;
pub use key_source::KeySource;
pub use record::{CredentialRecord, Revocation, RevokedBy, Verification};
/// The `sqlx` crate the store is built on, for the pools of
/// `SqlCredentialStore::sqlite_pool` and `SqlCredentialStore::postgres_pool` (each with its feature).
pub use sqlx;

/// The longest token the store accepts, in bytes.
const MAX_TOKEN_BYTES: usize = 4096;

/// The reason recorded when the server rejected a token.
const REJECTED_REASON: &str = "the server rejected the token (HTTP 401)";

/// Each user's PagerDuty User API Token (or any header credential), persisted in SQLite or
/// Postgres and sealed at rest; a [`CredentialProvider`] for a
/// [`Connector`](pagerduty_mcp_connect::Connector) and the admin operations a gateway needs.
///
/// - **Engines.** SQLite (feature `sqlite`) is the embedded default: one file, no server.
///   Postgres (feature `postgres`, rustls TLS) lets several gateway replicas share one
///   database. The schema is migrated on [`open`](SqlCredentialStoreBuilder::open) (embedded
///   migrations; an older schema is upgraded in place).
/// - **Sealing.** Each token is sealed with XChaCha20-Poly1305 under the key of a [`KeySource`],
///   with a fresh random 192-bit nonce per seal and associated data binding it to the server
///   name and the user: a row copied to another user does not open. Rows carry the id of their
///   key; [`rekey`](SqlCredentialStore::rekey) reseals every row under a new key while the
///   store keeps serving. A wrong key is [`StoreError::WrongKey`] at open.
/// - **Metadata.** Created, rotated, last used, last verified (with the identity and route a
///   [`CredentialVerifier`] found), revoked (when, why, by whom): [`CredentialRecord`].
///   The [`Credential`] handed out carries the token's creation time (for the connector's
///   token-age warning) and the stored route as its [route](Credential::route) (for a connector
///   built with [`PagerDuty::routes`](pagerduty_mcp_connect::PagerDuty::routes)).
/// - **Revocation.** After a 401 the connector calls
///   [`invalidate`](CredentialProvider::invalidate): the row is marked revoked by the server,
///   and later lookups answer [`CredentialError::Rejected`] at once (the connector turns it
///   into [`Error::Unauthorized`] with the credential help) until a new token is put. An admin
///   [`revoke`](SqlCredentialStore::revoke) answers [`CredentialError::Revoked`].
/// - **Replicas.** Lookups are cached in memory for
///   [`cache_ttl`](SqlCredentialStoreBuilder::cache_ttl) (5 s by default; zero turns the cache
///   off). A change made through this store is seen by it at once; a change made by another
///   replica is seen within `cache_ttl`: no replica hands out a revoked or replaced token longer
///   than that after the change committed.
///
/// `Debug` shows the engine, the server name and the key id; never a token or a key.
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use pagerduty_mcp_connect_store::{KeySource, SqlCredentialStore};
/// use pagerduty_mcp_connect::{CredentialError, CredentialProvider, Region, UserId};
///
/// let dir = std::env::temp_dir().join(format!("pdmcp-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let store = SqlCredentialStore::builder()
///     .sqlite_file(dir.join("credentials.db"))
///     .key(KeySource::base64(KeySource::generate()?))
///     .open()
///     .await?;
///
/// let alice = UserId::from("alice@example.com");
/// store.put_with_route(&alice, "u+alice-token".into(), Region::Eu).await?;
/// let credential = store.credential(&alice).await?;
/// assert_eq!(Region::of(&credential), Some(Region::Eu));
///
/// store.revoke(&alice, "left the company").await?;
/// assert!(matches!(store.credential(&alice).await, Err(CredentialError::Revoked { .. })));
/// let listed = store.list().await?;
/// assert_eq!(listed[0].revocation.as_ref().unwrap().reason, "left the company");
/// # store.close().await;
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "sqlite"))]
/// # fn main() {}
/// ```
#[derive(Clone)]
pub struct SqlCredentialStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    keys: KeyRing,
    server: String,
    cache_ttl: Duration,
    last_used_resolution: Option<Duration>,
    local: Mutex<HashMap<UserId, Local>>,
    /// Bumped by every local change, so that a lookup that raced with one does not cache what
    /// it read before the change.
    generation: AtomicU64,
}

/// What this process remembers of one user.
#[derive(Default)]
struct Local {
    cached: Option<(Cached, Instant)>,
    touched: Option<Instant>,
}

#[derive(Clone)]
enum Cached {
    Token(Credential),
    Revoked(RevokedBy),
}

impl fmt::Debug for SqlCredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlCredentialStore")
            .field("engine", &self.engine())
            .field("server", &self.inner.server)
            .field("key_id", &self.inner.keys.primary_id())
            .field("cache_ttl", &self.inner.cache_ttl)
            .finish_non_exhaustive()
    }
}

impl SqlCredentialStore {
    /// The default name of the server whose credentials the store keeps.
    pub const DEFAULT_SERVER: &'static str = "pagerduty";

    /// The default time a lookup is cached.
    pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(5);

    /// A builder: give it a database and a key, then [`open`](SqlCredentialStoreBuilder::open).
    pub fn builder() -> SqlCredentialStoreBuilder {
        SqlCredentialStoreBuilder::default()
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn engine(&self) -> &'static str {
        match &self.inner.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Pool::Postgres(_) => "postgres",
        }
    }

    /// The store's SQLite connection pool (for health checks, backups or the gateway's own
    /// queries; the store's table is `pagerduty_mcp_credentials`).
    #[cfg(feature = "sqlite")]
    pub fn sqlite_pool(&self) -> Option<&sqlx::SqlitePool> {
        match &self.inner.pool {
            Pool::Sqlite(pool) => Some(pool),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The store's Postgres connection pool (for health checks or the gateway's own queries;
    /// the store's table is `pagerduty_mcp_credentials`).
    #[cfg(feature = "postgres")]
    pub fn postgres_pool(&self) -> Option<&sqlx::PgPool> {
        match &self.inner.pool {
            Pool::Postgres(pool) => Some(pool),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The name of the server whose credentials this store keeps (part of each row's key and of
    /// each seal's associated data).
    pub fn server_name(&self) -> &str {
        &self.inner.server
    }

    /// The id of the key that seals new tokens.
    pub fn key_id(&self) -> &str {
        self.inner.keys.primary_id()
    }

    /// The time lookups are cached ([`Duration::ZERO`]: no cache).
    pub fn cache_ttl(&self) -> Duration {
        self.inner.cache_ttl
    }

    /// Stores `token` as `user`'s credential, replacing any earlier one (revoked or not: a new
    /// token lifts a revocation). The route already stored for the user is kept.
    ///
    /// The token is refused ([`StoreError::InvalidToken`]) when it could not be sent in an HTTP
    /// header: empty, CR, LF or other control characters, non-ASCII, longer than 4 KiB.
    pub async fn put(
        &self,
        user: &UserId,
        token: SecretString,
    ) -> Result<CredentialRecord, StoreError> {
        self.write(user, &token, WriteMeta::default(), false).await
    }

    /// Stores many users' tokens in one transaction (an import from another secret store):
    /// every token is checked first, and either all are stored or none. Returns how many.
    pub async fn put_all(
        &self,
        entries: impl IntoIterator<Item = (UserId, SecretString)>,
    ) -> Result<usize, StoreError> {
        let mut rows = Vec::new();
        for (user, token) in entries {
            check_token(&token)?;
            let sealed = self.inner.keys.seal(&self.inner.server, &user, &token)?;
            rows.push((user, sealed));
        }
        let written = self.inner.pool.write_all(&self.inner.server, &rows).await;
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        {
            let mut local = self.lock_local();
            for (user, _) in &rows {
                if let Some(entry) = local.get_mut(user) {
                    entry.cached = None;
                }
            }
        }
        written.map(|()| rows.len())
    }

    /// Like [`put`](SqlCredentialStore::put), recording which of a connector's servers the token
    /// belongs to (its [route](CredentialRecord::route); for PagerDuty a `Region`).
    pub async fn put_with_route(
        &self,
        user: &UserId,
        token: SecretString,
        route: impl Into<Route>,
    ) -> Result<CredentialRecord, StoreError> {
        let meta = WriteMeta {
            route: Some(route.into()),
            verified: None,
        };
        self.write(user, &token, meta, false).await
    }

    /// Checks `token` with the service first (`verifier`; PagerDuty's `TokenVerifier` tries the
    /// US region, then the EU one), and stores it only when the service accepts it, with the
    /// identity and route it found. A rejected token is [`StoreError::Verification`] and
    /// nothing is stored.
    pub async fn put_verified(
        &self,
        user: &UserId,
        token: SecretString,
        verifier: &dyn CredentialVerifier,
    ) -> Result<CredentialRecord, StoreError> {
        self.write_verified(user, token, verifier, false).await
    }

    /// Replaces the token of a user who has one ([`StoreError::NotFound`] otherwise); lifts a
    /// revocation. Connectors use the new token from their next call (on other replicas: within
    /// the cache time).
    pub async fn rotate(
        &self,
        user: &UserId,
        token: SecretString,
    ) -> Result<CredentialRecord, StoreError> {
        self.write(user, &token, WriteMeta::default(), true).await
    }

    /// Like [`rotate`](SqlCredentialStore::rotate), checking the new token with `verifier` first.
    pub async fn rotate_verified(
        &self,
        user: &UserId,
        token: SecretString,
        verifier: &dyn CredentialVerifier,
    ) -> Result<CredentialRecord, StoreError> {
        self.write_verified(user, token, verifier, true).await
    }

    /// Checks `token` with `verifier`, then writes it with the identity found.
    async fn write_verified(
        &self,
        user: &UserId,
        token: SecretString,
        verifier: &dyn CredentialVerifier,
        must_exist: bool,
    ) -> Result<CredentialRecord, StoreError> {
        check_token(&token)?;
        let identity = verifier
            .verify_token(&token)
            .await
            .map_err(StoreError::Verification)?;
        let meta = WriteMeta {
            route: None,
            verified: Some(identity),
        };
        self.write(user, &token, meta, must_exist).await
    }

    /// Checks `user`'s stored token with `verifier` and records who it belongs to and on which
    /// route. When the service answers 401 the token is marked revoked by the server (and the
    /// error returned); any other failure changes nothing.
    pub async fn verify(
        &self,
        user: &UserId,
        verifier: &dyn CredentialVerifier,
    ) -> Result<CredentialRecord, StoreError> {
        let server = &self.inner.server;
        let (raw, sealed) = self
            .inner
            .pool
            .fetch(server, user)
            .await?
            .ok_or_else(|| StoreError::NotFound { user: user.clone() })?;
        let revision = raw.revision_value();
        let token = self.inner.keys.open(server, user, &sealed)?;
        match verifier.verify_token(&token).await {
            Ok(identity) => {
                let updated = self
                    .inner
                    .pool
                    .verified(server, user, revision, &identity)
                    .await?;
                self.changed(user);
                updated
                    .ok_or_else(|| StoreError::Changed { user: user.clone() })?
                    .into_record()
            }
            Err(err) => {
                if matches!(err, Error::Unauthorized { .. }) {
                    self.inner
                        .pool
                        .revoke_if_current(
                            server,
                            user,
                            revision,
                            "the service rejected the token when it was verified (HTTP 401)",
                            RevokedBy::Server,
                        )
                        .await?;
                    self.changed(user);
                }
                Err(StoreError::Verification(err))
            }
        }
    }

    /// Sets the [route](CredentialRecord::route) of a user who has a credential.
    pub async fn set_route(
        &self,
        user: &UserId,
        route: impl Into<Route>,
    ) -> Result<CredentialRecord, StoreError> {
        let updated = self
            .inner
            .pool
            .set_route(&self.inner.server, user, &route.into())
            .await?;
        self.changed(user);
        updated
            .ok_or_else(|| StoreError::NotFound { user: user.clone() })?
            .into_record()
    }

    /// Revokes `user`'s token, recording `reason`: lookups answer
    /// [`CredentialError::Revoked`] until a new token is put (on other replicas: within the
    /// cache time). The sealed token stays until [`delete`](SqlCredentialStore::delete).
    pub async fn revoke(
        &self,
        user: &UserId,
        reason: &str,
    ) -> Result<CredentialRecord, StoreError> {
        let updated = self
            .inner
            .pool
            .revoke(&self.inner.server, user, reason, RevokedBy::Admin)
            .await?;
        self.changed(user);
        updated
            .ok_or_else(|| StoreError::NotFound { user: user.clone() })?
            .into_record()
    }

    /// Deletes `user`'s entry, token and metadata. Returns whether there was one.
    pub async fn delete(&self, user: &UserId) -> Result<bool, StoreError> {
        let deleted = self.inner.pool.delete(&self.inner.server, user).await?;
        self.changed(user);
        self.lock_local().remove(user);
        Ok(deleted)
    }

    /// `user`'s metadata (never the token), if the user has a credential.
    pub async fn record(&self, user: &UserId) -> Result<Option<CredentialRecord>, StoreError> {
        match self.inner.pool.fetch(&self.inner.server, user).await? {
            Some((raw, _sealed)) => Ok(Some(raw.into_record()?)),
            None => Ok(None),
        }
    }

    /// Every user with a credential, with their metadata (never the tokens), ordered by user.
    pub async fn list(&self) -> Result<Vec<CredentialRecord>, StoreError> {
        self.inner
            .pool
            .list(&self.inner.server)
            .await?
            .into_iter()
            .map(RawRecord::into_record)
            .collect()
    }

    /// The number of users with a credential.
    pub async fn len(&self) -> Result<u64, StoreError> {
        self.inner.pool.count(&self.inner.server).await
    }

    /// Whether no user has a credential.
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len().await? == 0)
    }

    /// Reseals every token not sealed under the store's key (given with
    /// [`key`](SqlCredentialStoreBuilder::key)) under it, row by row, while the store keeps
    /// serving: each row changes in one statement, and a row rotated meanwhile is left as the
    /// rotation wrote it. Returns how many rows were resealed.
    ///
    /// Key rotation without downtime: (1) give every replica the new key as `key` and the old
    /// one as `previous_key`, (2) call `rekey` once, (3) drop `previous_key`. A replica opened
    /// with only the old key after step 2 refuses to start with [`StoreError::WrongKey`].
    pub async fn rekey(&self) -> Result<usize, StoreError> {
        let server = &self.inner.server;
        let primary = self.inner.keys.primary_id().to_owned();
        let mut after = String::new();
        let mut resealed = 0;
        loop {
            let batch = self
                .inner
                .pool
                .rekey_batch(server, &primary, &after)
                .await?;
            let Some(last) = batch.last() else {
                return Ok(resealed);
            };
            after = last.user.as_str().to_owned();
            for row in batch {
                let token = self.inner.keys.open(server, &row.user, &row.sealed)?;
                let sealed = self.inner.keys.seal(server, &row.user, &token)?;
                if self
                    .inner
                    .pool
                    .reseal(server, &row.user, row.revision, &row.sealed.key_id, &sealed)
                    .await?
                {
                    resealed += 1;
                }
                self.changed(&row.user);
            }
        }
    }

    /// Forgets every cached lookup of this process.
    pub fn clear_cache(&self) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        for local in self.lock_local().values_mut() {
            local.cached = None;
        }
    }

    /// Closes the connection pool; later calls fail with [`StoreError::Unreachable`].
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }

    async fn write(
        &self,
        user: &UserId,
        token: &SecretString,
        meta: WriteMeta,
        must_exist: bool,
    ) -> Result<CredentialRecord, StoreError> {
        check_token(token)?;
        let sealed = self.inner.keys.seal(&self.inner.server, user, token)?;
        let written = self
            .inner
            .pool
            .write(&self.inner.server, user, &sealed, &meta, must_exist)
            .await;
        self.changed(user);
        written?
            .ok_or_else(|| StoreError::NotFound { user: user.clone() })?
            .into_record()
    }

    /// After a local change: drop the cached lookup, and keep racing lookups from caching.
    fn changed(&self, user: &UserId) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(local) = self.lock_local().get_mut(user) {
            local.cached = None;
        }
    }

    fn lock_local(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, Local>> {
        self.inner.local.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cached(&self, user: &UserId) -> Option<Cached> {
        if self.inner.cache_ttl.is_zero() {
            return None;
        }
        let local = self.lock_local();
        let (cached, at) = local.get(user)?.cached.as_ref()?;
        (at.elapsed() < self.inner.cache_ttl).then(|| cached.clone())
    }

    fn remember(&self, user: &UserId, cached: Cached, generation: u64) {
        if self.inner.cache_ttl.is_zero() {
            return;
        }
        let mut local = self.lock_local();
        if self.inner.generation.load(Ordering::Acquire) != generation {
            return;
        }
        local.entry(user.clone()).or_default().cached = Some((cached, Instant::now()));
    }

    /// Records the use of `user`'s token, at most once per resolution, without waiting for it.
    fn touch(&self, user: &UserId) {
        let Some(resolution) = self.inner.last_used_resolution else {
            return;
        };
        {
            let mut local = self.lock_local();
            let entry = local.entry(user.clone()).or_default();
            if entry.touched.is_some_and(|at| at.elapsed() < resolution) {
                return;
            }
            entry.touched = Some(Instant::now());
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = self.clone();
        let user = user.clone();
        runtime.spawn(async move {
            if let Err(err) = store
                .inner
                .pool
                .touch(&store.inner.server, &user, now_ms())
                .await
            {
                tracing::debug!(user = %user, error = %err, "could not record the last use of a credential");
            }
        });
    }

    async fn lookup(&self, user: &UserId) -> Result<Credential, CredentialError> {
        let generation = self.inner.generation.load(Ordering::Acquire);
        let server = &self.inner.server;
        let fetched = self
            .inner
            .pool
            .fetch(server, user)
            .await
            .map_err(|err| err.into_credential_error(user))?;
        let Some((raw, sealed)) = fetched else {
            return Err(CredentialError::NotFound { user: user.clone() });
        };
        if raw.is_revoked() {
            let by = raw.revoked_by();
            self.remember(user, Cached::Revoked(by), generation);
            return Err(revoked(user, by));
        }
        let route = raw.route();
        let token = self
            .inner
            .keys
            .open(server, user, &sealed)
            .map_err(|err| err.into_credential_error(user))?;
        let mut credential =
            Credential::new(token).with_created_at(to_time(raw.token_created_ms()));
        if let Some(route) = route {
            credential = credential.with_route(route);
        }
        self.remember(user, Cached::Token(credential.clone()), generation);
        Ok(credential)
    }
}

fn revoked(user: &UserId, by: RevokedBy) -> CredentialError {
    match by {
        RevokedBy::Server => CredentialError::Rejected { user: user.clone() },
        _ => CredentialError::Revoked { user: user.clone() },
    }
}

/// Refuses a token that could never be sent in an HTTP header.
fn check_token(token: &SecretString) -> Result<(), StoreError> {
    use secrecy::ExposeSecret;
    if token.expose_secret().len() > MAX_TOKEN_BYTES {
        return Err(StoreError::InvalidToken {
            reason: format!("the token is longer than {MAX_TOKEN_BYTES} bytes"),
        });
    }
    match AuthScheme::token().header_value(token) {
        Ok(_) => Ok(()),
        Err(Error::InvalidCredential { reason, .. }) => Err(StoreError::InvalidToken { reason }),
        Err(other) => Err(StoreError::InvalidToken {
            reason: other.to_string(),
        }),
    }
}

#[async_trait]
impl CredentialProvider for SqlCredentialStore {
    async fn credential(&self, user: &UserId) -> Result<Credential, CredentialError> {
        let result = match self.cached(user) {
            Some(Cached::Token(credential)) => Ok(credential),
            Some(Cached::Revoked(by)) => Err(revoked(user, by)),
            None => self.lookup(user).await,
        };
        if result.is_ok() {
            self.touch(user);
        }
        result
    }

    async fn invalidate(&self, user: &UserId, credential: &Credential) {
        self.changed(user);
        let server = &self.inner.server;
        let outcome = async {
            let Some((raw, sealed)) = self.inner.pool.fetch(server, user).await? else {
                return Ok(false);
            };
            if raw.is_revoked() {
                return Ok(false);
            }
            let current = self.inner.keys.open(server, user, &sealed)?;
            // Only the token the server rejected: a rotation that happened meanwhile stays.
            if !Credential::new(current).same_secret(credential) {
                return Ok(false);
            }
            self.inner
                .pool
                .revoke_if_current(
                    server,
                    user,
                    raw.revision_value(),
                    REJECTED_REASON,
                    RevokedBy::Server,
                )
                .await
        }
        .await;
        self.changed(user);
        match outcome {
            Ok(true) => {
                tracing::info!(user = %user, "credential marked revoked after the server rejected it")
            }
            Ok(false) => {}
            Err(err) => tracing::warn!(
                user = %user,
                error = %err,
                "could not record that the server rejected the user's credential"
            ),
        }
    }
}

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
    /// `sqlite`.
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
    /// off). This is the bound within which a change made by another replica is seen.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
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

    /// How often the last use of a token is written (default once a minute per user; `None`:
    /// never). The write happens in the background and never delays a lookup.
    pub fn last_used_resolution(mut self, resolution: Option<Duration>) -> Self {
        self.last_used_resolution = resolution;
        self
    }

    /// Loads the keys, connects, migrates the schema (an older one is upgraded in place) and
    /// checks that every row of this server opens with the keys given
    /// ([`StoreError::WrongKey`] otherwise).
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
        if let Err(err) = pool.migrate().await {
            pool.close().await;
            return Err(err);
        }
        let unknown = match pool.key_ids(&self.server).await {
            Ok(ids) => ids
                .into_iter()
                .filter(|id| !keys.knows(id))
                .collect::<Vec<_>>(),
            Err(err) => {
                pool.close().await;
                return Err(err);
            }
        };
        if !unknown.is_empty() {
            pool.close().await;
            return Err(StoreError::WrongKey {
                found: unknown,
                configured: keys.ids(),
            });
        }
        Ok(SqlCredentialStore {
            inner: Arc::new(Inner {
                pool,
                keys,
                server: self.server,
                cache_ttl: self.cache_ttl,
                last_used_resolution: self.last_used_resolution,
                local: Mutex::new(HashMap::new()),
                generation: AtomicU64::new(0),
            }),
        })
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
        create_private_file(&path)?;
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
            create_private_file(&path)?;
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

/// Creates the database file, readable by its owner only, when it does not exist yet.
#[cfg(feature = "sqlite")]
fn create_private_file(path: &std::path::Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(StoreError::Unreachable {
            message: format!("cannot create the database file {}: {err}", path.display()),
            source: Some(Box::new(err)),
        }),
    }
}

//! [`SqlCredentialStore`]: the admin operations and the [`CredentialProvider`].

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use secrecy::SecretString;

use crate::backend::{Decision, Pool, RawRecord, now_ms, to_time};
use crate::background::Background;
use crate::builder::SqlCredentialStoreBuilder;
use crate::cache::{Cache, Cached};
use crate::error::StoreError;
use crate::last_used::LastUsed;
use crate::record::{CredentialRecord, RevokedBy};
use crate::rejections::Rejections;
use crate::rekey::{RekeyFailure, RekeyReport};
use crate::revision_marks::RevisionMarks;
use crate::sealing::{KeyRing, SEAL_V2, Sealed};
use pagerduty_mcp_connect::{AuthScheme, Error};
use pagerduty_mcp_connect::{Credential, CredentialError, CredentialProvider, UserId};
use pagerduty_mcp_connect::{CredentialVerifier, Route, VerifiedIdentity};

#[cfg(doc)]
use crate::KeySource;

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
///   migrations; an older schema is upgraded in place). An existing SQLite file its group or
///   others may access is refused ([`StoreError::InsecureFile`]); new ones are created mode 600.
/// - **Sealing.** Each token is sealed with XChaCha20-Poly1305 under the key of a [`KeySource`],
///   with a fresh random 192-bit nonce per seal and associated data binding it to the server
///   name, the user, and the state of its row (creation time, revision, route, revocation): a
///   row copied to another user, an older sealed token put back under a newer revision, or a
///   route or revocation changed by hand does not open ([`StoreError::Unsealable`]). What the
///   database is still trusted with is in the crate docs (*Security*). Rows carry the id of
///   their key; [`rekey`](SqlCredentialStore::rekey) reseals every row under a new key while
///   the store keeps serving.
/// - **Bad rows cost their user only.** A store whose key opens no row at all refuses to open
///   ([`StoreError::WrongKey`]); rows under a key it was not given are named in a WARN at open
///   and their users' lookups fail with [`StoreError::UnknownKey`]; a tampered row fails with
///   [`StoreError::Unsealable`] or [`StoreError::RolledBack`]. Everyone else is served.
/// - **Metadata.** Created, rotated, last used, last verified (with the identity and route a
///   [`CredentialVerifier`] found), revoked (when, why, by whom): [`CredentialRecord`].
///   The [`Credential`] handed out carries the token's creation time (for the connector's
///   token-age warning) and the stored route as its [route](Credential::route) (for a connector
///   built with [`PagerDuty::routes`](pagerduty_mcp_connect::PagerDuty::routes)). The last use
///   is kept in memory and written in batches (see
///   [`last_used_resolution`](SqlCredentialStoreBuilder::last_used_resolution)).
/// - **Revocation.** After a 401 the connector calls
///   [`invalidate`](CredentialProvider::invalidate): the row is marked revoked by the server,
///   and later lookups answer [`CredentialError::Rejected`] at once (the connector turns it
///   into [`Error::Unauthorized`] with the credential help) until a new token is put. When the
///   database cannot take that write, the rejection is kept in this process's memory, the
///   token is never handed out by it again, and the write is retried in the background (every
///   250 ms at first, then at most every 5 s) until it succeeds or a new token replaced the
///   rejected one. Other replicas learn of it when it is written, or from their own 401 for
///   the same token. An admin [`revoke`](SqlCredentialStore::revoke) answers
///   [`CredentialError::Revoked`].
/// - **Replicas.** Lookups are cached in memory for
///   [`cache_ttl`](SqlCredentialStoreBuilder::cache_ttl) (5 s by default; zero turns the cache
///   off), counted from the moment each lookup *started*. A change made through this store is
///   seen by it at once; a change made by another replica is seen within `cache_ttl`: no
///   replica hands out a revoked or replaced token longer than that after the change
///   committed, however slowly its database answers.
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
    pub(crate) inner: Arc<Inner>,
}

/// The state of one store, shared by its clones.
pub(crate) struct Inner {
    pub(crate) pool: Pool,
    pub(crate) keys: KeyRing,
    pub(crate) server: String,
    pub(crate) cache: Cache,
    pub(crate) cache_ttl: Duration,
    pub(crate) last_used_resolution: Option<Duration>,
    pub(crate) last_used: LastUsed,
    pub(crate) rejections: Rejections,
    pub(crate) marks: RevisionMarks,
    /// Users whose rows opened under seal version 1, to reseal in the background, and since
    /// when the oldest waits.
    pub(crate) reseals: Mutex<(HashSet<UserId>, Option<Instant>)>,
    /// Whether rows sealed under version 1 still open (the database held some when the store
    /// opened, and no complete rekey has run since).
    pub(crate) accept_v1: AtomicBool,
    pub(crate) background: Background,
    pub(crate) closed: AtomicBool,
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

/// What a write of a token stores besides it.
#[derive(Debug, Default)]
struct WriteMeta {
    route: Option<Route>,
    verified: Option<VerifiedIdentity>,
}

/// What writing a rejection found.
enum Rejection {
    /// The token was marked revoked by the server.
    Written(Box<RawRecord>),
    /// The user has no entry any more.
    Gone,
    /// The entry was revoked already.
    AlreadyRevoked,
    /// The entry holds another token now.
    Superseded,
    /// The stored token does not open (its lookups fail with a typed error anyway).
    Unreadable,
}

/// `record` with the key id and seal version of `sealed`, to write (and hand back).
fn written(record: RawRecord, sealed: Sealed) -> Decision<RawRecord> {
    written_as(record, sealed, |record| record)
}

/// `record` with the key id and seal version of `sealed`, to write; the caller gets what `out`
/// makes of the written record.
fn written_as<T>(
    mut record: RawRecord,
    sealed: Sealed,
    out: impl FnOnce(RawRecord) -> T,
) -> Decision<T> {
    record.key_id = sealed.key_id.clone();
    record.seal_version = sealed.version;
    Decision::Write(Box::new(record.clone()), sealed, out(record))
}

impl SqlCredentialStore {
    /// The default name of the server whose credentials the store keeps.
    pub const DEFAULT_SERVER: &'static str = "pagerduty";

    /// The default time a lookup is cached.
    pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(5);

    /// The default number of users whose lookups the cache holds at most.
    pub const DEFAULT_CACHE_CAPACITY: usize = 100_000;

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
    /// queries; the store's table is `mcp_credentials`).
    #[cfg(feature = "sqlite")]
    pub fn sqlite_pool(&self) -> Option<&sqlx::SqlitePool> {
        match &self.inner.pool {
            Pool::Sqlite(pool) => Some(pool),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The store's Postgres connection pool (for health checks or the gateway's own queries;
    /// the store's table is `mcp_credentials`).
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

    /// How many users' lookups this process holds in its cache right now (for metrics; at most
    /// the [`cache_capacity`](SqlCredentialStoreBuilder::cache_capacity)).
    pub fn cache_len(&self) -> usize {
        self.inner.cache.len()
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
        let (users, tokens): (Vec<UserId>, Vec<SecretString>) = entries.into_iter().unzip();
        for token in &tokens {
            check_token(token)?;
        }
        let (keys, server) = (&self.inner.keys, self.inner.server.as_str());
        let written = self
            .inner
            .pool
            .update_rows(server, &users, |index, user, current| {
                let record = next_token_record(user, current, &WriteMeta::default(), false)?;
                let sealed = keys.seal(server, user, &tokens[index], &record.binding())?;
                Ok(written(record, sealed))
            })
            .await;
        for user in &users {
            self.inner.cache.changed(user);
        }
        let records = written?;
        for record in &records {
            let user = UserId::from(record.user_id.as_str());
            self.inner
                .marks
                .observe(&user, record.created_at, record.revision);
            self.inner.rejections.forget(&user);
        }
        Ok(records.len())
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
        let (keys, server) = (&self.inner.keys, self.inner.server.as_str());
        let accept_v1 = self.accept_v1();
        let (raw, sealed) = self
            .inner
            .pool
            .fetch(server, user)
            .await?
            .ok_or_else(|| StoreError::NotFound { user: user.clone() })?;
        let revision = raw.revision;
        let token = keys
            .open(server, user, &sealed, &raw.binding(), accept_v1)?
            .token;
        let outcome = match verifier.verify_token(&token).await {
            Ok(identity) => Ok(identity),
            Err(err @ Error::Unauthorized { .. }) => Err(err),
            // Nothing to record: the service could not be asked, or failed otherwise.
            Err(err) => return Err(StoreError::Verification(err)),
        };
        let unauthorized = outcome.is_err();
        let updated = self
            .inner
            .pool
            .update_row(server, user, |current| {
                let Some((mut record, sealed)) = current else {
                    return Err(StoreError::Changed { user: user.clone() });
                };
                if record.revision != revision || (unauthorized && record.is_revoked()) {
                    // Changed meanwhile: a success is not recorded on another token, and a
                    // rejection of this one is moot.
                    return if unauthorized {
                        Ok(Decision::Keep(record))
                    } else {
                        Err(StoreError::Changed { user: user.clone() })
                    };
                }
                let token = keys
                    .open(server, user, &sealed, &record.binding(), accept_v1)?
                    .token;
                record.revision += 1;
                match &outcome {
                    Ok(identity) => record.set_verified(identity),
                    Err(_) => record.revoke(
                        "the service rejected the token when it was verified (HTTP 401)",
                        RevokedBy::Server,
                    ),
                }
                let sealed = keys.seal(server, user, &token, &record.binding())?;
                Ok(written(record, sealed))
            })
            .await;
        self.inner.cache.changed(user);
        match outcome {
            Ok(_) => self.observed(user, updated),
            Err(err) => {
                match updated {
                    Ok(record) => {
                        self.inner
                            .marks
                            .observe(user, record.created_at, record.revision);
                    }
                    // Deleted meanwhile: nothing to mark.
                    Err(StoreError::Changed { .. }) => {}
                    Err(other) => return Err(other),
                }
                Err(StoreError::Verification(err))
            }
        }
    }

    /// Sets the [route](CredentialRecord::route) of a user who has a credential. The stored
    /// token is resealed (the route is bound to it), so a row whose token does not open is an
    /// error here too.
    pub async fn set_route(
        &self,
        user: &UserId,
        route: impl Into<Route>,
    ) -> Result<CredentialRecord, StoreError> {
        let route = route.into();
        let (keys, server) = (&self.inner.keys, self.inner.server.as_str());
        let accept_v1 = self.accept_v1();
        let updated = self
            .inner
            .pool
            .update_row(server, user, |current| {
                let Some((mut record, sealed)) = current else {
                    return Err(StoreError::NotFound { user: user.clone() });
                };
                let token = keys
                    .open(server, user, &sealed, &record.binding(), accept_v1)?
                    .token;
                record.revision += 1;
                record.route = Some(route.as_str().to_owned());
                let sealed = keys.seal(server, user, &token, &record.binding())?;
                Ok(written(record, sealed))
            })
            .await;
        self.inner.cache.changed(user);
        self.observed(user, updated)
    }

    /// Revokes `user`'s token, recording `reason`: lookups answer
    /// [`CredentialError::Revoked`] until a new token is put (on other replicas: within the
    /// cache time). The sealed token stays (resealed for the revoked state, so that clearing
    /// the revocation by hand does not bring it back) until
    /// [`delete`](SqlCredentialStore::delete).
    pub async fn revoke(
        &self,
        user: &UserId,
        reason: &str,
    ) -> Result<CredentialRecord, StoreError> {
        let (keys, server) = (&self.inner.keys, self.inner.server.as_str());
        let accept_v1 = self.accept_v1();
        let updated = self
            .inner
            .pool
            .update_row(server, user, |current| {
                let Some((mut record, sealed)) = current else {
                    return Err(StoreError::NotFound { user: user.clone() });
                };
                let opened = keys.open(server, user, &sealed, &record.binding(), accept_v1);
                record.revision += 1;
                record.revoke(reason, RevokedBy::Admin);
                let sealed = match opened {
                    Ok(opened) => keys.seal(server, user, &opened.token, &record.binding())?,
                    // A token that does not open stays as it is: it never opens again either.
                    Err(_) => sealed,
                };
                Ok(written(record, sealed))
            })
            .await;
        self.inner.cache.changed(user);
        let record = self.observed(user, updated)?;
        self.inner.rejections.forget(user);
        Ok(record)
    }

    /// Deletes `user`'s entry, token and metadata. Returns whether there was one.
    pub async fn delete(&self, user: &UserId) -> Result<bool, StoreError> {
        let deleted = self.inner.pool.delete(&self.inner.server, user).await;
        self.inner.cache.changed(user);
        let deleted = deleted?;
        self.inner.marks.forget(user);
        self.inner.rejections.forget(user);
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
    /// [`key`](SqlCredentialStoreBuilder::key)), or sealed by an earlier release (with less
    /// associated data), under it, row by row, while the store keeps serving: each row changes
    /// in its own transaction, and a row rotated meanwhile is left as the rotation wrote it.
    ///
    /// A row that cannot be opened (under a key the store was not given, or tampered with) does
    /// not stop the rekey: it goes on, and the [`RekeyReport`] names those users and why. A
    /// database error stops it (nothing half-written: run it again).
    ///
    /// Key rotation without downtime: (1) give every replica the new key as `key` and the old
    /// one as `previous_key`, (2) call `rekey` until its report
    /// [is complete](RekeyReport::is_complete) (put new tokens for the users it names), (3) drop
    /// `previous_key`. A replica opened with only the old key after step 2 refuses to start with
    /// [`StoreError::WrongKey`].
    ///
    /// **Changed in this release**: `rekey` returned the number of resealed rows and stopped at
    /// the first row it could not open; that number is now [`RekeyReport::resealed`].
    pub async fn rekey(&self) -> Result<RekeyReport, StoreError> {
        let (keys, server) = (&self.inner.keys, self.inner.server.as_str());
        let primary = keys.primary_id().to_owned();
        let accept_v1 = self.accept_v1();
        let mut report = RekeyReport::default();
        let mut after = String::new();
        loop {
            let batch = self
                .inner
                .pool
                .rekey_batch(server, &primary, &after)
                .await?;
            let Some(last) = batch.last() else {
                break;
            };
            after = last.as_str().to_owned();
            for user in batch {
                let outcome = self
                    .inner
                    .pool
                    .update_row(server, &user, |current| {
                        let Some((record, sealed)) = current else {
                            return Ok(Decision::Keep(None));
                        };
                        if sealed.key_id == primary && sealed.version >= SEAL_V2 {
                            return Ok(Decision::Keep(None));
                        }
                        match keys.open(server, &user, &sealed, &record.binding(), accept_v1) {
                            Err(err) => Ok(Decision::Keep(Some(Err(err)))),
                            Ok(opened) => {
                                let sealed =
                                    keys.seal(server, &user, &opened.token, &record.binding())?;
                                Ok(written_as(record, sealed, |_| Some(Ok(()))))
                            }
                        }
                    })
                    .await?;
                match outcome {
                    Some(Ok(())) => report.resealed += 1,
                    Some(Err(error)) => report.failed.push(RekeyFailure { user, error }),
                    None => {}
                }
            }
        }
        if report.is_complete() && self.inner.pool.legacy_count(server).await? == 0 {
            // Every row is sealed under version 2 now: a version-1 row appearing later was put
            // there by hand.
            self.inner.accept_v1.store(false, Ordering::Release);
        }
        Ok(report)
    }

    /// Forgets every cached lookup of this process.
    pub fn clear_cache(&self) {
        self.inner.cache.clear();
    }

    /// Writes what is pending (the last uses kept in memory, rejections not written yet, rows
    /// to reseal), empties SQLite's write-ahead log into the database file, and closes the
    /// connection pool, waiting for every connection to close: once it returns, the database
    /// file alone holds every row (a copy of it is a complete backup). Later calls fail with
    /// [`StoreError::Unreachable`]; the cache is emptied.
    pub async fn close(&self) {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            // Closed before (by this handle or a clone): only wait for the pool.
            self.inner.pool.close().await;
            return;
        }
        self.inner.cache.clear();
        self.flush_pending(true).await;
        let unwritten = self.inner.rejections.users();
        if !unwritten.is_empty() {
            tracing::warn!(
                users = %unwritten.iter().map(UserId::as_str).collect::<Vec<_>>().join(", "),
                "the store closed before it could record that the server rejected these users' tokens: other replicas may hand them out until they get a 401 themselves"
            );
        }
        match self.inner.pool.checkpoint().await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                "another connection kept the credential database's write-ahead log from being emptied into the file at close"
            ),
            Err(err) => {
                tracing::warn!(error = %err, "emptying the credential database's write-ahead log at close failed")
            }
        }
        self.inner.pool.close().await;
    }

    /// Whether version-1 seals still open.
    fn accept_v1(&self) -> bool {
        self.inner.accept_v1.load(Ordering::Acquire)
    }

    /// Notes the revision of a record written through this store and turns it into a
    /// [`CredentialRecord`].
    fn observed(
        &self,
        user: &UserId,
        written: Result<RawRecord, StoreError>,
    ) -> Result<CredentialRecord, StoreError> {
        let record = written?;
        self.inner
            .marks
            .observe(user, record.created_at, record.revision);
        record.into_record()
    }

    async fn write(
        &self,
        user: &UserId,
        token: &SecretString,
        meta: WriteMeta,
        must_exist: bool,
    ) -> Result<CredentialRecord, StoreError> {
        check_token(token)?;
        let (keys, server) = (&self.inner.keys, self.inner.server.as_str());
        let written_row = self
            .inner
            .pool
            .update_row(server, user, |current| {
                let record = next_token_record(user, current, &meta, must_exist)?;
                let sealed = keys.seal(server, user, token, &record.binding())?;
                Ok(written(record, sealed))
            })
            .await;
        self.inner.cache.changed(user);
        let record = self.observed(user, written_row)?;
        self.inner.rejections.forget(user);
        Ok(record)
    }

    /// Records the use of `user`'s token in memory; the background writes it with others.
    fn touch(&self, user: &UserId) {
        if self.inner.last_used_resolution.is_none() || self.inner.closed.load(Ordering::Acquire) {
            return;
        }
        if self.inner.last_used.record(user, now_ms()) {
            self.ensure_background();
        }
    }

    /// Reads `user`'s row and opens the token, caching the answer from the moment it was asked.
    async fn lookup(&self, user: &UserId) -> Result<Credential, CredentialError> {
        let ticket = self.inner.cache.begin(user);
        let (keys, server) = (&self.inner.keys, self.inner.server.as_str());
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
            self.inner.marks.observe(user, raw.created_at, raw.revision);
            ticket.finish(Cached::Revoked(by));
            return Err(revoked(user, by));
        }
        let opened = keys
            .open(server, user, &sealed, &raw.binding(), self.accept_v1())
            .map_err(|err| err.into_credential_error(user))?;
        if let Err(newest_seen) =
            self.inner
                .marks
                .check(user, raw.created_at, raw.revision, ticket.started())
        {
            let err = StoreError::RolledBack {
                user: user.clone(),
                revision: u64::try_from(raw.revision).unwrap_or(0),
                newest_seen: u64::try_from(newest_seen).unwrap_or(0),
            };
            tracing::warn!(user = %user, error = %err, "refused a stored credential");
            return Err(err.into_credential_error(user));
        }
        self.inner.marks.observe(user, raw.created_at, raw.revision);
        if opened.version < SEAL_V2 {
            self.queue_reseal(user);
        }
        let mut credential =
            Credential::new(opened.token).with_created_at(to_time(raw.token_created_ms()));
        if let Some(route) = raw.route() {
            credential = credential.with_route(route);
        }
        ticket.finish(Cached::Token(credential.clone()));
        Ok(credential)
    }

    /// Writes the server's rejection of `credential` (the rejection is already in memory):
    /// marks the stored token revoked by the server if it is still the one rejected. On a
    /// database error the rejection stays in memory and is retried in the background.
    pub(crate) async fn write_rejection(&self, user: &UserId, credential: &Credential) {
        let (keys, server) = (&self.inner.keys, self.inner.server.as_str());
        let accept_v1 = self.accept_v1();
        let outcome = self
            .inner
            .pool
            .update_row(server, user, |current| {
                let Some((mut record, sealed)) = current else {
                    return Ok(Decision::Keep(Rejection::Gone));
                };
                if record.is_revoked() {
                    return Ok(Decision::Keep(Rejection::AlreadyRevoked));
                }
                let Ok(opened) = keys.open(server, user, &sealed, &record.binding(), accept_v1)
                else {
                    return Ok(Decision::Keep(Rejection::Unreadable));
                };
                // Only the token the server rejected: a rotation that happened meanwhile stays.
                if !Credential::new(opened.token.clone()).same_secret(credential) {
                    return Ok(Decision::Keep(Rejection::Superseded));
                }
                record.revision += 1;
                record.revoke(REJECTED_REASON, RevokedBy::Server);
                let sealed = keys.seal(server, user, &opened.token, &record.binding())?;
                Ok(written_as(record, sealed, |record| {
                    Rejection::Written(Box::new(record))
                }))
            })
            .await;
        match outcome {
            Ok(outcome) => {
                self.inner.cache.changed(user);
                if let Rejection::Written(record) = &outcome {
                    self.inner
                        .marks
                        .observe(user, record.created_at, record.revision);
                    tracing::info!(user = %user, "credential marked revoked after the server rejected it");
                }
                self.inner.rejections.resolve(user, credential);
            }
            Err(err) => {
                self.inner.rejections.failed(user, credential);
                tracing::warn!(
                    user = %user,
                    error = %err,
                    "could not record that the server rejected the user's credential: this process keeps refusing it and retries the write"
                );
                self.ensure_background();
            }
        }
    }

    /// Queues `user`'s row, opened under seal version 1, to be resealed in the background.
    fn queue_reseal(&self, user: &UserId) {
        let first = {
            let mut reseals = self.inner.reseals.lock().unwrap_or_else(|p| p.into_inner());
            let inserted = reseals.0.insert(user.clone());
            if inserted && reseals.1.is_none() {
                reseals.1 = Some(Instant::now());
                true
            } else {
                false
            }
        };
        if first {
            self.ensure_background();
        }
    }

    /// Reseals the rows of `users` still sealed under version 1 (under version 2 and the
    /// store's key), in one transaction; the revision stays.
    pub(crate) async fn reseal_legacy(&self, users: &[UserId]) -> Result<usize, StoreError> {
        let (keys, server) = (&self.inner.keys, self.inner.server.as_str());
        let accept_v1 = self.accept_v1();
        let resealed = self
            .inner
            .pool
            .update_rows(server, users, |_, user, current| {
                let Some((record, sealed)) = current else {
                    return Ok(Decision::Keep(false));
                };
                if sealed.version >= SEAL_V2 && sealed.key_id == keys.primary_id() {
                    return Ok(Decision::Keep(false));
                }
                let Ok(opened) = keys.open(server, user, &sealed, &record.binding(), accept_v1)
                else {
                    return Ok(Decision::Keep(false));
                };
                let sealed = keys.seal(server, user, &opened.token, &record.binding())?;
                Ok(written_as(record, sealed, |_| true))
            })
            .await?;
        Ok(resealed.into_iter().filter(|done| *done).count())
    }
}

/// The row a new token of `user` makes of `current`: a new entry at revision 1, or the next
/// revision of the existing one, not revoked, with the route and token check of `meta`.
fn next_token_record(
    user: &UserId,
    current: Option<(RawRecord, Sealed)>,
    meta: &WriteMeta,
    must_exist: bool,
) -> Result<RawRecord, StoreError> {
    let now = now_ms();
    let mut record = match current {
        None if must_exist => return Err(StoreError::NotFound { user: user.clone() }),
        None => RawRecord::new_entry(user, now),
        Some((mut record, _)) => {
            record.revision += 1;
            record.rotated_at = Some(now);
            record
        }
    };
    record.revoked_at = None;
    record.revoked_reason = None;
    record.revoked_by = None;
    if let Some(route) = &meta.route {
        record.route = Some(route.as_str().to_owned());
    }
    match &meta.verified {
        Some(identity) => record.set_verified(identity),
        None => record.clear_verified(),
    }
    Ok(record)
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
        let rejected = || CredentialError::Rejected { user: user.clone() };
        match self.inner.cache.get(user) {
            Some(Cached::Token(credential)) => {
                if self.inner.rejections.rejects(user, &credential) {
                    return Err(rejected());
                }
                self.touch(user);
                return Ok(credential);
            }
            Some(Cached::Revoked(by)) => return Err(revoked(user, by)),
            None => {}
        }
        match self.lookup(user).await {
            Ok(credential) => {
                if self.inner.rejections.rejects(user, &credential) {
                    // The database still holds the token the server rejected: never hand it
                    // out; the background writes the rejection.
                    return Err(rejected());
                }
                // The database holds another token now: a rejection of the old one is moot.
                self.inner.rejections.supersede(user, &credential);
                self.touch(user);
                Ok(credential)
            }
            Err(
                err @ (CredentialError::Revoked { .. }
                | CredentialError::Rejected { .. }
                | CredentialError::NotFound { .. }),
            ) => {
                // Revoked, rejected or gone in the database: nothing left to write.
                self.inner.rejections.forget(user);
                Err(err)
            }
            Err(err) => {
                if self.inner.rejections.has(user) {
                    return Err(rejected());
                }
                Err(err)
            }
        }
    }

    async fn invalidate(&self, user: &UserId, credential: &Credential) {
        // In memory first: from here on this process never hands the token out again, whether
        // or not the database takes the write.
        self.inner.rejections.add(user, credential);
        self.inner.cache.changed(user);
        self.write_rejection(user, credential).await;
    }
}

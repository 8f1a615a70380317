//! The two engines behind one set of queries, and the embedded migrations.
//!
//! Every query is written once with `$n` placeholders, which both Postgres and SQLite (through
//! sqlx) understand, and run through `sqlx::query` with binds: no compile-time checked macros,
//! so building the crate never needs a database.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use sqlx::Row as _;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use crate::error::StoreError;
use crate::record::{CredentialRecord, Revocation, RevokedBy, Verification};
use crate::sealing::{Binding, SEAL_V2, Sealed};
use pagerduty_mcp_connect::{Route, UserId, VerifiedIdentity};

/// A connection pool of one of the engines.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    /// SQLite (feature `sqlite`).
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    /// Postgres (feature `postgres`).
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
}

/// Runs `$body` with `$p` bound to the concrete pool.
macro_rules! with_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite($p) => $body,
            #[cfg(feature = "postgres")]
            Pool::Postgres($p) => $body,
        }
    };
}

/// The columns of a record, in the order [`read_record`] reads them.
macro_rules! record_columns {
    () => {
        "user_id, key_id, created_at, rotated_at, revoked_at, revoked_reason, revoked_by, \
         revision, last_used_at, route, last_verified_at, identity_id, identity_name, \
         identity_email, identity_role, seal_version"
    };
}

/// Reads a [`RawRecord`] out of a row of either engine.
macro_rules! read_record {
    ($row:expr) => {{
        let row = $row;
        RawRecord {
            user_id: row.try_get("user_id")?,
            key_id: row.try_get("key_id")?,
            created_at: row.try_get("created_at")?,
            rotated_at: row.try_get("rotated_at")?,
            revoked_at: row.try_get("revoked_at")?,
            revoked_reason: row.try_get("revoked_reason")?,
            revoked_by: row.try_get("revoked_by")?,
            revision: row.try_get("revision")?,
            last_used_at: row.try_get("last_used_at")?,
            route: row.try_get("route")?,
            last_verified_at: row.try_get("last_verified_at")?,
            identity_id: row.try_get("identity_id")?,
            identity_name: row.try_get("identity_name")?,
            identity_email: row.try_get("identity_email")?,
            identity_role: row.try_get("identity_role")?,
            seal_version: row.try_get("seal_version")?,
        }
    }};
}

/// Reads a record and its sealed token out of a row of either engine.
macro_rules! read_sealed_record {
    ($row:expr) => {{
        let row = $row;
        let record = read_record!(row);
        let sealed = Sealed {
            key_id: record.key_id.clone(),
            nonce: row.try_get("nonce")?,
            ciphertext: row.try_get("ciphertext")?,
            version: record.seal_version,
        };
        (record, sealed)
    }};
}

/// Binds the parameters of [`INSERT_ROW`] and [`UPDATE_ROW`] (the same, in the same order).
macro_rules! bind_row {
    ($query:expr, $server:expr, $record:expr, $sealed:expr) => {{
        let record: &RawRecord = $record;
        let sealed: &Sealed = $sealed;
        $query
            .bind($server)
            .bind(record.user_id.as_str())
            .bind(sealed.key_id.as_str())
            .bind(sealed.nonce.as_slice())
            .bind(sealed.ciphertext.as_slice())
            .bind(sealed.version)
            .bind(record.created_at)
            .bind(record.rotated_at)
            .bind(record.revoked_at)
            .bind(record.revoked_reason.as_deref())
            .bind(record.revoked_by.as_deref())
            .bind(record.revision)
            .bind(record.route.as_deref())
            .bind(record.last_verified_at)
            .bind(record.identity_id.as_deref())
            .bind(record.identity_name.as_deref())
            .bind(record.identity_email.as_deref())
            .bind(record.identity_role.as_deref())
    }};
}

/// The body of [`Pool::update_rows`] for one engine: `$begin` starts a transaction that holds
/// the rows it reads (SQLite: `BEGIN IMMEDIATE`, the write lock up front; Postgres: `SELECT …
/// FOR UPDATE`), so that each decision is made on the row as it is and written before anyone
/// else changes it.
macro_rules! update_rows_in {
    ($begin:expr, $select:expr, $server:expr, $users:expr, $decide:expr) => {{
        let mut attempt = 0;
        'attempt: loop {
            attempt += 1;
            let mut tx = $begin.await?;
            let mut out = Vec::with_capacity($users.len());
            for (index, user) in $users.iter().enumerate() {
                let row = sqlx::query($select)
                    .bind($server)
                    .bind(user.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                let current = match row {
                    None => None,
                    Some(row) => Some(read_sealed_record!(&row)),
                };
                let existed = current.is_some();
                match ($decide)(index, user, current)? {
                    Decision::Keep(value) => out.push(value),
                    Decision::Write(record, sealed, value) => {
                        let sql = if existed { UPDATE_ROW } else { INSERT_ROW };
                        let done = bind_row!(sqlx::query(sql), $server, &*record, &sealed)
                            .execute(&mut *tx)
                            .await?;
                        if done.rows_affected() == 0 {
                            // Another connection inserted the same user meanwhile (Postgres
                            // does not lock a row that does not exist yet): start over.
                            drop(tx);
                            if attempt < 5 {
                                continue 'attempt;
                            }
                            return Err(StoreError::Changed { user: user.clone() });
                        }
                        out.push(value);
                    }
                }
            }
            tx.commit().await?;
            break Ok(out);
        }
    }};
}

const SELECT_ONE: &str = concat!(
    "SELECT ",
    record_columns!(),
    ", nonce, ciphertext FROM mcp_credentials WHERE server = $1 AND user_id = $2"
);

#[cfg(feature = "postgres")]
const SELECT_ONE_FOR_UPDATE: &str = concat!(
    "SELECT ",
    record_columns!(),
    ", nonce, ciphertext FROM mcp_credentials WHERE server = $1 AND user_id = $2 FOR UPDATE"
);

const SELECT_ALL: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM mcp_credentials WHERE server = $1 ORDER BY user_id"
);

const INSERT_ROW: &str = "INSERT INTO mcp_credentials (server, user_id, key_id, nonce, \
     ciphertext, seal_version, created_at, rotated_at, revoked_at, revoked_reason, revoked_by, \
     revision, route, last_verified_at, identity_id, identity_name, identity_email, \
     identity_role) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
     ON CONFLICT (server, user_id) DO NOTHING";

const UPDATE_ROW: &str = "UPDATE mcp_credentials SET key_id = $3, nonce = $4, \
     ciphertext = $5, seal_version = $6, created_at = $7, rotated_at = $8, revoked_at = $9, \
     revoked_reason = $10, revoked_by = $11, revision = $12, route = $13, \
     last_verified_at = $14, identity_id = $15, identity_name = $16, identity_email = $17, \
     identity_role = $18 \
     WHERE server = $1 AND user_id = $2";

const DELETE: &str = "DELETE FROM mcp_credentials WHERE server = $1 AND user_id = $2";

const KEY_CENSUS: &str =
    "SELECT key_id, COUNT(*) AS n FROM mcp_credentials WHERE server = $1 GROUP BY key_id";

const USERS_UNDER_KEY: &str = "SELECT user_id FROM mcp_credentials \
     WHERE server = $1 AND key_id = $2 ORDER BY user_id LIMIT $3";

const LEGACY_COUNT: &str =
    "SELECT COUNT(*) AS n FROM mcp_credentials WHERE server = $1 AND seal_version < $2";

const COUNT: &str = "SELECT COUNT(*) AS n FROM mcp_credentials WHERE server = $1";

const REKEY_BATCH: &str = "SELECT user_id FROM mcp_credentials \
     WHERE server = $1 AND (key_id <> $2 OR seal_version < $3) AND user_id > $4 \
     ORDER BY user_id LIMIT 256";

/// At most this many users' last use per statement (two parameters each).
const TOUCH_CHUNK: usize = 250;

/// `WITH v(user_id, at) AS (VALUES ($2, $3), …) UPDATE …`: the last use of `n` users in one
/// statement, never moving a recorded time backwards.
fn touch_many_sql(n: usize) -> String {
    let mut sql = String::from("WITH v(user_id, at) AS (VALUES ");
    for i in 0..n {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("(${}, ${})", 2 + 2 * i, 3 + 2 * i));
    }
    sql.push_str(
        ") UPDATE mcp_credentials SET last_used_at = v.at FROM v \
         WHERE mcp_credentials.server = $1 AND mcp_credentials.user_id = v.user_id \
         AND (mcp_credentials.last_used_at IS NULL OR mcp_credentials.last_used_at < v.at)",
    );
    sql
}

/// A record as stored, before its columns are turned into typed values.
#[derive(Debug, Clone)]
pub(crate) struct RawRecord {
    pub(crate) user_id: String,
    pub(crate) key_id: String,
    pub(crate) created_at: i64,
    pub(crate) rotated_at: Option<i64>,
    pub(crate) revoked_at: Option<i64>,
    pub(crate) revoked_reason: Option<String>,
    pub(crate) revoked_by: Option<String>,
    pub(crate) revision: i64,
    pub(crate) last_used_at: Option<i64>,
    pub(crate) route: Option<String>,
    pub(crate) last_verified_at: Option<i64>,
    pub(crate) identity_id: Option<String>,
    pub(crate) identity_name: Option<String>,
    pub(crate) identity_email: Option<String>,
    pub(crate) identity_role: Option<String>,
    pub(crate) seal_version: i64,
}

impl RawRecord {
    /// A new entry of `user`, created now, at revision 1, holding nothing yet.
    pub(crate) fn new_entry(user: &UserId, now: i64) -> RawRecord {
        RawRecord {
            user_id: user.as_str().to_owned(),
            key_id: String::new(),
            created_at: now,
            rotated_at: None,
            revoked_at: None,
            revoked_reason: None,
            revoked_by: None,
            revision: 1,
            last_used_at: None,
            route: None,
            last_verified_at: None,
            identity_id: None,
            identity_name: None,
            identity_email: None,
            identity_role: None,
            seal_version: SEAL_V2,
        }
    }

    /// The row state a sealed token of this row is bound to.
    pub(crate) fn binding(&self) -> Binding<'_> {
        Binding {
            created_at: self.created_at,
            revision: self.revision,
            route: self.route.as_deref(),
            revoked: self.revoked_at.map(|_| self.revoked_by().as_str()),
        }
    }

    pub(crate) fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }

    pub(crate) fn revoked_by(&self) -> RevokedBy {
        RevokedBy::parse(self.revoked_by.as_deref())
    }

    /// Marks the entry revoked now by `by` for `reason`.
    pub(crate) fn revoke(&mut self, reason: &str, by: RevokedBy) {
        self.revoked_at = Some(now_ms());
        self.revoked_reason = Some(reason.to_owned());
        self.revoked_by = Some(by.as_str().to_owned());
    }

    /// Records a successful token check.
    pub(crate) fn set_verified(&mut self, identity: &VerifiedIdentity) {
        self.last_verified_at = Some(now_ms());
        self.identity_id = Some(identity.id.clone());
        self.identity_name = Some(identity.name.clone());
        self.identity_email = Some(identity.email.clone());
        self.identity_role = Some(identity.role.clone());
        if let Some(route) = &identity.route {
            self.route = Some(route.as_str().to_owned());
        }
    }

    /// Forgets the token check (a new token has not been checked).
    pub(crate) fn clear_verified(&mut self) {
        self.last_verified_at = None;
        self.identity_id = None;
        self.identity_name = None;
        self.identity_email = None;
        self.identity_role = None;
    }

    /// When the current token was stored, in Unix milliseconds.
    pub(crate) fn token_created_ms(&self) -> i64 {
        self.rotated_at.unwrap_or(self.created_at)
    }

    pub(crate) fn route(&self) -> Option<Route> {
        self.route.as_deref().map(Route::from)
    }

    pub(crate) fn into_record(self) -> Result<CredentialRecord, StoreError> {
        let route = self.route();
        let verification = match (self.last_verified_at, self.identity_id) {
            (Some(at), Some(id)) => {
                let mut identity = VerifiedIdentity::new(
                    id,
                    self.identity_name.unwrap_or_default(),
                    self.identity_email.unwrap_or_default(),
                    self.identity_role.unwrap_or_default(),
                );
                identity.route = route.clone();
                Some(Verification {
                    verified_at: to_time(at),
                    identity,
                })
            }
            _ => None,
        };
        let revocation = self.revoked_at.map(|at| Revocation {
            revoked_at: to_time(at),
            reason: self.revoked_reason.unwrap_or_default(),
            by: RevokedBy::parse(self.revoked_by.as_deref()),
        });
        Ok(CredentialRecord {
            user: UserId::from(self.user_id),
            created_at: to_time(self.created_at),
            rotated_at: self.rotated_at.map(to_time),
            last_used_at: self.last_used_at.map(to_time),
            route,
            verification,
            revocation,
            key_id: self.key_id,
            revision: u64::try_from(self.revision).unwrap_or(0),
        })
    }
}

/// What [`Pool::update_rows`] does with one row: write this state and sealed token, or leave
/// the row as it is; either way with a value for the caller.
pub(crate) enum Decision<T> {
    Write(Box<RawRecord>, Sealed, T),
    Keep(T),
}

pub(crate) fn now_ms() -> i64 {
    to_ms(SystemTime::now())
}

pub(crate) fn to_ms(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

pub(crate) fn to_time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl Pool {
    /// Runs the embedded migrations of the engine.
    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        with_pool!(self, p => {
            let migrator = Migrator::new(Embedded(engine_migrations(self))).await?;
            migrator.run(p).await?;
        });
        Ok(())
    }

    /// Closes every connection of the pool, waiting for those in use to come back.
    ///
    /// sqlx's `close` can miss a connection that was on its way back to the pool when it began
    /// (it lands among the idle ones after the last check and stays open, and with it SQLite's
    /// write-ahead log): close again until no connection is left (for at most a second beyond
    /// the connections in use).
    pub(crate) async fn close(&self) {
        with_pool!(self, p => {
            for _ in 0..200 {
                p.close().await;
                if p.size() == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    }

    /// SQLite: copies everything the write-ahead log holds into the database file and empties
    /// the log (`wal_checkpoint(TRUNCATE)`); whether it completed (no reader held it back).
    /// Postgres: nothing to do.
    pub(crate) async fn checkpoint(&self) -> Result<bool, StoreError> {
        match self {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => {
                let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .fetch_one(p)
                    .await?;
                let busy: i64 = row.try_get(0)?;
                Ok(busy == 0)
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres(_) => Ok(true),
        }
    }

    /// The record and the sealed token of `user`.
    pub(crate) async fn fetch(
        &self,
        server: &str,
        user: &UserId,
    ) -> Result<Option<(RawRecord, Sealed)>, StoreError> {
        with_pool!(self, p => {
            let row = sqlx::query(SELECT_ONE)
                .bind(server)
                .bind(user.as_str())
                .fetch_optional(p)
                .await?;
            match row {
                None => Ok(None),
                Some(row) => Ok(Some(read_sealed_record!(&row))),
            }
        })
    }

    pub(crate) async fn list(&self, server: &str) -> Result<Vec<RawRecord>, StoreError> {
        with_pool!(self, p => {
            let rows = sqlx::query(SELECT_ALL).bind(server).fetch_all(p).await?;
            let mut records = Vec::with_capacity(rows.len());
            for row in &rows {
                records.push(read_record!(row));
            }
            Ok(records)
        })
    }

    /// Reads each of `users`' rows (or its absence) and lets `decide` say what to write, in one
    /// transaction that holds the rows until it commits: all of it is written, or none.
    /// `decide` gets each user's index in `users`; it may be called again for the same user
    /// when the transaction has to start over.
    pub(crate) async fn update_rows<T>(
        &self,
        server: &str,
        users: &[UserId],
        mut decide: impl FnMut(
            usize,
            &UserId,
            Option<(RawRecord, Sealed)>,
        ) -> Result<Decision<T>, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        match self {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => update_rows_in!(
                p.begin_with("BEGIN IMMEDIATE"),
                SELECT_ONE,
                server,
                users,
                decide
            ),
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => {
                update_rows_in!(p.begin(), SELECT_ONE_FOR_UPDATE, server, users, decide)
            }
        }
    }

    /// [`update_rows`](Pool::update_rows) for one user.
    pub(crate) async fn update_row<T>(
        &self,
        server: &str,
        user: &UserId,
        mut decide: impl FnMut(Option<(RawRecord, Sealed)>) -> Result<Decision<T>, StoreError>,
    ) -> Result<T, StoreError> {
        let mut out = self
            .update_rows(server, std::slice::from_ref(user), |_, _, current| {
                decide(current)
            })
            .await?;
        out.pop()
            .ok_or_else(|| StoreError::Changed { user: user.clone() })
    }

    pub(crate) async fn delete(&self, server: &str, user: &UserId) -> Result<bool, StoreError> {
        with_pool!(self, p => {
            let done = sqlx::query(DELETE)
                .bind(server)
                .bind(user.as_str())
                .execute(p)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// Records the last use of many users (Unix ms each), a few hundred users per statement
    /// (each its own transaction, so that other writers get the lock in between); a recorded
    /// time never moves backwards.
    pub(crate) async fn touch_many(
        &self,
        server: &str,
        uses: &[(UserId, i64)],
    ) -> Result<(), StoreError> {
        with_pool!(self, p => {
            for chunk in uses.chunks(TOUCH_CHUNK) {
                let sql = touch_many_sql(chunk.len());
                let mut query = sqlx::query(&sql).persistent(false).bind(server);
                for (user, at) in chunk {
                    query = query.bind(user.as_str()).bind(*at);
                }
                query.execute(p).await?;
            }
            Ok(())
        })
    }

    /// How many rows each key id seals.
    pub(crate) async fn key_census(&self, server: &str) -> Result<Vec<(String, i64)>, StoreError> {
        with_pool!(self, p => {
            let rows = sqlx::query(KEY_CENSUS).bind(server).fetch_all(p).await?;
            let mut census = Vec::with_capacity(rows.len());
            for row in &rows {
                census.push((row.try_get::<String, _>("key_id")?, row.try_get::<i64, _>("n")?));
            }
            Ok(census)
        })
    }

    /// Up to `limit` users whose rows are sealed under `key_id`, in order.
    pub(crate) async fn users_under_key(
        &self,
        server: &str,
        key_id: &str,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        with_pool!(self, p => {
            let rows = sqlx::query(USERS_UNDER_KEY)
                .bind(server)
                .bind(key_id)
                .bind(limit)
                .fetch_all(p)
                .await?;
            let mut users = Vec::with_capacity(rows.len());
            for row in &rows {
                users.push(row.try_get::<String, _>("user_id")?);
            }
            Ok(users)
        })
    }

    /// How many rows record a seal version older than this release's.
    pub(crate) async fn legacy_count(&self, server: &str) -> Result<u64, StoreError> {
        with_pool!(self, p => {
            let row = sqlx::query(LEGACY_COUNT)
                .bind(server)
                .bind(SEAL_V2)
                .fetch_one(p)
                .await?;
            let n: i64 = row.try_get("n")?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    pub(crate) async fn count(&self, server: &str) -> Result<u64, StoreError> {
        with_pool!(self, p => {
            let row = sqlx::query(COUNT).bind(server).fetch_one(p).await?;
            let n: i64 = row.try_get("n")?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// Up to 256 users, after `after` in user order, whose rows are not sealed under `primary`
    /// or record an older seal version.
    pub(crate) async fn rekey_batch(
        &self,
        server: &str,
        primary: &str,
        after: &str,
    ) -> Result<Vec<UserId>, StoreError> {
        with_pool!(self, p => {
            let rows = sqlx::query(REKEY_BATCH)
                .bind(server)
                .bind(primary)
                .bind(SEAL_V2)
                .bind(after)
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(UserId::from(row.try_get::<String, _>("user_id")?));
            }
            Ok(out)
        })
    }
}

/// The engine's migrations: (version, description, SQL).
fn engine_migrations(pool: &Pool) -> &'static [(i64, &'static str, &'static str)] {
    match pool {
        #[cfg(feature = "sqlite")]
        Pool::Sqlite(_) => &[
            (
                1,
                "credentials",
                include_str!("../migrations/sqlite/0001_credentials.sql"),
            ),
            (
                2,
                "metadata",
                include_str!("../migrations/sqlite/0002_metadata.sql"),
            ),
            (
                3,
                "generic names",
                include_str!("../migrations/sqlite/0003_generic_names.sql"),
            ),
            (
                4,
                "seal version",
                include_str!("../migrations/sqlite/0004_seal_version.sql"),
            ),
        ],
        #[cfg(feature = "postgres")]
        Pool::Postgres(_) => &[
            (
                1,
                "credentials",
                include_str!("../migrations/postgres/0001_credentials.sql"),
            ),
            (
                2,
                "metadata",
                include_str!("../migrations/postgres/0002_metadata.sql"),
            ),
            (
                3,
                "generic names",
                include_str!("../migrations/postgres/0003_generic_names.sql"),
            ),
            (
                4,
                "seal version",
                include_str!("../migrations/postgres/0004_seal_version.sql"),
            ),
        ],
    }
}

/// The migrations compiled into the crate, as a sqlx migration source.
#[derive(Debug)]
struct Embedded(&'static [(i64, &'static str, &'static str)]);

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> BoxFuture<'static, Result<Vec<Migration>, Box<dyn std::error::Error + Send + Sync>>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

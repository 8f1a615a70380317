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
use crate::sealing::Sealed;
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
         identity_email, identity_role"
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
        }
    }};
}

const SELECT_ONE: &str = concat!(
    "SELECT ",
    record_columns!(),
    ", nonce, ciphertext FROM mcp_credentials WHERE server = $1 AND user_id = $2"
);

const SELECT_ALL: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM mcp_credentials WHERE server = $1 ORDER BY user_id"
);

const UPSERT: &str = concat!(
    "INSERT INTO mcp_credentials (server, user_id, key_id, nonce, ciphertext, \
     created_at, route, last_verified_at, identity_id, identity_name, identity_email, \
     identity_role, revision) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1) \
     ON CONFLICT (server, user_id) DO UPDATE SET \
     key_id = excluded.key_id, nonce = excluded.nonce, ciphertext = excluded.ciphertext, \
     rotated_at = excluded.created_at, \
     revoked_at = NULL, revoked_reason = NULL, revoked_by = NULL, \
     route = COALESCE(excluded.route, mcp_credentials.route), \
     last_verified_at = excluded.last_verified_at, \
     identity_id = excluded.identity_id, identity_name = excluded.identity_name, \
     identity_email = excluded.identity_email, identity_role = excluded.identity_role, \
     revision = mcp_credentials.revision + 1 \
     RETURNING ",
    record_columns!()
);

const ROTATE: &str = concat!(
    "UPDATE mcp_credentials SET key_id = $3, nonce = $4, ciphertext = $5, \
     rotated_at = $6, revoked_at = NULL, revoked_reason = NULL, revoked_by = NULL, \
     route = COALESCE($7, route), last_verified_at = $8, identity_id = $9, \
     identity_name = $10, identity_email = $11, identity_role = $12, \
     revision = revision + 1 \
     WHERE server = $1 AND user_id = $2 RETURNING ",
    record_columns!()
);

const REVOKE: &str = concat!(
    "UPDATE mcp_credentials SET revoked_at = $3, revoked_reason = $4, \
     revoked_by = $5, revision = revision + 1 \
     WHERE server = $1 AND user_id = $2 RETURNING ",
    record_columns!()
);

const REVOKE_IF_CURRENT: &str = "UPDATE mcp_credentials SET revoked_at = $3, \
     revoked_reason = $4, revoked_by = $5, revision = revision + 1 \
     WHERE server = $1 AND user_id = $2 AND revision = $6 AND revoked_at IS NULL";

const DELETE: &str = "DELETE FROM mcp_credentials WHERE server = $1 AND user_id = $2";

const TOUCH: &str = "UPDATE mcp_credentials SET last_used_at = $3 \
     WHERE server = $1 AND user_id = $2 AND (last_used_at IS NULL OR last_used_at < $3)";

const VERIFIED: &str = concat!(
    "UPDATE mcp_credentials SET last_verified_at = $3, identity_id = $4, \
     identity_name = $5, identity_email = $6, identity_role = $7, route = COALESCE($8, route), \
     revision = revision + 1 \
     WHERE server = $1 AND user_id = $2 AND revision = $9 RETURNING ",
    record_columns!()
);

const SET_ROUTE: &str = concat!(
    "UPDATE mcp_credentials SET route = $3, revision = revision + 1 \
     WHERE server = $1 AND user_id = $2 RETURNING ",
    record_columns!()
);

const KEY_IDS: &str = "SELECT DISTINCT key_id FROM mcp_credentials WHERE server = $1";

const COUNT: &str = "SELECT COUNT(*) AS n FROM mcp_credentials WHERE server = $1";

const REKEY_BATCH: &str = "SELECT user_id, key_id, nonce, ciphertext, revision \
     FROM mcp_credentials WHERE server = $1 AND key_id <> $2 AND user_id > $3 \
     ORDER BY user_id LIMIT 256";

const RESEAL: &str = "UPDATE mcp_credentials SET key_id = $3, nonce = $4, \
     ciphertext = $5 WHERE server = $1 AND user_id = $2 AND revision = $6 AND key_id = $7";

/// A record as stored, before its columns are turned into typed values.
#[derive(Debug)]
pub(crate) struct RawRecord {
    user_id: String,
    key_id: String,
    created_at: i64,
    rotated_at: Option<i64>,
    revoked_at: Option<i64>,
    revoked_reason: Option<String>,
    revoked_by: Option<String>,
    revision: i64,
    last_used_at: Option<i64>,
    route: Option<String>,
    last_verified_at: Option<i64>,
    identity_id: Option<String>,
    identity_name: Option<String>,
    identity_email: Option<String>,
    identity_role: Option<String>,
}

impl RawRecord {
    pub(crate) fn revision_value(&self) -> i64 {
        self.revision
    }

    pub(crate) fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }

    pub(crate) fn revoked_by(&self) -> RevokedBy {
        RevokedBy::parse(self.revoked_by.as_deref())
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

/// What a write stores besides the sealed token.
#[derive(Debug, Default)]
pub(crate) struct WriteMeta {
    pub(crate) route: Option<Route>,
    pub(crate) verified: Option<VerifiedIdentity>,
}

/// A row to reseal during a rekey.
pub(crate) struct RekeyRow {
    pub(crate) user: UserId,
    pub(crate) revision: i64,
    pub(crate) sealed: Sealed,
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

    pub(crate) async fn close(&self) {
        with_pool!(self, p => p.close().await)
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
                Some(row) => {
                    let record = read_record!(&row);
                    let sealed = Sealed {
                        key_id: record.key_id.clone(),
                        nonce: row.try_get("nonce")?,
                        ciphertext: row.try_get("ciphertext")?,
                    };
                    Ok(Some((record, sealed)))
                }
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

    /// Inserts or replaces `user`'s token (`must_exist`: only replaces).
    pub(crate) async fn write(
        &self,
        server: &str,
        user: &UserId,
        sealed: &Sealed,
        meta: &WriteMeta,
        must_exist: bool,
    ) -> Result<Option<RawRecord>, StoreError> {
        let now = now_ms();
        let route = meta
            .verified
            .as_ref()
            .and_then(|identity| identity.route.as_ref())
            .or(meta.route.as_ref())
            .map(Route::as_str);
        let verified_at = meta.verified.as_ref().map(|_| now);
        let v = meta.verified.as_ref();
        let sql = if must_exist { ROTATE } else { UPSERT };
        with_pool!(self, p => {
            let row = sqlx::query(sql)
                .bind(server)
                .bind(user.as_str())
                .bind(sealed.key_id.as_str())
                .bind(sealed.nonce.as_slice())
                .bind(sealed.ciphertext.as_slice())
                .bind(now)
                .bind(route)
                .bind(verified_at)
                .bind(v.map(|u| u.id.as_str()))
                .bind(v.map(|u| u.name.as_str()))
                .bind(v.map(|u| u.email.as_str()))
                .bind(v.map(|u| u.role.as_str()))
                .fetch_optional(p)
                .await?;
            match row {
                None => Ok(None),
                Some(row) => Ok(Some(read_record!(&row))),
            }
        })
    }

    /// Inserts or replaces many users' tokens in one transaction: all or nothing.
    pub(crate) async fn write_all(
        &self,
        server: &str,
        rows: &[(UserId, Sealed)],
    ) -> Result<(), StoreError> {
        let now = now_ms();
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            for (user, sealed) in rows {
                sqlx::query(UPSERT)
                    .bind(server)
                    .bind(user.as_str())
                    .bind(sealed.key_id.as_str())
                    .bind(sealed.nonce.as_slice())
                    .bind(sealed.ciphertext.as_slice())
                    .bind(now)
                    .bind(None::<&str>)
                    .bind(None::<i64>)
                    .bind(None::<&str>)
                    .bind(None::<&str>)
                    .bind(None::<&str>)
                    .bind(None::<&str>)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    pub(crate) async fn revoke(
        &self,
        server: &str,
        user: &UserId,
        reason: &str,
        by: RevokedBy,
    ) -> Result<Option<RawRecord>, StoreError> {
        with_pool!(self, p => {
            let row = sqlx::query(REVOKE)
                .bind(server)
                .bind(user.as_str())
                .bind(now_ms())
                .bind(reason)
                .bind(by.as_str())
                .fetch_optional(p)
                .await?;
            match row {
                None => Ok(None),
                Some(row) => Ok(Some(read_record!(&row))),
            }
        })
    }

    /// Revokes `user`'s token if it is still at `revision` and not revoked; whether it did.
    pub(crate) async fn revoke_if_current(
        &self,
        server: &str,
        user: &UserId,
        revision: i64,
        reason: &str,
        by: RevokedBy,
    ) -> Result<bool, StoreError> {
        with_pool!(self, p => {
            let done = sqlx::query(REVOKE_IF_CURRENT)
                .bind(server)
                .bind(user.as_str())
                .bind(now_ms())
                .bind(reason)
                .bind(by.as_str())
                .bind(revision)
                .execute(p)
                .await?;
            Ok(done.rows_affected() > 0)
        })
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

    pub(crate) async fn touch(
        &self,
        server: &str,
        user: &UserId,
        at: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, p => {
            sqlx::query(TOUCH)
                .bind(server)
                .bind(user.as_str())
                .bind(at)
                .execute(p)
                .await?;
            Ok(())
        })
    }

    pub(crate) async fn verified(
        &self,
        server: &str,
        user: &UserId,
        revision: i64,
        identity: &VerifiedIdentity,
    ) -> Result<Option<RawRecord>, StoreError> {
        with_pool!(self, p => {
            let row = sqlx::query(VERIFIED)
                .bind(server)
                .bind(user.as_str())
                .bind(now_ms())
                .bind(identity.id.as_str())
                .bind(identity.name.as_str())
                .bind(identity.email.as_str())
                .bind(identity.role.as_str())
                .bind(identity.route.as_ref().map(Route::as_str))
                .bind(revision)
                .fetch_optional(p)
                .await?;
            match row {
                None => Ok(None),
                Some(row) => Ok(Some(read_record!(&row))),
            }
        })
    }

    pub(crate) async fn set_route(
        &self,
        server: &str,
        user: &UserId,
        route: &Route,
    ) -> Result<Option<RawRecord>, StoreError> {
        with_pool!(self, p => {
            let row = sqlx::query(SET_ROUTE)
                .bind(server)
                .bind(user.as_str())
                .bind(route.as_str())
                .fetch_optional(p)
                .await?;
            match row {
                None => Ok(None),
                Some(row) => Ok(Some(read_record!(&row))),
            }
        })
    }

    pub(crate) async fn key_ids(&self, server: &str) -> Result<Vec<String>, StoreError> {
        with_pool!(self, p => {
            let rows = sqlx::query(KEY_IDS).bind(server).fetch_all(p).await?;
            let mut ids = Vec::with_capacity(rows.len());
            for row in &rows {
                ids.push(row.try_get::<String, _>("key_id")?);
            }
            Ok(ids)
        })
    }

    pub(crate) async fn count(&self, server: &str) -> Result<u64, StoreError> {
        with_pool!(self, p => {
            let row = sqlx::query(COUNT).bind(server).fetch_one(p).await?;
            let n: i64 = row.try_get("n")?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// Up to 256 rows not sealed under `primary`, after `after` in user order.
    pub(crate) async fn rekey_batch(
        &self,
        server: &str,
        primary: &str,
        after: &str,
    ) -> Result<Vec<RekeyRow>, StoreError> {
        with_pool!(self, p => {
            let rows = sqlx::query(REKEY_BATCH)
                .bind(server)
                .bind(primary)
                .bind(after)
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(RekeyRow {
                    user: UserId::from(row.try_get::<String, _>("user_id")?),
                    revision: row.try_get("revision")?,
                    sealed: Sealed {
                        key_id: row.try_get("key_id")?,
                        nonce: row.try_get("nonce")?,
                        ciphertext: row.try_get("ciphertext")?,
                    },
                });
            }
            Ok(out)
        })
    }

    /// Replaces the sealed token of a row still at `revision` and sealed under `old_key`.
    pub(crate) async fn reseal(
        &self,
        server: &str,
        user: &UserId,
        revision: i64,
        old_key: &str,
        sealed: &Sealed,
    ) -> Result<bool, StoreError> {
        with_pool!(self, p => {
            let done = sqlx::query(RESEAL)
                .bind(server)
                .bind(user.as_str())
                .bind(sealed.key_id.as_str())
                .bind(sealed.nonce.as_slice())
                .bind(sealed.ciphertext.as_slice())
                .bind(revision)
                .bind(old_key)
                .execute(p)
                .await?;
            Ok(done.rows_affected() > 0)
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

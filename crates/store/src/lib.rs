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
//!
//! # Operating it
//!
//! - **Close.** [`SqlCredentialStore::close`] writes what is pending (last uses, rejections),
//!   empties SQLite's write-ahead log into the database file and waits for the pool to close:
//!   after `close().await` the database file alone holds every row, so a copy of it is a
//!   complete backup.
//! - **File permissions.** A new SQLite file is created mode 600. An existing one (or its
//!   `-wal`/`-shm` file) that its group or others may access is refused with
//!   [`StoreError::InsecureFile`], naming the file and the fix (`chmod 600`), as a key file is.
//! - **Bad rows.** A row under a key the store was not given, or a tampered row, costs its
//!   user only: the store opens (a WARN names the users of rows under unknown keys), those
//!   users' lookups fail with a typed error ([`StoreError::UnknownKey`],
//!   [`StoreError::Unsealable`], [`StoreError::RolledBack`]), and
//!   [`rekey`](SqlCredentialStore::rekey) goes past them and names them in its
//!   [`RekeyReport`]. Only a key that opens no row at all is refused at open
//!   ([`StoreError::WrongKey`]).
//! - **Memory.** The lookup cache is bounded
//!   ([`cache_capacity`](SqlCredentialStoreBuilder::cache_capacity)); a token leaves it when it
//!   expires, and at once when it is rotated, revoked or rejected through this process. Tokens
//!   in memory are `SecretString`s, zeroized when dropped. Besides, the store keeps, per user it
//!   has seen, the newest revision of their entry (two integers, no secret; see *Security*),
//!   and the last uses and rejections not yet written.
//! - **Upgrades.** Databases of earlier releases open and are migrated in place. Their rows
//!   were sealed with less associated data (server and user only); they open as before, are
//!   resealed when first read (in the background, in batches) and by
//!   [`rekey`](SqlCredentialStore::rekey). Upgrade every replica before running `rekey`: once
//!   a rekey finds every row resealed, the process no longer opens rows of the earlier kind,
//!   and neither does a store opened on a database that holds none.
//!
//! # Security: what the database is trusted with
//!
//! Tokens are sealed with XChaCha20-Poly1305 under a key that never enters the database (a
//! [`KeySource`]); someone who can only *read* the database (or a backup of it) learns the
//! user ids and metadata in clear, never a token.
//!
//! Someone who can *write* the database cannot make the store hand out a token it would not:
//! each sealed token is bound (as AEAD associated data) to its server name, its user, and the
//! state of its row that decides whether and where it is handed out: the entry's creation
//! time, its revision, its route and its revocation. So each of these is refused as tampered
//! ([`StoreError::Unsealable`]):
//!
//! - a row moved or copied to another user or server;
//! - an older sealed token put back into a row at a newer revision (a rotated-away token);
//! - a revocation cleared by hand, or a route changed by hand (the token would go to another
//!   server);
//! - any altered ciphertext, nonce or key id.
//!
//! A whole earlier row put back (its sealed token *and* its earlier revision, revocation and
//! route, for example from a backup) is consistent in itself. A store that has already seen a
//! newer revision of that user's entry refuses it ([`StoreError::RolledBack`]: each process
//! keeps the newest revision it has seen of each user, in memory). **What remains possible
//! with write access:**
//!
//! - putting back a whole earlier row where no running process has seen a newer revision of
//!   that entry (for example after every replica restarted): it is served, until a rotation or
//!   revocation writes a newer revision;
//! - putting back the row of an earlier entry of a user who was deleted and added again;
//! - deleting rows (users lose their tokens: a denial of service, not a leak), changing
//!   metadata that is not bound (the verification result, the last use, the revocation's
//!   reason and time, the creation time of the token shown for its age), or marking rows
//!   revoked;
//! - putting back a row sealed the way earlier releases sealed (server and user only, from a
//!   copy taken before the upgrade) where a store accepts such rows: a store accepts them when,
//!   as it opened, some row was marked as sealed by an earlier release (rows not yet read or
//!   rekeyed since the upgrade, or a row so marked by hand), until a complete
//!   [`rekey`](SqlCredentialStore::rekey) in that process. A store opened on a database without
//!   such rows never accepts them.
//!
//! Integrity against a writer who also keeps old copies needs a monotonic counter outside the
//! database; keep the database's write access as narrow as its read access. The key itself is
//! the one secret: anyone holding it and read access holds every token.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
mod background;
mod builder;
mod cache;
mod error;
mod key_source;
mod last_used;
mod record;
mod rejections;
mod rekey;
mod revision_marks;
mod sealing;
#[cfg(feature = "sqlite")]
mod sqlite_file;
mod store;

#[cfg(doc)]
use pagerduty_mcp_connect::CredentialProvider;

pub use builder::SqlCredentialStoreBuilder;
pub use error::StoreError;
pub use key_source::KeySource;
pub use record::{CredentialRecord, Revocation, RevokedBy, Verification};
pub use rekey::{RekeyFailure, RekeyReport};
/// The `sqlx` crate the store is built on, for the pools of
/// `SqlCredentialStore::sqlite_pool` and `SqlCredentialStore::postgres_pool` (each with its feature).
pub use sqlx;
pub use store::SqlCredentialStore;

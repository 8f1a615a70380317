//! The credential store's integration tests, one binary.

#[path = "../support/logs.rs"]
mod logs;
#[cfg(feature = "postgres")]
#[path = "../support/postgres.rs"]
mod postgres;
#[cfg(feature = "postgres")]
#[path = "../support/proxy.rs"]
mod proxy;
#[path = "../support/store.rs"]
mod store;

mod bad_rows;
mod cache_eviction;
mod credential_store;
mod credential_store_postgres;
mod credential_store_regions;
mod database_file;
mod last_used;
mod rejection_kept;
mod revocation_bound;
mod tampering;
mod upgrade;

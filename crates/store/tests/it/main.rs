//! The credential store's integration tests, one binary.

#[path = "../support/store.rs"]
mod store;

mod credential_store;
mod credential_store_postgres;
mod credential_store_regions;
mod upgrade;

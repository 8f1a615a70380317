//! A fresh database on the Postgres server of `DATABASE_URL` for each test
//! (`scripts/postgres.sh` starts one and prints the URL).
//!
//! Without `DATABASE_URL` the tests fail, unless `PAGERDUTY_MCP_SKIP_POSTGRES=1` (or the
//! crate-wide `PAGERDUTY_MCP_SKIP_PEERS=1`) says to skip them (CI never sets either).
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use pagerduty_mcp_connect_store::sqlx;

/// The variable that lets a developer without Postgres skip these tests.
pub const SKIP_VAR: &str = "PAGERDUTY_MCP_SKIP_POSTGRES";

/// The URL of a new, empty database, or `None` when the developer opted out.
pub async fn fresh_database() -> Option<String> {
    let Ok(base) = std::env::var("DATABASE_URL") else {
        if std::env::var(SKIP_VAR).as_deref() == Ok("1")
            || std::env::var("PAGERDUTY_MCP_SKIP_PEERS").as_deref() == Ok("1")
        {
            eprintln!(
                "SKIPPED: DATABASE_URL is not set and {SKIP_VAR}=1: the Postgres tests did not run"
            );
            return None;
        }
        panic!(
            "DATABASE_URL is not set: run `eval \"$(./scripts/postgres.sh)\"` first (or set {SKIP_VAR}=1 to skip the Postgres tests)"
        );
    };
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!(
        "pdmcp_test_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let admin = sqlx::PgPool::connect(&base)
        .await
        .unwrap_or_else(|err| panic!("cannot connect to DATABASE_URL's Postgres: {err}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let mut url = url::Url::parse(&base).expect("DATABASE_URL is a URL");
    url.set_path(&name);
    Some(url.to_string())
}

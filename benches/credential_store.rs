//! `CredentialProvider::credential` lookups per second with 10,000 users, for
//! `SqlCredentialStore` on SQLite and on Postgres, with its in-memory cache on and off, as ratios
//! to `InMemoryCredentialStore` measured in the same run.
//!
//! # How to read the results
//!
//! Only the ratios within one run mean anything. Each lookup asks for the next of 10,000 users
//! in a scattered order (a stride through the user list), so that no engine gets an unfairly warm
//! page cache. Variants:
//!
//! * `in_memory`: `InMemoryCredentialStore` (a map behind a lock: the floor).
//! * `sqlite_cache_off` / `postgres_cache_off`: every lookup reads the row and opens the sealed
//!   token (XChaCha20-Poly1305).
//! * `sqlite_cache_on` / `postgres_cache_on`: the store's cache (a long time to live here, and
//!   every user looked up once before timing, so the cached path alone is measured).
//!
//! Writing the last-use time is turned off (`last_used_resolution(None)`): it is measured
//! lookups, not background writes. Postgres comes from `DATABASE_URL` (`scripts/postgres.sh`
//! starts one); without it, Postgres is reported as not measured.
//!
//! After criterion's groups a table prints lookups per second and the ratio of each variant to
//! `in_memory` (`cargo bench -p pagerduty-mcp-connect-benches --bench credential_store`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::Criterion;
use pagerduty_mcp_connect::secrecy::{ExposeSecret, SecretString};
use pagerduty_mcp_connect::{CredentialProvider, InMemoryCredentialStore, UserId};
use pagerduty_mcp_connect_store::{KeySource, SqlCredentialStore};
use tokio::runtime::Runtime;

const USERS: usize = 10_000;
/// A stride coprime with `USERS`, to visit users in a scattered order.
const STRIDE: usize = 7_919;

fn token_of(i: usize) -> String {
    format!("u+BenchToken{i:08}")
}

fn users() -> Vec<UserId> {
    (0..USERS)
        .map(|i| UserId::from(format!("user{i:05}@example.com")))
        .collect()
}

/// Every timed run of each variant: (lookups, time).
static MEASURED: Mutex<BTreeMap<&'static str, (u64, Duration)>> = Mutex::new(BTreeMap::new());

fn record(name: &'static str, lookups: u64, elapsed: Duration) {
    let mut measured = MEASURED.lock().unwrap();
    let entry = measured.entry(name).or_default();
    entry.0 += lookups;
    entry.1 += elapsed;
}

struct Variant {
    name: &'static str,
    provider: Box<dyn CredentialProvider>,
}

async fn sql_store(
    builder: pagerduty_mcp_connect_store::SqlCredentialStoreBuilder,
    key: &SecretString,
    cache: bool,
) -> SqlCredentialStore {
    builder
        .key(KeySource::base64(key.expose_secret().to_owned()))
        .cache_ttl(if cache {
            Duration::from_secs(3600)
        } else {
            Duration::ZERO
        })
        .last_used_resolution(None)
        .open()
        .await
        .expect("open the store")
}

async fn fill(store: &SqlCredentialStore, users: &[UserId]) {
    let entries = users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.clone(), SecretString::from(token_of(i))));
    store.put_all(entries).await.expect("fill the store");
}

/// Builds every variant, checks that each answers every user correctly, and returns them with
/// what to clean up afterwards.
async fn variants(
    users: &[UserId],
    dir: &std::path::Path,
) -> (Vec<Variant>, Option<(SqlCredentialStore, String)>) {
    let key = KeySource::generate().unwrap();
    let memory = InMemoryCredentialStore::new();
    for (i, user) in users.iter().enumerate() {
        memory.insert(user.clone(), token_of(i));
    }
    let mut variants = vec![Variant {
        name: "in_memory",
        provider: Box::new(memory),
    }];

    let sqlite = || SqlCredentialStore::builder().sqlite_file(dir.join("bench.db"));
    let filler = sql_store(sqlite(), &key, false).await;
    fill(&filler, users).await;
    filler.close().await;
    variants.push(Variant {
        name: "sqlite_cache_off",
        provider: Box::new(sql_store(sqlite(), &key, false).await),
    });
    variants.push(Variant {
        name: "sqlite_cache_on",
        provider: Box::new(sql_store(sqlite(), &key, true).await),
    });

    let mut cleanup = None;
    match std::env::var("DATABASE_URL") {
        Ok(url) => {
            let server = format!("bench-{}", std::process::id());
            let postgres = || {
                SqlCredentialStore::builder()
                    .database_url(url.clone())
                    .server_name(server.clone())
            };
            let filler = sql_store(postgres(), &key, false).await;
            fill(&filler, users).await;
            variants.push(Variant {
                name: "postgres_cache_off",
                provider: Box::new(sql_store(postgres(), &key, false).await),
            });
            variants.push(Variant {
                name: "postgres_cache_on",
                provider: Box::new(sql_store(postgres(), &key, true).await),
            });
            cleanup = Some((filler, server));
        }
        Err(_) => eprintln!(
            "credential_store: Postgres was NOT measured (DATABASE_URL is not set; eval \"$(./scripts/postgres.sh)\" starts one)"
        ),
    }

    // Correctness first: every variant hands out every user's own token.
    for variant in &variants {
        for (i, user) in users.iter().enumerate().step_by(97) {
            let credential = variant.provider.credential(user).await.expect("lookup");
            assert_eq!(
                credential.secret().expose_secret(),
                token_of(i),
                "{} gave user {i} a wrong token",
                variant.name
            );
        }
    }
    // The cached variants start warm: every user looked up once, so the cached path is measured.
    for variant in variants.iter().filter(|v| v.name.ends_with("cache_on")) {
        for user in users {
            variant
                .provider
                .credential(user)
                .await
                .expect("warm-up lookup");
        }
    }
    (variants, cleanup)
}

fn bench(c: &mut Criterion) {
    let runtime = Runtime::new().expect("runtime");
    let dir = std::env::temp_dir().join(format!("pdmcp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let users = users();
    let (variants, cleanup) = runtime.block_on(variants(&users, &dir));

    let mut group = c.benchmark_group(format!("credential_lookup/{USERS}_users"));
    for variant in &variants {
        let provider = &variant.provider;
        let name = variant.name;
        let users = &users;
        let mut next = 0usize;
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let start_at = next;
                next = (next + iters as usize * STRIDE) % USERS;
                async move {
                    let mut i = start_at;
                    let started = Instant::now();
                    for _ in 0..iters {
                        let credential = provider.credential(&users[i]).await.expect("lookup");
                        std::hint::black_box(&credential);
                        i = (i + STRIDE) % USERS;
                    }
                    let elapsed = started.elapsed();
                    record(name, iters, elapsed);
                    elapsed
                }
            })
        });
    }
    group.finish();

    if let Some((store, server)) = cleanup {
        runtime.block_on(async {
            let pool = store.postgres_pool().expect("postgres").clone();
            pagerduty_mcp_connect_store::sqlx::query(
                "DELETE FROM mcp_credentials WHERE server = $1",
            )
            .bind(server)
            .execute(&pool)
            .await
            .expect("clean up");
        });
    }
    drop(variants);
    let _ = std::fs::remove_dir_all(&dir);
}

fn report() {
    let measured = MEASURED.lock().unwrap();
    let rate = |name: &str| {
        measured
            .get(name)
            .filter(|(n, t)| *n > 0 && !t.is_zero())
            .map(|(n, t)| *n as f64 / t.as_secs_f64())
    };
    let Some(baseline) = rate("in_memory") else {
        return;
    };
    println!("\ncredential() lookups per second, {USERS} users (ratio to in_memory, same run):");
    for name in [
        "in_memory",
        "sqlite_cache_on",
        "sqlite_cache_off",
        "postgres_cache_on",
        "postgres_cache_off",
    ] {
        match rate(name) {
            Some(r) => println!("  {name:<20} {r:>12.0}/s  {:>8.4}x", r / baseline),
            None => println!("  {name:<20} not measured"),
        }
    }
    let total: u64 = measured.values().map(|(n, _)| n).sum();
    if total < 1_000 {
        println!("  (test mode: too few lookups for the figures to mean anything)");
    }
}

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
    report();
}

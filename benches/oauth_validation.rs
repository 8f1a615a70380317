//! What an OAuth access token costs the gateway per request, as ratios to a static gateway key
//! checked in the same run (issue 26).
//!
//! One [`OAuthResourceServer`] against a small authorization server of this bench on loopback
//! (RFC 8414 metadata and a JWKS with the RSA and EC test keys of
//! `crates/gateway/tests/fixtures/`); the keys are fetched once, before measuring. Cases, each
//! the whole `validate` call an agent's request costs at the door:
//!
//! * `static_key`: [`GatewayKeys::user_for`] among 10,000 keys (a SHA-256 digest and a map
//!   lookup): the baseline;
//! * `rs256_cached`, `es256_cached`: one token, again and again (the token cache: a digest and
//!   a map lookup);
//! * `rs256_uncached`, `es256_uncached`: the same with the cache off (the signature checked and
//!   the claims read every time);
//! * `distinct_10k_cached`: 10,000 distinct valid ES256 tokens in turn, cache on (capacity
//!   16,384: after the first round every token is remembered);
//! * `distinct_10k_uncached`: the same with the cache off;
//! * `distinct_10k_small_cache`: the same with a cache of 4,096, smaller than the working set
//!   (the cache empties itself when full: the worst case).
//!
//! ```sh
//! cargo bench -p pagerduty-mcp-connect-benches --bench oauth_validation            # the figures
//! cargo bench -p pagerduty-mcp-connect-benches --bench oauth_validation -- --test  # once, quickly
//! ```

#[path = "common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::routing::get;
use criterion::Criterion;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pagerduty_mcp_connect_gateway::{GatewayKeys, OAuthResourceServer};
use serde_json::json;

const RSA_PRIVATE: &str = include_str!("../crates/gateway/tests/fixtures/oauth_rsa_private.pem");
const EC_PRIVATE: &str = include_str!("../crates/gateway/tests/fixtures/oauth_ec_private.pem");
const RESOURCE: &str = "https://gw.example.com/mcp";
const KEYS: usize = 10_000;

/// Mean time per operation of each case, measured by the table's own loop.
static MEASURED: Mutex<Vec<(&'static str, Duration)>> = Mutex::new(Vec::new());

struct Setup {
    runtime: tokio::runtime::Runtime,
    keys: GatewayKeys,
    key: String,
    cached: OAuthResourceServer,
    uncached: OAuthResourceServer,
    small_cache: OAuthResourceServer,
    rs256: String,
    es256: String,
    distinct: Vec<String>,
}

fn sign(claims: &serde_json::Value, alg: Algorithm, kid: &str, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    header.typ = Some("at+jwt".to_owned());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn setup(distinct: usize) -> Setup {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let build = |capacity: usize| {
        OAuthResourceServer::builder(RESOURCE)
            .issuer(&issuer)
            .token_cache_capacity(capacity)
            .build()
            .unwrap()
    };
    // Building one installs the crypto backend the test keys are read with.
    let cached = build(16_384);
    let uncached = build(0);
    let small_cache = build(4_096);
    let rsa = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
    let ec = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap();
    let mut rsa_jwk = Jwk::from_encoding_key(&rsa, Algorithm::RS256).unwrap();
    rsa_jwk.common.key_id = Some("rsa".to_owned());
    let mut ec_jwk = Jwk::from_encoding_key(&ec, Algorithm::ES256).unwrap();
    ec_jwk.common.key_id = Some("ec".to_owned());
    let jwks = JwkSet {
        keys: vec![rsa_jwk, ec_jwk],
    };
    let metadata = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")});
    let app = axum::Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(move || async move { axum::Json(metadata) }),
        )
        .route("/jwks", get(move || async move { axum::Json(jwks) }));
    runtime.spawn(async move { axum::serve(listener, app).await });
    for server in [&cached, &uncached, &small_cache] {
        runtime.block_on(server.prefetch()).unwrap();
    }
    let now = jsonwebtoken::get_current_timestamp();
    let claims = |n: usize| {
        json!({"iss": issuer, "sub": format!("user{n}"), "aud": RESOURCE, "iat": now,
               "exp": now + 3600, "scope": "mcp", "jti": format!("t{n}")})
    };
    let keys = GatewayKeys::new();
    for i in 0..KEYS {
        keys.insert(
            format!("gk_bench_{i:05}_0123456789abcdef"),
            format!("user{i}"),
        )
        .unwrap();
    }
    Setup {
        keys,
        key: format!("gk_bench_{:05}_0123456789abcdef", KEYS / 2),
        rs256: sign(&claims(0), Algorithm::RS256, "rsa", &rsa),
        es256: sign(&claims(0), Algorithm::ES256, "ec", &ec),
        distinct: (0..distinct)
            .map(|n| sign(&claims(n), Algorithm::ES256, "ec", &ec))
            .collect(),
        cached,
        uncached,
        small_cache,
        runtime,
    }
}

/// Mean time per `validate` of `tokens` in turn, `rounds` times over.
fn time_validate(
    s: &Setup,
    server: &OAuthResourceServer,
    tokens: &[String],
    rounds: usize,
) -> Duration {
    s.runtime.block_on(async {
        let started = Instant::now();
        for _ in 0..rounds {
            for token in tokens {
                let valid = server.validate(black_box(token)).await.unwrap();
                black_box(valid);
            }
        }
        started.elapsed() / (rounds * tokens.len()) as u32
    })
}

fn time_key(s: &Setup, rounds: usize) -> Duration {
    let started = Instant::now();
    for _ in 0..rounds {
        black_box(s.keys.user_for(black_box(&s.key)).unwrap());
    }
    started.elapsed() / rounds as u32
}

fn main() {
    let quick = common::test_mode();
    let distinct = if quick { 200 } else { 10_000 };
    let s = setup(distinct);
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    {
        let mut group = criterion.benchmark_group("oauth_validation");
        group.bench_function("static_key", |b| {
            b.iter(|| black_box(s.keys.user_for(black_box(&s.key))))
        });
        for (name, server, token) in [
            ("rs256_cached", &s.cached, &s.rs256),
            ("es256_cached", &s.cached, &s.es256),
            ("rs256_uncached", &s.uncached, &s.rs256),
            ("es256_uncached", &s.uncached, &s.es256),
        ] {
            group.bench_function(name, |b| {
                b.iter(|| {
                    s.runtime
                        .block_on(server.validate(black_box(token)))
                        .unwrap()
                })
            });
        }
        group.finish();
    }
    criterion.final_summary();

    // The table: every case timed by one loop, interleaved, in this run.
    let rounds = if quick { 2 } else { 5 };
    let (n_key, n_one, n_uncached, r_distinct) = if quick {
        (1_000, 100, 20, 1)
    } else {
        (2_000_000, 200_000, 5_000, 3)
    };
    // Warm the caches: every distinct token once.
    time_validate(&s, &s.cached, &s.distinct, 1);
    let mut totals: HashMap<&'static str, Duration> = HashMap::new();
    for _ in 0..rounds {
        let mut add = |name: &'static str, d: Duration| *totals.entry(name).or_default() += d;
        add("static_key", time_key(&s, n_key));
        add(
            "rs256_cached",
            time_validate(&s, &s.cached, std::slice::from_ref(&s.rs256), n_one),
        );
        add(
            "es256_cached",
            time_validate(&s, &s.cached, std::slice::from_ref(&s.es256), n_one),
        );
        add(
            "rs256_uncached",
            time_validate(&s, &s.uncached, std::slice::from_ref(&s.rs256), n_uncached),
        );
        add(
            "es256_uncached",
            time_validate(&s, &s.uncached, std::slice::from_ref(&s.es256), n_uncached),
        );
        add(
            "distinct_10k_cached",
            time_validate(&s, &s.cached, &s.distinct, r_distinct),
        );
        add(
            "distinct_10k_uncached",
            time_validate(&s, &s.uncached, &s.distinct, 1),
        );
        add(
            "distinct_10k_small_cache",
            time_validate(&s, &s.small_cache, &s.distinct, 1),
        );
    }
    let mut measured = MEASURED.lock().unwrap();
    for name in [
        "static_key",
        "rs256_cached",
        "es256_cached",
        "rs256_uncached",
        "es256_uncached",
        "distinct_10k_cached",
        "distinct_10k_uncached",
        "distinct_10k_small_cache",
    ] {
        measured.push((name, totals[name] / rounds as u32));
    }
    let baseline = measured[0].1.as_secs_f64();
    println!(
        "\noauth_validation: time per request at the door, ratio to a static key (same run; {distinct} distinct tokens):"
    );
    for (name, mean) in measured.iter() {
        println!(
            "  {name:<26} {:>10.2} µs  {:>9.1}x",
            mean.as_secs_f64() * 1e6,
            mean.as_secs_f64() / baseline
        );
    }
    if quick {
        println!("  (test mode: too few requests for the figures to mean anything)");
    }
}

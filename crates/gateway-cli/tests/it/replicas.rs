//! Several replicas: two `pagerduty-mcp-gateway` processes on one Postgres (`--store
//! postgres://…`, the same key) behind a real load balancer (HAProxy from Debian, started by
//! `scripts/haproxy.sh`), forwarding to one shared mock PagerDuty.
//!
//! - A token stored, rotated or revoked in the database (through the store's API, as the
//!   `credentials` tool or another replica writes it) is used, or refused, by every replica
//!   within the store's cache time (`--store-cache-ttl`), and so is a token one replica saw
//!   rejected upstream (HTTP 401): the other then refuses it without a request upstream.
//! - SIGKILL of one replica in the middle of calls loses nothing stored; a 2026-07-28 agent's
//!   next request just works through the other replica, a session-era agent whose session was
//!   on the killed one gets 404 once, opens a new session and goes on; a replica started again
//!   on the same address takes its share again.
//!
//! Postgres comes from `DATABASE_URL` (`eval "$(./scripts/postgres.sh)"`; without it the tests
//! fail unless `PAGERDUTY_MCP_SKIP_POSTGRES=1`). HAProxy is installed by the script when missing
//! (as root); if it cannot be, the tests fail naming the script.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pagerduty_mcp_connect::{CredentialProvider, UserId};
use pagerduty_mcp_connect_mock::{MockPagerDuty, MockUser};
use pagerduty_mcp_connect_store::{CredentialRecord, KeySource, RevokedBy, SqlCredentialStore};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::support::{GatewayProcess, LoadBalancer, TempDir, command, fresh_database, meta};

/// The replicas' cache time (`--store-cache-ttl`), in seconds.
const CACHE_TTL_SECS: u64 = 2;
const CACHE_TTL: Duration = Duration::from_secs(CACHE_TTL_SECS);
/// The session-era protocol version the session agents speak.
const SESSION_ERA: &str = "2025-11-25";

/// One user of a test: their id in the store, their agent's gateway key, their PagerDuty token
/// and the email the mock answers `get_user_data` with for that token.
#[derive(Clone, Debug)]
struct User {
    id: String,
    key: String,
    token: String,
    email: String,
}

impl User {
    fn new(id: &str, key: &str, token: &str, email: &str) -> User {
        User {
            id: id.to_owned(),
            key: key.to_owned(),
            token: token.to_owned(),
            email: email.to_owned(),
        }
    }

    fn user_id(&self) -> UserId {
        UserId::from(self.id.as_str())
    }
}

/// The database, the mock, two gateway processes and HAProxy in front of them.
struct Replicas {
    dir: TempDir,
    database: String,
    store_key: SecretString,
    /// The test's own handle on the database, without a cache: what is stored right now.
    store: SqlCredentialStore,
    mock: MockPagerDuty,
    a: Option<GatewayProcess>,
    /// A's address, kept for starting it again there.
    a_address: String,
    b: GatewayProcess,
    balancer: LoadBalancer,
    http: reqwest::Client,
}

impl Replicas {
    /// Starts everything for `users` (their keys in the users file; nothing in the store), or
    /// `None` when the run opted out of Postgres.
    async fn start(name: &str, mock: MockPagerDuty, users: &[User]) -> Option<Replicas> {
        let database = fresh_database(name).await?;
        let dir = TempDir::new(name);
        let mut text = String::new();
        for user in users {
            text.push_str(&format!(
                "[[user]]\nid = \"{}\"\nkey = \"{}\"\n\n",
                user.id, user.key
            ));
        }
        std::fs::write(dir.join("users.toml"), text).unwrap();
        let store_key = KeySource::generate().unwrap();
        // The schema is created here, before the replicas start.
        let store = SqlCredentialStore::builder()
            .database_url(&database)
            .key(KeySource::base64(store_key.clone()))
            .cache_ttl(Duration::ZERO)
            .open()
            .await
            .unwrap();
        let b =
            GatewayProcess::start(gateway(&dir, &database, &store_key, &mock, "127.0.0.1:0")).await;
        let a =
            GatewayProcess::start(gateway(&dir, &database, &store_key, &mock, "127.0.0.1:0")).await;
        let balancer = LoadBalancer::start(&format!("{name}-lb"), &[a.address(), b.address()]);
        Some(Replicas {
            a_address: a.address().to_owned(),
            a: Some(a),
            b,
            balancer,
            dir,
            database,
            store_key,
            store,
            mock,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        })
    }

    async fn start_a(&self, listen: &str) -> GatewayProcess {
        GatewayProcess::start(gateway(
            &self.dir,
            &self.database,
            &self.store_key,
            &self.mock,
            listen,
        ))
        .await
    }

    fn a(&self) -> &GatewayProcess {
        self.a.as_ref().expect("replica A runs")
    }

    /// Stops every process; what the gateways wrote on standard error, which must hold no
    /// token of `users`.
    async fn stop(self, users: &[User]) {
        let mut stderr = self.b.stop().await;
        if let Some(a) = self.a {
            stderr.push_str(&a.stop().await);
        }
        for user in users {
            assert!(
                !stderr.contains(&user.token),
                "{}'s token was printed: {stderr}",
                user.id
            );
        }
        drop(self.balancer);
        self.store.close().await;
        self.mock.shutdown().await;
    }
}

/// The command for one replica: the shared database and key, the shared mock, the cache time.
fn gateway(
    dir: &TempDir,
    database: &str,
    store_key: &SecretString,
    mock: &MockPagerDuty,
    listen: &str,
) -> tokio::process::Command {
    let mut gateway = command();
    gateway
        .args(["--listen", listen, "--users"])
        .arg(dir.join("users.toml"))
        .args(["--store", database])
        .args(["--store-cache-ttl", &CACHE_TTL_SECS.to_string()])
        .args(["--upstream", mock.url().as_str()])
        .env("PAGERDUTY_MCP_STORE_KEY", store_key.expose_secret());
    gateway
}

/// What an agent got for one `tools/call get_user_data`.
#[derive(Clone, Debug, PartialEq)]
enum Reply {
    /// The call's result: the email of the PagerDuty user whose token went upstream.
    Email(String),
    /// A JSON-RPC error (HTTP 200): its code and `data.kind`.
    Error(i64, String),
    /// An HTTP error status (HAProxy's 502, the gateway's 404 for a session it does not know).
    Status(u16),
    /// No HTTP answer, or not all of it (the connection went away): what the client said.
    Transport(String),
}

impl Reply {
    /// Refused for want of a usable credential (`-32001`), with the kind given.
    fn is_refused(&self, kind: &str) -> bool {
        matches!(self, Reply::Error(-32001, k) if k == kind)
    }
}

/// The JSON-RPC message of a reply body: a JSON body, or the last `data:` of an SSE body.
fn json_reply(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok().or_else(|| {
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str(d.trim()).ok())
            .next_back()
    })
}

/// The error and its sources, one after the other.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(err) = source {
        text.push_str(&format!(": {err}"));
        source = err.source();
    }
    text
}

async fn reply_of(response: Result<reqwest::Response, reqwest::Error>) -> Reply {
    let response = match response {
        Ok(response) => response,
        Err(err) => return Reply::Transport(chain(&err)),
    };
    let status = response.status();
    let text = match response.text().await {
        Ok(text) => text,
        Err(err) => return Reply::Transport(chain(&err)),
    };
    if !status.is_success() {
        // HAProxy's 502; the gateway's 404 for a session it does not know (whose body is a
        // JSON-RPC error too).
        return Reply::Status(status.as_u16());
    }
    match json_reply(&text) {
        Some(message) if message.get("result").is_some() => Reply::Email(
            message["result"]["structuredContent"]["email"]
                .as_str()
                .unwrap_or_else(|| panic!("a result without an email: {message}"))
                .to_owned(),
        ),
        Some(message) if message.get("error").is_some() => Reply::Error(
            message["error"]["code"].as_i64().unwrap_or_default(),
            message["error"]["data"]["kind"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ),
        _ => panic!("a {status} reply that is not JSON-RPC: {text}"),
    }
}

/// A 2026-07-28 agent's `tools/call get_user_data` to `url` (nothing to set up first).
async fn call(http: &reqwest::Client, url: &str, user: &User) -> Reply {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "get_user_data", "arguments": {}, "_meta": meta()}});
    let response = http
        .post(url)
        .header("authorization", format!("Bearer {}", user.key))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "get_user_data")
        .body(body.to_string())
        .send()
        .await;
    reply_of(response).await
}

/// A session-era agent: `initialize` once, then its calls on that session.
struct SessionAgent {
    user: User,
    session: Option<String>,
    next_id: u64,
}

impl SessionAgent {
    fn new(user: User) -> SessionAgent {
        SessionAgent {
            user,
            session: None,
            next_id: 1,
        }
    }

    fn post(&mut self, http: &reqwest::Client, url: &str, body: Value) -> reqwest::RequestBuilder {
        let mut request = http
            .post(url)
            .header("authorization", format!("Bearer {}", self.user.key))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        if let Some(session) = &self.session {
            request = request
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", SESSION_ERA);
        }
        request
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// `initialize` and `notifications/initialized`: a new session.
    async fn initialize(&mut self, http: &reqwest::Client, url: &str) -> Result<(), String> {
        self.session = None;
        let id = self.id();
        let response = self
            .post(
                http,
                url,
                json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
                    "protocolVersion": SESSION_ERA, "capabilities": {},
                    "clientInfo": {"name": "replica-test", "version": "0"}}}),
            )
            .send()
            .await
            .map_err(|err| format!("initialize: {err}"))?;
        let status = response.status();
        let session = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.unwrap_or_default();
        let Some(session) = session.filter(|_| status.is_success()) else {
            return Err(format!("initialize: {status} {text}"));
        };
        self.session = Some(session);
        let initialized = self
            .post(
                http,
                url,
                json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            )
            .send()
            .await
            .map_err(|err| format!("initialized: {err}"))?;
        match initialized.status().as_u16() {
            202 => Ok(()),
            status => Err(format!("notifications/initialized: {status}")),
        }
    }

    /// `tools/call get_user_data` on the session.
    async fn call(&mut self, http: &reqwest::Client, url: &str) -> Reply {
        let id = self.id();
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                          "params": {"name": "get_user_data", "arguments": {}}});
        reply_of(self.post(http, url, body).send().await).await
    }

    /// Whether the gateway at `url` (one replica, directly) knows the session: `ping` on it.
    async fn lives_on(&mut self, http: &reqwest::Client, url: &str) -> bool {
        let id = self.id();
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "ping"});
        let status = self.post(http, url, body).send().await.unwrap().status();
        assert!(
            status == 200 || status == 404,
            "ping on a session: {status}"
        );
        status == 200
    }
}

/// The `tools/call` requests `gateway` answered `ok` so far (its `/metrics`).
async fn ok_calls(http: &reqwest::Client, gateway: &GatewayProcess) -> u64 {
    let text = http
        .get(gateway.at("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|line| {
            line.starts_with("mcp_gateway_calls_total{")
                && line.contains("method=\"tools/call\"")
                && line.contains("outcome=\"ok\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// The calls `gateway` has in flight now (its `/healthz`).
async fn in_flight(http: &reqwest::Client, gateway: &GatewayProcess) -> u64 {
    let health = http
        .get(gateway.at("/healthz"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let health: Value = serde_json::from_str(&health).unwrap();
    health["in_flight"].as_u64().unwrap_or_default()
}

/// Calls `user` on each of `replicas` every 100 ms, from just after a change `committed` until
/// a while past the cache time after it; panics when a call started more than the cache time
/// after the change does not answer as `done` says, or when a replica, once it did, answers
/// otherwise again. Returns when each replica first answered so (after the change).
///
/// The store's promise is about when a lookup starts (its cache stamps an answer with the
/// moment its lookup began), so a call's start is what is held to it, however long the call
/// then takes on a loaded machine.
async fn until_each(
    http: &reqwest::Client,
    replicas: &[(&str, &GatewayProcess)],
    user: &User,
    committed: Instant,
    done: impl Fn(&Reply) -> bool,
) -> Vec<Duration> {
    // The cache time, and a little for the two processes' clocks and the commit's own time.
    let deadline = committed + CACHE_TTL + Duration::from_millis(100);
    let mut first: Vec<Option<Duration>> = vec![None; replicas.len()];
    loop {
        for (i, (name, replica)) in replicas.iter().enumerate() {
            let started = Instant::now();
            let reply = call(http, &replica.url, user).await;
            match (done(&reply), first[i]) {
                (true, None) => first[i] = Some(committed.elapsed()),
                (false, Some(at)) => {
                    panic!("replica {name} answered {reply:?} again after it changed at {at:?}")
                }
                (false, None) => assert!(
                    started < deadline,
                    "replica {name} still answers {reply:?} to a call started {:?} after the change (the cache time is {CACHE_TTL:?})",
                    started.duration_since(committed)
                ),
                (true, Some(_)) => {}
            }
        }
        // Past the deadline, every replica is held to the change for a few rounds more.
        if Instant::now() > deadline + Duration::from_millis(500) {
            return first.into_iter().map(Option::unwrap).collect();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_stored_rotated_or_revoked_is_used_or_refused_by_every_replica_within_the_cache_time()
 {
    let mock = MockPagerDuty::builder().start().await.unwrap();
    // Alice's new token is a second mock identity's, so that each reply says which of her two
    // tokens went upstream.
    let alice_new_token = "u+MockAliceRotated0004";
    mock.add_user(MockUser::new(
        "PALICE2",
        "Alice Example",
        "alice.rotated@example.com",
        "user",
        alice_new_token,
    ));
    let alice = User::new(
        "alice@example.com",
        "gk_alice_replicas_0123456789",
        MockPagerDuty::ALICE_TOKEN,
        "alice@example.com",
    );
    let bob = User::new(
        "bob@example.com",
        "gk_bob_replicas_0123456789ab",
        MockPagerDuty::BOB_TOKEN,
        "bob@example.com",
    );
    let users = [alice.clone(), bob.clone()];
    let Some(replicas) = Replicas::start("replicas-tokens", mock, &users).await else {
        return;
    };
    let http = replicas.http.clone();
    let both = [("A", replicas.a()), ("B", &replicas.b)];
    let through = replicas.balancer.url.clone();

    // Nothing stored yet: refused by both.
    for (name, replica) in both {
        let reply = call(&http, &replica.url, &alice).await;
        assert!(reply.is_refused("no_credential"), "{name}: {reply:?}");
    }

    // Stored: both use it within the cache time.
    replicas
        .store
        .put(&alice.user_id(), alice.token.clone().into())
        .await
        .unwrap();
    let took = until_each(&http, &both, &alice, Instant::now(), |r| {
        *r == Reply::Email(alice.email.clone())
    })
    .await;
    eprintln!(
        "stored: used by A after {:?}, by B after {:?}",
        took[0], took[1]
    );

    // Through the load balancer her agent's calls land on both replicas.
    let before = (
        ok_calls(&http, replicas.a()).await,
        ok_calls(&http, &replicas.b).await,
    );
    for _ in 0..20 {
        assert_eq!(
            call(&http, &through, &alice).await,
            Reply::Email(alice.email.clone())
        );
    }
    let after = (
        ok_calls(&http, replicas.a()).await,
        ok_calls(&http, &replicas.b).await,
    );
    let served = (after.0 - before.0, after.1 - before.1);
    assert_eq!(served.0 + served.1, 20, "{served:?}");
    assert!(
        served.0 >= 5 && served.1 >= 5,
        "round robin: A served {}, B {} of 20 calls",
        served.0,
        served.1
    );

    // Rotated: each replica, which has the old token cached, uses the new one within the cache
    // time, and never the old one afterwards.
    for (_, replica) in both {
        assert_eq!(
            call(&http, &replica.url, &alice).await,
            Reply::Email(alice.email.clone())
        );
    }
    replicas
        .store
        .rotate(&alice.user_id(), alice_new_token.into())
        .await
        .unwrap();
    let took = until_each(&http, &both, &alice, Instant::now(), |r| {
        *r == Reply::Email("alice.rotated@example.com".to_owned())
    })
    .await;
    eprintln!(
        "rotated: new token used by A after {:?}, by B after {:?}",
        took[0], took[1]
    );
    for _ in 0..10 {
        assert_eq!(
            call(&http, &through, &alice).await,
            Reply::Email("alice.rotated@example.com".to_owned())
        );
    }

    // Revoked by an admin: refused by each within the cache time, and nothing of hers goes
    // upstream any more.
    replicas
        .store
        .revoke(&alice.user_id(), "left the team")
        .await
        .unwrap();
    let took = until_each(&http, &both, &alice, Instant::now(), |r| {
        r.is_refused("no_credential")
    })
    .await;
    eprintln!(
        "revoked: refused by A after {:?}, by B after {:?}",
        took[0], took[1]
    );
    replicas.mock.clear_requests();
    for _ in 0..10 {
        let reply = call(&http, &through, &alice).await;
        assert!(reply.is_refused("no_credential"), "{reply:?}");
    }
    let upstream: Vec<_> = replicas
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.user_id.as_deref() == Some("PALICE2"))
        .collect();
    assert!(
        upstream.is_empty(),
        "a revoked token went upstream: {upstream:?}"
    );

    // Rejected upstream (PagerDuty revoked Bob's token): replica A sees the 401 and records it
    // in the store; B, which has the token cached, refuses it within the cache time without
    // sending it upstream.
    replicas
        .store
        .put(&bob.user_id(), bob.token.clone().into())
        .await
        .unwrap();
    until_each(&http, &both, &bob, Instant::now(), |r| {
        *r == Reply::Email(bob.email.clone())
    })
    .await;
    assert!(replicas.mock.revoke_token(&bob.token));
    let reply = call(&http, &replicas.a().url, &bob).await;
    assert!(reply.is_refused("unauthorized"), "{reply:?}");
    let asked = Instant::now();
    let revocation = loop {
        let record = replicas
            .store
            .record(&bob.user_id())
            .await
            .unwrap()
            .unwrap();
        if let Some(revocation) = record.revocation {
            break revocation;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "A did not record the rejection: {record:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Committed by now: from the cache time on, no replica sends the token again.
    let recorded = Instant::now();
    assert_eq!(revocation.by, RevokedBy::Server);
    tokio::time::sleep(CACHE_TTL + Duration::from_millis(100)).await;
    eprintln!(
        "rejected upstream through A: B checked {:?} after A recorded it",
        recorded.elapsed()
    );
    replicas.mock.clear_requests();
    for (name, url) in [
        ("B", replicas.b.url.as_str()),
        ("the load balancer", through.as_str()),
    ] {
        for _ in 0..5 {
            let reply = call(&http, url, &bob).await;
            assert!(reply.is_refused("unauthorized"), "{name}: {reply:?}");
        }
    }
    let upstream = replicas.mock.requests();
    assert!(
        upstream.is_empty(),
        "a token rejected upstream was sent again: {upstream:?}"
    );

    replicas.stop(&users).await;
}

/// One agent's calls during the kill: when each started and ended, and what it got.
#[derive(Debug)]
struct Outcome {
    started: Instant,
    ended: Instant,
    reply: Reply,
    /// For a session-era agent: whether it opened a new session after this reply.
    reopened: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_calls_loses_nothing_and_agents_go_on_through_the_other() {
    let mock = MockPagerDuty::builder().start().await.unwrap();
    let users: Vec<User> = (0..8)
        .map(|i| {
            let user = User::new(
                &format!("user{i}@example.com"),
                &format!("gk_user{i}_replicas_0123456789"),
                &format!("u+MockReplicaUser{i:05}"),
                &format!("user{i}@example.com"),
            );
            mock.add_user(MockUser::new(
                format!("PUSER{i}"),
                format!("User {i}"),
                user.email.clone(),
                "user",
                user.token.clone(),
            ));
            user
        })
        .collect();
    let Some(mut replicas) = Replicas::start("replicas-kill", mock, &users).await else {
        return;
    };
    for user in &users {
        replicas
            .store
            .put(&user.user_id(), user.token.clone().into())
            .await
            .unwrap();
    }
    let http = replicas.http.clone();
    let through = replicas.balancer.url.clone();
    let (stateless, session_era) = users.split_at(4);

    // The session-era agents open their sessions through the load balancer: round robin puts
    // them on both replicas.
    let mut session_agents = Vec::new();
    let mut homes = Vec::new();
    for user in session_era {
        let mut agent = SessionAgent::new(user.clone());
        agent.initialize(&http, &through).await.unwrap();
        assert_eq!(
            agent.call(&http, &through).await,
            Reply::Email(user.email.clone())
        );
        let on_a = agent.lives_on(&http, &replicas.a().url).await;
        assert_eq!(on_a, !agent.lives_on(&http, &replicas.b.url).await);
        homes.push(if on_a { "A" } else { "B" });
        session_agents.push(agent);
    }
    assert!(
        homes.contains(&"A") && homes.contains(&"B"),
        "the sessions should be on both replicas: {homes:?}"
    );

    // What is stored before the kill.
    let stored_before = stored(&replicas.store, &users).await;

    // Every agent calls through the load balancer in a loop.
    let pause = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let busy = Arc::new(AtomicUsize::new(0));
    let mut loops = tokio::task::JoinSet::new();
    for user in stateless.iter().cloned() {
        let (http, url) = (http.clone(), through.clone());
        let (pause, stop, busy) = (pause.clone(), stop.clone(), busy.clone());
        loops.spawn(async move {
            let mut outcomes = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                if pause.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                busy.fetch_add(1, Ordering::SeqCst);
                let started = Instant::now();
                let reply = call(&http, &url, &user).await;
                outcomes.push(Outcome {
                    started,
                    ended: Instant::now(),
                    reply,
                    reopened: false,
                });
                busy.fetch_sub(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (user, outcomes)
        });
    }
    for mut agent in session_agents {
        let (http, url) = (http.clone(), through.clone());
        let (pause, stop, busy) = (pause.clone(), stop.clone(), busy.clone());
        loops.spawn(async move {
            let mut outcomes = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                if pause.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                busy.fetch_add(1, Ordering::SeqCst);
                let started = Instant::now();
                let reply = agent.call(&http, &url).await;
                // A session the gateway does not know (any more): a new one, as clients do.
                let reopened = reply == Reply::Status(404);
                if reopened {
                    agent.initialize(&http, &url).await.unwrap();
                }
                outcomes.push(Outcome {
                    started,
                    ended: Instant::now(),
                    reply,
                    reopened,
                });
                busy.fetch_sub(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (agent.user, outcomes)
        });
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    // A call certainly in the middle on A when it dies: the agents pause, the upstream holds the
    // next request, and one goes to A directly.
    pause.store(true, Ordering::SeqCst);
    while busy.load(Ordering::SeqCst) > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    replicas.mock.hang_next(1);
    let victim = {
        let (http, url, user) = (http.clone(), replicas.a().url.clone(), stateless[0].clone());
        tokio::spawn(async move { call(&http, &url, &user).await })
    };
    let waiting = Instant::now();
    while in_flight(&http, replicas.a()).await == 0 {
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "the held call never reached A"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    pause.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Calls started between these two instants may have been in flight on A when it died.
    let killing = Instant::now();
    let stderr_a = replicas.a.take().unwrap().kill().await;
    let killed = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    let mut runs = Vec::new();
    while let Some(run) = loops.join_next().await {
        runs.push(run.unwrap());
    }
    let victim = victim.await.unwrap();
    assert!(
        matches!(victim, Reply::Transport(_)),
        "the call in the middle on A when it was killed: {victim:?}"
    );
    replicas.mock.clear_faults();

    for (user, outcomes) in &runs {
        let home = session_era
            .iter()
            .position(|u| u.id == user.id)
            .map(|i| homes[i]);
        let before: Vec<_> = outcomes.iter().filter(|o| o.ended < killing).collect();
        let across: Vec<_> = outcomes
            .iter()
            .filter(|o| o.started < killed && o.ended >= killing)
            .collect();
        let after: Vec<_> = outcomes.iter().filter(|o| o.started >= killed).collect();
        let summary = format!(
            "{} (session on {home:?}): {} calls before the kill, {across:?} across it, {} after, \
             these not answered with the user's email (position, reply): {:?}",
            user.id,
            before.len(),
            after.len(),
            after
                .iter()
                .enumerate()
                .filter(|(_, o)| o.reply != Reply::Email(user.email.clone()))
                .map(|(i, o)| (i, &o.reply))
                .collect::<Vec<_>>()
        );
        assert!(
            before
                .iter()
                .all(|o| o.reply == Reply::Email(user.email.clone())),
            "{summary}"
        );
        // The call in flight on A when it died fails (HAProxy's 502, or a reply cut short), the
        // ones before and after it in the kill's window do not (a 404 that made a session-era
        // agent open a new session is counted below).
        let failed_across = across
            .iter()
            .filter(|o| o.reply != Reply::Email(user.email.clone()) && !o.reopened)
            .count();
        assert!(failed_across <= 1, "{summary}");
        // A session on B never went to A: nothing failed at all.
        if home == Some("B") {
            assert_eq!(failed_across, 0, "{summary}");
        }
        assert!(after.len() >= 5, "the agent did not go on: {summary}");
        let first_ok = match home {
            // A session-era agent whose session was on A: 404 once (its first request after
            // the kill, or the one across it), a new session, then it goes on.
            Some("A") => {
                let reopened: Vec<_> = outcomes.iter().filter(|o| o.reopened).collect();
                assert_eq!(reopened.len(), 1, "{summary}");
                usize::from(after.first().is_some_and(|o| o.reopened))
            }
            // Everyone else: every request after the kill just works, nothing to redo.
            _ => {
                assert!(!outcomes.iter().any(|o| o.reopened), "{summary}");
                0
            }
        };
        assert!(
            after[first_ok..]
                .iter()
                .all(|o| o.reply == Reply::Email(user.email.clone())),
            "{summary}"
        );
    }
    for user in &users {
        assert!(!stderr_a.contains(&user.token), "{stderr_a}");
    }

    // Nothing stored was lost: the same rows, every token still opens to what was stored.
    let stored_after = stored(&replicas.store, &users).await;
    assert_eq!(stored_before, stored_after);

    // A started again on its address (same database, same key) takes its share again.
    let a_address = replicas.a_address.clone();
    replicas.a = Some(replicas.start_a(&a_address).await);
    let back = Instant::now();
    loop {
        let reply = call(&http, &through, &stateless[1]).await;
        assert_eq!(reply, Reply::Email(stateless[1].email.clone()));
        if ok_calls(&http, replicas.a()).await > 0 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "the load balancer never sent a call to the restarted replica"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for user in &users {
        for (name, replica) in [("A", replicas.a()), ("B", &replicas.b)] {
            assert_eq!(
                call(&http, &replica.url, user).await,
                Reply::Email(user.email.clone()),
                "{name}"
            );
        }
    }
    replicas.stop(&users).await;
}

/// What the store holds for `users`, the last-used time aside (a call changes it): the record
/// of each and its token.
async fn stored(store: &SqlCredentialStore, users: &[User]) -> Vec<String> {
    let mut out = Vec::new();
    for user in users {
        let record: CredentialRecord = store
            .record(&user.user_id())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{} has no row", user.id));
        let credential = store.credential(&user.user_id()).await.unwrap();
        assert_eq!(credential.secret().expose_secret(), user.token);
        out.push(format!(
            "{} created {:?} rotated {:?} route {:?} verified {:?} revoked {:?} key {}",
            record.user,
            record.created_at,
            record.rotated_at,
            record.route,
            record.verification,
            record.revocation,
            record.key_id
        ));
    }
    out
}

//! The server rejects a user's token (HTTP 401) while the credential database cannot take writes:
//! the store keeps the rejection in memory, never hands that token out again, writes the
//! rejection once the database takes writes again, and other replicas then see it too. On
//! SQLite another process holds the write lock; on Postgres the network to the server is cut.

use super::store;

use std::time::{Duration, Instant};

use pagerduty_mcp_connect::{CredentialError, CredentialProvider, UserId};
use pagerduty_mcp_connect_store::RevokedBy;
#[cfg(feature = "sqlite")]
use pagerduty_mcp_connect_store::sqlx;
#[cfg(feature = "sqlite")]
use store::{TempDir, sqlite};
use store::{record_of, secret, token_of};

const TOKEN: &str = "u+RejectedWhileLocked1";
const NEW_TOKEN: &str = "u+ReplacedAfterReject2";

fn alice() -> UserId {
    UserId::from("alice@example.com")
}

#[cfg(feature = "sqlite")]
fn bob() -> UserId {
    UserId::from("bob@example.com")
}

/// Another process holding the database's write lock (reads go on: WAL).
#[cfg(feature = "sqlite")]
async fn hold_write_lock(db: &std::path::Path) -> sqlx::sqlite::SqliteConnection {
    use sqlx::Connection as _;
    let mut other = sqlx::sqlite::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    other
}

#[cfg(feature = "sqlite")]
async fn release(mut other: sqlx::sqlite::SqliteConnection) {
    use sqlx::Connection as _;
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn a_rejection_the_database_could_not_take_is_kept_and_written_later() {
    let dir = TempDir::new("rejectlocked");
    let store = sqlite(&dir)
        .cache_ttl(Duration::from_millis(200))
        .busy_timeout(Duration::from_millis(100))
        .open()
        .await
        .unwrap();
    store.put(&alice(), secret(TOKEN)).await.unwrap();
    store.put(&bob(), secret(NEW_TOKEN)).await.unwrap();
    let credential = store.credential(&alice()).await.unwrap();

    // The 401 arrives while another process holds the write lock: the write fails.
    let lock = hold_write_lock(&dir.db()).await;
    store.invalidate(&alice(), &credential).await;
    assert!(record_of(&store, &alice()).await.revocation.is_none());

    // The rejected token is never handed out again, before or after the cache time.
    let until = Instant::now() + Duration::from_millis(600);
    while Instant::now() < until {
        assert!(
            matches!(
                store.credential(&alice()).await,
                Err(CredentialError::Rejected { .. })
            ),
            "the rejected token was handed out again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Other users are served as before.
    assert_eq!(token_of(&store, &bob()).await, NEW_TOKEN);

    // The database takes writes again: the store writes the rejection on its own.
    release(lock).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let revocation = loop {
        if let Some(revocation) = record_of(&store, &alice()).await.revocation {
            break revocation;
        }
        assert!(Instant::now() < deadline, "the rejection was never written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(revocation.by, RevokedBy::Server);
    // Another replica (a fresh store on the same file) sees it.
    let other = sqlite(&dir).open().await.unwrap();
    assert!(matches!(
        other.credential(&alice()).await,
        Err(CredentialError::Rejected { .. })
    ));

    // A new token lifts it, here and there.
    store.put(&alice(), secret(NEW_TOKEN)).await.unwrap();
    assert_eq!(token_of(&store, &alice()).await, NEW_TOKEN);
    assert_eq!(token_of(&other, &alice()).await, NEW_TOKEN);
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn a_token_rotated_by_another_replica_while_the_rejection_waited_is_served() {
    let dir = TempDir::new("rejectrotated");
    let store = sqlite(&dir)
        .busy_timeout(Duration::from_millis(100))
        .open()
        .await
        .unwrap();
    store.put(&alice(), secret(TOKEN)).await.unwrap();
    let credential = store.credential(&alice()).await.unwrap();
    let lock = hold_write_lock(&dir.db()).await;
    store.invalidate(&alice(), &credential).await;
    assert!(matches!(
        store.credential(&alice()).await,
        Err(CredentialError::Rejected { .. })
    ));
    release(lock).await;
    // Another replica stores the user's new token before the rejection is written here.
    let other = sqlite(&dir).open().await.unwrap();
    other.put(&alice(), secret(NEW_TOKEN)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match store.credential(&alice()).await {
            Ok(credential) => {
                use secrecy::ExposeSecret;
                assert_eq!(credential.secret().expose_secret(), NEW_TOKEN);
                break;
            }
            Err(CredentialError::Rejected { .. }) => {}
            Err(err) => panic!("{err:?}"),
        }
        assert!(Instant::now() < deadline, "the new token was never served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The new token was never marked rejected.
    assert!(record_of(&store, &alice()).await.revocation.is_none());
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_while_postgres_is_unreachable_is_kept_and_written_when_it_is_back() {
    use super::postgres;
    use super::proxy::Proxy;
    use pagerduty_mcp_connect_store::SqlCredentialStore;
    let Some(url) = postgres::fresh_database().await else {
        return;
    };
    let builder = |url: &str| {
        SqlCredentialStore::builder()
            .database_url(url)
            .key(store::key(1))
            .cache_ttl(Duration::from_millis(200))
            .connect_timeout(Duration::from_secs(1))
    };
    let proxy = Proxy::to_database(&url).await;
    let store = builder(&proxy.url_through(&url)).open().await.unwrap();
    let direct = builder(&url)
        .cache_ttl(Duration::ZERO)
        .open()
        .await
        .unwrap();
    store.put(&alice(), secret(TOKEN)).await.unwrap();
    let credential = store.credential(&alice()).await.unwrap();

    // The 401 arrives while the database cannot be reached.
    proxy.cut();
    store.invalidate(&alice(), &credential).await;
    assert!(
        record_of(&direct, &alice()).await.revocation.is_none(),
        "the write reached the database through the cut"
    );
    for _ in 0..3 {
        assert!(
            matches!(
                store.credential(&alice()).await,
                Err(CredentialError::Rejected { .. })
            ),
            "the rejected token was handed out, or the rejection forgotten"
        );
    }

    // The database is back: the rejection is written, and every replica refuses the token.
    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(20);
    let revocation = loop {
        if let Some(revocation) = record_of(&direct, &alice()).await.revocation {
            break revocation;
        }
        assert!(Instant::now() < deadline, "the rejection was never written");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(revocation.by, RevokedBy::Server);
    assert!(matches!(
        direct.credential(&alice()).await,
        Err(CredentialError::Rejected { .. })
    ));
    assert!(matches!(
        store.credential(&alice()).await,
        Err(CredentialError::Rejected { .. })
    ));
    store.put(&alice(), secret(NEW_TOKEN)).await.unwrap();
    assert_eq!(token_of(&direct, &alice()).await, NEW_TOKEN);
}

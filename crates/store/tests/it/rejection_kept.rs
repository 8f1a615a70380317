//! The server rejects a user's token (HTTP 401) while the credential database cannot take writes:
//! the store keeps the rejection in memory, never hands that token out again, writes the
//! rejection once the database takes writes again, and other replicas then see it too.
#![cfg(feature = "sqlite")]

use super::store;

use std::time::{Duration, Instant};

use pagerduty_mcp_connect::{CredentialError, CredentialProvider, UserId};
use pagerduty_mcp_connect_store::{RevokedBy, sqlx};
use store::{TempDir, record_of, secret, sqlite, token_of};

const TOKEN: &str = "u+RejectedWhileLocked1";
const NEW_TOKEN: &str = "u+ReplacedAfterReject2";

fn alice() -> UserId {
    UserId::from("alice@example.com")
}

fn bob() -> UserId {
    UserId::from("bob@example.com")
}

/// Another process holding the database's write lock (reads go on: WAL).
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

async fn release(mut other: sqlx::sqlite::SqliteConnection) {
    use sqlx::Connection as _;
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();
}

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

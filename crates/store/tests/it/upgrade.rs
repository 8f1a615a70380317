//! A database written by the store before the workspace split (schema version 2: table
//! `pagerduty_mcp_credentials`, columns `region` and `pagerduty_*`) opens with today's store,
//! which migrates it in place, and serves every user as before.
//!
//! The fixture `tests/fixtures/credentials-0.1.0.sqlite` was written by commit 2d71c3c's store
//! (the last with the old names), key: 32 bytes of 7, server name `pagerduty`:
//! - alice: put `u+AliceFixtureTok001`, rotated to `u+AliceFixtureTok002`;
//! - ada: put_verified `u+AdaFixtureToken001` (PagerDuty user PADA001, Ada Lovelace,
//!   ada@example.com, admin; region us);
//! - grace: put_in_region `u+GraceFixtureTok001`, region eu;
//! - bob: put `u+BobFixtureToken001`, revoked by an admin, "left the team";
//! - carol: put `u+CarolFixtureTok001`, then rejected by the server (invalidate).
#![cfg(feature = "sqlite")]

use std::path::PathBuf;
use std::time::Duration;

use pagerduty_mcp_connect::{CredentialError, CredentialProvider, Region, UserId};
use pagerduty_mcp_connect_store::{RevokedBy, SqlCredentialStore};
use secrecy::ExposeSecret;

use super::store::{TempDir, key, legacy_seal, token_of};
use pagerduty_mcp_connect_store::sqlx;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/credentials-0.1.0.sqlite"
);

#[tokio::test]
async fn a_database_written_before_the_split_opens_and_serves_every_user() {
    // The store migrates in place: work on a copy.
    let dir = TempDir::new("upgrade");
    let db: PathBuf = dir.db();
    std::fs::copy(FIXTURE, &db).unwrap();
    // A checkout gives the fixture its umask's mode (git keeps no 0600) and the copy keeps it:
    // the database file of a real deployment is private, and the store refuses one that is not.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let store = SqlCredentialStore::builder()
        .sqlite_file(&db)
        .key(key(7))
        .cache_ttl(Duration::ZERO)
        .open()
        .await
        .unwrap();

    let token = |user: &str| {
        let store = store.clone();
        let user = UserId::from(user);
        async move { store.credential(&user).await }
    };
    let alice = token("alice").await.unwrap();
    assert_eq!(alice.secret().expose_secret(), "u+AliceFixtureTok002");
    assert_eq!(Region::of(&alice), None);
    let ada = token("ada").await.unwrap();
    assert_eq!(ada.secret().expose_secret(), "u+AdaFixtureToken001");
    assert_eq!(Region::of(&ada), Some(Region::Us));
    let grace = token("grace").await.unwrap();
    assert_eq!(grace.secret().expose_secret(), "u+GraceFixtureTok001");
    assert_eq!(Region::of(&grace), Some(Region::Eu));
    assert!(matches!(
        token("bob").await,
        Err(CredentialError::Revoked { .. })
    ));
    assert!(matches!(
        token("carol").await,
        Err(CredentialError::Rejected { .. })
    ));

    // What the token check found, and the revocations, under their new names.
    let records = store.list().await.unwrap();
    let users: Vec<&str> = records.iter().map(|r| r.user.as_str()).collect();
    assert_eq!(users, ["ada", "alice", "bob", "carol", "grace"]);
    let verification = records[0].verification.as_ref().expect("ada was verified");
    assert_eq!(
        (
            verification.identity.id.as_str(),
            verification.identity.name.as_str(),
            verification.identity.email.as_str(),
            verification.identity.role.as_str(),
        ),
        ("PADA001", "Ada Lovelace", "ada@example.com", "admin")
    );
    assert_eq!(verification.identity.route, Some(Region::Us.into()));
    assert!(records[1].rotated_at.is_some());
    let bob = records[2].revocation.as_ref().unwrap();
    assert_eq!(
        (bob.reason.as_str(), bob.by),
        ("left the team", RevokedBy::Admin)
    );
    assert_eq!(
        records[3].revocation.as_ref().unwrap().by,
        RevokedBy::Server
    );
    assert_eq!(records[4].route, Some(Region::Eu.into()));

    // Rows of that release are resealed with today's associated data: those read above in the
    // background, every one by a rekey (under the same key).
    let report = store.rekey().await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    let versions: Vec<(String, i64)> =
        sqlx::query_as("SELECT user_id, seal_version FROM mcp_credentials ORDER BY user_id")
            .fetch_all(store.sqlite_pool().unwrap())
            .await
            .unwrap();
    assert!(versions.iter().all(|(_, v)| *v == 2), "{versions:?}");
    assert_eq!(
        token("alice").await.unwrap().secret().expose_secret(),
        "u+AliceFixtureTok002"
    );
    // From now on their revocations are bound too: clearing bob's by hand does not bring his
    // token back, and neither does a row sealed the old way put back.
    sqlx::query(
        "UPDATE mcp_credentials SET revoked_at = NULL, revoked_by = NULL WHERE user_id = 'bob'",
    )
    .execute(store.sqlite_pool().unwrap())
    .await
    .unwrap();
    assert!(matches!(
        token("bob").await,
        Err(CredentialError::Unavailable { .. })
    ));
    let (key_id, nonce, ciphertext) = legacy_seal(
        7,
        "pagerduty",
        &UserId::from("grace"),
        "u+GraceFixtureTok001",
    );
    sqlx::query(
        "UPDATE mcp_credentials SET key_id = $1, nonce = $2, ciphertext = $3, seal_version = 1          WHERE user_id = 'grace'",
    )
    .bind(&key_id)
    .bind(&nonce)
    .bind(&ciphertext)
    .execute(store.sqlite_pool().unwrap())
    .await
    .unwrap();
    assert!(matches!(
        token("grace").await,
        Err(CredentialError::Unavailable { .. })
    ));

    // The migrated database takes writes, and opens again without migrating twice.
    store
        .rotate(&UserId::from("bob"), "u+BobFixtureToken002".into())
        .await
        .unwrap();
    store.close().await;
    let again = SqlCredentialStore::builder()
        .sqlite_file(&db)
        .key(key(7))
        .open()
        .await
        .unwrap();
    assert_eq!(
        token_of(&again, &UserId::from("bob")).await,
        "u+BobFixtureToken002"
    );
    let (tables,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'pagerduty%'",
    )
    .fetch_one(again.sqlite_pool().unwrap())
    .await
    .unwrap();
    assert_eq!(tables, 0, "no table keeps the vendor's name");
}

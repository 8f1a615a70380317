//! Someone who can write the credentials table cannot make the store hand out a token it would
//! not: each sealed token is bound to its user, server, entry, revision, route and revocation, so
//! an old sealed token put back under a newer revision, a revocation lifted by hand or a route
//! changed by hand is refused as tampered; a whole old row put back is refused by a store that
//! has seen a newer one (and is the documented limit for one that has not).
#![cfg(feature = "sqlite")]

use super::store;

use pagerduty_mcp_connect::{CredentialError, CredentialProvider, Region, UserId};
use pagerduty_mcp_connect_store::{SqlCredentialStore, StoreError, sqlx};
use store::{TempDir, secret, sqlite, token_of};

const OLD_TOKEN: &str = "u+TamperOldToken0001";
const NEW_TOKEN: &str = "u+TamperNewToken0002";

fn alice() -> UserId {
    UserId::from("alice@example.com")
}

fn store_error(err: &CredentialError) -> &StoreError {
    let CredentialError::Unavailable {
        source: Some(source),
        ..
    } = err
    else {
        panic!("expected Unavailable with a source, got {err:?}");
    };
    source.downcast_ref::<StoreError>().expect("a StoreError")
}

/// Asserts that the lookup of `user` is refused as tampered, naming the user, and leaks nothing.
async fn assert_refused_as_tampered(store: &SqlCredentialStore, user: &UserId) {
    let err = store.credential(user).await.unwrap_err();
    assert!(
        matches!(store_error(&err), StoreError::Unsealable { user: who, .. } if who == user),
        "{err:?}"
    );
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains(OLD_TOKEN) && !text.contains(NEW_TOKEN),
        "{text}"
    );
}

async fn exec(store: &SqlCredentialStore, sql: &str) {
    sqlx::query(sql)
        .bind(alice().as_str())
        .execute(store.sqlite_pool().unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_old_sealed_token_under_a_newer_revision_is_refused() {
    let dir = TempDir::new("tamperold");
    let store = sqlite(&dir).open().await.unwrap();
    store.put(&alice(), secret(OLD_TOKEN)).await.unwrap();
    let (nonce, ciphertext): (Vec<u8>, Vec<u8>) =
        sqlx::query_as("SELECT nonce, ciphertext FROM mcp_credentials WHERE user_id = $1")
            .bind(alice().as_str())
            .fetch_one(store.sqlite_pool().unwrap())
            .await
            .unwrap();
    store.rotate(&alice(), secret(NEW_TOKEN)).await.unwrap();
    // The old sealed token goes back into the current row (revision 2).
    sqlx::query("UPDATE mcp_credentials SET nonce = $1, ciphertext = $2 WHERE user_id = $3")
        .bind(&nonce)
        .bind(&ciphertext)
        .bind(alice().as_str())
        .execute(store.sqlite_pool().unwrap())
        .await
        .unwrap();
    assert_refused_as_tampered(&store, &alice()).await;
}

#[tokio::test]
async fn a_revocation_lifted_by_hand_is_refused() {
    let dir = TempDir::new("tamperrevoked");
    let store = sqlite(&dir).open().await.unwrap();
    store.put(&alice(), secret(OLD_TOKEN)).await.unwrap();
    store.revoke(&alice(), "left the company").await.unwrap();
    exec(
        &store,
        "UPDATE mcp_credentials SET revoked_at = NULL, revoked_reason = NULL, revoked_by = NULL \
         WHERE user_id = $1",
    )
    .await;
    assert_refused_as_tampered(&store, &alice()).await;
    // Lowering the revision as well does not help.
    exec(
        &store,
        "UPDATE mcp_credentials SET revision = revision - 1 WHERE user_id = $1",
    )
    .await;
    assert_refused_as_tampered(&store, &alice()).await;
    // The same for a rejection recorded after a 401.
    store.put(&alice(), secret(NEW_TOKEN)).await.unwrap();
    let credential = store.credential(&alice()).await.unwrap();
    store.invalidate(&alice(), &credential).await;
    exec(
        &store,
        "UPDATE mcp_credentials SET revoked_at = NULL, revoked_reason = NULL, revoked_by = NULL \
         WHERE user_id = $1",
    )
    .await;
    assert_refused_as_tampered(&store, &alice()).await;
}

#[tokio::test]
async fn a_route_changed_by_hand_is_refused() {
    let dir = TempDir::new("tamperroute");
    let store = sqlite(&dir).open().await.unwrap();
    store
        .put_with_route(&alice(), secret(OLD_TOKEN), Region::Us)
        .await
        .unwrap();
    exec(
        &store,
        "UPDATE mcp_credentials SET route = 'eu' WHERE user_id = $1",
    )
    .await;
    assert_refused_as_tampered(&store, &alice()).await;
    exec(
        &store,
        "UPDATE mcp_credentials SET route = NULL WHERE user_id = $1",
    )
    .await;
    assert_refused_as_tampered(&store, &alice()).await;
    // The store's own route change is fine.
    exec(
        &store,
        "UPDATE mcp_credentials SET route = 'us' WHERE user_id = $1",
    )
    .await;
    store.set_route(&alice(), Region::Eu).await.unwrap();
    let credential = store.credential(&alice()).await.unwrap();
    assert_eq!(Region::of(&credential), Some(Region::Eu));
}

#[tokio::test]
async fn a_whole_old_row_put_back_is_refused_by_a_store_that_saw_a_newer_one() {
    let dir = TempDir::new("tamperrollback");
    let store = sqlite(&dir).open().await.unwrap();
    store.put(&alice(), secret(OLD_TOKEN)).await.unwrap();
    assert_eq!(token_of(&store, &alice()).await, OLD_TOKEN);
    // A copy of the whole row, as a backup would hold it.
    exec(
        &store,
        "CREATE TABLE old_rows AS SELECT * FROM mcp_credentials WHERE user_id = $1",
    )
    .await;
    store.revoke(&alice(), "left the company").await.unwrap();
    // Another replica (here: a second store on the file) sees the revocation too.
    let replica = sqlite(&dir).open().await.unwrap();
    assert!(matches!(
        replica.credential(&alice()).await,
        Err(CredentialError::Revoked { .. })
    ));
    // The old row goes back, whole: revision, revocation columns, sealed token.
    exec(&store, "DELETE FROM mcp_credentials WHERE user_id = $1").await;
    exec(
        &store,
        "INSERT INTO mcp_credentials SELECT * FROM old_rows WHERE user_id = $1",
    )
    .await;
    for seen in [&store, &replica] {
        let err = seen.credential(&alice()).await.unwrap_err();
        match store_error(&err) {
            StoreError::RolledBack {
                user,
                revision,
                newest_seen,
            } => {
                assert_eq!(user, &alice());
                assert_eq!((*revision, *newest_seen), (1, 2));
            }
            other => panic!("expected RolledBack, got {other:?}"),
        }
    }
    // The documented limit: a store started after the row went back has never seen a newer
    // revision, and serves it. (Deleting rows is the other thing write access still allows.)
    let fresh = sqlite(&dir).open().await.unwrap();
    assert_eq!(token_of(&fresh, &alice()).await, OLD_TOKEN);
}

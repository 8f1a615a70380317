//! One bad row costs its user only: a row sealed under a key the store was not given, or damaged,
//! neither keeps the store from opening nor stops a key change; the store names the users it
//! could not serve or rekey, and their lookups fail with a typed error saying why.
#![cfg(feature = "sqlite")]

use super::logs::{capture_logs, logged_text};
use super::store;

use pagerduty_mcp_connect::{CredentialError, CredentialProvider, UserId};
use pagerduty_mcp_connect_store::{SqlCredentialStore, StoreError, sqlx};
use store::{TempDir, key, secret, sqlite, token_of};

fn user(i: usize) -> UserId {
    UserId::from(format!("user{i:02}@example.com"))
}

fn token(i: usize) -> String {
    format!("u+BadRowsToken{i:04}")
}

/// Ten users under key 1; user 3's sealed token damaged, user 5's recorded under a key id the
/// store has never been given.
async fn database_with_two_bad_rows(dir: &TempDir) {
    let store = sqlite(dir).open().await.unwrap();
    for i in 0..10 {
        store.put(&user(i), secret(&token(i))).await.unwrap();
    }
    let pool = store.sqlite_pool().unwrap();
    sqlx::query(
        "UPDATE mcp_credentials SET ciphertext = zeroblob(length(ciphertext)) WHERE user_id = $1",
    )
    .bind(user(3).as_str())
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("UPDATE mcp_credentials SET key_id = 'deadbeefdeadbeef' WHERE user_id = $1")
        .bind(user(5).as_str())
        .execute(pool)
        .await
        .unwrap();
    store.close().await;
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

#[tokio::test]
async fn a_row_under_an_unknown_key_costs_its_user_only() {
    let _ = capture_logs();
    let dir = TempDir::new("unknownkey");
    database_with_two_bad_rows(&dir).await;

    // The store opens, and says which users it cannot serve (ids, never tokens).
    let store = sqlite(&dir).open().await.unwrap();
    let logs = logged_text();
    let warning = logs
        .lines()
        .find(|line| line.contains("WARN") && line.contains(user(5).as_str()))
        .unwrap_or_else(|| panic!("no WARN naming the user in:\n{logs}"));
    assert!(warning.contains("deadbeefdeadbeef"), "{warning}");
    assert!(!logs.contains("BadRowsToken"));

    // That user's lookup says what is wrong; the damaged row too; everyone else is served.
    let err = store.credential(&user(5)).await.unwrap_err();
    match store_error(&err) {
        StoreError::UnknownKey {
            user: who,
            key_id,
            configured,
        } => {
            assert_eq!(who, &user(5));
            assert_eq!(key_id, "deadbeefdeadbeef");
            assert_eq!(configured, &vec![store.key_id().to_owned()]);
        }
        other => panic!("expected UnknownKey, got {other:?}"),
    }
    assert!(err.to_string().contains("deadbeefdeadbeef"), "{err}");
    let err = store.credential(&user(3)).await.unwrap_err();
    assert!(
        matches!(store_error(&err), StoreError::Unsealable { user: who, .. } if *who == user(3)),
        "{err:?}"
    );
    for i in [0, 1, 2, 4, 6, 7, 8, 9] {
        assert_eq!(token_of(&store, &user(i)).await, token(i));
    }

    // A wrong key is still refused at open: then no row at all opens.
    store.close().await;
    let err = sqlite(&dir).key(key(2)).open().await.unwrap_err();
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err:?}");
}

#[tokio::test]
async fn rekey_goes_past_the_rows_it_cannot_open_and_names_their_users() {
    let dir = TempDir::new("rekeybad");
    database_with_two_bad_rows(&dir).await;
    let store = sqlite(&dir)
        .key(key(2))
        .previous_key(key(1))
        .open()
        .await
        .unwrap();
    let report = store.rekey().await.unwrap();
    assert_eq!(report.resealed, 8);
    assert!(!report.is_complete());
    let failed: Vec<(&UserId, &StoreError)> =
        report.failed.iter().map(|f| (&f.user, &f.error)).collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0].0, &user(3));
    assert!(matches!(failed[0].1, StoreError::Unsealable { .. }));
    assert_eq!(failed[1].0, &user(5));
    assert!(matches!(failed[1].1, StoreError::UnknownKey { .. }));
    // Every row that could be resealed is under the new key.
    for record in store.list().await.unwrap() {
        let bad = record.user == user(3) || record.user == user(5);
        assert_eq!(record.key_id == store.key_id(), !bad, "{record:?}");
    }
    // Once the two users get new tokens, the key change is complete and the old key can go.
    store
        .put(&user(3), secret("u+NewTokenUser3"))
        .await
        .unwrap();
    store
        .put(&user(5), secret("u+NewTokenUser5"))
        .await
        .unwrap();
    let report = store.rekey().await.unwrap();
    assert!(report.is_complete() && report.resealed == 0, "{report:?}");
    store.close().await;
    let new_only: SqlCredentialStore = sqlite(&dir).key(key(2)).open().await.unwrap();
    assert_eq!(token_of(&new_only, &user(9)).await, token(9));
    assert_eq!(token_of(&new_only, &user(5)).await, "u+NewTokenUser5");
}

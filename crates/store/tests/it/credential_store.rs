//! A gateway keeps its users' PagerDuty tokens in an encrypted SQLite file: it adds, rotates,
//! revokes, lists and deletes them, survives restarts, upgrades an older schema, rotates the key
//! without downtime, and turns a token the server rejected into a fast `Unauthorized` — with no
//! token ever readable in the file, and a typed error for every broken database, key or token.
#![cfg(feature = "sqlite")]

use super::store;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::logs::capture_logs;
use pagerduty_mcp_connect::{
    CREDENTIAL_HELP, CredentialError, CredentialProvider, Error, Region, UserId,
};
use pagerduty_mcp_connect_mock::{MockPagerDuty, MockUser};
use pagerduty_mcp_connect_store::sqlx;
use pagerduty_mcp_connect_store::{KeySource, RevokedBy, SqlCredentialStore, StoreError};
use secrecy::ExposeSecret;
use serde_json::json;
use store::{
    TempDir, connector_to, contains, key, legacy_seal, open_with_key, raw_database_bytes,
    record_of, secret, sqlite, token_of,
};

const ALICE_TOKEN: &str = "u+AliceStoreToken7Qx2";
const BOB_TOKEN: &str = "u+BobStoreToken9Kd4Wz";

fn alice() -> UserId {
    UserId::from("alice@example.com")
}

fn bob() -> UserId {
    UserId::from("bob@example.com")
}

/// `chmod 600` for a database file a test made by hand (the store refuses one others may read).
fn private(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Asserts that `store` cannot unseal `user`'s token (an `Unsealable` store error).
async fn assert_unsealable(store: &SqlCredentialStore, user: &UserId) {
    let err = store.credential(user).await.unwrap_err();
    let source = unavailable_source(&err);
    assert!(matches!(source, StoreError::Unsealable { .. }), "{err:?}");
}

fn unavailable_source(err: &CredentialError) -> &StoreError {
    let CredentialError::Unavailable {
        source: Some(source),
        ..
    } = err
    else {
        panic!("expected Unavailable with a source, got {err:?}");
    };
    source
        .downcast_ref::<StoreError>()
        .expect("the source is a StoreError")
}

#[tokio::test]
async fn an_admin_puts_rotates_revokes_lists_and_deletes() {
    let dir = TempDir::new("admin");
    let store = sqlite(&dir).open().await.unwrap();
    assert!(store.is_empty().await.unwrap());

    let before = SystemTime::now() - Duration::from_secs(1);
    let record = store.put(&alice(), secret(ALICE_TOKEN)).await.unwrap();
    assert_eq!(record.user, alice());
    assert_eq!(record.revision, 1);
    assert!(record.created_at >= before);
    assert_eq!(record.rotated_at, None);
    assert_eq!(record.key_id, store.key_id());
    store
        .put_with_route(&bob(), secret(BOB_TOKEN), Region::Eu)
        .await
        .unwrap();

    let credential = store.credential(&alice()).await.unwrap();
    assert_eq!(credential.secret().expose_secret(), ALICE_TOKEN);
    assert_eq!(credential.created_at(), Some(record.created_at));
    assert_eq!(Region::of(&credential), None);
    assert_eq!(
        Region::of(&store.credential(&bob()).await.unwrap()),
        Some(Region::Eu)
    );

    // Rotation: a new token, a rotation time, the token's creation time moves with it.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let rotated = store
        .rotate(&alice(), secret("u+AliceRotated0000001"))
        .await
        .unwrap();
    assert_eq!(rotated.revision, 2);
    assert_eq!(rotated.created_at, record.created_at);
    let rotated_at = rotated.rotated_at.expect("rotated_at");
    assert_eq!(rotated.token_created_at(), rotated_at);
    let credential = store.credential(&alice()).await.unwrap();
    assert_eq!(credential.secret().expose_secret(), "u+AliceRotated0000001");
    assert_eq!(credential.created_at(), Some(rotated_at));
    assert!(matches!(
        store
            .rotate(&UserId::from("nobody"), secret("u+x"))
            .await
            .unwrap_err(),
        StoreError::NotFound { .. }
    ));

    // Revocation with a reason.
    let revoked = store.revoke(&bob(), "left the company").await.unwrap();
    let revocation = revoked.revocation.expect("revoked");
    assert_eq!(revocation.reason, "left the company");
    assert_eq!(revocation.by, RevokedBy::Admin);
    assert!(matches!(
        store.credential(&bob()).await,
        Err(CredentialError::Revoked { .. })
    ));

    // The list holds metadata, never a token.
    let listed = store.list().await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.user.clone()).collect::<Vec<_>>(),
        vec![alice(), bob()]
    );
    let shown = format!("{listed:?} {store:?}");
    assert!(!shown.contains("AliceRotated") && !shown.contains(BOB_TOKEN));
    assert_eq!(listed[1].route, Some(Region::Eu.into()));

    // A new token lifts the revocation.
    store.put(&bob(), secret(BOB_TOKEN)).await.unwrap();
    assert!(store.credential(&bob()).await.is_ok());

    assert!(store.delete(&bob()).await.unwrap());
    assert!(!store.delete(&bob()).await.unwrap());
    assert!(matches!(
        store.credential(&bob()).await,
        Err(CredentialError::NotFound { .. })
    ));
    assert_eq!(store.len().await.unwrap(), 1);
    store.close().await;

    // A restart finds everything as it was.
    let reopened = sqlite(&dir).open().await.unwrap();
    assert_eq!(token_of(&reopened, &alice()).await, "u+AliceRotated0000001");
}

#[tokio::test]
async fn the_database_file_holds_no_token() {
    let dir = TempDir::new("raw");
    let store = sqlite(&dir).open().await.unwrap();
    store.put(&alice(), secret(ALICE_TOKEN)).await.unwrap();
    store
        .rotate(&bob().clone(), secret(BOB_TOKEN))
        .await
        .unwrap_err();
    store.put(&bob(), secret(BOB_TOKEN)).await.unwrap();
    let bytes = raw_database_bytes(&dir.db());
    assert!(bytes.len() > 4096, "the database was read");
    // The user ids are there in clear (they are not secret): the read is real.
    assert!(contains(&bytes, b"alice@example.com"));
    for token in [ALICE_TOKEN, BOB_TOKEN] {
        assert!(
            !contains(&bytes, token.as_bytes()),
            "a token is in the file"
        );
        assert!(!contains(&bytes, &token.as_bytes()[2..]));
    }
    store.close().await;
    let bytes = raw_database_bytes(&dir.db());
    for token in [ALICE_TOKEN, BOB_TOKEN] {
        assert!(
            !contains(&bytes, token.as_bytes()),
            "a token is in the file"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.db()).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the database file is private");
    }
}

#[tokio::test]
async fn every_seal_uses_a_fresh_nonce() {
    let dir = TempDir::new("nonce");
    let store = sqlite(&dir).open().await.unwrap();
    let pool = store.sqlite_pool().unwrap().clone();
    let mut nonces = HashSet::new();
    for _ in 0..20 {
        store.put(&alice(), secret(ALICE_TOKEN)).await.unwrap();
        let (nonce,): (Vec<u8>,) =
            sqlx::query_as("SELECT nonce FROM mcp_credentials WHERE user_id = $1")
                .bind(alice().as_str())
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(nonce.len(), 24);
        nonces.insert(nonce);
    }
    assert_eq!(nonces.len(), 20);
}

#[tokio::test]
async fn a_row_copied_to_another_user_does_not_open() {
    let dir = TempDir::new("copy");
    let store = sqlite(&dir).open().await.unwrap();
    store.put(&alice(), secret(ALICE_TOKEN)).await.unwrap();
    store.put(&bob(), secret(BOB_TOKEN)).await.unwrap();
    let pool = store.sqlite_pool().unwrap().clone();
    // An attacker with write access to the file gives bob alice's sealed token.
    sqlx::query(
        "UPDATE mcp_credentials SET (nonce, ciphertext, key_id) = \
         (SELECT nonce, ciphertext, key_id FROM mcp_credentials WHERE user_id = $1) \
         WHERE user_id = $2",
    )
    .bind(alice().as_str())
    .bind(bob().as_str())
    .execute(&pool)
    .await
    .unwrap();
    let err = store.credential(&bob()).await.unwrap_err();
    assert!(
        matches!(unavailable_source(&err), StoreError::Unsealable { user, .. } if *user == bob()),
        "{err:?}"
    );
    assert!(!err.to_string().contains(ALICE_TOKEN));
    // Alice is unaffected; a connector would get a typed error for bob, never alice's token.
    assert_eq!(token_of(&store, &alice()).await, ALICE_TOKEN);

    // A token sealed for another server does not open either.
    let other = sqlite(&dir)
        .server_name("other-server")
        .open()
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO mcp_credentials (server, user_id, key_id, nonce, ciphertext, created_at) \
         SELECT 'other-server', user_id, key_id, nonce, ciphertext, created_at \
         FROM mcp_credentials WHERE user_id = $1 AND server = 'pagerduty'",
    )
    .bind(alice().as_str())
    .execute(&pool)
    .await
    .unwrap();
    assert_unsealable(&other, &alice()).await;
}

#[tokio::test]
async fn a_wrong_key_is_a_typed_error_and_loses_nothing() {
    let dir = TempDir::new("wrongkey");
    let store = sqlite(&dir).open().await.unwrap();
    store.put(&alice(), secret(ALICE_TOKEN)).await.unwrap();
    let right_id = store.key_id().to_owned();
    store.close().await;

    let err = sqlite(&dir).key(key(2)).open().await.unwrap_err();
    let StoreError::WrongKey { found, configured } = &err else {
        panic!("expected WrongKey, got {err:?}");
    };
    assert_eq!(found, &vec![right_id]);
    assert_eq!(configured.len(), 1);
    assert!(err.to_string().contains("previous_key"), "{err}");

    // A damaged row (same key id, altered ciphertext) is Unsealable, for that user only.
    let store = sqlite(&dir).open().await.unwrap();
    store.put(&bob(), secret(BOB_TOKEN)).await.unwrap();
    sqlx::query(
        "UPDATE mcp_credentials SET ciphertext = zeroblob(length(ciphertext)) WHERE user_id = $1",
    )
    .bind(bob().as_str())
    .execute(store.sqlite_pool().unwrap())
    .await
    .unwrap();
    assert_unsealable(&store, &bob()).await;
    assert_eq!(token_of(&store, &alice()).await, ALICE_TOKEN);
}

#[tokio::test]
async fn rekey_reseals_every_row_while_the_store_keeps_serving() {
    let dir = TempDir::new("rekey");
    let old = sqlite(&dir).open().await.unwrap();
    let users: Vec<UserId> = (0..600)
        .map(|i| UserId::from(format!("user{i:04}")))
        .collect();
    for (i, user) in users.iter().enumerate() {
        old.put(user, secret(&format!("u+Token{i:06}")))
            .await
            .unwrap();
    }
    let old_id = old.key_id().to_owned();

    // Step 1: the new key, the old one as previous.
    let store = sqlite(&dir)
        .key(key(2))
        .previous_key(key(1))
        .open()
        .await
        .unwrap();
    assert_ne!(store.key_id(), old_id);
    // Serving continues during the rekey: lookups from another task never fail.
    let reader = {
        let store = store.clone();
        let users = users.clone();
        tokio::spawn(async move {
            let mut lookups = 0;
            for round in 0..3 {
                for (i, user) in users.iter().enumerate().skip(round).step_by(7) {
                    let credential = store.credential(user).await.expect("lookup during rekey");
                    assert_eq!(
                        credential.secret().expose_secret(),
                        format!("u+Token{i:06}")
                    );
                    lookups += 1;
                }
            }
            lookups
        })
    };
    let report = store.rekey().await.unwrap();
    assert!(reader.await.unwrap() > 200);
    assert_eq!(report.resealed, users.len());
    assert!(report.is_complete(), "{report:?}");
    let again = store.rekey().await.unwrap();
    assert_eq!(again.resealed, 0, "nothing left to reseal");
    assert!(
        store
            .list()
            .await
            .unwrap()
            .iter()
            .all(|r| r.key_id == store.key_id())
    );
    store.close().await;
    old.close().await;

    // Step 3: the old key is no longer needed; the old key alone no longer opens the database.
    let new_only = sqlite(&dir).key(key(2)).open().await.unwrap();
    assert_eq!(token_of(&new_only, &users[599]).await, "u+Token000599");
    assert!(matches!(
        sqlite(&dir).key(key(1)).open().await.unwrap_err(),
        StoreError::WrongKey { .. }
    ));
}

#[tokio::test]
async fn keys_come_from_the_environment_a_private_file_or_a_closure() {
    use base64::Engine as _;
    let dir = TempDir::new("keys");
    let encoded = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);

    set_env("PDMCP_TEST_STORE_KEY", Some(&encoded));
    let from_env = open_with_key(&dir, KeySource::env("PDMCP_TEST_STORE_KEY"))
        .await
        .unwrap();
    from_env.put(&alice(), secret(ALICE_TOKEN)).await.unwrap();
    let key_id = from_env.key_id().to_owned();
    from_env.close().await;

    let missing = open_with_key(&dir, KeySource::env("PDMCP_TEST_STORE_KEY_UNSET"))
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::Key { .. }), "{missing}");

    // A key file: refused while others may read it, accepted at 600, raw or base64.
    let file = dir.path().join("store.key");
    std::fs::write(&file, format!("{encoded}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = open_with_key(&dir, KeySource::file(&file))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Key { message, .. } if message.contains("chmod 600")),
            "{err}"
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let from_file = open_with_key(&dir, KeySource::file(&file)).await.unwrap();
    assert_eq!(from_file.key_id(), key_id);
    assert!(from_file.credential(&alice()).await.is_ok());
    from_file.close().await;
    std::fs::write(&file, [9u8; 32]).unwrap();
    let raw = open_with_key(&dir, KeySource::file(&file)).await.unwrap();
    assert_eq!(raw.key_id(), key_id);
    raw.close().await;

    // A key management service behind a closure.
    let from_kms = sqlite(&dir)
        .key(KeySource::from_fn(|| async {
            Ok(secrecy::SecretSlice::from(vec![9u8; 32]))
        }))
        .open()
        .await
        .unwrap();
    assert_eq!(from_kms.key_id(), key_id);
    from_kms.close().await;
    let failing = sqlite(&dir)
        .key(KeySource::from_fn(|| async {
            Err("KMS unavailable".into())
        }))
        .open()
        .await
        .unwrap_err();
    assert!(matches!(failing, StoreError::Key { .. }));
    let short = sqlite(&dir)
        .key(KeySource::base64(
            base64::engine::general_purpose::STANDARD.encode([1u8; 16]),
        ))
        .open()
        .await
        .unwrap_err();
    assert!(matches!(&short, StoreError::Key { message, .. } if message.contains("16 bytes")));
    // The key never shows in a Debug or an error.
    let shown = format!("{:?} {short}", KeySource::base64(encoded.clone()));
    assert!(!shown.contains(&encoded));
    let generated = KeySource::generate().unwrap();
    assert_ne!(generated.expose_secret(), &encoded);
}

#[tokio::test]
async fn a_token_the_server_rejected_fails_fast_with_unauthorized_until_a_new_one_is_put() {
    let mock = MockPagerDuty::start().await;
    let dir = TempDir::new("reject");
    let store = sqlite(&dir).open().await.unwrap();
    let user = alice();
    store
        .put(&user, secret(MockPagerDuty::ALICE_TOKEN))
        .await
        .unwrap();
    let connector = connector_to(&mock, &store);
    connector
        .call_tool(&user, "get_user_data", json!({}))
        .await
        .unwrap();

    // The token is revoked in PagerDuty: one 401, then the store records it.
    assert!(mock.revoke_token(MockPagerDuty::ALICE_TOKEN));
    let err = connector
        .call_tool(&user, "get_user_data", json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    let revocation = record_of(&store, &user)
        .await
        .revocation
        .expect("marked revoked");
    assert_eq!(revocation.by, RevokedBy::Server);
    assert!(revocation.reason.contains("401"));

    // Later calls: Unauthorized with the credential help, and nothing goes upstream.
    mock.clear_requests();
    for _ in 0..5 {
        let err = connector
            .call_tool(&user, "get_user_data", json!({}))
            .await
            .unwrap_err();
        let Error::Unauthorized { help, .. } = &err else {
            panic!("expected Unauthorized, got {err:?}");
        };
        assert_eq!(help, CREDENTIAL_HELP);
        assert!(!err.to_string().contains(MockPagerDuty::ALICE_TOKEN));
    }
    assert!(connector.list_tools(&user).await.is_err());
    assert_eq!(mock.requests(), vec![], "no request upstream");
    // A restarted gateway remembers it.
    let restarted = sqlite(&dir).open().await.unwrap();
    assert!(matches!(
        restarted.credential(&user).await,
        Err(CredentialError::Rejected { .. })
    ));

    // The user supplies a new token: it works at once.
    assert!(mock.add_token(MockPagerDuty::ALICE_USER_ID, "u+AliceNewToken000042"));
    store
        .put(&user, secret("u+AliceNewToken000042"))
        .await
        .unwrap();
    let me = connector
        .call_tool(&user, "get_user_data", json!({}))
        .await
        .unwrap();
    assert_eq!(
        me.structured_content.unwrap()["id"],
        MockPagerDuty::ALICE_USER_ID
    );
}

#[tokio::test]
async fn invalidating_an_old_token_leaves_a_rotation_alone() {
    let dir = TempDir::new("race");
    let store = sqlite(&dir).open().await.unwrap();
    store.put(&alice(), secret(ALICE_TOKEN)).await.unwrap();
    let old = store.credential(&alice()).await.unwrap();
    store
        .rotate(&alice(), secret("u+AliceRotated0000002"))
        .await
        .unwrap();
    // A 401 for the old token arrives after the rotation.
    store.invalidate(&alice(), &old).await;
    let current = store.credential(&alice()).await.unwrap();
    assert_eq!(current.secret().expose_secret(), "u+AliceRotated0000002");
    store.invalidate(&alice(), &current).await;
    assert!(matches!(
        store.credential(&alice()).await,
        Err(CredentialError::Rejected { .. })
    ));
}

#[tokio::test]
async fn tokens_a_header_cannot_carry_are_refused_at_put() {
    let dir = TempDir::new("badtoken");
    let store = sqlite(&dir).open().await.unwrap();
    let long = format!("u+{}", "a".repeat(5000));
    for bad in [
        "u+abc\r\nX-Evil: 1",
        "u+abc\ndef",
        "u+abc\0def",
        "u+abcé",
        "",
        "   ",
        "u+tab\there",
        long.as_str(),
    ] {
        let err = store.put(&alice(), secret(bad)).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidToken { .. }), "{err:?}");
        if bad.len() > 3 {
            assert!(
                !err.to_string().contains(bad),
                "the error repeats the token"
            );
        }
    }
    assert!(store.is_empty().await.unwrap(), "nothing was stored");
    store.put(&alice(), secret(ALICE_TOKEN)).await.unwrap();
    let err = store
        .rotate(&alice(), secret("u+bad\r\n"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidToken { .. }));
    assert_eq!(
        store
            .credential(&alice())
            .await
            .unwrap()
            .secret()
            .expose_secret(),
        ALICE_TOKEN,
        "the stored token is untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_puts_and_rotations_of_one_user_end_in_one_consistent_row() {
    let dir = TempDir::new("concurrent");
    let store = sqlite(&dir).open().await.unwrap();
    store.put(&alice(), secret("u+Initial")).await.unwrap();
    const TASKS: usize = 32;
    const WRITES: usize = 5;
    let mut written = HashSet::new();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let store = store.clone();
        let tokens: Vec<String> = (0..WRITES)
            .map(|w| format!("u+Task{t:02}Write{w}"))
            .collect();
        written.extend(tokens.iter().cloned());
        tasks.push(tokio::spawn(async move {
            for (w, token) in tokens.into_iter().enumerate() {
                let result = if w % 2 == 0 {
                    store.put(&alice(), secret(&token)).await
                } else {
                    store.rotate(&alice(), secret(&token)).await
                };
                result.expect("every write succeeds");
                // Reads in between see a whole row, never a mix of two writes.
                store.credential(&alice()).await.expect("a consistent row");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.len().await.unwrap(), 1);
    let record = record_of(&store, &alice()).await;
    assert_eq!(
        record.revision as usize,
        1 + TASKS * WRITES,
        "no write was lost"
    );
    let token = store.credential(&alice()).await.unwrap();
    assert!(written.contains(token.secret().expose_secret()));
}

#[tokio::test]
async fn a_locked_database_is_a_typed_error_and_loses_nothing() {
    let dir = TempDir::new("locked");
    let store = sqlite(&dir)
        .busy_timeout(Duration::from_millis(200))
        .open()
        .await
        .unwrap();
    store.put(&alice(), secret(ALICE_TOKEN)).await.unwrap();

    // Another process holds the write lock.
    use sqlx::Connection as _;
    let mut other =
        sqlx::sqlite::SqliteConnection::connect(&format!("sqlite://{}", dir.db().display()))
            .await
            .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .unwrap();
    sqlx::query("UPDATE mcp_credentials SET last_used_at = 1")
        .execute(&mut other)
        .await
        .unwrap();

    let err = store.put(&bob(), secret(BOB_TOKEN)).await.unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert!(err.is_retryable());
    let err = store.revoke(&alice(), "test").await.unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    // Reads go on (WAL).
    assert_eq!(token_of(&store, &alice()).await, ALICE_TOKEN);
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();

    store.put(&bob(), secret(BOB_TOKEN)).await.unwrap();
    let users: Vec<UserId> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.user)
        .collect();
    assert_eq!(users, vec![alice(), bob()]);
    assert!(record_of(&store, &alice()).await.revocation.is_none());
}

#[tokio::test]
async fn a_corrupt_file_is_a_typed_error_and_is_left_untouched() {
    let dir = TempDir::new("corrupt");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(dir.db(), &garbage).unwrap();
    private(&dir.db());
    let err = sqlite(&dir).open().await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert_eq!(
        std::fs::read(dir.db()).unwrap(),
        garbage,
        "the file was not written"
    );

    // A database whose stored columns were damaged: the row is a typed error, others work.
    let dir = TempDir::new("damaged");
    let store = sqlite(&dir).open().await.unwrap();
    store.put(&alice(), secret(ALICE_TOKEN)).await.unwrap();
    store.put(&bob(), secret(BOB_TOKEN)).await.unwrap();
    // (A route is any name, so a text where a time belongs is the damage here.)
    sqlx::query("UPDATE mcp_credentials SET created_at = 'mars' WHERE user_id = $1")
        .bind(bob().as_str())
        .execute(store.sqlite_pool().unwrap())
        .await
        .unwrap();
    let err = store.credential(&bob()).await.unwrap_err();
    assert!(
        matches!(unavailable_source(&err), StoreError::Corrupt { .. }),
        "{err:?}"
    );
    assert!(store.credential(&alice()).await.is_ok());
}

#[tokio::test]
async fn an_older_schema_is_upgraded_on_open() {
    // A token sealed as releases of that time sealed it (associated data: server and user).
    let (key_id, nonce, ciphertext) = legacy_seal(1, "pagerduty", &alice(), ALICE_TOKEN);

    // Version 1, created by hand: no revision, no metadata columns.
    let dir = TempDir::new("v1");
    use sqlx::Connection as _;
    let mut conn = sqlx::sqlite::SqliteConnection::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.db().display()
    ))
    .await
    .unwrap();
    sqlx::query(
        "CREATE TABLE pagerduty_mcp_credentials (server TEXT NOT NULL, user_id TEXT NOT NULL, \
         key_id TEXT NOT NULL, nonce BLOB NOT NULL, ciphertext BLOB NOT NULL, \
         created_at INTEGER NOT NULL, rotated_at INTEGER, revoked_at INTEGER, revoked_reason TEXT, \
         PRIMARY KEY (server, user_id))",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO pagerduty_mcp_credentials VALUES ('pagerduty', $1, $2, $3, $4, 1700000000000, NULL, NULL, NULL), \
         ('pagerduty', 'carol@example.com', $2, $3, $4, 1700000000000, NULL, 1700000001000, 'offboarded')",
    )
    .bind(alice().as_str())
    .bind(&key_id)
    .bind(&nonce)
    .bind(&ciphertext)
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    private(&dir.db());

    let store = sqlite(&dir).open().await.unwrap();
    let credential = store.credential(&alice()).await.unwrap();
    assert_eq!(credential.secret().expose_secret(), ALICE_TOKEN);
    assert_eq!(
        credential.created_at(),
        Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_000))
    );
    let records = store.list().await.unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].revision, 1);
    let carol = records[1].revocation.as_ref().expect("carol stays revoked");
    assert_eq!(
        (carol.reason.as_str(), carol.by),
        ("offboarded", RevokedBy::Admin)
    );
    // The new columns work.
    store.set_route(&alice(), Region::Eu).await.unwrap();
    let (versions,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(store.sqlite_pool().unwrap())
        .await
        .unwrap();
    assert_eq!(versions, 4);
    store.close().await;
    // Opening again is a no-op.
    let again = sqlite(&dir).open().await.unwrap();
    assert_eq!(
        Region::of(&again.credential(&alice()).await.unwrap()),
        Some(Region::Eu)
    );
}

#[tokio::test]
async fn a_change_by_another_replica_is_seen_within_the_cache_time() {
    let dir = TempDir::new("replica");
    let ttl = Duration::from_millis(300);
    let here = sqlite(&dir).cache_ttl(ttl).open().await.unwrap();
    let there = sqlite(&dir).cache_ttl(ttl).open().await.unwrap();
    here.put(&alice(), secret(ALICE_TOKEN)).await.unwrap();
    assert!(there.credential(&alice()).await.is_ok());

    // A change made here is seen here at once.
    here.revoke(&alice(), "test").await.unwrap();
    assert!(here.credential(&alice()).await.is_err());
    // The other replica sees it within the cache time, and never after it.
    let revoked_at = std::time::Instant::now();
    loop {
        match there.credential(&alice()).await {
            Ok(_) => assert!(
                revoked_at.elapsed() < ttl,
                "a revoked token after the bound"
            ),
            Err(CredentialError::Revoked { .. }) => break,
            Err(err) => panic!("{err:?}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The cache can be turned off: then every lookup reads the database.
    let uncached = sqlite(&dir).open().await.unwrap();
    assert_eq!(uncached.cache_ttl(), Duration::ZERO);
    here.put(&alice(), secret(BOB_TOKEN)).await.unwrap();
    assert_eq!(token_of(&uncached, &alice()).await, BOB_TOKEN);
}

#[tokio::test]
async fn last_use_is_recorded_and_the_connector_warns_about_a_token_stored_long_ago() {
    let dir = TempDir::new("lastused");
    let store = sqlite(&dir)
        .last_used_resolution(Some(Duration::ZERO))
        .open()
        .await
        .unwrap();
    store
        .put(&alice(), secret(MockPagerDuty::ALICE_TOKEN))
        .await
        .unwrap();
    assert!(record_of(&store, &alice()).await.last_used_at.is_none());
    store.credential(&alice()).await.unwrap();
    let mut last_used = None;
    for _ in 0..100 {
        last_used = record_of(&store, &alice()).await.last_used_at;
        if last_used.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(last_used.is_some(), "the last use was recorded");

    // A token stored 200 days ago: the credential carries that time, so the connector warns.
    let long_ago = SystemTime::now() - Duration::from_secs(200 * 86_400);
    let ms = long_ago
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // (The token's own time, `rotated_at`: the entry's creation time is bound to the sealed
    // token, and a row whose creation time changed by hand no longer opens.)
    sqlx::query("UPDATE mcp_credentials SET rotated_at = $1 WHERE user_id = $2")
        .bind(ms)
        .bind(alice().as_str())
        .execute(store.sqlite_pool().unwrap())
        .await
        .unwrap();
    let credential = store.credential(&alice()).await.unwrap();
    let age = SystemTime::now()
        .duration_since(credential.created_at().unwrap())
        .unwrap();
    assert!(age > Duration::from_secs(199 * 86_400));

    let logs = capture_logs();
    let mock = MockPagerDuty::start().await;
    let connector = connector_to(&mock, &store);
    connector
        .call_tool(&alice(), "get_user_data", json!({}))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let warning = text
        .lines()
        .find(|line| line.contains("should be rotated") && line.contains("alice@example.com"))
        .unwrap_or_else(|| panic!("no token-age warning in:\n{text}"));
    assert!(warning.contains("age_days=200"), "{warning}");
    assert!(!text.contains(MockPagerDuty::ALICE_TOKEN));
}

#[tokio::test]
async fn the_store_is_a_provider_for_many_users_on_one_connector() {
    let mock = MockPagerDuty::builder()
        .user(MockUser::new(
            "PCAROL1",
            "Carol",
            "carol@example.com",
            "user",
            "u+CarolMockToken0001",
        ))
        .start()
        .await
        .unwrap();
    let dir = TempDir::new("provider");
    let store = Arc::new(
        sqlite(&dir)
            .cache_ttl(Duration::from_secs(5))
            .open()
            .await
            .unwrap(),
    );
    store
        .put(&alice(), secret(MockPagerDuty::ALICE_TOKEN))
        .await
        .unwrap();
    store
        .put(&UserId::from("carol"), secret("u+CarolMockToken0001"))
        .await
        .unwrap();
    let connector = connector_to(&mock, &store);
    for (user, id) in [
        (alice(), MockPagerDuty::ALICE_USER_ID),
        (UserId::from("carol"), "PCAROL1"),
    ] {
        let me = connector
            .call_tool(&user, "get_user_data", json!({}))
            .await
            .unwrap();
        assert_eq!(me.structured_content.unwrap()["id"], id);
    }
    let err = connector
        .call_tool(&bob(), "get_user_data", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Credential(CredentialError::NotFound { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_import_stores_all_tokens_or_none() {
    let dir = TempDir::new("import");
    let store = sqlite(&dir).open().await.unwrap();
    let bad = vec![
        (alice(), secret(ALICE_TOKEN)),
        (bob(), secret("u+bad\r\ntoken")),
    ];
    assert!(matches!(
        store.put_all(bad).await.unwrap_err(),
        StoreError::InvalidToken { .. }
    ));
    assert!(store.is_empty().await.unwrap());
    let users: Vec<(UserId, secrecy::SecretString)> = (0..500)
        .map(|i| {
            (
                UserId::from(format!("user{i}")),
                secret(&format!("u+Import{i:05}")),
            )
        })
        .collect();
    assert_eq!(store.put_all(users).await.unwrap(), 500);
    assert_eq!(store.len().await.unwrap(), 500);
    assert_eq!(
        token_of(&store, &UserId::from("user321")).await,
        "u+Import00321"
    );
}

/// Sets (`Some`) or removes (`None`) an environment variable of this test process.
///
/// `std::env::set_var` is `unsafe` since edition 2024: another thread reading the environment
/// through C while it changes is undefined behaviour. Here the variable's name is this test's own,
/// std's readers take the same lock as its writers, and nothing in the test binary reads the
/// environment through C (glibc never frees an environment array it replaced, either).
#[allow(unsafe_code)]
fn set_env(variable: &str, value: Option<&str>) {
    // SAFETY: see above; no other thread of this process reads the environment through C.
    unsafe {
        match value {
            Some(value) => std::env::set_var(variable, value),
            None => std::env::remove_var(variable),
        }
    }
}

//! The SQLite file as an operator handles it: once `close().await` returns, the file alone (a
//! copy, a backup) holds every row; and a file others may read is refused at open, naming the
//! file and the fix, like the key file.
#![cfg(feature = "sqlite")]

use super::store;

use pagerduty_mcp_connect::UserId;
use pagerduty_mcp_connect_store::sqlx;
use pagerduty_mcp_connect_store::{SqlCredentialStore, StoreError};
use store::{TempDir, key, secret, sqlite, token_of};

fn user(i: usize) -> UserId {
    UserId::from(format!("user{i:03}@example.com"))
}

fn token(i: usize) -> String {
    format!("u+CloseToken{i:06}")
}

fn sidecar(db: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

#[tokio::test]
async fn after_close_the_database_file_alone_holds_every_row() {
    let dir = TempDir::new("close");
    let store = sqlite(&dir).open().await.unwrap();
    for i in 0..300 {
        store.put(&user(i), secret(&token(i))).await.unwrap();
    }
    // Another process has the file open (a health check, a second replica, sqlite3 in a shell):
    // the store's connections closing are then not the file's last.
    use sqlx::Connection as _;
    let mut other =
        sqlx::sqlite::SqliteConnection::connect(&format!("sqlite://{}", dir.db().display()))
            .await
            .unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM mcp_credentials")
        .fetch_one(&mut other)
        .await
        .unwrap();
    assert_eq!(n, 300);
    store.close().await;

    // A copy of the main file alone, taken right after close, as a backup script would.
    let copy_dir = TempDir::new("closecopy");
    std::fs::copy(dir.db(), copy_dir.db()).unwrap();
    let copy = SqlCredentialStore::builder()
        .sqlite_file(copy_dir.db())
        .key(key(1))
        .open()
        .await
        .unwrap();
    assert_eq!(copy.len().await.unwrap(), 300);
    assert_eq!(token_of(&copy, &user(299)).await, token(299));
    copy.close().await;
    // Nothing was left in the write-ahead log, though the other process still has the file open.
    let wal = sidecar(&dir.db(), "-wal");
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "the WAL still holds data after close"
    );
    other.close().await.unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn a_database_file_others_may_read_is_refused_naming_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("filemode");
    let store = sqlite(&dir).open().await.unwrap();
    store.put(&user(1), secret(&token(1))).await.unwrap();
    store.close().await;
    let mode = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };

    for loose in [0o644, 0o640, 0o604, 0o660, 0o606] {
        mode(&dir.db(), loose);
        let err = sqlite(&dir).open().await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&dir.db().display().to_string())
                && text.contains("chmod 600")
                && text.contains(&format!("{loose:o}")),
            "{text}"
        );
        assert!(
            matches!(&err, StoreError::InsecureFile { path, mode } if *path == dir.db() && *mode == loose),
            "{err:?}"
        );
        assert!(!err.is_retryable());
    }
    mode(&dir.db(), 0o600);
    let store = sqlite(&dir).open().await.unwrap();
    assert_eq!(token_of(&store, &user(1)).await, token(1));
    store.close().await;
    // Closed for good: SQLite removed its companion files with the last connection.
    for suffix in ["-wal", "-shm"] {
        assert!(
            !sidecar(&dir.db(), suffix).exists(),
            "{suffix} is still there"
        );
    }

    // The write-ahead log and shared-memory files hold rows too: the same rule.
    for suffix in ["-wal", "-shm"] {
        let side = sidecar(&dir.db(), suffix);
        std::fs::write(&side, b"").unwrap();
        mode(&side, 0o644);
        let err = sqlite(&dir).open().await.unwrap_err();
        assert!(
            matches!(&err, StoreError::InsecureFile { path, .. } if *path == side),
            "{err:?}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
        std::fs::remove_file(&side).unwrap();
    }
    // The rule holds for a sqlite:// URL as well.
    mode(&dir.db(), 0o644);
    let err = SqlCredentialStore::builder()
        .database_url(format!("sqlite://{}", dir.db().display()))
        .key(key(1))
        .open()
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InsecureFile { .. }), "{err:?}");
    // A new file is created private, with a private WAL beside it.
    let fresh = TempDir::new("filemodefresh");
    let store = sqlite(&fresh).open().await.unwrap();
    store.put(&user(2), secret(&token(2))).await.unwrap();
    for path in [fresh.db(), sidecar(&fresh.db(), "-wal")] {
        let bits = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(bits & 0o077, 0, "{} has mode {bits:o}", path.display());
    }
    store.close().await;
}

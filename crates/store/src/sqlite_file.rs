//! The SQLite database file and its companions (`-wal`, `-shm`): created readable by their owner
//! only, and refused when they already exist readable or writable by others.
//!
//! The store refuses (rather than warns about) a file its group or others may read, as it refuses
//! such a key file: the file holds every user's sealed token and metadata, and `chmod 600` is
//! the fix, named in the error ([`StoreError::InsecureFile`]).

use std::path::{Path, PathBuf};

use crate::error::StoreError;

/// The suffixes of the files SQLite keeps beside the database in WAL mode.
const COMPANIONS: [&str; 2] = ["-wal", "-shm"];

/// Refuses the database file or a companion of it that its group or others may access, then
/// creates the database file, readable by its owner only, when it does not exist yet.
pub(crate) fn prepare(path: &Path) -> Result<(), StoreError> {
    for file in
        std::iter::once(path.to_owned()).chain(COMPANIONS.iter().map(|s| companion(path, s)))
    {
        check_private(&file)?;
    }
    create_private_file(path)
}

fn companion(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// An existing file whose group or others may read or write it is [`StoreError::InsecureFile`].
#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(metadata) = std::fs::metadata(path) else {
        return Ok(());
    };
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(StoreError::InsecureFile {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), StoreError> {
    Ok(())
}

/// Creates the database file, readable by its owner only, when it does not exist yet (SQLite
/// gives its `-wal` and `-shm` files the database file's permissions).
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(StoreError::Unreachable {
            message: format!("cannot create the database file {}: {err}", path.display()),
            source: Some(Box::new(err)),
        }),
    }
}

//! Files that hold health data — the database (and SQLite's `-wal`, `-shm` and journal beside
//! it), its backups, the mail the file mailer writes — are readable by the service's user only
//! (0600), whatever the umask ascolto was started with (issue 11: under umask 022 they were
//! 0644, readable by every local user).
//!
//! Why not 0640: the service runs as `ascolto` with its own private group (`useradd
//! --user-group`), so there is no second reader a group bit would serve; an off-site backup
//! agent runs as root or as `ascolto`. Directories ascolto creates for such files are 0700.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of a file with health data.
pub const FILE_MODE: u32 = 0o600;
/// Mode of a directory ascolto creates to hold such files.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and its missing parents, each new one 0700 (existing ones are left as the
/// administrator made them).
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Creates `path`, which must not exist, as an empty file with mode 0600.
pub fn create_new(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)?;
    // The mode given to open(2) is masked by the umask; this one is not.
    file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Writes `bytes` to `path` (created or truncated) with mode 0600, set before the first byte.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)?;
    file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    file.write_all(bytes)
}

/// Before SQLite opens the database at `path`: creates it empty with mode 0600 if it does not
/// exist (SQLite would create it 0644 less the umask, and gives its `-wal`, `-shm` and journal
/// the database's mode), and takes from an existing database, and its `-wal` and `-shm`, any
/// access by other users (a database made by an older ascolto was 0644). Group bits an
/// administrator set on an existing file stay.
pub fn prepare_database(path: &Path) -> io::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
    {
        Ok(file) => file.set_permissions(Permissions::from_mode(FILE_MODE))?,
        // Another process created it a moment ago, or it was there: tightened below.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        close_to_others(Path::new(&name))?;
    }
    Ok(())
}

/// Removes the permissions of "others" from `path`, if it exists and has any.
fn close_to_others(path: &Path) -> io::Result<()> {
    let mode = match std::fs::metadata(path) {
        Ok(m) => m.permissions().mode() & 0o7777,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if mode & 0o007 != 0 {
        tracing::warn!(
            file = %path.display(),
            mode = format!("{mode:o}"),
            "the file was readable by every local user: access for others removed"
        );
        std::fs::set_permissions(path, Permissions::from_mode(mode & !0o007))?;
    }
    Ok(())
}

/// The permission bits of `path` (for tests and checks).
pub fn mode(path: &Path) -> io::Result<u32> {
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o7777)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_files_and_directories_are_the_users_only() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        create_dir_all(&sub).unwrap();
        assert_eq!(mode(&sub).unwrap(), DIR_MODE);
        assert_eq!(mode(&dir.path().join("a")).unwrap(), DIR_MODE);

        let f = sub.join("x");
        create_new(&f).unwrap();
        assert_eq!(mode(&f).unwrap(), FILE_MODE);
        assert!(create_new(&f).is_err(), "never over an existing file");

        let g = sub.join("y.eml");
        write(&g, b"mail").unwrap();
        assert_eq!(mode(&g).unwrap(), FILE_MODE);
        std::fs::set_permissions(&g, Permissions::from_mode(0o644)).unwrap();
        write(&g, b"again").unwrap();
        assert_eq!(mode(&g).unwrap(), FILE_MODE, "rewriting tightens too");
    }

    #[test]
    fn a_database_is_created_private_and_an_old_one_is_closed_to_others() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("new.sqlite3");
        prepare_database(&db).unwrap();
        assert_eq!(mode(&db).unwrap(), FILE_MODE);

        let old = dir.path().join("old.sqlite3");
        let wal = dir.path().join("old.sqlite3-wal");
        std::fs::write(&old, b"").unwrap();
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&old, Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&wal, Permissions::from_mode(0o666)).unwrap();
        prepare_database(&old).unwrap();
        assert_eq!(mode(&old).unwrap(), 0o640);
        assert_eq!(mode(&wal).unwrap(), 0o660);
        assert_eq!(
            std::fs::read(&old).unwrap(),
            b"",
            "the content is untouched"
        );
    }
}

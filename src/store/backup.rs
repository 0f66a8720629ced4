//! `ascolto backup` and `ascolto restore`, and the lock that tells them whether the daemon runs.
//!
//! A backup is SQLite's online backup API copying every page in one step, under one read
//! transaction: a consistent snapshot taken while the daemon goes on writing (WAL readers do
//! not block the writer). The copy is written beside its final name, checked with
//! `PRAGMA integrity_check`, made a single self-contained file (rollback journal, not WAL),
//! synced, and only then given its name: a file with a backup's name is a whole, checked one.
//!
//! A restore never runs beside the daemon (it would swap the file under it): `ascolto serve`
//! holds an exclusive lock on `DATABASE.lock` for its whole life, and restore takes the same
//! lock or refuses. The copy is checked before anything is touched, and the database it
//! replaces is kept beside it, renamed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rusqlite::{Connection, OpenFlags};

/// Held by the daemon for its whole life: see the module's text.
#[derive(Debug)]
pub struct DaemonLock {
    _file: File,
}

fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the database's daemon lock, or says who holds it.
pub fn lock(db: &Path) -> Result<DaemonLock> {
    let path = lock_path(db);
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::private_files::create_dir_all(dir)
            .with_context(|| format!("cannot create the database directory {}", dir.display()))?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0)?;
            writeln!(file, "{}", std::process::id())?;
            Ok(DaemonLock { _file: file })
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&path).unwrap_or_default();
            bail!(
                "ascolto is running on {} (pid {}): stop it first (systemctl stop ascolto)",
                db.display(),
                pid.trim()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// What a backup or a checked copy holds.
#[derive(Debug)]
pub struct Checked {
    pub path: PathBuf,
    pub bytes: u64,
    pub tickets: i64,
    pub schema: i64,
}

/// Opens a copy and checks it is a whole ascolto database this version can use.
fn check(path: &Path) -> Result<Checked> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {}", path.display()))?;
    let verdict = || -> rusqlite::Result<Vec<String>> {
        conn.prepare("PRAGMA integrity_check")?
            .query_map([], |r| r.get(0))?
            .collect()
    };
    let verdict =
        verdict().with_context(|| format!("{} is not an SQLite database", path.display()))?;
    if verdict != ["ok"] {
        bail!(
            "{} fails PRAGMA integrity_check: {}",
            path.display(),
            verdict.join("; ")
        );
    }
    let schema: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if schema == 0 {
        bail!("{} is not an ascolto database", path.display());
    }
    if schema > crate::store::schema_version() {
        bail!(
            "{} was made by a newer ascolto (schema {schema}; this one knows up to {})",
            path.display(),
            crate::store::schema_version()
        );
    }
    let tickets: i64 = conn
        .query_row("SELECT count(*) FROM tickets", [], |r| r.get(0))
        .with_context(|| format!("{} is not an ascolto database", path.display()))?;
    Ok(Checked {
        path: path.to_path_buf(),
        bytes: std::fs::metadata(path)?.len(),
        tickets,
        schema,
    })
}

/// Copies `from` into a new file `to` with the online backup API, in one step (one snapshot),
/// and makes the copy a single file (no WAL).
fn copy(from: &Path, to: &Path) -> Result<()> {
    let src = Connection::open_with_flags(
        from,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {}", from.display()))?;
    src.busy_timeout(Duration::from_secs(30))?;
    // A copy of the health data: 0600 from its first byte, whatever the umask (SQLite would
    // make it 0644 less the umask; its journal takes the file's mode).
    crate::private_files::create_new(to)
        .with_context(|| format!("cannot create {}", to.display()))?;
    let mut dst =
        Connection::open(to).with_context(|| format!("cannot create {}", to.display()))?;
    {
        // Every page in one step: one read transaction, so one snapshot. In WAL mode a reader
        // does not hold up the daemon's writes (the many-small-steps way would restart each
        // time the daemon commits, and never finish under steady ingest).
        let b = rusqlite::backup::Backup::new(&src, &mut dst)?;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            match b
                .step(-1)
                .with_context(|| format!("copying {} failed", from.display()))?
            {
                rusqlite::backup::StepResult::Done => break,
                _ if std::time::Instant::now() > deadline => {
                    bail!(
                        "copying {} failed: the database stayed busy",
                        from.display()
                    )
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
    dst.pragma_update_and_check(None, "journal_mode", "DELETE", |_| Ok(()))?;
    drop(dst);
    File::open(to)?.sync_all()?;
    Ok(())
}

fn sync_dir(file: &Path) -> Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Backs `db` up into `target`: a file, or a directory (existing, or written with a trailing
/// `/`) where the copy is named `ascolto-YYYYMMDDTHHMMSSZ.sqlite3`. With `keep`, only the
/// newest `keep` such copies in that directory are kept.
pub fn backup(db: &Path, target: &Path, keep: Option<usize>) -> Result<Checked> {
    if !db.exists() {
        bail!("there is no database at {}", db.display());
    }
    let into_dir = target.is_dir() || target.as_os_str().to_string_lossy().ends_with('/');
    let file = if into_dir {
        crate::private_files::create_dir_all(target)
            .with_context(|| format!("cannot create {}", target.display()))?;
        target.join(format!(
            "ascolto-{}.sqlite3",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ))
    } else {
        target.to_path_buf()
    };
    if file.exists() {
        bail!(
            "{} exists: a backup never overwrites a file",
            file.display()
        );
    }
    let mut partial = file.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let _ = std::fs::remove_file(&partial);
    let result = copy(db, &partial).and_then(|()| check(&partial));
    let checked = match result {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, &file)?;
    sync_dir(&file)?;
    if let (Some(keep), true) = (keep, into_dir) {
        prune(target, keep)?;
    }
    Ok(Checked {
        path: file,
        ..checked
    })
}

/// Removes all but the newest `keep` backups named `ascolto-*.sqlite3` in `dir`.
fn prune(dir: &Path, keep: usize) -> Result<Vec<PathBuf>> {
    let mut copies: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("ascolto-") && n.ends_with(".sqlite3"))
        })
        .collect();
    copies.sort();
    let old = copies.len().saturating_sub(keep.max(1));
    let removed: Vec<PathBuf> = copies.drain(..old).collect();
    for p in &removed {
        std::fs::remove_file(p).with_context(|| format!("cannot remove {}", p.display()))?;
    }
    Ok(removed)
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub from: Checked,
    /// Where the database that was replaced now is.
    pub previous: Option<PathBuf>,
    /// Litestream's local state for the database it replaced, removed (see [`restore`]).
    pub litestream_state_removed: Option<PathBuf>,
}

/// Litestream's local state for `db`: the hidden `.NAME-litestream` directory beside it.
pub fn litestream_state(db: &Path) -> PathBuf {
    let name = db
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    db.with_file_name(format!(".{name}-litestream"))
}

/// Replaces `db` with the checked copy `source`. Refuses while the daemon runs.
///
/// Litestream's local state for the replaced database is removed: "Litestream currently does
/// not track database deletions. If you remove your database and recreate it, you should
/// delete the -litestream directory next to your database file and restart Litestream"
/// (litestream.io, Tips & Caveats). Started again, Litestream finds the restored database
/// behind its replica and goes on from the replica's newest transaction.
pub fn restore(db: &Path, source: &Path) -> Result<Restored> {
    let _lock = lock(db)?;
    restore_locked(db, source)
}

fn restore_locked(db: &Path, source: &Path) -> Result<Restored> {
    let checked = check(source)?;
    let mut incoming = db.as_os_str().to_owned();
    incoming.push(".restoring");
    let incoming = PathBuf::from(incoming);
    let _ = std::fs::remove_file(&incoming);
    copy(source, &incoming)?;
    check(&incoming)?;

    let previous = if db.exists() {
        // Everything in the write-ahead log goes into the file first, so that the file set
        // aside is the whole database.
        {
            let conn = Connection::open(db)?;
            conn.busy_timeout(Duration::from_secs(10))?;
            let (busy, _, _): (i64, i64, i64) =
                conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
            if busy != 0 {
                bail!(
                    "{} is in use by another process: stop it first (Litestream holds a read \
                     transaction on the databases it replicates: systemctl stop litestream)",
                    db.display()
                );
            }
            conn.pragma_update_and_check(None, "journal_mode", "DELETE", |_| Ok(()))?;
        }
        let mut aside = db.as_os_str().to_owned();
        aside.push(format!(
            ".before-restore-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ));
        let aside = PathBuf::from(aside);
        std::fs::rename(db, &aside)?;
        Some(aside)
    } else {
        None
    };
    for suffix in ["-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    std::fs::rename(&incoming, db)?;
    sync_dir(db)?;
    let state = litestream_state(db);
    let litestream_state_removed = if state.is_dir() {
        std::fs::remove_dir_all(&state)
            .with_context(|| format!("cannot remove Litestream's state {}", state.display()))?;
        Some(state)
    } else {
        None
    };
    Ok(Restored {
        from: checked,
        previous,
        litestream_state_removed,
    })
}

/// Where and how to get a database back from Litestream's replica.
#[derive(Debug)]
pub struct FromLitestream<'a> {
    /// The `litestream` program.
    pub command: &'a str,
    /// Litestream's configuration (`litestream.yml`), which names the replica.
    pub config: &'a Path,
    /// The database as `litestream.yml` names it.
    pub db_in_config: &'a Path,
    /// A point in time (RFC 3339), or the newest transaction in the replica.
    pub timestamp: Option<&'a str>,
}

/// Restores `db` from Litestream's replica: `litestream restore` writes it into a scratch
/// directory beside the database, then it is checked and swapped in like a backup file
/// ([`restore`]). Refuses while the daemon runs.
pub fn restore_from_litestream(db: &Path, from: &FromLitestream) -> Result<Restored> {
    let _lock = lock(db)?;
    if let Some(t) = from.timestamp {
        if chrono::DateTime::parse_from_rfc3339(t).is_err() {
            bail!("--timestamp {t:?}: write a moment as RFC 3339, e.g. 2026-11-22T09:30:00Z");
        }
    }
    let mut scratch = db.as_os_str().to_owned();
    scratch.push(".from-litestream");
    let scratch = PathBuf::from(scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    crate::private_files::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    let result = (|| {
        let out = scratch.join("restored.sqlite3");
        let mut cmd = std::process::Command::new(from.command);
        cmd.arg("restore")
            .arg("-config")
            .arg(from.config)
            .arg("-o")
            .arg(&out);
        if let Some(t) = from.timestamp {
            cmd.arg("-timestamp").arg(t);
        }
        cmd.arg(from.db_in_config);
        let ran = cmd.output().with_context(|| {
            format!(
                "cannot run {:?} (key `replication.litestream_command`; install Litestream: \
                 deploy/install.sh --with-litestream)",
                from.command
            )
        })?;
        if !ran.status.success() {
            bail!(
                "litestream restore failed ({}): {}",
                ran.status,
                String::from_utf8_lossy(&ran.stderr).trim()
            );
        }
        if !out.exists() {
            bail!(
                "litestream restore wrote nothing: {}",
                String::from_utf8_lossy(&ran.stderr).trim()
            );
        }
        restore_locked(db, &out)
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(dir: &Path, tickets: usize) -> PathBuf {
        let db = dir.join("ascolto.sqlite3");
        let mut conn = crate::store::open(&db).unwrap();
        crate::store::demo::generate(&mut conn, tickets, 1, chrono::Utc::now(), 7).unwrap();
        db
    }

    #[test]
    fn a_backup_is_a_checked_single_file_and_old_ones_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(dir.path(), 30);
        let target = dir.path().join("copie");
        std::fs::create_dir(&target).unwrap();
        for name in [
            "ascolto-20200101T000000Z.sqlite3",
            "ascolto-20200102T000000Z.sqlite3",
        ] {
            std::fs::write(target.join(name), b"old").unwrap();
        }
        std::fs::write(target.join("notes.txt"), b"not a backup").unwrap();
        let made = backup(&db, &target, Some(2)).unwrap();
        assert_eq!(made.tickets, 30);
        assert_eq!(made.schema, crate::store::schema_version());
        assert!(made.path.starts_with(&target));
        let conn = Connection::open(&made.path).unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete", "one self-contained file");
        let mut left: Vec<String> = std::fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left.len(), 3, "{left:?}");
        assert_eq!(
            left[0], "ascolto-20200102T000000Z.sqlite3",
            "the oldest went"
        );
        assert_eq!(left[2], "notes.txt");
        assert!(backup(&db, &made.path, None).is_err(), "never overwrites");
    }

    #[test]
    fn restore_checks_the_copy_keeps_the_old_database_and_respects_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(dir.path(), 10);
        let copy = backup(&db, &dir.path().join("copia.sqlite3"), None).unwrap();
        // A change after the backup: the restore takes it back.
        crate::store::open(&db)
            .unwrap()
            .execute(
                "UPDATE tickets SET subject = 'dopo il backup' WHERE id = 1",
                [],
            )
            .unwrap();

        let held = lock(&db).unwrap();
        let refused = restore(&db, &copy.path).unwrap_err().to_string();
        assert!(refused.contains("ascolto is running"), "{refused}");
        assert!(
            refused.contains(&std::process::id().to_string()),
            "{refused}"
        );
        drop(held);

        let garbage = dir.path().join("garbage.sqlite3");
        std::fs::write(&garbage, vec![7u8; 8192]).unwrap();
        let refused = format!("{:#}", restore(&db, &garbage).unwrap_err());
        assert!(refused.contains("not an SQLite database"), "{refused}");

        let done = restore(&db, &copy.path).unwrap();
        assert_eq!(done.from.tickets, 10);
        let conn = crate::store::open(&db).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM tickets", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 10);
        let subject: String = conn
            .query_row("SELECT subject FROM tickets WHERE id = 1", [], |r| r.get(0))
            .unwrap();
        assert_ne!(subject, "dopo il backup");
        let previous = done.previous.unwrap();
        assert!(previous.exists(), "the replaced database is kept");
    }
}

//! The database: one SQLite file, owned by this module.
//!
//! SQL lives in plain synchronous functions (the submodules) taking `&Connection` or
//! `&Transaction`, so each is testable on an in-memory database. The async side reaches them
//! through [`Store`], which runs closures on one dedicated writer thread: SQLite allows one writer
//! at a time anyway, and the async runtime never blocks on disk.

pub mod admin;
pub mod answer_files;
pub mod answer_models;
pub mod audit;
pub mod backoffice;
pub mod backup;
pub mod citizens;
pub mod classifier;
pub mod deadlines;
pub mod demo;
pub mod digest;
pub mod drafts;
pub mod improvement;
pub mod ingest;
pub mod intake;
pub mod kept_answers;
pub mod outbox;
pub mod progress;
pub mod quality;
pub mod quarantine;
pub mod requests;
pub mod retention;
pub mod reviews;
pub mod rules;
pub mod sessions;
pub mod stats;
pub mod tickets;
pub mod transparency;
pub mod users;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

/// The whole schema, as numbered migrations (see the header of `schema.sql`).
const SCHEMA: &str = include_str!("../../schema.sql");
/// The classification a new database starts with.
const DEFAULTS: &str = include_str!("defaults.sql");

/// How long a connection waits for another one's lock before failing (e.g. a backup or a
/// command-line export reading while the daemon writes).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens (creating if needed) the database at `path`, sets the connection up and migrates it.
pub fn open(path: &Path) -> Result<Connection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::private_files::create_dir_all(dir)
            .with_context(|| format!("cannot create the database directory {}", dir.display()))?;
    }
    // Health data: the file exists, 0600, before SQLite opens it (and makes its -wal and -shm
    // with the same mode).
    crate::private_files::prepare_database(path).with_context(|| {
        format!(
            "cannot create the database {} readable by its owner only (mode 0600)",
            path.display()
        )
    })?;
    let mut conn = Connection::open(path)
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    configure(&conn)?;
    migrate(&mut conn).with_context(|| format!("while migrating {}", path.display()))?;
    Ok(conn)
}

/// Opens an existing database read-only (exports, tests): never creates or migrates.
pub fn open_read_only(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open the database {}", path.display()))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version == 0 {
        bail!(
            "{} is not an ascolto database (run `ascolto migrate` first)",
            path.display()
        );
    }
    Ok(conn)
}

/// An in-memory database with the full schema, for unit tests.
pub fn open_in_memory() -> Result<Connection> {
    let mut conn = Connection::open_in_memory()?;
    configure(&conn)?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// Prepared statements kept per connection. Ingest alone runs about twenty different ones per
/// message (the ticket, its message, attachments, audit, outbox, the rate limit, classification
/// sources and suggestions); with rusqlite's default of 16 they pushed each other out of the
/// cache and every one was parsed again for every message (issue 13 measured ingest 70 % slower).
const STATEMENT_CACHE: usize = 128;

fn configure(conn: &Connection) -> Result<()> {
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL: readers (exports, the backoffice) never block the writer. synchronous=NORMAL is
    // durable across process crashes in WAL mode; only an OS crash can lose the last commits,
    // which ingest then fetches again from the server (progress moves with the data).
    set_wal(conn)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Ingest opens a savepoint per message; its statement journal belongs in memory, not in a
    // temporary file written on every insert.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Health data: what an update or a delete frees is zeroed where that costs no extra I/O,
    // so an old text does not linger in a page's free space (the retention job goes further).
    conn.pragma_update(None, "secure_delete", "FAST")?;
    Ok(())
}

/// Switches a new database to WAL. The switch needs an exclusive lock and SQLite does not wait
/// for it (no busy handler), so two processes opening a new database together (the daemon
/// starting while `ascolto user add` runs) would see "database is locked": wait here instead.
fn set_wal(conn: &Connection) -> Result<()> {
    let started = std::time::Instant::now();
    loop {
        let mode: rusqlite::Result<String> =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0));
        match mode {
            Ok(_) => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e).context("cannot switch the database to WAL"),
        }
    }
}

/// The numbered migrations in `schema.sql`, in order: each starts at a line that is exactly
/// `-- migration N` and runs to the next such line.
fn migrations() -> Vec<(i64, String)> {
    let mut out: Vec<(i64, String)> = Vec::new();
    for line in SCHEMA.lines() {
        let number = line
            .strip_prefix("-- migration ")
            .and_then(|n| n.trim().parse::<i64>().ok());
        match (number, out.last_mut()) {
            (Some(n), _) => out.push((n, String::new())),
            (None, Some((_, sql))) => {
                sql.push_str(line);
                sql.push('\n');
            }
            (None, None) => {} // the file's header comment
        }
    }
    out
}

/// The migrations up to `version`, for tests that build an older database.
#[cfg(test)]
pub(crate) fn migrations_up_to_for_tests(version: i64) -> Vec<(i64, String)> {
    migrations()
        .into_iter()
        .filter(|m| m.0 <= version)
        .collect()
}

/// The schema version this binary writes.
pub fn schema_version() -> i64 {
    migrations().last().map(|m| m.0).unwrap_or(0)
}

/// Brings the database up to [`schema_version`], one transaction per migration.
///
/// Each step takes the write lock first (`BEGIN IMMEDIATE`) and reads the version inside it:
/// two processes starting at once (the daemon and `ascolto user add`, say) then migrate one
/// after the other instead of both applying the same migration.
pub fn migrate(conn: &mut Connection) -> Result<i64> {
    let latest = schema_version();
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if current > latest {
            bail!("the database has schema version {current}, newer than this ascolto ({latest}): upgrade ascolto");
        }
        let Some((number, sql)) = migrations().into_iter().find(|m| m.0 > current) else {
            return Ok(latest);
        };
        tx.execute_batch(&sql)
            .with_context(|| format!("migration {number} failed"))?;
        if number == 1 {
            tx.execute_batch(DEFAULTS)
                .context("loading the default classification")?;
        }
        tx.pragma_update(None, "user_version", number)?;
        tx.commit()?;
        tracing::info!(version = number, "database migrated");
    }
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The async handle to the database: closures run one at a time on the writer thread.
#[derive(Clone)]
pub struct Store {
    jobs: mpsc::Sender<Job>,
    path: PathBuf,
}

impl Store {
    /// Opens and migrates the database, then starts the writer thread. The thread ends when
    /// the last `Store` clone is dropped.
    pub fn open(path: &Path) -> Result<Store> {
        let mut conn = open(path)?;
        let (jobs, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("ascolto-db".into())
            .spawn(move || {
                for job in rx {
                    // A job that panics (a bug reached by one request or one message) fails
                    // its own call, not every write after it: its transaction rolled back as
                    // it unwound, and the thread goes on with the next job.
                    let run = std::panic::AssertUnwindSafe(|| job(&mut conn));
                    if std::panic::catch_unwind(run).is_err() {
                        tracing::error!("a database job panicked; its changes were rolled back");
                        if !conn.is_autocommit() {
                            let _ = conn.execute_batch("ROLLBACK");
                        }
                    }
                }
            })
            .context("cannot start the database thread")?;
        Ok(Store {
            jobs,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the writer thread and returns its result.
    pub async fn call<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut Connection) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move |conn| {
                let _ = tx.send(f(conn));
            }))
            .map_err(|_| anyhow::anyhow!("the database thread has stopped"))?;
        rx.await
            .map_err(|_| anyhow::anyhow!("the database thread stopped during a call"))?
    }
}

#[cfg(test)]
mod writer_tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_job_leaves_the_writer_working() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
        let failed = store
            .call(|conn| -> Result<()> {
                let tx = conn.transaction()?;
                tx.execute("CREATE TABLE t (x)", [])?;
                panic!("a bug in one request");
            })
            .await;
        assert!(failed.is_err());
        let tables: i64 = store
            .call(|conn| {
                conn.execute("CREATE TABLE u (x)", [])?;
                Ok(conn.query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name IN ('t', 'u')",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap();
        assert_eq!(
            tables, 1,
            "the panicked job's table was rolled back, the next one ran"
        );
    }
}

/// Now, as the RFC 3339 UTC text stored in the database.
/// Whether the connection answers a query (the health check).
pub fn ping(conn: &Connection) -> Result<()> {
    conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?;
    Ok(())
}

/// Lets SQLite refresh the statistics its planner uses (run daily by the daemon).
pub fn optimize(conn: &Connection) -> Result<()> {
    conn.execute_batch("PRAGMA optimize")?;
    Ok(())
}

pub fn now_text() -> String {
    time_text(chrono::Utc::now())
}

/// A time as stored in the database: RFC 3339, UTC, whole seconds.
pub fn time_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_load_defaults() {
        let mut conn = open_in_memory().unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, schema_version());
        assert_eq!(migrate(&mut conn).unwrap(), v);
        let rules: i64 = conn
            .query_row("SELECT count(*) FROM routing_rules", [], |r| r.get(0))
            .unwrap();
        assert!(rules >= 20, "default rules loaded: {rules}");
        let cats: i64 = conn
            .query_row(
                "SELECT count(*) FROM categories WHERE parent_id IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(cats, 9);
    }

    /// The migrator takes the first migration above the database's version, in file order:
    /// numbers must grow down the file (gaps are fine: a version is set to the number of the
    /// migration just applied, and the next one is the first above it).
    #[test]
    fn migrations_are_numbered_upwards_in_file_order() {
        let numbers: Vec<i64> = migrations().iter().map(|m| m.0).collect();
        assert!(
            numbers.windows(2).all(|w| w[0] < w[1]),
            "schema.sql's migrations out of order: {numbers:?}"
        );
        assert_eq!(numbers.first(), Some(&1));
    }

    #[test]
    fn audit_log_refuses_changes() {
        let conn = open_in_memory().unwrap();
        conn.execute(
            "INSERT INTO audit_log (at, actor, action) VALUES ('2026-01-01T00:00:00Z', 'x', 'y')",
            [],
        )
        .unwrap();
        let upd = conn.execute("UPDATE audit_log SET actor = 'z'", []);
        assert!(upd.unwrap_err().to_string().contains("append-only"));
        let del = conn.execute("DELETE FROM audit_log", []);
        assert!(del.unwrap_err().to_string().contains("append-only"));
    }

    #[test]
    fn every_default_rule_compiles() {
        let conn = open_in_memory().unwrap();
        let rules = rules::load(&conn).unwrap();
        assert!(rules.len() >= 20);
    }

    #[test]
    fn processes_opening_a_new_database_at_once_migrate_it_once() {
        // Several rounds: the switch to WAL and the migrations race differently each time.
        let dir = tempfile::tempdir().unwrap();
        for round in 0..20 {
            let path = dir.path().join(format!("race-{round}.sqlite3"));
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let path = path.clone();
                    std::thread::spawn(move || open(&path).map(|_| ()))
                })
                .collect();
            for h in handles {
                h.join().unwrap().unwrap();
            }
            let conn = open(&path).unwrap();
            let cats: i64 = conn
                .query_row("SELECT count(*) FROM categories", [], |r| r.get(0))
                .unwrap();
            assert_eq!(cats, 28, "the defaults were loaded exactly once");
        }
    }

    #[tokio::test]
    async fn the_store_runs_closures_on_its_thread() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.sqlite3")).unwrap();
        let n: i64 = store
            .call(|c| Ok(c.query_row("SELECT count(*) FROM services", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert!(n > 0);
    }
}

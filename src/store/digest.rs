//! The statements of the morning digests (issue 19).

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

/// An account that asked for the morning digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reader {
    pub id: i64,
    pub email: String,
    pub name: String,
}

/// Active staff accounts with the digest flag.
pub fn readers(conn: &Connection) -> Result<Vec<Reader>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, email, name FROM users
             WHERE digest = 1 AND active = 1 AND role IN ('admin', 'operator') ORDER BY id",
        )?
        .query_map([], |r| {
            Ok(Reader {
                id: r.get(0)?,
                email: r.get(1)?,
                name: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// A ticket the digest lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueTicket {
    pub number: String,
    pub subject: String,
    pub due_at: String,
}

/// Open tickets not yet answered whose (effective) deadline is before `before`, of the
/// operator `assigned` if given, soonest first.
pub fn due_before(
    conn: &Connection,
    before: &str,
    assigned: Option<i64>,
) -> Result<Vec<DueTicket>> {
    Ok(conn
        .prepare_cached(
            "SELECT number, substr(subject, 1, 120), due_at FROM tickets INDEXED BY tickets_unanswered_due
             WHERE state != 'closed' AND first_answered_at IS NULL AND due_at < ?1
               AND merged_into IS NULL AND (?2 IS NULL OR assigned_to = ?2)
             ORDER BY due_at, id",
        )?
        .query_map(params![before, assigned], |r| {
            Ok(DueTicket {
                number: r.get(0)?,
                subject: r.get(1)?,
                due_at: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// The Rome day (`YYYY-MM-DD`) the digests were last sent.
pub fn last_day(conn: &Connection) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'digest_day'")?
        .query_row([], |r| r.get(0))
        .optional()?)
}

pub fn set_last_day(conn: &Connection, day: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('digest_day', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([day])?;
    Ok(())
}

/// An administrator turns an account's digest on or off; false when there is no such account.
pub fn set_flag(conn: &Connection, user: i64, on: bool) -> Result<bool> {
    Ok(conn
        .prepare_cached("UPDATE users SET digest = ?2 WHERE id = ?1")?
        .execute(params![user, on])?
        == 1)
}

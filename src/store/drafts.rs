//! The statements of answers awaiting approval (issue 19, sign-off).

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::{DraftState, OutgoingFile, Role};

/// A draft answer as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    pub id: i64,
    pub ticket_id: i64,
    pub number: String,
    pub author_id: i64,
    pub author_name: String,
    pub author_role: Role,
    pub body: String,
    pub state: DraftState,
    pub created_at: String,
    pub comment: Option<String>,
}

const DRAFT: &str = "SELECT d.id, d.ticket_id, t.number, d.author_id, u.name, u.role, d.body,
       d.state, d.created_at, d.comment
  FROM answer_drafts d JOIN users u ON u.id = d.author_id JOIN tickets t ON t.id = d.ticket_id";

fn of_row(r: &rusqlite::Row) -> rusqlite::Result<Draft> {
    Ok(Draft {
        id: r.get(0)?,
        ticket_id: r.get(1)?,
        number: r.get(2)?,
        author_id: r.get(3)?,
        author_name: r.get(4)?,
        author_role: r.get(5)?,
        body: r.get(6)?,
        state: r.get(7)?,
        created_at: r.get(8)?,
        comment: r.get(9)?,
    })
}

pub fn insert(
    conn: &Connection,
    ticket_id: i64,
    author: i64,
    body: &str,
    now: &str,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO answer_drafts (ticket_id, author_id, body, state, created_at)
         VALUES (?1, ?2, ?3, 'pending', ?4)",
    )?
    .execute(params![ticket_id, author, body, now])?;
    Ok(conn.last_insert_rowid())
}

pub fn insert_file(
    conn: &Connection,
    ticket_id: i64,
    draft: i64,
    f: &OutgoingFile,
    now: &str,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO answer_files (ticket_id, draft_id, filename, content_type, size, bytes, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![ticket_id, draft, f.filename, f.content_type, f.bytes.len() as i64, f.bytes, now])?;
    Ok(())
}

/// The approved draft's files go with the answer queued as `outbox_id`.
pub fn files_sent(conn: &Connection, draft: i64, outbox_id: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE answer_files SET outbox_id = ?2,
           message_id = (SELECT m.id FROM messages m JOIN outbox o ON o.message_id = m.message_id
                         WHERE o.id = ?2)
         WHERE draft_id = ?1",
    )?
    .execute(params![draft, outbox_id])?;
    Ok(())
}

pub fn get(conn: &Connection, ticket_id: i64, id: i64) -> Result<Option<Draft>> {
    Ok(conn
        .prepare_cached(&format!("{DRAFT} WHERE d.id = ?1 AND d.ticket_id = ?2"))?
        .query_row([id, ticket_id], of_row)
        .optional()?)
}

/// A ticket's drafts, newest first.
pub fn of_ticket(conn: &Connection, ticket_id: i64) -> Result<Vec<Draft>> {
    Ok(conn
        .prepare_cached(&format!(
            "{DRAFT} WHERE d.ticket_id = ?1 ORDER BY d.id DESC"
        ))?
        .query_map([ticket_id], of_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// Every draft awaiting approval (the dashboard), oldest first, at most `limit`.
pub fn pending(conn: &Connection, limit: usize) -> Result<Vec<Draft>> {
    Ok(conn
        .prepare_cached(&format!(
            "{DRAFT} WHERE d.state = 'pending' ORDER BY d.id LIMIT ?1"
        ))?
        .query_map([limit as i64], of_row)?
        .collect::<rusqlite::Result<_>>()?)
}

pub fn decide(
    conn: &Connection,
    id: i64,
    state: DraftState,
    by: i64,
    comment: &str,
    now: &str,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE answer_drafts SET state = ?2, decided_by = ?3, decided_at = ?4,
           comment = nullif(?5, '') WHERE id = ?1",
    )?
    .execute(params![id, state, by, now, comment])?;
    Ok(())
}

pub fn is_approver(conn: &Connection, user: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT approver = 1 AND active = 1 FROM users WHERE id = ?1")?
        .query_row([user], |r| r.get(0))
        .optional()?
        .unwrap_or(false))
}

pub fn set_approver(conn: &Connection, user: i64, on: bool) -> Result<bool> {
    Ok(conn
        .prepare_cached("UPDATE users SET approver = ?2 WHERE id = ?1")?
        .execute(params![user, on])?
        == 1)
}

/// The retention job: the due tickets' drafts lose their text and comment.
pub fn anonymise_due(conn: &Connection, marker: &str) -> Result<()> {
    conn.execute(
        "UPDATE answer_drafts SET body = ?1, comment = NULL
         WHERE ticket_id IN (SELECT id FROM temp.retention_due)",
        [marker],
    )?;
    Ok(())
}

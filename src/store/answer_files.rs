//! The statements of files attached to answers (issue 19).

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::OutgoingFile;

/// A file as the ticket page lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerFile {
    pub id: i64,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    /// When the answer was written.
    pub at: String,
}

/// Stores `file` with the answer queued as `outbox_id` (and stored as the message carrying the
/// same Message-ID).
pub fn insert(
    conn: &Connection,
    ticket_id: i64,
    outbox_id: i64,
    file: &OutgoingFile,
    now: &str,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO answer_files (ticket_id, outbox_id, message_id, filename, content_type,
           size, bytes, created_at)
         VALUES (?1, ?2, (SELECT m.id FROM messages m JOIN outbox o ON o.message_id = m.message_id
                          WHERE o.id = ?2 AND m.ticket_id = ?1), ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        ticket_id,
        outbox_id,
        file.filename,
        file.content_type,
        file.bytes.len() as i64,
        file.bytes,
        now
    ])?;
    Ok(conn.last_insert_rowid())
}

/// The files a queued mail carries, in the order attached.
pub fn of_outbox(conn: &Connection, outbox_id: i64) -> Result<Vec<OutgoingFile>> {
    Ok(conn
        .prepare_cached(
            "SELECT filename, content_type, bytes FROM answer_files WHERE outbox_id = ?1 ORDER BY id",
        )?
        .query_map([outbox_id], |r| {
            Ok(OutgoingFile {
                filename: r.get(0)?,
                content_type: r.get(1)?,
                bytes: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// A ticket's answer files, oldest first.
pub fn of_ticket(conn: &Connection, ticket_id: i64) -> Result<Vec<AnswerFile>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, filename, content_type, size, created_at FROM answer_files
             WHERE ticket_id = ?1 AND outbox_id IS NOT NULL ORDER BY id",
        )?
        .query_map([ticket_id], |r| {
            Ok(AnswerFile {
                id: r.get(0)?,
                filename: r.get(1)?,
                content_type: r.get(2)?,
                size: r.get(3)?,
                at: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// One file of ticket `ticket_id`, for its download: name and bytes.
pub fn bytes_of(conn: &Connection, ticket_id: i64, id: i64) -> Result<Option<(String, Vec<u8>)>> {
    Ok(conn
        .prepare_cached(
            "SELECT filename, bytes FROM answer_files WHERE id = ?1 AND ticket_id = ?2",
        )?
        .query_row([id, ticket_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// The retention job: the due tickets' answer files are deleted.
pub fn delete_due(conn: &Connection) -> Result<()> {
    conn.execute(
        "DELETE FROM answer_files WHERE ticket_id IN (SELECT id FROM temp.retention_due)",
        [],
    )?;
    Ok(())
}

//! The SQL of the retention job (`crate::retention` decides what and when): the due tickets of
//! a batch in a temporary table every statement reads, what they hold, and their personal data
//! replaced; quarantined mail; the full-text index and the write-ahead log afterwards.

use anyhow::Result;
use rusqlite::{params, Connection};

use crate::domain::{Direction, OutboxState, TicketNumber};

/// Fills `temp.retention_due` with at most `limit` closed, not yet anonymised tickets closed
/// before `cutoff`, oldest closing first; returns how many.
pub fn select_due(conn: &Connection, cutoff: &str, limit: usize) -> Result<usize> {
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS retention_due (id INTEGER PRIMARY KEY);
         DELETE FROM temp.retention_due;",
    )?;
    // The partial index's condition, repeated word for word so that the planner may use it.
    Ok(conn.execute(
        "INSERT INTO temp.retention_due (id)
         SELECT id FROM tickets INDEXED BY tickets_to_anonymise
         WHERE state = 'closed' AND anonymised_at IS NULL AND closed_at < ?1
         ORDER BY closed_at LIMIT ?2",
        params![cutoff, limit as i64],
    )?)
}

/// The first due tickets' numbers, oldest closing first (to show).
pub fn first_due(conn: &Connection, n: usize) -> Result<Vec<TicketNumber>> {
    Ok(conn
        .prepare(
            "SELECT t.number FROM temp.retention_due d JOIN tickets t ON t.id = d.id
             ORDER BY t.closed_at LIMIT ?1",
        )?
        .query_map([n as i64], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

/// The due tickets' ids, in order.
pub fn due_ids(conn: &Connection) -> Result<Vec<i64>> {
    Ok(conn
        .prepare("SELECT id FROM temp.retention_due ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

/// What the due tickets hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DueCounts {
    pub messages: i64,
    pub attachments: i64,
    /// Bytes of original mail.
    pub original_bytes: i64,
    pub notes: i64,
    /// Notifications already sent (or given up, or held back): pending ones still go out.
    pub notifications: i64,
    /// Contacts left with no ticket keeping personal data once these are done.
    pub contacts: i64,
}

const DUE: &str = "SELECT id FROM temp.retention_due";

pub fn due_counts(conn: &Connection) -> Result<DueCounts> {
    let count = |sql: &str| -> rusqlite::Result<i64> { conn.query_row(sql, [], |r| r.get(0)) };
    Ok(DueCounts {
        messages: count(&format!(
            "SELECT count(*) FROM messages WHERE ticket_id IN ({DUE})"
        ))?,
        attachments: count(&format!(
            "SELECT count(*) FROM attachments WHERE message_id IN
               (SELECT id FROM messages WHERE ticket_id IN ({DUE}))"
        ))?,
        original_bytes: count(&format!(
            "SELECT coalesce(sum(length(bytes)), 0) FROM raw_mail WHERE id IN
               (SELECT raw_id FROM messages WHERE ticket_id IN ({DUE}))"
        ))?,
        notes: count(&format!(
            "SELECT count(*) FROM notes WHERE ticket_id IN ({DUE})"
        ))?,
        notifications: conn.query_row(
            &format!("SELECT count(*) FROM outbox WHERE ticket_id IN ({DUE}) AND state != ?1"),
            [OutboxState::Pending],
            |r| r.get(0),
        )?,
        contacts: count(&format!(
            "SELECT count(*) FROM contacts c
             WHERE c.id IN (SELECT contact_id FROM tickets WHERE id IN ({DUE}))
               AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.contact_id = c.id
                               AND t.anonymised_at IS NULL AND t.id NOT IN ({DUE}))"
        ))?,
    })
}

/// Replaces the due tickets' personal data with `marker`: subjects, message texts, names and
/// addresses, the original mail's bytes, attachment names, notes, the notifications sent, and
/// the contacts no other ticket keeps. Message-IDs become hashes (`hash`).
pub fn anonymise_due(
    conn: &Connection,
    marker: &str,
    now: &str,
    hash: impl Fn(&str) -> String,
) -> Result<()> {
    conn.execute(
        &format!("UPDATE tickets SET subject = ?1, anonymised_at = ?2 WHERE id IN ({DUE})"),
        params![marker, now],
    )?;
    // What issue 15 stores of citizens without mail, and their pages' links.
    super::intake::anonymise_due(conn, DUE)?;
    conn.execute(
        &format!(
            "UPDATE messages SET subject = ?1, body_text = ?1, from_name = NULL, from_email = NULL,
                    pec = NULL
             WHERE ticket_id IN ({DUE})"
        ),
        [marker],
    )?;
    conn.execute(
        &format!(
            "UPDATE raw_mail SET bytes = X'' WHERE id IN
               (SELECT raw_id FROM messages WHERE ticket_id IN ({DUE}))"
        ),
        [],
    )?;
    hash_message_ids(conn, hash)?;
    conn.execute(
        &format!(
            "UPDATE attachments SET filename = NULL WHERE message_id IN
               (SELECT id FROM messages WHERE ticket_id IN ({DUE}))"
        ),
        [],
    )?;
    conn.execute(
        &format!("UPDATE notes SET body = ?1 WHERE ticket_id IN ({DUE})"),
        [marker],
    )?;
    // Answers kept from an ended session (issue 18): nothing of them is kept.
    conn.execute(
        &format!("DELETE FROM kept_answers WHERE ticket_id IN ({DUE})"),
        [],
    )?;
    // Requests quote the complaint; their reports are messages of the ticket (above).
    super::requests::anonymise_due(conn, marker)?;
    // Deadline changes give their reasons (issue 19).
    super::deadlines::anonymise_due(conn, marker)?;
    super::reviews::anonymise_due(conn, marker)?;
    super::answer_files::delete_due(conn)?;
    // Issue 20: the analysis note goes; components, flags and register references stay.
    super::quality::anonymise_due(conn, marker)?;
    super::drafts::anonymise_due(conn, marker)?;
    conn.execute(
        &format!(
            "UPDATE outbox SET to_address = '', subject = ?1, body_text = ?1, last_error = NULL,
                    in_reply_to = NULL, refs = NULL
             WHERE ticket_id IN ({DUE}) AND state != ?2"
        ),
        params![marker, OutboxState::Pending],
    )?;
    conn.execute(
        &format!(
            "UPDATE contacts SET email = 'anonimizzato-' || id || '@anonimizzato.invalid',
                    name = NULL
             WHERE id IN (SELECT contact_id FROM tickets WHERE id IN ({DUE}))
               AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.contact_id = contacts.id
                               AND t.anonymised_at IS NULL)"
        ),
        [],
    )?;
    Ok(())
}

/// The due tickets' citizens' Message-IDs (their messages' own, and every In-Reply-To)
/// through `hash`. Our own Message-IDs (outbound) hold only the ticket number and token.
fn hash_message_ids(conn: &Connection, hash: impl Fn(&str) -> String) -> Result<()> {
    let rows: Vec<(i64, Direction, Option<String>, Option<String>)> = conn
        .prepare(&format!(
            "SELECT id, direction, message_id, in_reply_to FROM messages WHERE ticket_id IN ({DUE})"
        ))?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut update =
        conn.prepare("UPDATE messages SET message_id = ?2, in_reply_to = ?3 WHERE id = ?1")?;
    for (id, direction, message_id, in_reply_to) in rows {
        let message_id = match direction {
            Direction::In => message_id.as_deref().map(&hash),
            Direction::Out => message_id,
        };
        let in_reply_to = in_reply_to.as_deref().map(&hash);
        update.execute(params![id, message_id, in_reply_to])?;
    }
    Ok(())
}

/// Quarantined mail due: dealt with before `cutoff`, or never dealt with and arrived before it.
const QUARANTINE_DUE: &str = "anonymised_at IS NULL AND coalesce(resolved_at, created_at) < ?1";

pub fn quarantine_due(conn: &Connection, cutoff: &str) -> Result<usize> {
    let n: i64 = conn.query_row(
        &format!("SELECT count(*) FROM quarantine WHERE {QUARANTINE_DUE}"),
        [cutoff],
        |r| r.get(0),
    )?;
    Ok(n as usize)
}

/// Removes the due quarantined mail's bytes (unless a ticket's message holds them) and reason
/// (replaced by `marker`); an open entry is closed as anonymised. Returns how many.
pub fn anonymise_quarantine(
    conn: &Connection,
    cutoff: &str,
    marker: &str,
    now: &str,
) -> Result<usize> {
    conn.execute(
        &format!(
            "UPDATE raw_mail SET bytes = X'' WHERE id IN (SELECT raw_id FROM quarantine
               WHERE {QUARANTINE_DUE}) AND id NOT IN (SELECT raw_id FROM messages WHERE raw_id IS NOT NULL)"
        ),
        [cutoff],
    )?;
    Ok(conn.execute(
        &format!(
            "UPDATE quarantine SET reason = ?2, anonymised_at = ?3,
                    resolved_at = coalesce(resolved_at, ?3),
                    resolution = coalesce(resolution, 'anonymised')
             WHERE {QUARANTINE_DUE}"
        ),
        params![cutoff, marker, now],
    )?)
}

/// Runs `f` with `PRAGMA secure_delete = ON` (freed content zeroed, whatever the I/O), and puts
/// the connection back to `FAST`, as [`super::open`] sets every connection, whether `f` worked
/// or not.
pub fn zeroing<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    conn.pragma_update(None, "secure_delete", true)?;
    let out = f(conn);
    conn.pragma_update(None, "secure_delete", "FAST")?;
    out
}

/// The full-text index keeps a removed text's words until its segments are merged: merge them
/// all (with `secure_delete`, so the freed pages are zeroed).
pub fn purge_search_index(conn: &Connection) -> Result<()> {
    zeroing(conn, |c| {
        c.execute(
            "INSERT INTO messages_fts (messages_fts) VALUES ('optimize')",
            [],
        )?;
        Ok(())
    })
}

/// How a `wal_checkpoint(TRUNCATE)` went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// A reader kept the log from being truncated.
    pub busy: bool,
    pub frames: i64,
    pub copied: i64,
}

/// Checkpoints the write-ahead log and truncates it to nothing, waiting (busy timeout) for
/// readers still on an older snapshot.
pub fn truncate_wal(conn: &Connection) -> Result<Checkpoint> {
    Ok(conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        Ok(Checkpoint {
            busy: r.get::<_, i64>(0)? != 0,
            frames: r.get(1)?,
            copied: r.get(2)?,
        })
    })?)
}

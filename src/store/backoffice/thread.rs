//! One ticket's thread and history, the audit log, and the raw mail and attachments behind them.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::{AuditAction, AuditGroup, Direction, TicketNumber};

#[derive(Clone, Debug)]
pub struct AttachmentView {
    pub id: i64,
    pub filename: Option<String>,
    pub content_type: String,
    pub size: i64,
}

/// One entry of the thread: a message (in or out) or an internal note.
#[derive(Clone, Debug)]
pub struct Entry {
    pub at: String,
    pub kind: EntryKind,
    pub author: Option<String>,
    pub author_email: Option<String>,
    pub subject: Option<String>,
    pub body: String,
    pub attachments: Vec<AttachmentView>,
    /// The message's id when its original is kept.
    pub raw_message: Option<i64>,
    /// The PEC facts (JSON) when it came by certified mail.
    pub pec: Option<String>,
    /// Why the hospital's mail server could not authenticate the sender, if so.
    pub sender_unverified: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Inbound,
    Outbound,
    /// An auto-reply, bounce or PEC receipt: folded in the page.
    Automatic,
    Note,
}

#[derive(Clone, Debug)]
pub struct HistoryRow {
    pub at: String,
    pub actor: String,
    pub action: AuditAction,
    pub detail: String,
}

/// The ticket's messages and notes in time order (the istruttoria's messages — reports,
/// replies to requests — are shown with their request: `store::requests::request_thread`).
pub fn thread(conn: &Connection, ticket_id: i64) -> Result<Vec<Entry>> {
    let mut attachments: std::collections::HashMap<i64, Vec<AttachmentView>> = Default::default();
    {
        let mut st = conn.prepare_cached(
            "SELECT a.message_id, a.id, a.filename, a.content_type, a.size FROM attachments a
             JOIN messages m ON m.id = a.message_id WHERE m.ticket_id = ?1 ORDER BY a.position",
        )?;
        let mut rows = st.query([ticket_id])?;
        while let Some(r) = rows.next()? {
            attachments
                .entry(r.get(0)?)
                .or_default()
                .push(AttachmentView {
                    id: r.get(1)?,
                    filename: r.get(2)?,
                    content_type: r.get(3)?,
                    size: r.get(4)?,
                });
        }
    }
    let mut entries = Vec::new();
    let mut st = conn.prepare_cached(
        "SELECT m.id, m.direction, m.automatic, coalesce(m.from_name, u.name), m.from_email,
                m.subject, m.body_text, m.received_at, m.raw_id IS NOT NULL, m.pec,
                m.sender_unverified
         FROM messages m LEFT JOIN users u ON u.id = m.author_id
         WHERE m.ticket_id = ?1 AND m.request_id IS NULL ORDER BY m.received_at, m.id",
    )?;
    let mut rows = st.query([ticket_id])?;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let direction: Direction = r.get(1)?;
        let automatic: Option<crate::domain::AutoKind> = r.get(2)?;
        let has_raw: bool = r.get(8)?;
        entries.push(Entry {
            kind: match (direction, automatic) {
                (_, Some(_)) => EntryKind::Automatic,
                (Direction::Out, None) => EntryKind::Outbound,
                (Direction::In, None) => EntryKind::Inbound,
            },
            author: r.get(3)?,
            author_email: r.get(4)?,
            subject: r.get(5)?,
            body: r.get(6)?,
            at: r.get(7)?,
            attachments: attachments.remove(&id).unwrap_or_default(),
            raw_message: has_raw.then_some(id),
            pec: r.get(9)?,
            sender_unverified: r.get(10)?,
        });
    }
    let mut st = conn.prepare_cached(
        "SELECT n.created_at, u.name, u.email, n.body FROM notes n JOIN users u ON u.id = n.author_id
         WHERE n.ticket_id = ?1 ORDER BY n.id",
    )?;
    let mut rows = st.query([ticket_id])?;
    while let Some(r) = rows.next()? {
        entries.push(Entry {
            at: r.get(0)?,
            kind: EntryKind::Note,
            author: r.get(1)?,
            author_email: r.get(2)?,
            subject: None,
            body: r.get(3)?,
            attachments: Vec::new(),
            raw_message: None,
            pec: None,
            sender_unverified: None,
        });
    }
    // RFC 3339 UTC texts of one width sort as times; the sort is stable, so messages keep
    // their order among equal times.
    entries.sort_by(|a, b| a.at.cmp(&b.at));
    Ok(entries)
}

/// How an audit log actor reads: a user's name, or the system part.
const ACTOR_NAME: &str =
    "coalesce((SELECT u.name FROM users u WHERE 'user:' || u.id = a.actor), a.actor)";

/// The ticket's history from the audit log, views included.
pub fn history(conn: &Connection, ticket_id: i64) -> Result<Vec<HistoryRow>> {
    let sql = format!(
        "SELECT a.at, {ACTOR_NAME}, a.action, coalesce(a.detail, '') FROM audit_log a
         WHERE a.ticket_id = ?1 ORDER BY a.id"
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map([ticket_id], |r| {
            Ok(HistoryRow {
                at: r.get(0)?,
                actor: r.get(1)?,
                action: r.get(2)?,
                detail: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The audit log, newest first, filtered by a family of actions, actor and ticket number.
pub fn audit_log(
    conn: &Connection,
    group: Option<AuditGroup>,
    actor: Option<i64>,
    ticket: Option<&TicketNumber>,
    page: usize,
    page_size: usize,
) -> Result<Vec<(HistoryRow, Option<TicketNumber>)>> {
    // The family's actions as literal words (from the vocabulary, never from the request).
    let actions = match group {
        None => "1".to_string(),
        Some(g) => format!(
            "a.action IN ({})",
            g.actions()
                .iter()
                .map(|a| format!("'{a}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let sql = format!(
        "SELECT a.at, {ACTOR_NAME}, a.action, coalesce(a.detail, ''), t.number FROM audit_log a
         LEFT JOIN tickets t ON t.id = a.ticket_id
         WHERE {actions}
           AND (?1 IS NULL OR a.actor = 'user:' || ?1)
           AND (?2 IS NULL OR a.ticket_id = (SELECT id FROM tickets WHERE number = ?2))
         ORDER BY a.id DESC LIMIT {page_size} OFFSET {}",
        page.saturating_mul(page_size)
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(params![actor, ticket], |r| {
            Ok((
                HistoryRow {
                    at: r.get(0)?,
                    actor: r.get(1)?,
                    action: r.get(2)?,
                    detail: r.get(3)?,
                },
                r.get(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The raw bytes of an inbound message of a ticket (the `.eml`).
pub fn raw_of_message(
    conn: &Connection,
    ticket_id: i64,
    message_id: i64,
) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached(
            "SELECT r.bytes FROM messages m JOIN raw_mail r ON r.id = m.raw_id
             WHERE m.id = ?1 AND m.ticket_id = ?2",
        )?
        .query_row([message_id, ticket_id], |r| r.get(0))
        .optional()?)
}

/// The size of an inbound message's raw bytes, if it belongs to the ticket (read without
/// reading the bytes).
pub fn raw_size_of_message(
    conn: &Connection,
    ticket_id: i64,
    message_id: i64,
) -> Result<Option<usize>> {
    Ok(conn
        .prepare_cached(
            "SELECT length(r.bytes) FROM messages m JOIN raw_mail r ON r.id = m.raw_id
             WHERE m.id = ?1 AND m.ticket_id = ?2",
        )?
        .query_row([message_id, ticket_id], |r| r.get(0))
        .optional()?)
}

/// The size of the raw message an attachment is cut from, if it belongs to the ticket.
pub fn raw_size_of_attachment(
    conn: &Connection,
    ticket_id: i64,
    attachment_id: i64,
) -> Result<Option<usize>> {
    Ok(conn
        .prepare_cached(
            "SELECT length(r.bytes) FROM attachments a
             JOIN messages m ON m.id = a.message_id JOIN raw_mail r ON r.id = m.raw_id
             WHERE a.id = ?1 AND m.ticket_id = ?2",
        )?
        .query_row([attachment_id, ticket_id], |r| r.get(0))
        .optional()?)
}

/// Where an attachment's bytes are: its position among its message's attachments, inside
/// that message's raw bytes.
pub struct AttachmentSource {
    pub position: i64,
    pub filename: Option<String>,
    pub raw: Vec<u8>,
    /// The message was read as a PEC envelope: its attachments are inside `postacert.eml`.
    pub unwrapped_pec: bool,
}

/// An attachment's source, if it belongs to the ticket.
pub fn attachment_source(
    conn: &Connection,
    ticket_id: i64,
    attachment_id: i64,
) -> Result<Option<AttachmentSource>> {
    Ok(conn
        .prepare_cached(
            "SELECT a.position, a.filename, r.bytes, m.pec IS NOT NULL FROM attachments a
             JOIN messages m ON m.id = a.message_id JOIN raw_mail r ON r.id = m.raw_id
             WHERE a.id = ?1 AND m.ticket_id = ?2",
        )?
        .query_row([attachment_id, ticket_id], |r| {
            Ok(AttachmentSource {
                position: r.get(0)?,
                filename: r.get(1)?,
                raw: r.get(2)?,
                unwrapped_pec: r.get(3)?,
            })
        })
        .optional()?)
}

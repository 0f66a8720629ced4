//! Read queries for exports (and, later, the backoffice).

use anyhow::Result;
use rusqlite::Connection;
use serde::Serialize;

/// A ticket as exported: the contract of `ascolto export tickets`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TicketRow {
    pub number: String,
    pub state: String,
    pub kind: Option<String>,
    /// Subject code, e.g. "TEM.02".
    pub category: Option<String>,
    pub category_label: Option<String>,
    /// Service code, e.g. "PS".
    pub service: Option<String>,
    pub service_name: Option<String>,
    pub citizen_email: String,
    pub citizen_name: Option<String>,
    /// Our mail to the citizen bounced: automatic mail to them has stopped.
    pub citizen_bouncing: bool,
    pub subject: String,
    pub received_at: String,
    pub due_at: String,
    pub pec: bool,
    pub needs_attention: bool,
    pub linked_to: Option<String>,
    /// Messages from the citizen (automatic mail excluded).
    pub inbound_messages: i64,
    /// Every message on the ticket, in and out, automatic included.
    pub messages: i64,
    pub reopen_count: i64,
}

pub fn tickets(conn: &Connection, each: &mut dyn FnMut(TicketRow) -> Result<()>) -> Result<()> {
    let mut stmt = conn.prepare(
        "SELECT t.number, t.state, t.kind, k.code, k.label, s.code, s.name, c.email, c.name,
                t.subject, t.received_at, t.due_at, t.channel = 'pec', t.needs_attention, l.number,
                (SELECT count(*) FROM messages m WHERE m.ticket_id = t.id AND m.direction = 'in'
                   AND m.automatic IS NULL),
                (SELECT count(*) FROM messages m WHERE m.ticket_id = t.id),
                c.bouncing_since IS NOT NULL, t.reopen_count
         FROM tickets t
         JOIN contacts c ON c.id = t.contact_id
         LEFT JOIN categories k ON k.id = t.category_id
         LEFT JOIN services s ON s.id = t.service_id
         LEFT JOIN tickets l ON l.id = t.linked_ticket_id
         ORDER BY t.id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        each(TicketRow {
            number: r.get(0)?,
            state: r.get(1)?,
            kind: r.get(2)?,
            category: r.get(3)?,
            category_label: r.get(4)?,
            service: r.get(5)?,
            service_name: r.get(6)?,
            citizen_email: r.get(7)?,
            citizen_name: r.get(8)?,
            subject: r.get(9)?,
            received_at: r.get(10)?,
            due_at: r.get(11)?,
            pec: r.get(12)?,
            needs_attention: r.get(13)?,
            linked_to: r.get(14)?,
            inbound_messages: r.get(15)?,
            messages: r.get(16)?,
            citizen_bouncing: r.get(17)?,
            reopen_count: r.get(18)?,
        })?;
    }
    Ok(())
}

/// A quarantined message as exported.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QuarantineRow {
    pub id: i64,
    pub received_at: String,
    pub kind: String,
    pub reason: String,
    pub size: i64,
    pub source: String,
    pub resolved: bool,
}

pub fn quarantine(
    conn: &Connection,
    mut each: impl FnMut(QuarantineRow) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn.prepare(
        "SELECT q.id, q.received_at, q.kind, q.reason, r.size, r.source, q.resolved_at IS NOT NULL
         FROM quarantine q JOIN raw_mail r ON r.id = q.raw_id ORDER BY q.id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        each(QuarantineRow {
            id: r.get(0)?,
            received_at: r.get(1)?,
            kind: r.get(2)?,
            reason: r.get(3)?,
            size: r.get(4)?,
            source: r.get(5)?,
            resolved: r.get(6)?,
        })?;
    }
    Ok(())
}

/// A notification as exported: what was (or will be, or will never be) sent, and why not.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub ticket: Option<String>,
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub state: String,
    pub attempts: i64,
    /// For failed and pending mail the last error; for suppressed mail the reason.
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub message_id: String,
}

pub fn outbox(conn: &Connection, each: &mut dyn FnMut(OutboxRow) -> Result<()>) -> Result<()> {
    let mut stmt = conn.prepare(
        "SELECT o.id, t.number, o.kind, o.to_address, o.subject, o.state, o.attempts, o.last_error,
                o.created_at, o.sent_at, o.message_id
         FROM outbox o LEFT JOIN tickets t ON t.id = o.ticket_id ORDER BY o.id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        each(OutboxRow {
            id: r.get(0)?,
            ticket: r.get(1)?,
            kind: r.get(2)?,
            to: r.get(3)?,
            subject: r.get(4)?,
            state: r.get(5)?,
            attempts: r.get(6)?,
            last_error: r.get(7)?,
            created_at: r.get(8)?,
            sent_at: r.get(9)?,
            message_id: r.get(10)?,
        })?;
    }
    Ok(())
}

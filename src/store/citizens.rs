//! Everything stored about one citizen, for an access request (`ascolto export citizen`).

use anyhow::Result;
use rusqlite::{params, Connection};
use serde::Serialize;

use crate::domain::TicketNumber;
use crate::domain::{AutoKind, Channel, Direction, Kind, MailKind, OutboxState, Outcome, State};

/// A contact row: one address the citizen wrote from.
#[derive(Clone, Debug, Serialize)]
pub struct Contact {
    #[serde(skip)]
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    #[serde(rename = "first_seen")]
    pub created_at: String,
}

/// The contacts with this address (addresses compare without case).
pub fn contacts(conn: &Connection, email: &str) -> Result<Vec<Contact>> {
    Ok(conn
        .prepare("SELECT id, email, name, created_at FROM contacts WHERE email = ?1")?
        .query_map([email], |r| {
            Ok(Contact {
                id: r.get(0)?,
                email: r.get(1)?,
                name: r.get(2)?,
                created_at: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// A ticket as the citizen's export shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Ticket {
    #[serde(skip)]
    pub id: i64,
    pub number: TicketNumber,
    pub subject: String,
    pub kind: Option<Kind>,
    pub category_code: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
    pub state: State,
    pub outcome: Option<Outcome>,
    pub channel: Channel,
    pub received_at: String,
    pub taken_in_charge_at: Option<String>,
    pub first_answered_at: Option<String>,
    pub closed_at: Option<String>,
    pub anonymised_at: Option<String>,
}

pub fn tickets(conn: &Connection, contact_id: i64) -> Result<Vec<Ticket>> {
    Ok(conn
        .prepare(
            "SELECT t.id, t.number, t.subject, t.kind, c.code, c.label, s.name, t.state,
                    t.outcome, t.channel, t.received_at, t.taken_in_charge_at,
                    t.first_answered_at, t.closed_at, t.anonymised_at
             FROM tickets t LEFT JOIN categories c ON c.id = t.category_id
             LEFT JOIN services s ON s.id = t.service_id
             WHERE t.contact_id = ?1 ORDER BY t.id",
        )?
        .query_map([contact_id], |r| {
            Ok(Ticket {
                id: r.get(0)?,
                number: r.get(1)?,
                subject: r.get(2)?,
                kind: r.get(3)?,
                category_code: r.get(4)?,
                category: r.get(5)?,
                service: r.get(6)?,
                state: r.get(7)?,
                outcome: r.get(8)?,
                channel: r.get(9)?,
                received_at: r.get(10)?,
                taken_in_charge_at: r.get(11)?,
                first_answered_at: r.get(12)?,
                closed_at: r.get(13)?,
                anonymised_at: r.get(14)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

#[derive(Clone, Debug, Serialize)]
pub struct Attachment {
    pub filename: Option<String>,
    pub content_type: String,
    pub size: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Message {
    #[serde(skip)]
    pub id: i64,
    pub direction: Direction,
    pub at: String,
    pub from_email: Option<String>,
    pub from_name: Option<String>,
    pub subject: String,
    pub body: String,
    pub automatic: Option<AutoKind>,
    pub attachments: Vec<Attachment>,
}

/// A ticket's messages, each with its attachments' metadata.
pub fn messages(conn: &Connection, ticket_id: i64) -> Result<Vec<Message>> {
    let mut messages: Vec<Message> = conn
        .prepare(
            "SELECT m.id, m.direction, m.received_at, m.from_email, m.from_name, m.subject,
                    m.body_text, m.automatic
             FROM messages m WHERE m.ticket_id = ?1 AND m.request_id IS NULL ORDER BY m.id",
        )?
        .query_map([ticket_id], |r| {
            Ok(Message {
                id: r.get(0)?,
                direction: r.get(1)?,
                at: r.get(2)?,
                from_email: r.get(3)?,
                from_name: r.get(4)?,
                subject: r.get(5)?,
                body: r.get(6)?,
                automatic: r.get(7)?,
                attachments: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut st = conn.prepare_cached(
        "SELECT filename, content_type, size FROM attachments WHERE message_id = ?1 ORDER BY position",
    )?;
    for m in &mut messages {
        m.attachments = st
            .query_map([m.id], |r| {
                Ok(Attachment {
                    filename: r.get(0)?,
                    content_type: r.get(1)?,
                    size: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(messages)
}

/// A mail ascolto sent (or held back) to the citizen about a ticket.
#[derive(Clone, Debug, Serialize)]
pub struct Notification {
    pub kind: MailKind,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub state: OutboxState,
    pub sent_at: Option<String>,
}

/// The mail about a ticket to its citizen (operators' "new ticket" mail left out).
pub fn notifications(conn: &Connection, ticket_id: i64) -> Result<Vec<Notification>> {
    Ok(conn
        .prepare(
            "SELECT kind, to_address, subject, body_text, state, sent_at FROM outbox
             WHERE ticket_id = ?1 AND kind NOT IN (?2, ?3, ?4, ?5, ?6, ?7) ORDER BY id",
        )?
        // Mail to the office and to the services (the istruttoria) is internal.
        .query_map(
            params![
                ticket_id,
                MailKind::NewTicket,
                MailKind::Request,
                MailKind::RequestReminder,
                MailKind::RequestEscalation,
                MailKind::ReportArrived,
                MailKind::RiskAlert
            ],
            |r| {
                Ok(Notification {
                    kind: r.get(0)?,
                    to: r.get(1)?,
                    subject: r.get(2)?,
                    body: r.get(3)?,
                    state: r.get(4)?,
                    sent_at: r.get(5)?,
                })
            },
        )?
        .collect::<rusqlite::Result<_>>()?)
}

//! The SQL of the istruttoria (issue 14): the services' referenti, the requests for reports,
//! their mails and the messages (reports, out-of-office replies, bounces) that belong to them.
//! `crate::istruttoria` decides; these only read and write, inside the caller's transaction.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::{AutoKind, MailKind, OutboxState, RequestState, TicketNumber};

// ---- referenti ----

/// A service's contact for reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Referente {
    pub id: i64,
    pub service_id: i64,
    pub service_name: String,
    pub service_active: bool,
    pub name: String,
    pub email: String,
    /// "Direttore UO", "Coordinatore infermieristico"…
    pub role: String,
    pub active: bool,
    /// A request to this address bounced then: the address is probably wrong.
    pub bouncing_since: Option<String>,
}

const REFERENTE: &str = "SELECT r.id AS id, r.service_id AS service_id, s.name AS service_name,
       s.active AS service_active, r.name AS name, r.email AS email, r.role AS role,
       r.active AS active, r.bouncing_since AS bouncing_since
  FROM referenti r JOIN services s ON s.id = r.service_id";

fn referente_of_row(r: &rusqlite::Row) -> rusqlite::Result<Referente> {
    Ok(Referente {
        id: r.get("id")?,
        service_id: r.get("service_id")?,
        service_name: r.get("service_name")?,
        service_active: r.get("service_active")?,
        name: r.get("name")?,
        email: r.get("email")?,
        role: r.get("role")?,
        active: r.get("active")?,
        bouncing_since: r.get("bouncing_since")?,
    })
}

/// Every referente, by service name and then name.
pub fn referenti(conn: &Connection) -> Result<Vec<Referente>> {
    Ok(conn
        .prepare_cached(&format!(
            "{REFERENTE} ORDER BY s.name, r.name COLLATE NOCASE, r.id"
        ))?
        .query_map([], referente_of_row)?
        .collect::<rusqlite::Result<_>>()?)
}

pub fn referente(conn: &Connection, id: i64) -> Result<Option<Referente>> {
    Ok(conn
        .prepare_cached(&format!("{REFERENTE} WHERE r.id = ?1"))?
        .query_row([id], referente_of_row)
        .optional()?)
}

/// Whether the service already has a referente with this address (other than `except`).
pub fn referente_taken(
    conn: &Connection,
    service_id: i64,
    email: &str,
    except: Option<i64>,
) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM referenti WHERE service_id = ?1 AND email = ?2 AND id IS NOT ?3",
        )?
        .exists(params![service_id, email, except])?)
}

pub fn insert_referente(
    conn: &Connection,
    service_id: i64,
    name: &str,
    email: &str,
    role: &str,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO referenti (service_id, name, email, role, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![service_id, name, email, role, super::now_text()])?;
    Ok(conn.last_insert_rowid())
}

/// Changes a referente; a changed address is no longer known to bounce.
pub fn update_referente(
    conn: &Connection,
    id: i64,
    name: &str,
    email: &str,
    role: &str,
    active: bool,
) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE referenti SET name = ?2, role = ?4, active = ?5,
               bouncing_since = CASE WHEN email = ?3 THEN bouncing_since END, email = ?3
             WHERE id = ?1",
        )?
        .execute(params![id, name, email, role, active])?
        == 1)
}

pub fn mark_referente_bouncing(conn: &Connection, referente_id: i64, at: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE referenti SET bouncing_since = coalesce(bouncing_since, ?2) WHERE id = ?1",
    )?
    .execute(params![referente_id, at])?;
    Ok(())
}

// ---- requests ----

/// A request for a report, as the ticket page, the dashboard and the mails read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub id: i64,
    pub ticket_id: i64,
    pub ticket_number: TicketNumber,
    /// "URP-2026-000042 R1".
    pub tag: String,
    pub referente_id: Option<i64>,
    pub service_id: Option<i64>,
    pub service_name: Option<String>,
    pub to_address: String,
    pub to_name: String,
    pub subject: String,
    pub body_text: String,
    pub author_id: i64,
    pub author_name: String,
    pub state: RequestState,
    pub sent_at: String,
    pub due_at: String,
    pub reminded_at: Option<String>,
    pub escalated_at: Option<String>,
    pub answered_at: Option<String>,
    pub report_unread: bool,
    pub auto_reply_at: Option<String>,
    pub bounced_at: Option<String>,
}

const REQUEST: &str = "SELECT q.id AS id, q.ticket_id AS ticket_id, t.number AS ticket_number,
       q.tag AS tag, q.referente_id AS referente_id, q.service_id AS service_id,
       s.name AS service_name, q.to_address AS to_address, q.to_name AS to_name,
       q.subject AS subject, q.body_text AS body_text, q.author_id AS author_id,
       u.name AS author_name, q.state AS state, q.sent_at AS sent_at, q.due_at AS due_at,
       q.reminded_at AS reminded_at, q.escalated_at AS escalated_at,
       q.answered_at AS answered_at, q.report_unread AS report_unread,
       q.auto_reply_at AS auto_reply_at, q.bounced_at AS bounced_at
  FROM requests q
  JOIN tickets t ON t.id = q.ticket_id
  JOIN users u ON u.id = q.author_id
  LEFT JOIN services s ON s.id = q.service_id";

fn request_of_row(r: &rusqlite::Row) -> rusqlite::Result<Request> {
    Ok(Request {
        id: r.get("id")?,
        ticket_id: r.get("ticket_id")?,
        ticket_number: r.get("ticket_number")?,
        tag: r.get("tag")?,
        referente_id: r.get("referente_id")?,
        service_id: r.get("service_id")?,
        service_name: r.get("service_name")?,
        to_address: r.get("to_address")?,
        to_name: r.get("to_name")?,
        subject: r.get("subject")?,
        body_text: r.get("body_text")?,
        author_id: r.get("author_id")?,
        author_name: r.get("author_name")?,
        state: r.get("state")?,
        sent_at: r.get("sent_at")?,
        due_at: r.get("due_at")?,
        reminded_at: r.get("reminded_at")?,
        escalated_at: r.get("escalated_at")?,
        answered_at: r.get("answered_at")?,
        report_unread: r.get("report_unread")?,
        auto_reply_at: r.get("auto_reply_at")?,
        bounced_at: r.get("bounced_at")?,
    })
}

pub fn request(conn: &Connection, id: i64) -> Result<Option<Request>> {
    Ok(conn
        .prepare_cached(&format!("{REQUEST} WHERE q.id = ?1"))?
        .query_row([id], request_of_row)
        .optional()?)
}

/// A ticket's requests, in the order they were sent.
pub fn requests_of_ticket(conn: &Connection, ticket_id: i64) -> Result<Vec<Request>> {
    Ok(conn
        .prepare_cached(&format!("{REQUEST} WHERE q.ticket_id = ?1 ORDER BY q.id"))?
        .query_map([ticket_id], request_of_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// The next position among the requests named after ticket `number` (R1, R2, …).
pub fn next_seq(conn: &Connection, number: &TicketNumber) -> Result<i64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM requests WHERE tag LIKE ?1 || ' R%'")?
        .query_row([number.to_string()], |r| r.get(0))?;
    Ok(n + 1)
}

pub struct NewRequest<'a> {
    pub ticket_id: i64,
    pub tag: &'a str,
    pub referente_id: i64,
    pub service_id: i64,
    pub to_address: &'a str,
    pub to_name: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub author_id: i64,
    pub sent_at: &'a str,
    pub due_at: &'a str,
}

pub fn insert_request(conn: &Connection, r: &NewRequest) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO requests (ticket_id, tag, referente_id, service_id, to_address, to_name,
           subject, body_text, author_id, sent_at, due_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?10)",
    )?
    .execute(params![
        r.ticket_id,
        r.tag,
        r.referente_id,
        r.service_id,
        r.to_address,
        r.to_name,
        r.subject,
        r.body_text,
        r.author_id,
        r.sent_at,
        r.due_at
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Marks a mail of the outbox as belonging to a request (a reply naming it is a report).
pub fn set_outbox_request(conn: &Connection, outbox_id: i64, request_id: i64) -> Result<()> {
    conn.prepare_cached("UPDATE outbox SET request_id = ?2 WHERE id = ?1")?
        .execute(params![outbox_id, request_id])?;
    Ok(())
}

/// The request a mail of ours with this Message-ID belongs to.
pub fn request_of_mail(conn: &Connection, message_id: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT request_id FROM outbox WHERE message_id = ?1 AND request_id IS NOT NULL",
        )?
        .query_row([message_id], |r| r.get(0))
        .optional()?)
}

/// The request named by its tag ("URP-2026-000042 R1").
pub fn request_by_tag(conn: &Connection, tag: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM requests WHERE tag = ?1")?
        .query_row([tag], |r| r.get(0))
        .optional()?)
}

/// The Message-ID of a request's first mail (what a reminder threads under).
pub fn first_mail_id(conn: &Connection, request_id: i64) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT message_id FROM outbox WHERE request_id = ?1 AND kind = ?2 ORDER BY id LIMIT 1",
        )?
        .query_row(params![request_id, MailKind::Request], |r| r.get(0))
        .optional()?)
}

/// A report arrived: the request is answered (the first report's time kept) and unread.
pub fn set_answered(conn: &Connection, request_id: i64, at: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE requests SET state = ?3, answered_at = coalesce(answered_at, ?2), report_unread = 1
         WHERE id = ?1",
    )?
    .execute(params![request_id, at, RequestState::Answered])?;
    Ok(())
}

/// An operator read the request's report; whether it was unread.
pub fn set_read(conn: &Connection, request_id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE requests SET report_unread = 0 WHERE id = ?1 AND report_unread = 1",
        )?
        .execute([request_id])?
        == 1)
}

/// An out-of-office reply or a bounce of the request's mail.
pub fn set_automatic(conn: &Connection, request_id: i64, kind: AutoKind, at: &str) -> Result<()> {
    let sql = match kind {
        AutoKind::Bounce => {
            "UPDATE requests SET bounced_at = coalesce(bounced_at, ?2) WHERE id = ?1"
        }
        AutoKind::AutoReply | AutoKind::PecReceipt => {
            "UPDATE requests SET auto_reply_at = coalesce(auto_reply_at, ?2) WHERE id = ?1"
        }
    };
    conn.prepare_cached(sql)?.execute(params![request_id, at])?;
    Ok(())
}

/// Open requests whose due date has come and that have had no reminder.
pub fn due_for_reminder(conn: &Connection, now: &str) -> Result<Vec<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM requests INDEXED BY requests_open
             WHERE state = 'open' AND due_at <= ?1 AND reminded_at IS NULL ORDER BY due_at, id",
        )?
        .query_map([now], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

/// Open requests due before `cutoff` and not escalated yet.
pub fn due_for_escalation(conn: &Connection, cutoff: &str) -> Result<Vec<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM requests INDEXED BY requests_open
             WHERE state = 'open' AND due_at <= ?1 AND escalated_at IS NULL ORDER BY due_at, id",
        )?
        .query_map([cutoff], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

pub fn set_reminded(conn: &Connection, request_id: i64, at: &str) -> Result<()> {
    conn.prepare_cached("UPDATE requests SET reminded_at = ?2 WHERE id = ?1")?
        .execute(params![request_id, at])?;
    Ok(())
}

pub fn set_escalated(conn: &Connection, request_id: i64, at: &str) -> Result<()> {
    conn.prepare_cached("UPDATE requests SET escalated_at = ?2 WHERE id = ?1")?
        .execute(params![request_id, at])?;
    Ok(())
}

/// Marks an inbound message as belonging to a request (internal: never the citizen's).
pub fn set_message_request(conn: &Connection, message_id: i64, request_id: i64) -> Result<()> {
    conn.prepare_cached("UPDATE messages SET request_id = ?2 WHERE id = ?1")?
        .execute(params![message_id, request_id])?;
    Ok(())
}

/// Whether a report of this request already made an operator's mail unread-worthy: the
/// operator is told once until someone reads the report.
pub fn report_unread(conn: &Connection, request_id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT report_unread FROM requests WHERE id = ?1")?
        .query_row([request_id], |r| r.get(0))
        .optional()?
        .unwrap_or(false))
}

/// The complaint a request quotes: the ticket's first message by a person (not a report, not
/// automatic), with when it came.
pub fn first_complaint(conn: &Connection, ticket_id: i64) -> Result<Option<(String, String)>> {
    Ok(conn
        .prepare_cached(
            "SELECT body_text, received_at FROM messages
             WHERE ticket_id = ?1 AND direction = 'in' AND automatic IS NULL AND request_id IS NULL
             ORDER BY received_at, id LIMIT 1",
        )?
        .query_row([ticket_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Whether the user is an active account with the "riceve mail" flag who works tickets.
pub fn notified_operator(conn: &Connection, user_id: i64) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT email FROM users WHERE id = ?1 AND notify = 1 AND active = 1
               AND role IN ('admin', 'operator')",
        )?
        .query_row([user_id], |r| r.get(0))
        .optional()?)
}

// ---- a request's thread ----

/// One step of a request's thread: a mail we sent, or a message that came back.
#[derive(Clone, Debug)]
pub struct RequestEntry {
    pub at: String,
    pub kind: RequestEntryKind,
    pub from_name: Option<String>,
    pub from_email: Option<String>,
    pub to: Option<String>,
    pub subject: String,
    pub body: String,
    /// The inbound message's id (its original and attachments are downloads).
    pub message_id: Option<i64>,
    pub attachments: Vec<super::backoffice::AttachmentView>,
    /// Where our mail stands (sent, waiting, suppressed…).
    pub outbox_state: Option<OutboxState>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestEntryKind {
    /// Our mail: the request, a reminder, the escalation.
    Sent(MailKind),
    /// A report (a person wrote).
    Report,
    /// An out-of-office reply, a bounce.
    Automatic(AutoKind),
}

pub fn request_thread(conn: &Connection, request_id: i64) -> Result<Vec<RequestEntry>> {
    let mut entries = Vec::new();
    let mut st = conn.prepare_cached(
        "SELECT created_at, kind, to_address, subject, body_text, state FROM outbox
         WHERE request_id = ?1 ORDER BY id",
    )?;
    let mut rows = st.query([request_id])?;
    while let Some(r) = rows.next()? {
        entries.push(RequestEntry {
            at: r.get(0)?,
            kind: RequestEntryKind::Sent(r.get(1)?),
            from_name: None,
            from_email: None,
            to: Some(r.get(2)?),
            subject: r.get(3)?,
            body: r.get(4)?,
            message_id: None,
            attachments: Vec::new(),
            outbox_state: Some(r.get(5)?),
        });
    }
    let mut st = conn.prepare_cached(
        "SELECT m.id, m.received_at, m.automatic, m.from_name, m.from_email, m.subject,
                m.body_text
         FROM messages m WHERE m.request_id = ?1 ORDER BY m.received_at, m.id",
    )?;
    let mut rows = st.query([request_id])?;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let automatic: Option<AutoKind> = r.get(2)?;
        entries.push(RequestEntry {
            at: r.get(1)?,
            kind: match automatic {
                Some(k) => RequestEntryKind::Automatic(k),
                None => RequestEntryKind::Report,
            },
            from_name: r.get(3)?,
            from_email: r.get(4)?,
            to: None,
            subject: r.get(5)?,
            body: r.get(6)?,
            message_id: Some(id),
            attachments: attachments_of(conn, id)?,
            outbox_state: None,
        });
    }
    entries.sort_by(|a, b| a.at.cmp(&b.at));
    Ok(entries)
}

fn attachments_of(
    conn: &Connection,
    message_id: i64,
) -> Result<Vec<super::backoffice::AttachmentView>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, filename, content_type, size FROM attachments WHERE message_id = ?1
             ORDER BY position",
        )?
        .query_map([message_id], |r| {
            Ok(super::backoffice::AttachmentView {
                id: r.get(0)?,
                filename: r.get(1)?,
                content_type: r.get(2)?,
                size: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

// ---- the dashboard's queues ----

/// Open requests, the most overdue first.
pub fn awaited(conn: &Connection, limit: usize) -> Result<(Vec<Request>, usize)> {
    let total: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM requests INDEXED BY requests_open WHERE state = 'open'",
        )?
        .query_row([], |r| r.get(0))?;
    let rows = conn
        .prepare_cached(&format!(
            "{REQUEST} WHERE q.id IN (SELECT id FROM requests INDEXED BY requests_open
               WHERE state = 'open' ORDER BY due_at LIMIT ?1) ORDER BY q.due_at, q.id"
        ))?
        .query_map([limit as i64], request_of_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok((rows, total as usize))
}

/// Requests whose report no operator has read yet, the oldest first.
pub fn unread_reports(conn: &Connection, limit: usize) -> Result<(Vec<Request>, usize)> {
    let total: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM requests INDEXED BY requests_unread WHERE report_unread = 1",
        )?
        .query_row([], |r| r.get(0))?;
    let rows = conn
        .prepare_cached(&format!(
            "{REQUEST} WHERE q.id IN (SELECT id FROM requests INDEXED BY requests_unread
               WHERE report_unread = 1 ORDER BY answered_at LIMIT ?1) ORDER BY q.answered_at, q.id"
        ))?
        .query_map([limit as i64], request_of_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok((rows, total as usize))
}

// ---- export and statistics ----

/// A request as `ascolto export tickets` gives it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ExportedRequest {
    pub tag: String,
    pub service: Option<String>,
    pub to: String,
    pub sent_at: String,
    pub due_at: String,
    pub answered_at: Option<String>,
    pub state: RequestState,
}

pub fn exported(conn: &Connection, ticket_id: i64) -> Result<Vec<ExportedRequest>> {
    Ok(conn
        .prepare_cached(
            "SELECT q.tag, s.code, q.to_address, q.sent_at, q.due_at, q.answered_at, q.state
             FROM requests q LEFT JOIN services s ON s.id = q.service_id
             WHERE q.ticket_id = ?1 ORDER BY q.id",
        )?
        .query_map([ticket_id], |r| {
            Ok(ExportedRequest {
                tag: r.get(0)?,
                service: r.get(1)?,
                to: r.get(2)?,
                sent_at: r.get(3)?,
                due_at: r.get(4)?,
                answered_at: r.get(5)?,
                state: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// What the statistics count of one request: its service and its dates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestFacts {
    pub service_id: Option<i64>,
    pub service_name: Option<String>,
    pub sent_at: String,
    pub due_at: String,
    pub answered_at: Option<String>,
}

/// The requests sent in `[from, to)` (RFC 3339 UTC), of merged tickets too (the request was
/// sent), optionally of one service.
pub fn sent_between(
    conn: &Connection,
    from: &str,
    to: &str,
    service: Option<i64>,
) -> Result<Vec<RequestFacts>> {
    Ok(conn
        .prepare_cached(
            "SELECT q.service_id, s.name, q.sent_at, q.due_at, q.answered_at
             FROM requests q LEFT JOIN services s ON s.id = q.service_id
             WHERE q.sent_at >= ?1 AND q.sent_at < ?2 AND (?3 IS NULL OR q.service_id = ?3)
             ORDER BY q.sent_at",
        )?
        .query_map(params![from, to, service], |r| {
            Ok(RequestFacts {
                service_id: r.get(0)?,
                service_name: r.get(1)?,
                sent_at: r.get(2)?,
                due_at: r.get(3)?,
                answered_at: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// The ids of tickets with an open request (the list's filter "in istruttoria").
pub const IN_ISTRUTTORIA: &str =
    "EXISTS (SELECT 1 FROM requests q WHERE q.ticket_id = t.id AND q.state = 'open')";

/// Anonymisation: the requests of the retention job's due tickets lose their text (it quotes
/// the complaint); who was asked and when stays (the statistics count it).
pub fn anonymise_due(conn: &Connection, marker: &str) -> Result<()> {
    conn.execute(
        "UPDATE requests SET subject = ?1, body_text = ?1
         WHERE ticket_id IN (SELECT id FROM temp.retention_due)",
        [marker],
    )?;
    Ok(())
}

//! The SQL of the ingest pipeline. Each function is one statement or a small group; the
//! pipeline (`crate::ingest::pipeline`) decides the order, inside one transaction.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::{AutoKind, Channel, Direction, Kind, QuarantineKind, State, TicketNumber};

/// What threading needs to know about an existing ticket.
#[derive(Clone, Debug)]
pub struct TicketRef {
    pub id: i64,
    pub number: TicketNumber,
    pub thread_token: String,
    pub citizen_email: String,
    pub state: State,
    pub closed_at: Option<String>,
}

pub fn raw_exists(conn: &Connection, sha256: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM raw_mail WHERE sha256 = ?1")?
        .exists([sha256])?)
}

/// Stores the raw bytes, or finds them when already stored (a quarantined message retried).
pub fn insert_raw(conn: &Connection, sha256: &str, bytes: &[u8], source: &str) -> Result<i64> {
    if let Some(id) = raw_id_by_hash(conn, sha256)? {
        return Ok(id);
    }
    conn.prepare_cached(
        "INSERT INTO raw_mail (sha256, size, bytes, source, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![sha256, bytes.len() as i64, bytes, source, super::now_text()])?;
    Ok(conn.last_insert_rowid())
}

/// How a citizen's Message-ID is kept once its ticket's personal data are removed (see
/// `crate::retention`): `sha256:` and the hash of the ID, so that a late reply still finds the
/// ticket while the ID itself (which often carries a name or a domain) is gone.
pub fn hashed_message_id(message_id: &str) -> String {
    use sha2::{Digest, Sha256};
    if message_id.starts_with(HASHED) {
        return message_id.to_string();
    }
    format!(
        "{HASHED}{}",
        hex::encode(Sha256::digest(message_id.as_bytes()))
    )
}

const HASHED: &str = "sha256:";

/// Whether an inbound message with this Message-ID from this sender is already stored
/// (the same mail delivered twice, or found again after a UIDVALIDITY change).
pub fn inbound_duplicate(
    conn: &Connection,
    message_id: &str,
    from_email: Option<&str>,
) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM messages WHERE message_id = ?1 AND direction = 'in'
             AND coalesce(from_email, '') = coalesce(?2, '') COLLATE NOCASE",
        )?
        .exists(params![message_id, from_email])?)
}

fn ticket_ref(row: &rusqlite::Row) -> rusqlite::Result<TicketRef> {
    Ok(TicketRef {
        id: row.get(0)?,
        number: row.get(1)?,
        thread_token: row.get(2)?,
        citizen_email: row.get(3)?,
        state: row.get(4)?,
        closed_at: row.get(5)?,
    })
}

/// A ticket merged into another resolves to the surviving ticket (`f`), while the proof of
/// belonging (the token, the citizen) stays the one of the ticket the mail names (`t`).
const TICKET_REF: &str = "SELECT f.id, f.number, t.thread_token, c.email, f.state, f.closed_at
    FROM tickets t JOIN tickets f ON f.id = coalesce(t.merged_into, t.id)
    JOIN contacts c ON c.id = t.contact_id";

pub fn ticket_by_number(conn: &Connection, number: &TicketNumber) -> Result<Option<TicketRef>> {
    Ok(conn
        .prepare_cached(&format!("{TICKET_REF} WHERE t.number = ?1"))?
        .query_row([number], ticket_ref)
        .optional()?)
}

/// The ticket holding an inbound message with this Message-ID (kept as it is, or hashed).
pub fn ticket_by_inbound_message_id(
    conn: &Connection,
    message_id: &str,
) -> Result<Option<TicketRef>> {
    Ok(conn
        .prepare_cached(&format!(
            "{TICKET_REF} WHERE t.id = (SELECT ticket_id FROM messages
             WHERE message_id IN (?1, ?2) AND direction = 'in' ORDER BY id LIMIT 1)"
        ))?
        .query_row(
            params![message_id, hashed_message_id(message_id)],
            ticket_ref,
        )
        .optional()?)
}

/// Finds or creates the contact; a display name fills in a missing one.
pub fn upsert_contact(conn: &Connection, email: &str, name: Option<&str>) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO contacts (email, name, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (email) DO UPDATE SET name = coalesce(contacts.name, excluded.name)",
    )?
    .execute(params![email, name, super::now_text()])?;
    Ok(conn
        .prepare_cached("SELECT id FROM contacts WHERE email = ?1")?
        .query_row([email], |r| r.get(0))?)
}

/// The next number of `year`. Gap-free: it moves in the transaction that uses it.
pub fn next_seq(conn: &Connection, year: i32) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO ticket_sequences (year, last) VALUES (?1, 1)
             ON CONFLICT (year) DO UPDATE SET last = last + 1 RETURNING last",
        )?
        .query_row([year], |r| r.get(0))?)
}

pub struct NewTicket<'a> {
    pub number: &'a TicketNumber,
    pub year: i32,
    pub seq: i64,
    pub thread_token: &'a str,
    pub kind: Option<Kind>,
    pub category_id: Option<i64>,
    pub service_id: Option<i64>,
    pub contact_id: i64,
    pub subject: &'a str,
    pub received_at: &'a str,
    pub due_at: &'a str,
    pub channel: Channel,
    pub linked_ticket_id: Option<i64>,
}

pub fn insert_ticket(conn: &Connection, t: &NewTicket) -> Result<i64> {
    let now = super::now_text();
    conn.prepare_cached(
        "INSERT INTO tickets (number, year, seq, thread_token, kind, category_id, service_id,
           contact_id, subject, received_at, due_at, channel, linked_ticket_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)",
    )?
    .execute(params![
        t.number, t.year, t.seq, t.thread_token, t.kind, t.category_id, t.service_id,
        t.contact_id, t.subject, t.received_at, t.due_at, t.channel, t.linked_ticket_id, now
    ])?;
    Ok(conn.last_insert_rowid())
}

pub struct NewMessage<'a> {
    pub ticket_id: i64,
    pub raw_id: i64,
    pub message_id: Option<&'a str>,
    pub in_reply_to: Option<&'a str>,
    pub from_email: Option<&'a str>,
    pub from_name: Option<&'a str>,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub received_at: &'a str,
    pub automatic: Option<AutoKind>,
    pub pec: Option<&'a str>,
    pub sender_unverified: Option<&'a str>,
}

pub fn insert_inbound_message(conn: &Connection, m: &NewMessage) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO messages (ticket_id, direction, raw_id, message_id, in_reply_to, from_email,
           from_name, subject, body_text, received_at, automatic, pec, sender_unverified,
           created_at)
         VALUES (?1, ?14, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        m.ticket_id,
        m.raw_id,
        m.message_id,
        m.in_reply_to,
        m.from_email,
        m.from_name,
        m.subject,
        m.body_text,
        m.received_at,
        m.automatic,
        m.pec,
        m.sender_unverified,
        super::now_text(),
        Direction::In
    ])?;
    Ok(conn.last_insert_rowid())
}

pub fn insert_attachment(
    conn: &Connection,
    message_id: i64,
    position: usize,
    filename: Option<&str>,
    content_type: &str,
    size: usize,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO attachments (message_id, position, filename, content_type, size)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        message_id,
        position as i64,
        filename,
        content_type,
        size as i64
    ])?;
    Ok(())
}

/// A citizen wrote: the ticket needs an operator's eyes.
pub fn mark_needs_attention(conn: &Connection, ticket_id: i64) -> Result<()> {
    conn.prepare_cached("UPDATE tickets SET needs_attention = 1, updated_at = ?2 WHERE id = ?1")?
        .execute(params![ticket_id, super::now_text()])?;
    Ok(())
}

pub fn insert_quarantine(
    conn: &Connection,
    raw_id: i64,
    received_at: &str,
    kind: QuarantineKind,
    reason: &str,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO quarantine (raw_id, received_at, kind, reason, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![raw_id, received_at, kind, reason, super::now_text()])?;
    Ok(conn.last_insert_rowid())
}

/// The bytes of a stored raw message.
pub fn raw_bytes(conn: &Connection, raw_id: i64) -> Result<Vec<u8>> {
    Ok(conn
        .prepare_cached("SELECT bytes FROM raw_mail WHERE id = ?1")?
        .query_row([raw_id], |r| r.get(0))?)
}

/// The raw_mail row with this hash, if stored.
pub fn raw_id_by_hash(conn: &Connection, sha256: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM raw_mail WHERE sha256 = ?1")?
        .query_row([sha256], |r| r.get(0))
        .optional()?)
}

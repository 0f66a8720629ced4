//! The SQL of complaints that do not come by mail (issue 15; `crate::intake` decides): what an
//! operator or the public form records of the citizen, the citizen's links and what they do on
//! their page, and the list's search by number, name, address and phone.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::{Direction, State, TicketNumber};

/// What a complaint not sent by mail records of the citizen beyond the contact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CitizenDetails {
    pub phone: Option<String>,
    pub postal_address: Option<String>,
    /// Someone acting for another: the one who writes.
    pub delegate: Option<String>,
    /// … and the person concerned.
    pub concerned: Option<String>,
    /// The public form's address, not yet confirmed by its link.
    pub email_unconfirmed: bool,
}

/// A phone number's digits (what the search compares): `+39 055 123 4567` is `390551234567`.
pub fn phone_digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

pub fn insert_details(
    conn: &Connection,
    ticket_id: i64,
    d: &CitizenDetails,
    recorded_by: Option<i64>,
) -> Result<()> {
    let digits = d
        .phone
        .as_deref()
        .map(phone_digits)
        .filter(|s| !s.is_empty());
    conn.prepare_cached(
        "INSERT INTO ticket_citizens (ticket_id, phone, phone_digits, postal_address, delegate,
           concerned, email_unconfirmed, recorded_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        ticket_id,
        d.phone,
        digits,
        d.postal_address,
        d.delegate,
        d.concerned,
        d.email_unconfirmed,
        recorded_by
    ])?;
    Ok(())
}

pub fn details(conn: &Connection, ticket_id: i64) -> Result<Option<CitizenDetails>> {
    Ok(conn
        .prepare_cached(
            "SELECT phone, postal_address, delegate, concerned, email_unconfirmed
             FROM ticket_citizens WHERE ticket_id = ?1",
        )?
        .query_row([ticket_id], |r| {
            Ok(CitizenDetails {
                phone: r.get(0)?,
                postal_address: r.get(1)?,
                delegate: r.get(2)?,
                concerned: r.get(3)?,
                email_unconfirmed: r.get(4)?,
            })
        })
        .optional()?)
}

/// Whether the ticket's citizen has still to confirm their address (the public form).
pub fn email_unconfirmed(conn: &Connection, ticket_id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT email_unconfirmed FROM ticket_citizens WHERE ticket_id = ?1")?
        .query_row([ticket_id], |r| r.get(0))
        .optional()?
        .unwrap_or(false))
}

/// The citizen followed a link we mailed them: the address is theirs. True if it changed.
pub fn confirm_email(conn: &Connection, ticket_id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE ticket_citizens SET email_unconfirmed = 0
             WHERE ticket_id = ?1 AND email_unconfirmed = 1",
        )?
        .execute([ticket_id])?
        > 0)
}

/// Stores a new link's secret hash for the ticket.
pub fn insert_link(
    conn: &Connection,
    ticket_id: i64,
    secret_sha256: &str,
    now: &str,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO citizen_links (secret_sha256, ticket_id, created_at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![secret_sha256, ticket_id, now])?;
    Ok(())
}

/// The ticket a link's secret hash opens, with the stored hash (the caller compares it in
/// constant time): none for an unknown link or an anonymised ticket.
pub fn ticket_of_link(conn: &Connection, secret_sha256: &str) -> Result<Option<(i64, String)>> {
    Ok(conn
        .prepare_cached(
            "SELECT l.ticket_id, l.secret_sha256 FROM citizen_links l
             JOIN tickets t ON t.id = l.ticket_id
             WHERE l.secret_sha256 = ?1 AND t.anonymised_at IS NULL",
        )?
        .query_row([secret_sha256], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// A message of the citizen not sent by mail (recorded by an operator, the public form, their
/// page): an inbound message of the ticket, from its contact; its original is the MIME record
/// of the files handed in with it, if any (`raw_id`).
pub fn insert_citizen_message(
    conn: &Connection,
    ticket_id: i64,
    raw_id: Option<i64>,
    body: &str,
    at: &str,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO messages (ticket_id, direction, raw_id, from_email, from_name, subject,
           body_text, received_at, created_at)
         SELECT t.id, ?2, ?5, c.email, c.name, t.subject, ?3, ?4, ?4
         FROM tickets t JOIN contacts c ON c.id = t.contact_id WHERE t.id = ?1",
    )?
    .execute(params![ticket_id, Direction::In, body, at, raw_id])?;
    Ok(conn.last_insert_rowid())
}

pub fn insert_feedback(
    conn: &Connection,
    ticket_id: i64,
    satisfied: bool,
    reason: Option<&str>,
    now: &str,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO citizen_feedback (ticket_id, satisfied, reason, at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![ticket_id, satisfied, reason, now])?;
    Ok(conn.last_insert_rowid())
}

/// The citizen's last word on the answer: satisfied or not, the reason, when.
pub fn last_feedback(
    conn: &Connection,
    ticket_id: i64,
) -> Result<Option<(bool, Option<String>, String)>> {
    Ok(conn
        .prepare_cached(
            "SELECT satisfied, reason, at FROM citizen_feedback WHERE ticket_id = ?1
             ORDER BY id DESC LIMIT 1",
        )?
        .query_row([ticket_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?)
}

/// One message of the thread the citizen sees: theirs and the office's answers (no automatic
/// mail, no services' reports, no author).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageMessage {
    pub direction: Direction,
    pub at: String,
    pub body: String,
}

pub fn page_messages(conn: &Connection, ticket_id: i64) -> Result<Vec<PageMessage>> {
    Ok(conn
        .prepare_cached(
            "SELECT direction, received_at, body_text FROM messages
             WHERE ticket_id = ?1 AND request_id IS NULL AND automatic IS NULL ORDER BY id",
        )?
        .query_map([ticket_id], |r| {
            Ok(PageMessage {
                direction: r.get(0)?,
                at: r.get(1)?,
                body: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// How many tickets the search by citizen or number returns at most.
pub const FOUND_CAP: usize = 1_000;

/// What a person typed into the list's search, read as a ticket number or part of one:
/// `544`, `2026-544`, `URP-2026-000544`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NumberPart {
    pub year: Option<i32>,
    pub seq: i64,
}

impl NumberPart {
    pub fn parse(text: &str) -> Option<NumberPart> {
        let text = text.trim();
        let mut parts = text.rsplitn(3, '-');
        let seq = parts.next()?;
        let year = parts.next();
        if seq.is_empty() || seq.len() > 9 || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let year = match year {
            None => None,
            Some(y) if y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()) => y.parse().ok(),
            Some(_) => return None,
        };
        Some(NumberPart {
            year,
            seq: seq.parse().ok()?,
        })
    }
}

/// The tickets whose number, citizen's name, address or phone match `text`, newest first.
pub fn matching_citizen_or_number(conn: &Connection, text: &str) -> Result<Vec<i64>> {
    let text = text.trim();
    let mut ids: Vec<i64> = Vec::new();
    if let Some(n) = NumberPart::parse(text) {
        let mut st = conn.prepare_cached(
            "SELECT id FROM tickets WHERE seq = ?1 AND (?2 IS NULL OR year = ?2) LIMIT ?3",
        )?;
        let found = st.query_map(params![n.seq, n.year, FOUND_CAP as i64], |r| r.get(0))?;
        ids.extend(found.collect::<rusqlite::Result<Vec<i64>>>()?);
    }
    if text.contains('@') {
        let mut st = conn.prepare_cached(
            "SELECT t.id FROM contacts c JOIN tickets t ON t.contact_id = c.id
             WHERE c.email = ?1 LIMIT ?2",
        )?;
        let found = st.query_map(params![text, FOUND_CAP as i64], |r| r.get(0))?;
        ids.extend(found.collect::<rusqlite::Result<Vec<i64>>>()?);
    }
    let digits = phone_digits(text);
    if digits.len() >= 6 && digits.len() * 2 >= text.chars().filter(|c| !c.is_whitespace()).count()
    {
        let mut st = conn.prepare_cached(
            "SELECT ticket_id FROM ticket_citizens
             WHERE phone_digits IS NOT NULL AND phone_digits LIKE '%' || ?1 LIMIT ?2",
        )?;
        let found = st.query_map(params![digits, FOUND_CAP as i64], |r| r.get(0))?;
        ids.extend(found.collect::<rusqlite::Result<Vec<i64>>>()?);
    }
    if text.chars().any(char::is_alphabetic) && !text.contains('@') && text.len() >= 3 {
        // A name as typed, or its words in any order ("Rossi Maria").
        let words: Vec<String> = text
            .split_whitespace()
            .take(4)
            .map(|w| format!("%{}%", w.replace(['%', '_', '\\'], "")))
            .collect();
        let clauses: Vec<String> = (1..=words.len())
            .map(|i| format!("c.name LIKE ?{i}"))
            .collect();
        let sql = format!(
            "SELECT t.id FROM contacts c JOIN tickets t ON t.contact_id = c.id
             WHERE {} LIMIT {FOUND_CAP}",
            clauses.join(" AND ")
        );
        let mut st = conn.prepare_cached(&sql)?;
        let found = st.query_map(rusqlite::params_from_iter(&words), |r| r.get(0))?;
        ids.extend(found.collect::<rusqlite::Result<Vec<i64>>>()?);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Another ticket of the same citizen, for the ticket page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtherTicket {
    pub number: TicketNumber,
    pub state: State,
    pub received_at: String,
    pub subject: String,
}

/// The citizen's other tickets: the same contact (address), or the same phone; newest first.
pub fn other_tickets(conn: &Connection, ticket_id: i64) -> Result<Vec<OtherTicket>> {
    Ok(conn
        .prepare_cached(
            "SELECT t.number, t.state, t.received_at, substr(t.subject, 1, 200) FROM tickets t
             WHERE t.id != ?1 AND (
               t.contact_id = (SELECT contact_id FROM tickets WHERE id = ?1)
               OR t.id IN (SELECT o.ticket_id FROM ticket_citizens o
                           JOIN ticket_citizens me ON me.ticket_id = ?1
                           WHERE me.phone_digits IS NOT NULL
                             AND o.phone_digits = me.phone_digits))
             ORDER BY t.received_at DESC LIMIT 50",
        )?
        .query_map([ticket_id], |r| {
            Ok(OtherTicket {
                number: r.get(0)?,
                state: r.get(1)?,
                received_at: r.get(2)?,
                subject: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// The retention job: the due tickets' details blanked, their links and feedback reasons gone.
pub fn anonymise_due(conn: &Connection, due: &str) -> Result<()> {
    conn.execute(
        &format!(
            "UPDATE ticket_citizens SET phone = NULL, phone_digits = NULL, postal_address = NULL,
               delegate = NULL, concerned = NULL WHERE ticket_id IN ({due})"
        ),
        [],
    )?;
    conn.execute(
        &format!("DELETE FROM citizen_links WHERE ticket_id IN ({due})"),
        [],
    )?;
    conn.execute(
        &format!("UPDATE citizen_feedback SET reason = NULL WHERE ticket_id IN ({due})"),
        [],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_parts() {
        assert_eq!(
            NumberPart::parse("544"),
            Some(NumberPart {
                year: None,
                seq: 544
            })
        );
        assert_eq!(
            NumberPart::parse("2026-544"),
            Some(NumberPart {
                year: Some(2026),
                seq: 544
            })
        );
        assert_eq!(
            NumberPart::parse("URP-2026-000544"),
            Some(NumberPart {
                year: Some(2026),
                seq: 544
            })
        );
        assert_eq!(NumberPart::parse("bagni"), None);
        assert_eq!(NumberPart::parse("26-5"), None);
    }

    /// Migration 11 widened the channel's CHECK in place: a database migrated from version 10
    /// with tickets in it takes the new channels (on another connection too) and still refuses
    /// an unknown one.
    #[test]
    fn migration_11_widens_the_channels_of_an_existing_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            for (n, sql) in crate::store::migrations_up_to_for_tests(10) {
                conn.execute_batch(&sql).unwrap();
                if n == 1 {
                    conn.execute_batch(include_str!("defaults.sql")).unwrap();
                }
                conn.pragma_update(None, "user_version", n).unwrap();
            }
            conn.execute_batch(
                "INSERT INTO contacts (email, created_at) VALUES ('a@b.it', 'x');
                 INSERT INTO tickets (number, year, seq, thread_token, contact_id, subject,
                   received_at, due_at, channel, created_at, updated_at)
                 VALUES ('URP-2026-000001', 2026, 1, 't', 1, 's', 'x', 'x', 'pec', 'x', 'x');",
            )
            .unwrap();
        }
        let other = Connection::open(&path).unwrap();
        let _ = other.query_row("SELECT count(*) FROM tickets", [], |r| r.get::<_, i64>(0));
        let conn = crate::store::open(&path).unwrap();
        let insert = |c: &Connection, seq: i64, channel: &str| {
            c.execute(
                "INSERT INTO tickets (number, year, seq, thread_token, contact_id, subject,
                   received_at, due_at, channel, created_at, updated_at)
                 VALUES (?1, 2026, ?2, 't', 1, 's', 'x', 'x', ?3, 'x', 'x')",
                params![format!("URP-2026-{seq:06}"), seq, channel],
            )
        };
        insert(&conn, 2, "telefono").unwrap();
        insert(&other, 3, "sportello").unwrap();
        assert!(insert(&conn, 4, "fax").is_err());
        let ok: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
    }

    #[test]
    fn phone_digits_ignore_spaces_and_signs() {
        assert_eq!(phone_digits("+39 055 123-4567"), "390551234567");
    }
}
